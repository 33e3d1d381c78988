//! What a run reports: progress stages, outcomes, latencies, timings and the final report.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use crate::compra::InformeEvento;
use crate::domain::EventoId;
use crate::error::Error;

use super::*;

/// The stages of a run, in order, for progress reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Etapa {
    Comprobacion,
    Compradores,
    Compras,
    Verificacion,
    Limpieza,
}

impl Etapa {
    pub fn descripcion(self) -> &'static str {
        match self {
            Etapa::Comprobacion => "comprobando",
            Etapa::Compradores => "compradores",
            Etapa::Compras => "compras",
            Etapa::Verificacion => "verificando",
            Etapa::Limpieza => "limpiando",
        }
    }
}

/// How one simulated purchase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resultado {
    Confirmada {
        entradas: u32,
    },
    /// Not enough seats left (`reservar` would exit 5).
    Agotada,
    /// Payment declined; the purchase was compensated (`reservar` would exit 6).
    Rechazada,
    /// Anything else, by error code (`Error::codigo`).
    Error {
        codigo: &'static str,
    },
}

/// Where a run reports progress. Every method has a no-op default.
pub trait SimulationProgress: Send + Sync {
    /// A stage begins, with `total` units of work (0 when unknown).
    fn etapa(&self, _etapa: Etapa, _total: u64) {}
    /// `n` more units of the current stage are done (buyers created, items cleaned up).
    fn avance(&self, _n: u64) {}
    /// One purchase finished.
    fn compra(&self, _resultado: &Resultado) {}
}

/// For callers that do not show progress.
pub struct NoSimulationProgress;
impl SimulationProgress for NoSimulationProgress {}

/// Purchase latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latencias {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latencias {
    /// Nearest-rank percentiles of latencies in microseconds.
    pub fn de(mut micros: Vec<u32>) -> Self {
        micros.sort_unstable();
        let p = |q: f64| -> f64 {
            if micros.is_empty() {
                return 0.0;
            }
            let n = micros.len();
            let rango = ((q * n as f64).ceil() as usize).clamp(1, n);
            a_ms(micros[rango - 1])
        };
        Self {
            p50: p(0.50),
            p95: p(0.95),
            p99: p(0.99),
            max: p(1.0),
        }
    }
}

pub(super) fn a_ms(micros: u32) -> f64 {
    (f64::from(micros) / 10.0).round() / 100.0
}

/// Wall time of each stage, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Tiempos {
    /// Looking for real data in the stores.
    pub comprobacion: f64,
    /// Creating the event and inserting the buyers in bulk.
    pub alta: f64,
    /// Reading the buyers' ids back.
    pub lectura_ids: f64,
    /// The race itself (what `compras_por_segundo` divides by).
    pub compras: f64,
    /// `verificar` and the count of records by state.
    pub verificacion: f64,
    pub limpieza: f64,
}

pub(super) fn segundos(desde: Instant) -> f64 {
    (desde.elapsed().as_secs_f64() * 1000.0).round() / 1000.0
}

/// One kind of unexpected error and how often it happened.
#[derive(Debug, Clone, Serialize)]
pub struct TipoError {
    pub codigo: &'static str,
    pub veces: u64,
    pub ejemplo: String,
}

/// What `--limpiar` removed.
#[derive(Debug, Serialize)]
pub struct Limpieza {
    pub compras_canceladas: u64,
    pub evento_eliminado: bool,
    pub compradores_eliminados: u64,
    /// Whether everything the run created is gone.
    pub completa: bool,
    pub errores: Vec<String>,
    /// The first failure, for the exit code.
    #[serde(skip)]
    pub causa: Option<Error>,
}

/// The result of a run.
#[derive(Debug, Serialize)]
pub struct Informe {
    /// Marks everything this run created (`sim-<corrida>-<n>@…`).
    pub corrida: String,
    pub evento_id: EventoId,
    pub evento: String,
    pub aforo: u32,
    pub compradores: u32,
    pub concurrencia: usize,
    pub entradas_por_compra: RangoEntradas,
    pub rechazo_pago: Probabilidad,
    pub latencia_pago_ms: u64,
    pub precio: i64,
    pub semilla: u64,
    /// What the buyers saw.
    pub confirmadas: u64,
    pub agotadas: u64,
    pub rechazadas: u64,
    pub otros_errores: u64,
    pub errores: Vec<TipoError>,
    /// Seats in the purchases the buyers saw confirmed.
    pub entradas_confirmadas: u64,
    /// What the reservation store holds afterwards: records by state...
    pub reservas: BTreeMap<&'static str, u64>,
    /// ...of which `compensada` (declined payments and failed sagas, rolled back).
    pub compensadas: u64,
    /// Seats sold according to the stores (`verificar`'s count of confirmed seats).
    pub entradas_vendidas: i64,
    /// Duration of the race; `tiempos` has every stage.
    pub segundos: f64,
    pub compras_por_segundo: f64,
    pub tiempos: Tiempos,
    pub latencia_ms: Latencias,
    pub verificar: InformeEvento,
    /// True when every invariant held; `fallos` says which did not.
    pub invariantes_ok: bool,
    pub fallos: Vec<String>,
    pub limpieza: Option<Limpieza>,
}
