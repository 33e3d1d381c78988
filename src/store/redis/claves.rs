//! The Redis key layout. Every key of one event carries the hash tag `{E}`, so each
//! script touches a single Redis Cluster slot. The indexes that span events are spread
//! over slots too: the reservation → event lookup is one key per reservation, and the
//! registry of events is [`FRAGMENTOS_EVENTOS`] sets, each on its own hash tag, so no
//! key is written by every event and no listing needs `SCAN` (`docs/consistency.md`).

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

    /// The registry shard (a SET of event ids) that lists `e`.
    pub(crate) fn registro_eventos(&self, e: &EventoId) -> String {
        self.fragmento_eventos(fragmento(e))
    }

    /// Shard `n` of the registry of events, tagged `{eventos-n}`: its own slot.
    pub(crate) fn fragmento_eventos(&self, n: u32) -> String {
        format!("{}eventos:{{eventos-{n}}}", self.prefijo)
    }

    /// The one SET of every event that versions before issue 14 kept; read (and emptied
    /// into the shards) by `eventos()` so existing data keeps working.
    pub(crate) fn eventos_antiguo(&self) -> String {
        format!("{}eventos", self.prefijo)
    }

    pub(crate) fn idempotencia(&self, k: &ClaveIdempotencia) -> String {
        format!("{}idempotencia:{k}", self.prefijo)
    }
}

/// How many sets the registry of events is split into: enough to spread it over every
/// primary of a usual cluster, few enough that listing every event reads a handful of keys.
pub(crate) const FRAGMENTOS_EVENTOS: u32 = 16;

/// The registry shard of an event: FNV-1a of its id, modulo [`FRAGMENTOS_EVENTOS`]. Stable
/// across versions and platforms (it decides where an event is found).
fn fragmento(e: &EventoId) -> u32 {
    let h = e.as_str().bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    h % FRAGMENTOS_EVENTOS
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

    #[test]
    fn el_registro_de_eventos_se_reparte_entre_todos_sus_fragmentos() {
        let c = Claves::new("p:");
        let mut vistos = std::collections::HashSet::new();
        for _ in 0..400 {
            vistos.insert(c.registro_eventos(&EventoId::generar()));
        }
        assert_eq!(vistos.len(), FRAGMENTOS_EVENTOS as usize);
        assert!(vistos.contains("p:eventos:{eventos-0}"), "{vistos:?}");
    }
}
