//! `simular`: a flash sale against the real stores. It creates an event and a crowd of
//! buyers marked as simulated, makes them race through the same saga `reservar` runs,
//! and measures outcomes, latency and whether the invariants held. It never prints:
//! progress goes out through [`Progreso`] and the result comes back as an [`Informe`].

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use mongodb::bson::oid::ObjectId;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Serialize, Serializer};
use tokio::task::JoinSet;

use crate::domain::{
    Aforo, Email, Entradas, Estado, Evento, EventoId, Fecha, NuevoEvento, NuevoUsuario, ParseError,
    Precio, ReservaId, Texto, Usuario, UsuarioId,
};
use crate::error::{Error, Result};
use crate::reservas::{Fallos, InformeEvento, PasarelaSimulada, Reservador, Solicitud};
use crate::store::{Almacen, ModoImport};

/// Where every simulated event takes place: with [`PREFIJO_NOMBRE`], what tells a
/// simulated event from a real one.
pub const LUGAR: &str = "simulación";
/// How the name of every simulated event begins.
pub const PREFIJO_NOMBRE: &str = "SIMULACIÓN ";
/// The mail domain of every simulated buyer. `.invalid` is reserved (RFC 2606), so no
/// message can ever reach a real person.
pub const DOMINIO: &str = "simulacion.eventflow.invalid";

/// Buyers per bulk insert: large enough for `insert_many` to pay off, small enough that
/// a 100,000-buyer run never holds them all in memory.
const LOTE_COMPRADORES: u32 = 1000;
/// Page size when scanning users and events. Large, because a server without a usable
/// index for the page's `_id > last` filter (NX-27017) scans the collection once per
/// page: 1,000 took 25 s to read 50,000 buyers back there, 10,000 keeps it to a few.
const PAGINA: u32 = 10_000;
/// Cleanup failures kept for the report (the count is what matters past a few).
const MAX_ERRORES_LIMPIEZA: usize = 8;

/// Whether a stored user was created by a simulation.
pub fn es_usuario_simulado(u: &Usuario) -> bool {
    u.email
        .as_str()
        .strip_suffix(DOMINIO)
        .is_some_and(|l| l.ends_with('@'))
}

/// Whether a stored event was created by a simulation.
pub fn es_evento_simulado(e: &Evento) -> bool {
    e.lugar.as_str() == LUGAR && e.nombre.as_str().starts_with(PREFIJO_NOMBRE)
}

/// How many tickets each buyer asks for: a fixed number (`2`) or an inclusive range
/// (`1-4`) from which each buyer draws its own, reproducibly for a given seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangoEntradas {
    min: Entradas,
    max: Entradas,
}

impl RangoEntradas {
    pub fn fijo(n: Entradas) -> Self {
        Self { min: n, max: n }
    }

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        const CAMPO: &str = "entradas por compra";
        let t = raw.trim();
        let parte = |s: &str| {
            Entradas::parse(s).map_err(|e| {
                ParseError::new(
                    CAMPO,
                    raw,
                    format!(
                        "{:?} {}; use un número (2) o un rango (1-4)",
                        e.valor, e.motivo
                    ),
                )
            })
        };
        if t.starts_with('-') {
            return Err(ParseError::new(
                CAMPO,
                raw,
                "cada compra pide al menos 1 entrada; use un número (2) o un rango (1-4)",
            ));
        }
        let (min, max) = match t.split_once('-') {
            Some((a, b)) => (parte(a)?, parte(b)?),
            None => {
                let n = parte(t)?;
                (n, n)
            }
        };
        if min > max {
            return Err(ParseError::new(
                CAMPO,
                raw,
                format!("el rango está al revés; escriba {max}-{min}"),
            ));
        }
        Ok(Self { min, max })
    }

    pub fn min(self) -> Entradas {
        self.min
    }

    pub fn max(self) -> Entradas {
        self.max
    }

    fn elegir(self, rng: &mut impl Rng) -> Entradas {
        if self.min == self.max {
            return self.min;
        }
        let n = rng.random_range(self.min.get()..=self.max.get());
        Entradas::new(i64::from(n)).unwrap_or(self.min)
    }
}

impl FromStr for RangoEntradas {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}

impl fmt::Display for RangoEntradas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}-{}", self.min, self.max)
        }
    }
}

impl Serialize for RangoEntradas {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

const CAMPO_RECHAZO: &str = "rechazo de pago";

/// A probability of payment decline, between 0 and 1 inclusive.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct Probabilidad(f64);

impl Probabilidad {
    pub fn new(p: f64) -> Result<Self, ParseError> {
        if (0.0..=1.0).contains(&p) {
            Ok(Self(p))
        } else {
            Err(ParseError::new(
                CAMPO_RECHAZO,
                p.to_string(),
                "debe estar entre 0 y 1 (por ejemplo 0.1 para un 10 %)",
            ))
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let p: f64 = raw.trim().parse().map_err(|_| {
            ParseError::new(
                CAMPO_RECHAZO,
                raw,
                "no es un número; use un valor entre 0 y 1, por ejemplo 0.1",
            )
        })?;
        Self::new(p).map_err(|e| ParseError::new(CAMPO_RECHAZO, raw, e.motivo))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl FromStr for Probabilidad {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}

impl fmt::Display for Probabilidad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What to simulate, already parsed.
#[derive(Debug, Clone)]
pub struct Opciones {
    pub aforo: Aforo,
    /// Buyers; each makes exactly one purchase. At least 1.
    pub compradores: u32,
    /// Purchases in flight at once. At least 1.
    pub concurrencia: usize,
    pub entradas: RangoEntradas,
    pub rechazo_pago: Probabilidad,
    pub latencia_pago: Duration,
    pub precio: Precio,
    /// Seeds the payment gateway and the buyers' ticket counts. `None` draws one; the
    /// report always says which was used. What a seed fixes: buyer `n` always asks for
    /// the same tickets, and the k-th charge always gets the same decision. Which buyer
    /// reaches the gateway k-th is up to the scheduler, so per-buyer outcomes vary; but
    /// when every purchase is one ticket and the event sells out, the sale ends exactly
    /// at the `aforo`-th approval, so the confirmed and declined counts repeat too.
    pub semilla: Option<u64>,
    /// Run even if the stores hold data that no simulation created.
    pub permitir_datos_existentes: bool,
    /// Remove what the run created once it is measured and verified.
    pub limpiar: bool,
    /// The seat hold of each purchase (`EVENTFLOW_RESERVA_TTL_S`).
    pub ttl: Duration,
    pub fallos: Fallos,
}

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
pub trait Progreso: Send + Sync {
    /// A stage begins, with `total` units of work (0 when unknown).
    fn etapa(&self, _etapa: Etapa, _total: u64) {}
    /// `n` more units of the current stage are done (buyers created, items cleaned up).
    fn avance(&self, _n: u64) {}
    /// One purchase finished.
    fn compra(&self, _resultado: &Resultado) {}
}

/// For callers that do not show progress.
pub struct SinProgreso;
impl Progreso for SinProgreso {}

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

fn a_ms(micros: u32) -> f64 {
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

fn segundos(desde: Instant) -> f64 {
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

/// Runs a simulation on `alm`. Refuses (`Conflicto`, exit 4) when the stores hold data
/// that no simulation created, unless `permitir_datos_existentes`.
pub async fn simular(alm: &Almacen, op: &Opciones, progreso: &dyn Progreso) -> Result<Informe> {
    if op.compradores == 0 || op.concurrencia == 0 {
        return Err(Error::Invalido(format!(
            "compradores ({}) y concurrencia ({}) deben ser al menos 1",
            op.compradores, op.concurrencia
        )));
    }
    let semilla = op.semilla.unwrap_or_else(rand::random);
    // Built first: bad settings fail before anything is written.
    let pasarela = PasarelaSimulada::new(
        alm.reservas.clone(),
        op.rechazo_pago.get(),
        op.latencia_pago,
        Some(semilla),
    )?;
    let r = Arc::new(Reservador {
        almacen: alm.clone(),
        pasarela: Arc::new(pasarela),
        ttl: op.ttl,
        fallos: op.fallos,
    });

    let mut tiempos = Tiempos::default();
    progreso.etapa(Etapa::Comprobacion, 0);
    let t = Instant::now();
    if !op.permitir_datos_existentes {
        comprobar_sin_datos_reales(alm).await?;
    }
    tiempos.comprobacion = segundos(t);
    let t = Instant::now();
    let corrida = Corrida::nueva();
    let evento = crate::servicios::eventos::crear(
        alm,
        NuevoEvento {
            nombre: Texto::parse("nombre", &format!("{PREFIJO_NOMBRE}{}", corrida.fecha))?,
            fecha: Fecha::from(corrida.inicio),
            lugar: Texto::parse("lugar", LUGAR)?,
            aforo: op.aforo,
            precio: op.precio,
        },
    )
    .await?;

    progreso.etapa(Etapa::Compradores, u64::from(op.compradores));
    crear_compradores(alm, &corrida, op.compradores, progreso).await?;
    tiempos.alta = segundos(t);
    let t = Instant::now();
    let compradores = ids_compradores(alm, &corrida, op.compradores).await?;
    tiempos.lectura_ids = segundos(t);

    progreso.etapa(Etapa::Compras, u64::from(op.compradores));
    let carrera = correr(&r, &evento.id, &compradores, op, semilla, progreso).await?;

    progreso.etapa(Etapa::Verificacion, 0);
    let t = Instant::now();
    let verificacion = crate::reservas::verificar(&r, Some(&evento.id), false)
        .await?
        .pop()
        .ok_or_else(|| Error::no_encontrado("evento", &evento.id))?;
    let mut reservas: BTreeMap<&'static str, u64> =
        Estado::TODOS.iter().map(|e| (e.as_str(), 0)).collect();
    for reg in alm.reservas.de_evento(&evento.id).await? {
        *reservas.entry(reg.reserva.estado.as_str()).or_default() += 1;
    }
    let fallos = invariantes(op.aforo, &carrera, &reservas, &verificacion);
    tiempos.verificacion = segundos(t);

    let t = Instant::now();
    let limpieza = if op.limpiar {
        Some(limpiar(&r, &evento.id, &compradores, op.concurrencia, progreso).await)
    } else {
        None
    };
    tiempos.limpieza = segundos(t);

    let carrera_s = carrera.duracion.as_secs_f64();
    tiempos.compras = (carrera_s * 1000.0).round() / 1000.0;
    Ok(Informe {
        corrida: corrida.id,
        evento_id: evento.id,
        evento: evento.nombre.to_string(),
        aforo: op.aforo.get(),
        compradores: op.compradores,
        concurrencia: op.concurrencia,
        entradas_por_compra: op.entradas,
        rechazo_pago: op.rechazo_pago,
        latencia_pago_ms: u64::try_from(op.latencia_pago.as_millis()).unwrap_or(u64::MAX),
        precio: op.precio.get(),
        semilla,
        confirmadas: carrera.confirmadas,
        agotadas: carrera.agotadas,
        rechazadas: carrera.rechazadas,
        otros_errores: carrera.errores.values().map(|t| t.veces).sum(),
        errores: carrera.errores.into_values().collect(),
        entradas_confirmadas: carrera.entradas_confirmadas,
        compensadas: reservas
            .get(Estado::Compensada.as_str())
            .copied()
            .unwrap_or(0),
        reservas,
        entradas_vendidas: verificacion.vendidas,
        segundos: tiempos.compras,
        compras_por_segundo: if carrera_s > 0.0 {
            (carrera.lanzadas as f64 / carrera_s * 10.0).round() / 10.0
        } else {
            0.0
        },
        tiempos,
        latencia_ms: Latencias::de(carrera.latencias),
        verificar: verificacion,
        invariantes_ok: fallos.is_empty(),
        fallos,
        limpieza,
    })
}

/// The invariants a flash sale must keep, whatever the interleaving.
fn invariantes(
    aforo: Aforo,
    c: &Carrera,
    reservas: &BTreeMap<&'static str, u64>,
    v: &InformeEvento,
) -> Vec<String> {
    let mut fallos = Vec::new();
    let aforo = i64::from(aforo.get());
    if v.vendidas > aforo {
        fallos.push(format!(
            "sobreventa: {} entradas vendidas con un aforo de {aforo}",
            v.vendidas
        ));
    }
    if let Some(n) = v.contador.filter(|n| *n < 0) {
        fallos.push(format!("el contador de entradas quedó en {n}"));
    }
    if i64::try_from(c.entradas_confirmadas).ok() != Some(v.vendidas) {
        fallos.push(format!(
            "los compradores recibieron {} entradas confirmadas pero el almacén registra {} vendidas",
            c.entradas_confirmadas, v.vendidas
        ));
    }
    let registradas = reservas
        .get(Estado::Confirmada.as_str())
        .copied()
        .unwrap_or(0);
    if registradas != c.confirmadas {
        fallos.push(format!(
            "{} compras confirmadas a los compradores pero {registradas} reservas confirmadas en el almacén",
            c.confirmadas
        ));
    }
    if !v.consistente {
        fallos.push(format!(
            "verificar encontró {} problema(s): {}",
            v.problemas.len(),
            v.problemas.join("; ")
        ));
    }
    fallos
}

/// Names and marks for one run.
struct Corrida {
    /// `20250601t120000123-3fa9`: the start instant plus a random tag, so two runs
    /// started in the same millisecond still differ.
    id: String,
    inicio: chrono::DateTime<chrono::Utc>,
    /// RFC 3339 with milliseconds, for the event's name.
    fecha: String,
}

impl Corrida {
    fn nueva() -> Self {
        let inicio = chrono::Utc::now();
        Self {
            id: format!(
                "{}-{:04x}",
                inicio.format("%Y%m%dt%H%M%S%3f"),
                rand::random::<u16>()
            ),
            fecha: inicio.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            inicio,
        }
    }

    fn email(&self, n: u32) -> Result<Email> {
        Ok(Email::parse(&format!("sim-{}-{n}@{DOMINIO}", self.id))?)
    }

    /// The buyer number of one of this run's emails.
    fn numero(&self, email: &str) -> Option<usize> {
        email
            .strip_prefix("sim-")?
            .strip_prefix(self.id.as_str())?
            .strip_prefix('-')?
            .strip_suffix(DOMINIO)?
            .strip_suffix('@')?
            .parse()
            .ok()
    }
}

fn con_datos_reales(que: String) -> Error {
    Error::Conflicto(format!(
        "{que}, que no es de una simulación: simular crea miles de compradores y no se mezcla \
         con datos reales; apunte a un almacén vacío (--mongo-db y --redis-prefix, o \
         --data-dir con el backend embebido) o añada --permitir-datos-existentes"
    ))
}

/// Refuses if any user, event or seat counter was not created by a simulation. Stops at
/// the first one, so a real database is refused after one page.
async fn comprobar_sin_datos_reales(alm: &Almacen) -> Result<()> {
    let mut despues: Option<UsuarioId> = None;
    loop {
        let pagina = alm.usuarios.listar(PAGINA, despues.as_ref()).await?;
        if let Some(u) = pagina.iter().find(|u| !es_usuario_simulado(u)) {
            return Err(con_datos_reales(format!(
                "la base de datos ya tiene el usuario {}",
                u.id
            )));
        }
        if pagina.len() < PAGINA as usize {
            break;
        }
        despues = pagina.last().map(|u| u.id.clone());
    }
    let mut simulados: HashSet<EventoId> = HashSet::new();
    let mut despues: Option<EventoId> = None;
    loop {
        let pagina = alm.eventos.listar(PAGINA, despues.as_ref()).await?;
        if let Some(e) = pagina.iter().find(|e| !es_evento_simulado(e)) {
            return Err(con_datos_reales(format!(
                "la base de datos ya tiene el evento {} ({})",
                e.id, e.nombre
            )));
        }
        let completa = pagina.len() == PAGINA as usize;
        despues = pagina.last().map(|e| e.id.clone());
        simulados.extend(pagina.into_iter().map(|e| e.id));
        if !completa {
            break;
        }
    }
    // A counter without an event in this database belongs to another one that shares
    // the Redis prefix.
    if let Some(e) = alm
        .reservas
        .eventos()
        .await?
        .into_iter()
        .find(|e| !simulados.contains(e))
    {
        return Err(con_datos_reales(format!(
            "el almacén de reservas ya tiene el evento {e}"
        )));
    }
    Ok(())
}

async fn crear_compradores(
    alm: &Almacen,
    corrida: &Corrida,
    n: u32,
    progreso: &dyn Progreso,
) -> Result<()> {
    let nombre = Texto::parse("nombre", "Comprador")?;
    let mut desde = 0;
    while desde < n {
        let hasta = desde.saturating_add(LOTE_COMPRADORES).min(n);
        let lote = (desde..hasta)
            .map(|k| {
                Ok(NuevoUsuario {
                    nombre: nombre.clone(),
                    apellido: Texto::parse("apellido", &format!("Simulado {k}"))?,
                    email: corrida.email(k)?,
                    documento: None,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let res = alm.usuarios.importar(lote, ModoImport::Insertar).await?;
        if let Some((fila, motivo)) = res.rechazados.first() {
            return Err(Error::Conflicto(format!(
                "no se pudo crear el comprador simulado {}: {motivo}",
                desde as usize + fila
            )));
        }
        progreso.avance(u64::from(hasta - desde));
        desde = hasta;
    }
    Ok(())
}

/// The ids of this run's buyers, by buyer number. The bulk insert does not return user
/// ids, so they are read back by scanning for this run's emails. Every id is 24 hex
/// digits on every backend, so they are kept as 12 bytes rather than as text: a fifth
/// of the memory for a crowd of 100,000.
async fn ids_compradores(alm: &Almacen, corrida: &Corrida, n: u32) -> Result<Vec<ObjectId>> {
    let n = n as usize;
    let mut ids: Vec<Option<ObjectId>> = vec![None; n];
    let mut encontrados = 0;
    let mut despues: Option<UsuarioId> = None;
    while encontrados < n {
        let pagina = alm.usuarios.listar(PAGINA, despues.as_ref()).await?;
        let completa = pagina.len() == PAGINA as usize;
        despues = pagina.last().map(|u| u.id.clone());
        for u in pagina {
            if let Some(k) = corrida.numero(u.email.as_str()).filter(|k| *k < n)
                && ids[k].is_none()
            {
                ids[k] = Some(u.id.oid());
                encontrados += 1;
            }
        }
        if !completa {
            break;
        }
    }
    if encontrados < n {
        return Err(Error::Inconsistencia(format!(
            "se crearon {n} compradores simulados pero solo se encuentran {encontrados}"
        )));
    }
    Ok(ids.into_iter().flatten().collect())
}

/// The buyers' ticket counts come from their own stream, so they do not move in step
/// with the gateway's draws, which use the seed as is.
fn semilla_entradas(semilla: u64) -> u64 {
    // splitmix64's increment: any fixed odd constant would do.
    semilla ^ 0x9E37_79B9_7F4A_7C15
}

/// What the buyers saw.
struct Carrera {
    lanzadas: u64,
    confirmadas: u64,
    agotadas: u64,
    rechazadas: u64,
    entradas_confirmadas: u64,
    errores: BTreeMap<&'static str, TipoError>,
    latencias: Vec<u32>,
    duracion: Duration,
    /// A backend went down: the run stops launching purchases and fails with this.
    caido: Option<Error>,
}

impl Carrera {
    fn anotar(&mut self, latencia: Duration, res: Result<u32>) -> Resultado {
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

fn fin_de(j: std::result::Result<Fin, tokio::task::JoinError>) -> Result<Fin> {
    j.map_err(|e| Error::Interno(anyhow::anyhow!("una compra simulada terminó mal: {e}")))
}

/// Every buyer makes one purchase, `concurrencia` at a time, in buyer order. Each runs
/// as its own task, so the saga's CPU work spreads over the runtime's threads; at most
/// `concurrencia` tasks exist at once, so memory does not grow with the crowd.
async fn correr(
    r: &Arc<Reservador>,
    evento: &EventoId,
    compradores: &[ObjectId],
    op: &Opciones,
    semilla: u64,
    progreso: &dyn Progreso,
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

/// Removes what the run created with the core's own operations: each confirmed purchase
/// is cancelled (refund, seats back, history and read model undone), which lets the
/// event be deleted (its counter, records and ledger go with it), and leaves the
/// buyers without history, so they can be deleted too. Nothing here needs a store
/// operation beyond what `reservas cancelar`, `eventos eliminar` and `usuarios eliminar` use.
async fn limpiar(
    r: &Reservador,
    evento: &EventoId,
    compradores: &[ObjectId],
    concurrencia: usize,
    progreso: &dyn Progreso,
) -> Limpieza {
    let mut l = Limpieza {
        compras_canceladas: 0,
        evento_eliminado: false,
        compradores_eliminados: 0,
        completa: false,
        errores: Vec::new(),
        causa: None,
    };
    fn fallo(l: &mut Limpieza, e: Error) {
        if l.errores.len() < MAX_ERRORES_LIMPIEZA {
            l.errores.push(e.to_string());
        }
        l.causa.get_or_insert(e);
    }
    let alm = &r.almacen;
    let confirmadas: Vec<ReservaId> = match alm.reservas.de_evento(evento).await {
        Ok(regs) => regs
            .into_iter()
            .filter(|g| g.reserva.estado == Estado::Confirmada)
            .map(|g| g.reserva.id)
            .collect(),
        Err(e) => {
            fallo(&mut l, e);
            return l;
        }
    };
    progreso.etapa(
        Etapa::Limpieza,
        (confirmadas.len() + compradores.len() + 1) as u64,
    );
    let mut cancelaciones = futures::stream::iter(confirmadas)
        .map(|id| async move { crate::reservas::cancelar(r, &id).await })
        .buffer_unordered(concurrencia);
    while let Some(res) = cancelaciones.next().await {
        progreso.avance(1);
        match res {
            Ok(_) => l.compras_canceladas += 1,
            Err(e) => fallo(&mut l, e),
        }
    }
    drop(cancelaciones);
    if l.causa.is_some() {
        return l;
    }
    match crate::servicios::eventos::eliminar(alm, evento).await {
        Ok(()) => l.evento_eliminado = true,
        Err(e) => fallo(&mut l, e),
    }
    progreso.avance(1);
    let mut bajas = futures::stream::iter(compradores)
        .map(|u| async move { alm.usuarios.eliminar(&UsuarioId::from(*u)).await })
        .buffer_unordered(concurrencia);
    while let Some(res) = bajas.next().await {
        progreso.avance(1);
        match res {
            Ok(()) => l.compradores_eliminados += 1,
            Err(e) => fallo(&mut l, e),
        }
    }
    drop(bajas);
    l.completa = l.causa.is_none();
    l
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rango_de_entradas_acepta_un_numero_o_un_rango() {
        let r = RangoEntradas::parse("3").unwrap();
        assert_eq!((r.min().get(), r.max().get()), (3, 3));
        let r = RangoEntradas::parse(" 1-4 ").unwrap();
        assert_eq!((r.min().get(), r.max().get()), (1, 4));
        assert_eq!(r.to_string(), "1-4");
        assert_eq!(RangoEntradas::parse("2-2").unwrap().to_string(), "2");
    }

    #[test]
    fn rango_de_entradas_rechaza_basura_nombrando_el_valor() {
        let e = RangoEntradas::parse("4-1").unwrap_err();
        assert!(e.to_string().contains("4-1"), "{e}");
        assert!(e.to_string().contains("1-4"), "{e}");
        for malo in ["0", "0-3", "", "-", "1-", "a-b", "1-2-3", "-1"] {
            assert!(RangoEntradas::parse(malo).is_err(), "{malo:?}");
        }
    }

    #[test]
    fn probabilidad_fuera_de_0_a_1_se_rechaza() {
        assert_eq!(Probabilidad::parse("0.25").unwrap().get(), 0.25);
        assert_eq!(Probabilidad::parse("0").unwrap().get(), 0.0);
        assert_eq!(Probabilidad::parse("1").unwrap().get(), 1.0);
        for malo in ["-0.1", "1.5", "NaN", "inf", "diez"] {
            let e = Probabilidad::parse(malo).unwrap_err();
            assert!(e.to_string().contains(malo), "{e}");
        }
    }

    #[test]
    fn percentiles_por_rango_mas_cercano() {
        let l = Latencias::de((1..=100).map(|ms| ms * 1000).collect());
        assert_eq!((l.p50, l.p95, l.p99, l.max), (50.0, 95.0, 99.0, 100.0));
        assert_eq!(Latencias::de(vec![]), Latencias::default());
        assert_eq!(Latencias::de(vec![1234]).p50, 1.23);
    }

    #[test]
    fn los_correos_de_una_corrida_se_reconocen_y_son_simulados() {
        let c = Corrida::nueva();
        let email = c.email(42).unwrap();
        assert_eq!(c.numero(email.as_str()), Some(42));
        assert!(email.as_str().ends_with("@simulacion.eventflow.invalid"));
        let otra = Corrida::nueva();
        assert_eq!(otra.numero(email.as_str()), None);
        assert_eq!(c.numero("juan@example.com"), None);
    }

    #[test]
    fn las_marcas_de_simulacion_no_confunden_datos_reales() {
        let u = |email: &str| Usuario {
            id: UsuarioId::generar(),
            tipo_documento: None,
            nro_documento: None,
            nombre: Texto::parse("nombre", "A").unwrap(),
            apellido: Texto::parse("apellido", "B").unwrap(),
            email: Email::parse(email).unwrap(),
            historial_compras: vec![],
        };
        assert!(es_usuario_simulado(&u(
            "sim-x-1@simulacion.eventflow.invalid"
        )));
        assert!(!es_usuario_simulado(&u("a@example.com")));
        assert!(!es_usuario_simulado(&u("a@nosimulacion.eventflow.invalid")));
    }

    proptest! {
        #[test]
        fn un_rango_elige_siempre_dentro_de_sus_limites(a in 1u32..50, d in 0u32..50, semilla: u64) {
            let r = RangoEntradas::parse(&format!("{a}-{}", a + d)).unwrap();
            let mut rng = StdRng::seed_from_u64(semilla);
            for _ in 0..20 {
                let n = r.elegir(&mut rng).get();
                prop_assert!((a..=a + d).contains(&n));
            }
            prop_assert_eq!(RangoEntradas::parse(&r.to_string()).unwrap(), r);
        }
    }
}
