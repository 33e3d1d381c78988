//! The storage traits the core needs, shaped around what it does (take seats, confirm,
//! compensate) rather than around driver calls. One folder per backend implements them:
//! `mongo/` (users and events) with `redis/` (seats, purchase records, payments) in
//! production, or `embedded/` (all of it in one SQLite file) for zero setup.
//! Driver errors become domain errors (`NoEncontrado`, `Duplicado`, `BackendCaido`) here.

pub mod embedded;
mod listado;
pub mod mongo;
pub mod paginas;
pub mod rechazo;
pub mod redis;

pub use listado::FilaDanada;
pub use paginas::paginas;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain::{
    Aforo, CambiosEvento, CambiosUsuario, ClaveIdempotencia, Compra, Email, Entradas, Estado,
    Evento, EventoId, Fecha, NuevoEvento, NuevoUsuario, Precio, ReservaConPago, ReservaId, Texto,
    Token, TokenId, Usuario, UsuarioId,
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
        &self, id: &EventoId, cambios: CambiosEvento, aforo_anterior: Aforo,
    ) -> Result<Evento>;
    async fn eliminar(&self, id: &EventoId) -> Result<()>;
    /// Read model of a confirmed sale: adds `reserva` to `reservas_activas` and takes
    /// `entradas` off `entradas_disponibles`, once. Idempotent.
    async fn aplicar_venta(
        &self, id: &EventoId, reserva: &ReservaId, entradas: Entradas,
    ) -> Result<()>;
    /// The inverse of `aplicar_venta`, once. Idempotent.
    async fn revertir_venta(
        &self, id: &EventoId, reserva: &ReservaId, entradas: Entradas,
    ) -> Result<()>;
    /// Overwrites the read model (`verificar --reparar`).
    async fn fijar_modelo_lectura(
        &self, id: &EventoId, disponibles: i64, activas: &[ReservaId],
    ) -> Result<()>;
    async fn por_nombre_fecha(&self, nombre: &Texto, fecha: &Fecha) -> Result<Option<Evento>>;
    async fn importar(&self, lote: Vec<NuevoEvento>, modo: ModoImport) -> Result<ResultadoLote>;
    /// Every stored event that does not read back (for `verificar`); `listar` skips them.
    async fn danados(&self) -> Result<Vec<FilaDanada>>;
}

pub use crate::domain::saga::{Cobro, Fase, Paso, Reclamo, RegistroSaga, Retencion, Toma};

/// Filters for `reservas listar`.
#[derive(Debug, Clone, Default)]
pub struct FiltroReservas {
    pub evento: Option<EventoId>,
    pub usuario: Option<UsuarioId>,
    pub estado: Option<Estado>,
}

impl FiltroReservas {
    /// Whether `r` passes every filter that is set.
    pub fn admite(&self, r: &crate::domain::Reserva) -> bool {
        self.evento.as_ref().is_none_or(|e| &r.evento_id == e)
            && self.usuario.as_ref().is_none_or(|u| &r.usuario_id == u)
            && self.estado.is_none_or(|s| r.estado == s)
    }
}

/// The reservation store, the CP side, split by role: seat counters ([`ContadorStore`]),
/// purchase records with their holds and locks ([`RegistroStore`]), idempotency keys
/// ([`ClaveStore`]) and the payment ledger ([`CobroStore`]). Every operation that touches
/// one event's keys is atomic (one script on Redis, one transaction on SQLite). A caller
/// that needs one role takes that trait: the payment gateway takes only the ledger.
#[async_trait]
pub trait ReservaStore: ContadorStore + RegistroStore + ClaveStore + CobroStore {
    /// The store's clock: Redis `TIME`, or SQLite's. Every expiry and lease is compared
    /// with it, never with the caller's.
    async fn reloj(&self) -> Result<Fecha>;
    /// Connectivity and server version, for `estado` and `/health`.
    async fn ping(&self) -> Result<String>;
}

/// Seat counters and the capacity they count against, one per event.
#[async_trait]
pub trait ContadorStore: Send + Sync {
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
        &self, evento: &EventoId, anterior: Option<i64>, valor: i64,
    ) -> Result<bool>;
    /// Sets the counter to the capacity (the stored one, else `aforo`) minus the seats of
    /// the event's pending and confirmed purchases, all read in the same atomic step, so
    /// it never undoes a sale running beside it (`verificar --reparar`). Returns the
    /// counter before (`None`: missing) and after. Reads every record of the event.
    async fn recalcular_contador(
        &self, evento: &EventoId, aforo: Aforo,
    ) -> Result<(Option<i64>, i64)>;
    /// Every event that has a counter or purchase records here.
    async fn eventos(&self) -> Result<Vec<EventoId>>;
}

/// Purchase records: the atomic take of seats, the saga's progress, claims and release.
#[async_trait]
pub trait RegistroStore: Send + Sync {
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
        &self, reserva: &ReservaId, motivo: &Reclamo, lease_ms: i64,
    ) -> Result<Option<RegistroSaga>>;
    /// Puts the seats back and sets the final state, once: a second call returns false and
    /// adds nothing. Drops the hold and the lock. Only a taken-over purchase is released
    /// (`Conflicto` otherwise), and only once no approved charge stands (`Conflicto`). A
    /// cancellation ends `cancelada`; a compensation asked to end `expirada` ends
    /// `compensada` if anything was ever charged.
    async fn liberar(&self, reserva: &RegistroSaga, estado_final: Estado) -> Result<bool>;
    async fn ver(&self, reserva: &ReservaId) -> Result<RegistroSaga>;
    async fn de_evento(&self, evento: &EventoId) -> Result<Vec<RegistroSaga>>;
    /// Every purchase matching `filtro`, by creation time, read whole (small listings).
    async fn listar(&self, filtro: &FiltroReservas) -> Result<Vec<RegistroSaga>>;
    /// One page of the purchases matching `filtro`: ordered by event id and, within an
    /// event, by id (the order they were made in), at most `limite`, after the purchase
    /// `despues_de` (`NoEncontrado` if it does not exist). Reads about one page, so a
    /// listing walked page by page holds one page in memory. A stored purchase that does
    /// not read back is skipped with a warning naming its id.
    async fn pagina(
        &self, filtro: &FiltroReservas, limite: u32, despues_de: Option<&ReservaId>,
    ) -> Result<Vec<RegistroSaga>>;
    /// In-flight purchases whose hold expired by the store's clock.
    async fn vencidas(&self) -> Result<Vec<RegistroSaga>>;
    /// A purchase the user has in flight (holding a live lock) on any event, if any.
    async fn en_curso_de_usuario(&self, usuario: &UsuarioId) -> Result<Option<ReservaId>>;
    /// Writes a record back as given, and its ledger entry if the ledger has none: after
    /// data loss (`verificar --reparar`), or to complete from the history a purchase the
    /// caller has taken over for compensation. Only then: a record that exists and is not
    /// taken over is live and is left alone (returns false). The counter is not touched.
    async fn restaurar(&self, registro: &RegistroSaga, cobro: Option<&Cobro>) -> Result<bool>;
}

/// Idempotency keys: a key binds to one request and one reservation.
#[async_trait]
pub trait ClaveStore: Send + Sync {
    /// Binds an idempotency key to a request fingerprint and reservation, unless already
    /// bound. Returns the existing `(huella, reserva)` when it was.
    async fn vincular_clave(
        &self, clave: &ClaveIdempotencia, huella: &str, reserva: &ReservaId,
    ) -> Result<Option<(String, ReservaId)>>;
}

/// The simulated gateway's payment ledger, one entry per reservation.
#[async_trait]
pub trait CobroStore: Send + Sync {
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
}

/// A purchase with its payment (`reservas ver`, CLI and API).
pub async fn reserva_con_pago(
    reservas: &dyn ReservaStore, id: &ReservaId,
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
    /// Tokens by id, revoked and expired ones included: at most `limite`, after
    /// `despues_de`.
    async fn listar(&self, limite: u32, despues_de: Option<&TokenId>) -> Result<Vec<Token>>;
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
    pub documentos: Arc<dyn StoreHealth>,
}

/// Liveness of a store.
#[async_trait]
pub trait StoreHealth: Send + Sync {
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
