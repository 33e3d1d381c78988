//! Identifiers. Every id is a 24-hex-digit ObjectId string on every backend, so an id
//! copied from one command is always accepted by the next, and a malformed id fails
//! before any I/O (exit 2) rather than as "not found" (exit 3).

use std::fmt;

use mongodb::bson::oid::ObjectId;
use serde::{Deserialize, Serialize};

use super::ParseError;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $campo:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, ParseError> {
                super::unicode::rechazar_invisibles($campo, raw, &[])?;
                let t = raw.trim();
                if t.len() == 24 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Ok(Self(t.to_ascii_lowercase()))
                } else {
                    Err(ParseError::new(
                        $campo,
                        raw,
                        "debe tener 24 dígitos hexadecimales (copie el id que muestra `listar`)",
                    ))
                }
            }

            /// A fresh, unique id.
            pub fn generar() -> Self {
                Self(ObjectId::new().to_hex())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn oid(&self) -> ObjectId {
                // Parsing guarantees 24 hex digits.
                ObjectId::parse_str(&self.0).expect("validated at parse")
            }
        }

        impl From<ObjectId> for $name {
            fn from(o: ObjectId) -> Self {
                Self(o.to_hex())
            }
        }
        impl std::str::FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                Self::parse(s)
            }
        }
        impl TryFrom<String> for $name {
            type Error = ParseError;
            fn try_from(s: String) -> Result<Self, ParseError> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(i: $name) -> String {
                i.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A user's id.
    UsuarioId, "id de usuario"
);
id_type!(
    /// An event's id. It is also the Redis Cluster hash tag of all the event's keys.
    EventoId, "id de evento"
);
id_type!(
    /// A reservation's (purchase's) id.
    ReservaId, "id de reserva"
);
id_type!(
    /// An API token's id: public, named in logs and in `tokens listar`.
    TokenId, "id de token"
);

/// A client-chosen idempotency key: 1–128 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClaveIdempotencia(String);

impl ClaveIdempotencia {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        super::unicode::rechazar_invisibles("clave de idempotencia", raw, &[])?;
        if raw.is_empty() || raw.len() > 128 || !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ParseError::new(
                "clave de idempotencia",
                raw,
                "debe tener entre 1 y 128 caracteres ASCII visibles, sin espacios",
            ));
        }
        Ok(Self(raw.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for ClaveIdempotencia {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}
impl TryFrom<String> for ClaveIdempotencia {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse(&s)
    }
}
impl From<ClaveIdempotencia> for String {
    fn from(c: ClaveIdempotencia) -> String {
        c.0
    }
}
impl fmt::Display for ClaveIdempotencia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn id_malformado_nombra_el_valor() {
        let e = UsuarioId::parse("abc").unwrap_err();
        assert!(e.to_string().contains("\"abc\""));
        assert!(EventoId::parse("{\"$gt\":\"\"}").is_err());
    }

    #[test]
    fn id_generado_se_reparsea() {
        let id = ReservaId::generar();
        assert_eq!(ReservaId::parse(id.as_str()).unwrap(), id);
        assert_eq!(id.oid().to_hex(), id.as_str());
    }

    #[test]
    fn id_con_invisible_nombra_la_posicion() {
        let e = EventoId::parse("\u{200B}aaaaaaaaaaaaaaaaaaaaaaaa").unwrap_err();
        assert!(e.motivo.contains("posición 1"), "{e}");
    }

    proptest! {
        #[test]
        fn ids_aceptados_se_releen_igual(s in ".{0,30}") {
            if let Ok(c) = ClaveIdempotencia::parse(&s) {
                prop_assert_eq!(ClaveIdempotencia::parse(c.as_str()).unwrap(), c);
            }
            if let Ok(i) = ReservaId::parse(&s) {
                prop_assert_eq!(ReservaId::parse(i.as_str()).unwrap(), i);
            }
        }

        #[test]
        fn id_acepta_solo_24_hex(s in ".{0,30}") {
            let ok = UsuarioId::parse(&s).is_ok();
            let t = s.trim();
            prop_assert_eq!(ok, t.len() == 24 && t.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }
}
