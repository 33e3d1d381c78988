//! The saga record's transitions as pure functions: the one statement of each rule of the
//! table in `docs/consistency.md` ("States and transitions"). The SQLite store calls them
//! inside its transactions; the Redis Lua scripts (`store/redis/lua/`) implement the same
//! rules in the server, and the contract suite (`tests/it/contrato/transiciones.rs`)
//! checks both stores against [`RegistroSaga::permite`] from every state.

use super::Estado;
use super::saga::{Cobro, Reclamo, RegistroSaga, Toma};
use crate::domain::Fecha;

/// How long an idempotency key stays bound: long enough for any client retry, short
/// enough not to pile up (7 days, in ms).
pub const TTL_IDEMPOTENCIA_MS: i64 = 7 * 24 * 3600 * 1000;
/// The shortest user lock a take sets (ms): a lock that expires before the take returns
/// would protect nothing.
pub const TTL_MIN_BLOQUEO_MS: i64 = 1000;
/// Expired holds one take releases at most, so a take stays O(1) amortised.
pub const LIBERABLES_POR_TOMA: i64 = 256;

/// An operation a store applies to a purchase record.
#[derive(Debug, Clone, Copy)]
pub enum Operacion<'a> {
    /// Record a step's progress.
    Marcar,
    /// Record a new charge in the ledger.
    Cobrar,
    /// `pendiente → confirmada`.
    Confirmar,
    /// Finish a confirmed sale (history written).
    Completar,
    /// Take the purchase over for `motivo`.
    Reclamar(&'a Reclamo),
    /// Give the seats back and end the purchase.
    Liberar,
}

/// Why a store refuses an operation; `store::rechazo` holds each one's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Negativa {
    /// Taken over (`compensacion`/`cancelacion`) or finished (the state's name).
    Tomada(&'static str),
    /// Not `pendiente` any more (the state's name).
    NoPendiente(&'static str),
    /// A new charge is refused: `tomada`, the state's name, or `vencida`.
    NoCobrable(&'static str),
    /// Released by someone who did not take it over first.
    NoTomada,
    /// Released while an approved charge stands unrefunded.
    CobroEnPie,
}

impl RegistroSaga {
    /// The fencing rule: the saga may act on its purchase only while it is unfinished and
    /// nobody took it over, whatever the clocks say.
    pub fn propia(&self) -> Result<(), Negativa> {
        match (self.terminada, self.toma) {
            (false, None) => Ok(()),
            (_, Some(t)) => Err(Negativa::Tomada(t.as_str())),
            (true, None) => Err(Negativa::Tomada(self.reserva.estado.as_str())),
        }
    }

    /// `confirmar`: only a pending purchase the saga still owns.
    pub fn confirmable(&self) -> Result<(), Negativa> {
        if self.reserva.estado != Estado::Pendiente {
            return Err(Negativa::NoPendiente(self.reserva.estado.as_str()));
        }
        self.propia()
    }

    /// `completar`: only a confirmed purchase the saga still owns.
    pub fn completable(&self) -> bool {
        self.reserva.estado == Estado::Confirmada && self.propia().is_ok()
    }

    /// A new charge: only while pending, not taken over, and its hold unexpired at `ahora`
    /// (store clock). A charge already in the ledger is read back, never made again.
    pub fn cobrable(&self, ahora: Fecha) -> Result<(), Negativa> {
        if self.toma.is_some() {
            Err(Negativa::NoCobrable("tomada"))
        } else if self.reserva.estado != Estado::Pendiente || self.terminada {
            Err(Negativa::NoCobrable(self.reserva.estado.as_str()))
        } else if self.expira <= ahora {
            Err(Negativa::NoCobrable("vencida"))
        } else {
            Ok(())
        }
    }

    /// Whether a claim for `motivo` may take the purchase over at `ahora`. A saga's own
    /// failure (`Fallo`) claims only an unclaimed purchase; an expiry or forced claim may
    /// replace a compensator whose lease ran out; a cancellation takes finished sales.
    pub fn reclamable(&self, motivo: &Reclamo, ahora: Fecha) -> bool {
        let libre = self.toma.is_none() || self.reclamada_hasta.is_none_or(|h| h <= ahora);
        match motivo {
            Reclamo::Fallo(_) => !self.terminada && self.toma.is_none(),
            Reclamo::Vencida => {
                !self.terminada
                    && libre
                    && (self.toma == Some(Toma::Compensacion) || self.expira < ahora)
            }
            Reclamo::Forzada => !self.terminada && libre,
            Reclamo::Cancelacion => {
                self.reserva.estado == Estado::Confirmada && self.terminada && libre
            }
        }
    }

    /// Releasing the seats with `pedido` as the final state: `Ok(None)` when already
    /// released (a retry is a no-op), `Ok(Some(final))` with the state it really ends in
    /// (a cancellation ends `cancelada`; a compensated sale `compensada`; an expiry that
    /// was charged `compensada`), or the refusal. `cobro` is the ledger entry, if any.
    pub fn liberacion(
        &self, pedido: Estado, cobro: Option<&Cobro>,
    ) -> Result<Option<Estado>, Negativa> {
        if !self.reserva.estado.retiene_entradas() {
            return Ok(None);
        }
        let Some(toma) = self.toma else {
            return Err(Negativa::NoTomada);
        };
        if cobro.is_some_and(|c| c.aprobado && c.reembolsado.is_none()) {
            return Err(Negativa::CobroEnPie);
        }
        let cobrado = cobro.is_some_and(|c| c.aprobado);
        Ok(Some(match (toma, pedido) {
            (Toma::Cancelacion, _) => Estado::Cancelada,
            (_, Estado::Cancelada) => Estado::Compensada,
            (_, Estado::Expirada) if cobrado => Estado::Compensada,
            (_, e) => e,
        }))
    }

    /// The whole table: whether a store applies `op` to this record at `ahora`, given its
    /// ledger entry `cobro`. A release that finds the purchase already released applies
    /// nothing, so it counts as refused here.
    pub fn permite(&self, op: Operacion<'_>, ahora: Fecha, cobro: Option<&Cobro>) -> bool {
        match op {
            Operacion::Marcar => self.propia().is_ok(),
            Operacion::Cobrar => cobro.is_none() && self.cobrable(ahora).is_ok(),
            Operacion::Confirmar => self.confirmable().is_ok(),
            Operacion::Completar => self.completable(),
            Operacion::Reclamar(m) => self.reclamable(m, ahora),
            Operacion::Liberar => matches!(self.liberacion(Estado::Expirada, cobro), Ok(Some(_))),
        }
    }
}
