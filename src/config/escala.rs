//! The two settings of scaling out (issue 14): how many replicas must acknowledge a
//! Redis write before a purchase moves on, and where MongoDB's AP reads may go.

use crate::error::{Error, Result};

/// `EVENTFLOW_REDIS_REPLICAS_MIN` accepts 0 (no wait) up to this many replicas.
pub const REPLICAS_MAX: u32 = 10;

/// Parses `EVENTFLOW_REDIS_REPLICAS_MIN`: the replicas each seat-changing script waits
/// for (`WAIT`). `origen` names where the value came from. Error: `Invalido` (exit 2).
pub fn replicas_min(raw: &str, origen: &str) -> Result<u32> {
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| *n <= REPLICAS_MAX)
        .ok_or_else(|| {
            Error::Invalido(format!(
                "{origen} inválido {raw:?}: debe ser un número entero de réplicas entre 0 y \
                 {REPLICAS_MAX}, por ejemplo 1 (0 no espera a ninguna réplica)"
            ))
        })
}

/// Where listings and `ver` read users and events (`EVENTFLOW_MONGO_LECTURA`). Seat
/// availability never comes from MongoDB, whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LecturaMongo {
    /// Always the primary: read-your-writes.
    Primario,
    /// A secondary when one is up, else the primary: may lag behind the primary.
    SecundarioPreferido,
}

impl LecturaMongo {
    pub fn parse(raw: &str, origen: &str) -> Result<Self> {
        match raw.trim() {
            "primario" => Ok(Self::Primario),
            "secundario_preferido" => Ok(Self::SecundarioPreferido),
            _ => Err(Error::Invalido(format!(
                "{origen} inválido {raw:?}: use primario o secundario_preferido"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn las_replicas_se_validan_y_nombran_el_valor() {
        assert_eq!(replicas_min(" 2 ", "X").unwrap(), 2);
        assert_eq!(replicas_min("0", "X").unwrap(), 0);
        for malo in ["-1", "uno", "11", ""] {
            let e = replicas_min(malo, "EVENTFLOW_REDIS_REPLICAS_MIN").unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains(&format!("{malo:?}")), "{e}");
        }
        assert!(LecturaMongo::parse("secundario", "X").is_err());
        assert_eq!(
            LecturaMongo::parse("secundario_preferido", "X").unwrap(),
            LecturaMongo::SecundarioPreferido
        );
    }
}
