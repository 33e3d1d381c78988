//! The storage traits the core needs, shaped around what it does (take seats, confirm,
//! compensate) rather than around driver calls. One folder per backend implements them:
//! `mongo/` (users and events) with `redis/` (seats, purchase records, payments) in
//! production, or `embedded/` (all of it in one SQLite file) for zero setup.
//! Driver errors become domain errors (`NoEncontrado`, `Duplicado`, `BackendCaido`) here.

pub mod embedded;
mod listado;
pub mod mongo;
pub mod rechazo;
pub mod redis;

pub use listado::FilaDanada;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::{
    Aforo, CambiosEvento, CambiosUsuario, ClaveIdempotencia, Compra, Email, Entradas, Estado,
    EstadoPago, Evento, EventoId, Fecha, NuevoEvento, NuevoUsuario, Pago, Precio, Reserva,
    ReservaConPago, ReservaId, Texto, Token, TokenId, Usuario, UsuarioId,
};
use crate::error::Result;

/// How a batch import treats rows that already exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModoImport {
    /// Insert; an existing row is a rejected row.
    Insertar,
    /// Match (users by email, events by nombre+fecha) and update, or insert.
    Upsert,
}

/// What happened to each row of a batch, by its index in the batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResultadoLote {
    pub insertados: u64,
    pub actualizados: u64,
    /// `(index in the batch, reason)` for each row the store refused.
    pub rechazados: Vec<(usize, String)>,
    /// Ids of the events the batch inserted, by batch index (events only; the caller
    /// creates their seat counters).
    pub insertados_ids: Vec<(usize, String)>,
}

/// Users, in MongoDB (`usuarios`) or the embedded store.
#[async_trait]
pub trait UsuarioStore: Send + Sync {
    async fn crear(&self, nuevo: NuevoUsuario) -> Result<Usuario>;
    async fn ver(&self, id: &UsuarioId) -> Result<Usuario>;
    /// Users ordered by id, at most `limite`, starting after `despues_de`. A stored user
    /// that does not read back is skipped with a warning naming its id.
    async fn listar(&self, limite: u32, despues_de: Option<&UsuarioId>) -> Result<Vec<Usuario>>;
    async fn actualizar(&self, id: &UsuarioId, cambios: CambiosUsuario) -> Result<Usuario>;
    async fn eliminar(&self, id: &UsuarioId) -> Result<()>;
    /// Adds one purchase to `historial_compras`. Idempotent: the same `Compra` twice is one entry.
    /// Fails with `NoEncontrado` if the user is gone.
    async fn registrar_compra(&self, id: &UsuarioId, compra: &Compra) -> Result<()>;
    /// Removes the purchase of `reserva` from `historial_compras`. Idempotent.
    async fn quitar_compra(&self, id: &UsuarioId, reserva: &ReservaId) -> Result<()>;
    /// Every user holding a purchase of `evento`, with those purchases (for `verificar`).
    async fn compras_de_evento(&self, evento: &EventoId) -> Result<Vec<(UsuarioId, Compra)>>;
    async fn por_email(&self, email: &Email) -> Result<Option<Usuario>>;
    async fn importar(&self, lote: Vec<NuevoUsuario>, modo: ModoImport) -> Result<ResultadoLote>;
    /// Every stored user that does not read back (for `verificar`); `listar` skips them.
    async fn danados(&self) -> Result<Vec<FilaDanada>>;
}

/// Events and their read model, in MongoDB (`eventos`) or the embedded store.
#[async_trait]
pub trait EventoStore: Send + Sync {
    async fn crear(&self, nuevo: NuevoEvento) -> Result<Evento>;
    async fn ver(&self, id: &EventoId) -> Result<Evento>;
    /// What a purchase needs of the event: that it exists (`NoEncontrado` otherwise) and its
    /// price. It does not read the read model, whose `reservas_activas` grows with every
    /// sale, so a purchase costs the same for the first seat and the last.
    async fn precio(&self, id: &EventoId) -> Result<Precio>;
    /// The stored `aforo_total` alone, so an event whose other fields are damaged can
    /// still be deleted by id. `NoEncontrado` if it does not exist.
    async fn aforo(&self, id: &EventoId) -> Result<Aforo>;
    /// Events ordered by id, at most `limite`, starting after `despues_de`. A stored event
    /// that does not read back is skipped with a warning naming its id.
    async fn listar(&self, limite: u32, despues_de: Option<&EventoId>) -> Result<Vec<Evento>>;
    /// Applies `cambios`. When `cambios.aforo` is set, the update only happens while the
    /// stored `aforo_total` is still `aforo_anterior` (else `Conflicto`), and
    /// `entradas_disponibles` moves by the same difference.
    async fn actualizar(
        &self,
        id: &EventoId,
        cambios: CambiosEvento,
        aforo_anterior: Aforo,
    ) -> Result<Evento>;
    async fn eliminar(&self, id: &EventoId) -> Result<()>;
    /// Read model of a confirmed sale: adds `reserva` to `reservas_activas` and takes
    /// `entradas` off `entradas_disponibles`, once. Idempotent.
    async fn aplicar_venta(
        &self,
        id: &EventoId,
        reserva: &ReservaId,
        entradas: Entradas,
    ) -> Result<()>;
    /// The inverse of `aplicar_venta`, once. Idempotent.
    async fn revertir_venta(
        &self,
        id: &EventoId,
        reserva: &ReservaId,
        entradas: Entradas,
    ) -> Result<()>;
    /// Overwrites the read model (`verificar --reparar`).
    async fn fijar_modelo_lectura(
        &self,
        id: &EventoId,
        disponibles: i64,
        activas: &[ReservaId],
    ) -> Result<()>;
    async fn por_nombre_fecha(&self, nombre: &Texto, fecha: &Fecha) -> Result<Option<Evento>>;
    async fn importar(&self, lote: Vec<NuevoEvento>, modo: ModoImport) -> Result<ResultadoLote>;
    /// Every stored event that does not read back (for `verificar`); `listar` skips them.
    async fn danados(&self) -> Result<Vec<FilaDanada>>;
}

/// The steps of a purchase, in order, as the contract names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Paso {
    Datos,
    Inventario,
    Pago,
    Confirmacion,
    Historial,
}

impl Paso {
    pub const TODOS: [Paso; 5] = [
        Paso::Datos,
        Paso::Inventario,
        Paso::Pago,
        Paso::Confirmacion,
        Paso::Historial,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Paso::Datos => "datos",
            Paso::Inventario => "inventario",
            Paso::Pago => "pago",
            Paso::Confirmacion => "confirmacion",
            Paso::Historial => "historial",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::TODOS.into_iter().find(|p| p.as_str() == s)
    }
}

/// Whether a step's effects have begun or are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fase {
    Iniciado,
    Hecho,
}

impl Fase {
    pub fn as_str(self) -> &'static str {
        match self {
            Fase::Iniciado => "iniciado",
            Fase::Hecho => "hecho",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "iniciado" => Some(Fase::Iniciado),
            "hecho" => Some(Fase::Hecho),
            _ => None,
        }
    }
}

/// What a granted claim took a purchase over for. Once set it is never cleared while the
/// purchase is in flight: confirmation, completion, progress marks and charges are refused
/// from then on, whatever the clocks say (the fencing rule, `docs/consistency.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Toma {
    /// Rolling back a purchase in flight (its own saga after a failure, or `compensar`).
    Compensacion,
    /// Cancelling a completed purchase (`reservas cancelar`).
    Cancelacion,
}

impl Toma {
    pub fn as_str(self) -> &'static str {
        match self {
            Toma::Compensacion => "compensacion",
            Toma::Cancelacion => "cancelacion",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "compensacion" => Some(Toma::Compensacion),
            "cancelacion" => Some(Toma::Cancelacion),
            _ => None,
        }
    }
}

/// The durable record of one purchase saga: the reservation plus where the saga got to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistroSaga {
    pub reserva: Reserva,
    /// The last step recorded, and whether its effects are stored.
    pub paso: Paso,
    pub fase: Fase,
    /// When the seat hold runs out (the store's clock); after it, `compensar` may finish
    /// the purchase.
    pub expira: Fecha,
    pub clave: Option<ClaveIdempotencia>,
    /// Set at confirmation; the timestamp written to `historial_compras`.
    pub fecha_compra: Option<Fecha>,
    /// True once the saga has nothing left to do (completed or compensated).
    pub terminada: bool,
    /// Who took the purchase over, if anyone: a state, never cleared while in flight.
    pub toma: Option<Toma>,
    /// The lease of the current owner of `toma`: after it another compensator may take
    /// over (never the saga). Compared with the store's clock.
    pub reclamada_hasta: Option<Fecha>,
    /// Why the saga rolled itself back: `<codigo> <mensaje>` of the error the buyer got,
    /// so an idempotent retry replays it.
    pub fallo: Option<String>,
}

impl RegistroSaga {
    /// The `historial_compras` entry of this purchase, once confirmed.
    pub fn compra(&self) -> Option<Compra> {
        self.fecha_compra.map(|fecha_compra| Compra {
            evento_id: self.reserva.evento_id.clone(),
            reserva_id: self.reserva.id.clone(),
            fecha_compra,
            entradas: self.reserva.entradas,
        })
    }

    /// In flight: not finished and not in a final state.
    pub fn en_curso(&self) -> bool {
        !self.terminada
    }
}

/// A request to hold seats: everything the atomic take needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retencion {
    pub reserva: ReservaId,
    pub evento: EventoId,
    pub usuario: UsuarioId,
    pub entradas: Entradas,
    pub importe: i64,
    /// How long the hold lasts, in ms from the store's clock (`EVENTFLOW_RESERVA_TTL_S`).
    /// Zero or less makes a hold that has already expired (tests).
    pub ttl_ms: i64,
    pub clave: Option<ClaveIdempotencia>,
}

impl Retencion {
    /// The pending record this hold creates, taken at `ahora` (the store's clock): the
    /// one rule for a new record, shared by both backends (the Redis script overwrites the
    /// instants with `TIME`).
    pub fn registro(&self, ahora: Fecha) -> RegistroSaga {
        RegistroSaga {
            reserva: Reserva {
                id: self.reserva.clone(),
                evento_id: self.evento.clone(),
                usuario_id: self.usuario.clone(),
                entradas: self.entradas,
                estado: Estado::Pendiente,
                importe: self.importe,
                creada: ahora,
                actualizada: ahora,
            },
            paso: Paso::Inventario,
            fase: Fase::Hecho,
            expira: Fecha::from_millis(ahora.millis().saturating_add(self.ttl_ms)),
            clave: self.clave.clone(),
            fecha_compra: None,
            terminada: false,
            toma: None,
            reclamada_hasta: None,
            fallo: None,
        }
    }
}

/// Why a claim is being made; the store grants it only from the states the transition
/// table allows (`docs/consistency.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reclamo {
    /// `compensar`: an in-flight purchase whose hold has expired, or one whose compensator's
    /// lease ran out (a takeover).
    Vencida,
    /// `compensar --forzar --reserva`: any in-flight purchase not held by a live compensator.
    Forzada,
    /// The saga rolling itself back after a failure: only an in-flight purchase nobody
    /// took over. Carries `<codigo> <mensaje>` of the failure, stored for retries.
    Fallo(String),
    /// `reservas cancelar`: a completed, confirmed purchase.
    Cancelacion,
}

impl Reclamo {
    /// The state a granted claim leaves.
    pub fn toma(&self) -> Toma {
        match self {
            Reclamo::Cancelacion => Toma::Cancelacion,
            _ => Toma::Compensacion,
        }
    }

    /// The name the Redis script and the SQLite rules use.
    pub fn nombre(&self) -> &'static str {
        match self {
            Reclamo::Vencida => "vencida",
            Reclamo::Forzada => "forzada",
            Reclamo::Fallo(_) => "fallo",
            Reclamo::Cancelacion => "cancelacion",
        }
    }
}

/// The simulated gateway's ledger entry for one reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cobro {
    pub reserva_id: ReservaId,
    pub importe: i64,
    pub aprobado: bool,
    pub cobrado: Fecha,
    pub reembolsado: Option<Fecha>,
}

impl Cobro {
    /// The payment `reservas ver` shows for a ledger entry, or for none.
    pub fn pago(cobro: Option<&Cobro>) -> Pago {
        let (estado, importe) = match cobro {
            None => (EstadoPago::Ninguno, 0),
            Some(c) if !c.aprobado => (EstadoPago::Rechazado, 0),
            Some(c) if c.reembolsado.is_some() => (EstadoPago::Reembolsado, c.importe),
            Some(c) => (EstadoPago::Aprobado, c.importe),
        };
        Pago { estado, importe }
    }
}

/// Filters for `reservas listar`.
#[derive(Debug, Clone, Default)]
pub struct FiltroReservas {
    pub evento: Option<EventoId>,
    pub usuario: Option<UsuarioId>,
    pub estado: Option<Estado>,
}

/// Seats, purchase records, locks, idempotency keys and the payment ledger: the CP side.
/// Every operation that touches one event's keys is atomic (one script on Redis).
#[async_trait]
pub trait ReservaStore: Send + Sync {
    /// Creates the event's seat counter at `aforo`; never overwrites. Returns false if it existed.
    async fn crear_contador(&self, evento: &EventoId, aforo: Aforo) -> Result<bool>;
    /// The live seat counter, `None` if the event has none.
    async fn contador(&self, evento: &EventoId) -> Result<Option<i64>>;
    /// The capacity this store accounts seats against (`None` for an event created before
    /// it was kept here; `verificar --reparar` records it).
    async fn aforo(&self, evento: &EventoId) -> Result<Option<Aforo>>;
    /// Compare-and-set of the capacity, moving the counter by `nuevo - anterior` in the same
    /// atomic step. `Conflicto` if the stored capacity is no longer `anterior` (another
    /// change won) or if lowering would take the counter below zero (more seats are held or
    /// sold than `nuevo` leaves). A missing capacity is taken to be `anterior`.
    async fn ajustar_aforo(&self, evento: &EventoId, anterior: Aforo, nuevo: Aforo) -> Result<()>;
    /// Removes the event's counter, capacity, records and ledger, only if the stored
    /// capacity is still `aforo` and no seat is out; else `Conflicto` naming a purchase that
    /// holds seats.
    async fn borrar_evento(&self, evento: &EventoId, aforo: Aforo) -> Result<()>;
    /// Sets the counter to `valor` only if it still holds `anterior` (`None`: missing), so a
    /// repair computed from a snapshot never undoes a sale that ran meanwhile. Returns
    /// whether it was set (`verificar --reparar`).
    async fn fijar_contador(
        &self,
        evento: &EventoId,
        anterior: Option<i64>,
        valor: i64,
    ) -> Result<bool>;
    /// Sets the counter to the capacity (the stored one, else `aforo`) minus the seats of
    /// the event's pending and confirmed purchases, all read in the same atomic step, so
    /// it never undoes a sale running beside it (`verificar --reparar`). Returns the
    /// counter before (`None`: missing) and after. Reads every record of the event.
    async fn recalcular_contador(
        &self,
        evento: &EventoId,
        aforo: Aforo,
    ) -> Result<(Option<i64>, i64)>;
    /// Every event that has a counter or purchase records here.
    async fn eventos(&self) -> Result<Vec<EventoId>>;

    /// The store's clock: Redis `TIME`, or SQLite's. Every expiry and lease is compared
    /// with it, never with the caller's.
    async fn reloj(&self) -> Result<Fecha>;

    /// Atomically: refuses if the user already has a purchase in flight for the event
    /// (`Conflicto`); when the counter does not cover `entradas`, first releases the
    /// event's expired holds whose payment never started; then checks the counter
    /// (`SinEntradas`, nothing taken), decrements it, and records the pending purchase with
    /// its expiry (store clock + `ttl_ms`) and lock.
    async fn tomar(&self, r: &Retencion) -> Result<RegistroSaga>;
    /// Records that `paso` has begun or is done. `Conflicto` once the purchase is finished
    /// or taken over.
    async fn marcar(&self, reserva: &RegistroSaga, paso: Paso, fase: Fase) -> Result<()>;
    /// `pendiente → confirmada`, with `fecha_compra` from the store's clock. `Conflicto` if
    /// the purchase is no longer pending or was taken over.
    async fn confirmar(&self, reserva: &RegistroSaga) -> Result<RegistroSaga>;
    /// Marks a confirmed purchase finished and drops its hold and lock. Returns false (and
    /// changes nothing) if it was taken over meanwhile.
    async fn completar(&self, reserva: &RegistroSaga) -> Result<bool>;
    /// Takes a purchase over for compensation or cancellation (a state transition, see
    /// [`Toma`]) with a lease of `lease_ms`. Returns the record if granted, `None` if the
    /// purchase is not eligible or a live owner holds it.
    async fn reclamar(
        &self,
        reserva: &ReservaId,
        motivo: &Reclamo,
        lease_ms: i64,
    ) -> Result<Option<RegistroSaga>>;
    /// Puts the seats back and sets the final state, once: a second call returns false and
    /// adds nothing. Drops the hold and the lock. Only a taken-over purchase is released
    /// (`Conflicto` otherwise), and only once no approved charge stands (`Conflicto`). A
    /// cancellation ends `cancelada`; a compensation asked to end `expirada` ends
    /// `compensada` if anything was ever charged.
    async fn liberar(&self, reserva: &RegistroSaga, estado_final: Estado) -> Result<bool>;
    async fn ver(&self, reserva: &ReservaId) -> Result<RegistroSaga>;
    async fn de_evento(&self, evento: &EventoId) -> Result<Vec<RegistroSaga>>;
    async fn listar(&self, filtro: &FiltroReservas) -> Result<Vec<RegistroSaga>>;
    /// In-flight purchases whose hold expired by the store's clock.
    async fn vencidas(&self) -> Result<Vec<RegistroSaga>>;
    /// A purchase the user has in flight (holding a live lock) on any event, if any.
    async fn en_curso_de_usuario(&self, usuario: &UsuarioId) -> Result<Option<ReservaId>>;
    /// Writes a record back as given, and its ledger entry if the ledger has none: after
    /// data loss (`verificar --reparar`), or to complete from the history a purchase the
    /// caller has taken over for compensation. Only then: a record that exists and is not
    /// taken over is live and is left alone (returns false). The counter is not touched.
    async fn restaurar(&self, registro: &RegistroSaga, cobro: Option<&Cobro>) -> Result<bool>;

    /// Binds an idempotency key to a request fingerprint and reservation, unless already
    /// bound. Returns the existing `(huella, reserva)` when it was.
    async fn vincular_clave(
        &self,
        clave: &ClaveIdempotencia,
        huella: &str,
        reserva: &ReservaId,
    ) -> Result<Option<(String, ReservaId)>>;

    /// Records a charge decision for the reservation, once; returns the stored entry
    /// (the first decision wins, so a retried charge never charges twice). A new charge is
    /// refused (`Conflicto`) unless the purchase is pending, not taken over and its hold has
    /// not expired, checked in the same atomic step as the record.
    async fn registrar_cobro(&self, reserva: &RegistroSaga, aprobado: bool) -> Result<Cobro>;
    /// Records the refund of an approved charge, once. `None` if nothing was charged.
    async fn registrar_reembolso(&self, reserva: &RegistroSaga) -> Result<Option<Cobro>>;
    async fn cobro(&self, reserva: &RegistroSaga) -> Result<Option<Cobro>>;
    /// Every ledger entry of the event's purchases (`verificar`'s money invariant).
    async fn cobros_de_evento(&self, evento: &EventoId) -> Result<Vec<Cobro>>;

    /// Connectivity and server version, for `estado` and `/health`.
    async fn ping(&self) -> Result<String>;
}

/// A purchase with its payment (`reservas ver`, CLI and API).
pub async fn reserva_con_pago(
    reservas: &dyn ReservaStore,
    id: &ReservaId,
) -> Result<ReservaConPago> {
    let reg = reservas.ver(id).await?;
    let cobro = reservas.cobro(&reg).await?;
    Ok(ReservaConPago {
        reserva: reg.reserva,
        pago: Cobro::pago(cobro.as_ref()),
    })
}

/// API tokens, in MongoDB (`tokens`) or the embedded store. Only the SHA-256 of a
/// secret is kept (see `domain::Secreto`).
#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn crear(&self, token: &Token, huella: &str) -> Result<()>;
    /// The token and its stored hash, `None` if no token has that id.
    async fn buscar(&self, id: &TokenId) -> Result<Option<(Token, String)>>;
    /// Every token, revoked and expired ones included, by id.
    async fn listar(&self) -> Result<Vec<Token>>;
    /// Marks it revoked at `ahora`; a second call keeps the first date. `NoEncontrado`
    /// if it does not exist.
    async fn revocar(&self, id: &TokenId, ahora: Fecha) -> Result<Token>;
}

/// The stores of one backend, handed to every command.
#[derive(Clone)]
pub struct Almacen {
    pub usuarios: Arc<dyn UsuarioStore>,
    pub eventos: Arc<dyn EventoStore>,
    /// Users and events for AP reads only (listings and `ver` of the CLI and the API):
    /// may lag behind `usuarios`/`eventos` when `EVENTFLOW_MONGO_LECTURA` (or the URI's
    /// `readPreference`) sends them to secondaries. Nothing that decides reads them.
    pub usuarios_ap: Arc<dyn UsuarioStore>,
    pub eventos_ap: Arc<dyn EventoStore>,
    pub reservas: Arc<dyn ReservaStore>,
    pub tokens: Arc<dyn TokenStore>,
    /// Pings the document store; returns its version.
    pub documentos: Arc<dyn Salud>,
}

/// Liveness of a store.
#[async_trait]
pub trait Salud: Send + Sync {
    async fn ping(&self) -> Result<String>;

    /// Ends the store's background work (connection pools, monitors) before the process
    /// exits. Later calls on the store fail. The default has nothing to end.
    async fn cerrar(&self) {}
}

/// Connects the stores the configuration names. Fails with `BackendCaido` (exit 7) within
/// about two seconds when a server does not answer.
pub async fn conectar(config: &crate::config::Config) -> Result<Almacen> {
    use crate::config::Backend;
    match &config.backend {
        Backend::Mongo {
            mongo_uri,
            mongo_db,
            redis_url,
            redis_prefix,
            redis_replicas_min,
            mongo_lectura,
        } => {
            let (m, r) = tokio::try_join!(
                mongo::MongoStore::conectar(mongo_uri, mongo_db),
                redis::RedisStore::conectar_con(redis_url, redis_prefix, *redis_replicas_min),
            )?;
            let ap = Arc::new(match mongo_lectura {
                Some(l) => m.para_lectura(*l),
                None => m.clone(),
            });
            let m = Arc::new(m);
            Ok(Almacen {
                usuarios: m.clone(),
                eventos: m.clone(),
                usuarios_ap: ap.clone(),
                eventos_ap: ap,
                reservas: Arc::new(r),
                tokens: m.clone(),
                documentos: m,
            })
        }
        Backend::Embedded { data_dir } => {
            let s = Arc::new(embedded::SqliteStore::abrir(data_dir).await?);
            Ok(Almacen {
                usuarios: s.clone(),
                eventos: s.clone(),
                usuarios_ap: s.clone(),
                eventos_ap: s.clone(),
                reservas: s.clone(),
                tokens: s.clone(),
                documentos: s,
            })
        }
    }
}
