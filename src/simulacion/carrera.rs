//! The race itself: buyers through the real saga, `concurrencia` purchases in flight.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mongodb::bson::oid::ObjectId;
use rand::{SeedableRng, rngs::StdRng};
use tokio::task::JoinSet;

use crate::compra::{Reservador, Solicitud};
use crate::domain::{EventoId, UsuarioId};
use crate::error::{Error, Result};

use super::*;

/// The buyers' ticket counts come from their own stream, so they do not move in step
/// with the gateway's draws, which use the seed as is.
pub(super) fn semilla_entradas(semilla: u64) -> u64 {
    // splitmix64's increment: any fixed odd constant would do.
    semilla ^ 0x9E37_79B9_7F4A_7C15
}

/// What the buyers saw.
pub(super) struct Carrera {
    pub(super) lanzadas: u64,
    pub(super) confirmadas: u64,
    pub(super) agotadas: u64,
    pub(super) rechazadas: u64,
    pub(super) entradas_confirmadas: u64,
    pub(super) errores: BTreeMap<&'static str, TipoError>,
    pub(super) latencias: Vec<u32>,
    pub(super) duracion: Duration,
    /// A backend went down: the run stops launching purchases and fails with this.
    pub(super) caido: Option<Error>,
}

impl Carrera {
    pub(super) fn anotar(&mut self, latencia: Duration, res: Result<u32>) -> Resultado {
        self.latencias
            .push(u32::try_from(latencia.as_micros()).unwrap_or(u32::MAX));
        match res {
            Ok(entradas) => {
                self.confirmadas += 1;
                self.entradas_confirmadas += u64::from(entradas);
                Resultado::Confirmada { entradas }
            }
            Err(Error::SinEntradas { .. }) => {
                self.agotadas += 1;
                Resultado::Agotada
            }
            Err(Error::PagoRechazado { .. }) => {
                self.rechazadas += 1;
                Resultado::Rechazada
            }
            Err(e) => {
                // One entry per error kind: a handful at most, however many failures.
                let codigo = e.codigo();
                self.errores
                    .entry(codigo)
                    .or_insert_with(|| TipoError {
                        codigo,
                        veces: 0,
                        ejemplo: e.to_string(),
                    })
                    .veces += 1;
                if e.es_backend_caido() && self.caido.is_none() {
                    self.caido = Some(e);
                }
                Resultado::Error { codigo }
            }
        }
    }
}

type Fin = (Duration, Result<u32>);

pub(super) fn fin_de(j: std::result::Result<Fin, tokio::task::JoinError>) -> Result<Fin> {
    j.map_err(|e| Error::Interno(anyhow::anyhow!("una compra simulada terminó mal: {e}")))
}

/// Every buyer makes one purchase, `concurrencia` at a time, in buyer order. Each runs
/// as its own task, so the saga's CPU work spreads over the runtime's threads; at most
/// `concurrencia` tasks exist at once, so memory does not grow with the crowd.
pub(super) async fn correr(
    r: &Arc<Reservador>, evento: &EventoId, compradores: &[ObjectId], op: &SimulationOptions,
    semilla: u64, progreso: &dyn SimulationProgress,
) -> Result<Carrera> {
    let mut rng = StdRng::seed_from_u64(semilla_entradas(semilla));
    let mut c = Carrera {
        lanzadas: 0,
        confirmadas: 0,
        agotadas: 0,
        rechazadas: 0,
        entradas_confirmadas: 0,
        errores: BTreeMap::new(),
        latencias: Vec::with_capacity(compradores.len()),
        duracion: Duration::ZERO,
        caido: None,
    };
    let mut tareas: JoinSet<Fin> = JoinSet::new();
    let inicio = Instant::now();
    for u in compradores {
        let entradas = op.entradas.elegir(&mut rng);
        while tareas.len() >= op.concurrencia {
            if let Some(j) = tareas.join_next().await {
                let (t, res) = fin_de(j)?;
                progreso.compra(&c.anotar(t, res));
            }
        }
        if c.caido.is_some() {
            break;
        }
        let r = Arc::clone(r);
        let solicitud = Solicitud {
            evento: evento.clone(),
            usuario: UsuarioId::from(*u),
            entradas,
            clave: None,
        };
        tareas.spawn(async move {
            let t = Instant::now();
            let res = r.reservar(solicitud).await.map(|x| x.entradas.get());
            (t.elapsed(), res)
        });
        c.lanzadas += 1;
    }
    while let Some(j) = tareas.join_next().await {
        let (t, res) = fin_de(j)?;
        progreso.compra(&c.anotar(t, res));
    }
    c.duracion = inicio.elapsed();
    match c.caido.take() {
        Some(e) => Err(e),
        None => Ok(c),
    }
}
