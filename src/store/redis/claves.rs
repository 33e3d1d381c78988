//! The Redis key layout. Every key of one event carries the hash tag `{E}`, so each
//! script touches a single Redis Cluster slot; only the global indexes live elsewhere.

use crate::domain::{ClaveIdempotencia, EventoId, ReservaId, UsuarioId};

/// Builds key names under an optional prefix (`EVENTFLOW_REDIS_PREFIX`).
#[derive(Debug, Clone)]
pub(crate) struct Claves {
    prefijo: String,
}

impl Claves {
    pub(crate) fn new(prefijo: &str) -> Self {
        Self {
            prefijo: prefijo.to_owned(),
        }
    }

    /// The live seat counter; the contract names this key.
    pub(crate) fn contador(&self, e: &EventoId) -> String {
        format!("{}evento:{{{e}}}:entradas", self.prefijo)
    }

    /// The capacity the counter is accounted against; changed only together with the
    /// counter, by compare-and-set (`ajustar_aforo.lua`).
    pub(crate) fn aforo(&self, e: &EventoId) -> String {
        format!("{}evento:{{{e}}}:aforo", self.prefijo)
    }

    /// SET of every reservation id of the event.
    pub(crate) fn reservas(&self, e: &EventoId) -> String {
        format!("{}evento:{{{e}}}:reservas", self.prefijo)
    }

    /// ZSET of the same ids at score 0, so they read back in id order (`ZRANGEBYLEX`):
    /// the pages of `reservas listar`. Scripts build it from the `reservas` key.
    pub(crate) fn orden(&self, e: &EventoId) -> String {
        format!("{}:orden", self.reservas(e))
    }

    /// ZSET of in-flight reservation ids scored by hold expiry (ms).
    pub(crate) fn retenidas(&self, e: &EventoId) -> String {
        format!("{}evento:{{{e}}}:retenidas", self.prefijo)
    }

    /// What `registro` puts before the reservation id (scripts build record keys from it).
    pub(crate) fn prefijo_registro(&self, e: &EventoId) -> String {
        format!("{}reserva:{{{e}}}:", self.prefijo)
    }

    /// HASH: the saga record.
    pub(crate) fn registro(&self, e: &EventoId, r: &ReservaId) -> String {
        format!("{}{r}", self.prefijo_registro(e))
    }

    pub(crate) fn prefijo_pago(&self, e: &EventoId) -> String {
        format!("{}pago:{{{e}}}:", self.prefijo)
    }

    /// HASH: the simulated gateway's ledger entry.
    pub(crate) fn pago(&self, e: &EventoId, r: &ReservaId) -> String {
        format!("{}{r}", self.prefijo_pago(e))
    }

    /// The per-user light lock of the design doc (`reserva:usr001:evt123`), tagged by event.
    pub(crate) fn bloqueo(&self, u: &UsuarioId, e: &EventoId) -> String {
        format!("{}{u}{}", self.prefijo_bloqueo(), Self::sufijo_bloqueo(e))
    }

    /// What goes before the user id in a lock key (`tomar.lua` builds lock keys of the
    /// holds it releases from these two).
    pub(crate) fn prefijo_bloqueo(&self) -> String {
        format!("{}reserva:", self.prefijo)
    }

    pub(crate) fn sufijo_bloqueo(e: &EventoId) -> String {
        format!(":{{{e}}}")
    }

    /// STRING reservation → event, so a reservation is found by id alone.
    /// Takes the id as text: `borrar_evento` gets the ids back from a script.
    pub(crate) fn indice(&self, r: &str) -> String {
        format!("{}reserva-evento:{r}", self.prefijo)
    }

    /// SET of the events that have a counter or records.
    pub(crate) fn eventos(&self) -> String {
        format!("{}eventos", self.prefijo)
    }

    pub(crate) fn idempotencia(&self, k: &ClaveIdempotencia) -> String {
        format!("{}idempotencia:{k}", self.prefijo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn todas_las_claves_de_un_evento_llevan_su_etiqueta() {
        let c = Claves::new("p:");
        let e = EventoId::parse("0123456789abcdef01234567").unwrap();
        let r = ReservaId::parse("aaaaaaaaaaaaaaaaaaaaaaaa").unwrap();
        let u = UsuarioId::parse("bbbbbbbbbbbbbbbbbbbbbbbb").unwrap();
        let etiqueta = format!("{{{e}}}");
        for k in [
            c.contador(&e),
            c.aforo(&e),
            c.reservas(&e),
            c.retenidas(&e),
            c.registro(&e, &r),
            c.pago(&e, &r),
            c.bloqueo(&u, &e),
        ] {
            assert!(k.starts_with("p:"), "{k}");
            assert_eq!(k.matches('{').count(), 1, "{k}");
            assert!(k.contains(&etiqueta), "{k}");
        }
        assert_eq!(
            c.contador(&e),
            "p:evento:{0123456789abcdef01234567}:entradas"
        );
    }
}
