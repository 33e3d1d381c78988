//! Instants, always UTC, written and read as RFC 3339.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::ParseError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Fecha(DateTime<Utc>);

impl Fecha {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let t = raw.trim();
        DateTime::parse_from_rfc3339(t)
            .map(|d| Self(d.with_timezone(&Utc)))
            .map_err(|e| {
                ParseError::new(
                    "fecha",
                    raw,
                    format!("no es RFC 3339 ({e}); ejemplo: 2025-12-01T21:00:00Z"),
                )
            })
    }

    pub fn ahora() -> Self {
        Self(Utc::now())
    }

    pub fn from_millis(ms: i64) -> Self {
        Self(DateTime::from_timestamp_millis(ms).unwrap_or_default())
    }

    pub fn millis(self) -> i64 {
        self.0.timestamp_millis()
    }

    pub fn inner(self) -> DateTime<Utc> {
        self.0
    }
}

impl std::str::FromStr for Fecha {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}
impl TryFrom<String> for Fecha {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse(&s)
    }
}
impl From<Fecha> for String {
    fn from(f: Fecha) -> String {
        f.to_string()
    }
}
impl From<DateTime<Utc>> for Fecha {
    fn from(d: DateTime<Utc>) -> Self {
        Self(d)
    }
}
impl fmt::Display for Fecha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fmt = if self.0.timestamp_subsec_millis() == 0 {
            SecondsFormat::Secs
        } else {
            SecondsFormat::Millis
        };
        f.write_str(&self.0.to_rfc3339_opts(fmt, true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fecha_rfc3339_se_normaliza_a_utc() {
        let f = Fecha::parse("2025-12-01T18:00:00-03:00").unwrap();
        assert_eq!(f.to_string(), "2025-12-01T21:00:00Z");
    }

    #[test]
    fn fecha_sin_zona_o_texto_se_rechaza() {
        for raw in [
            "2025-12-01",
            "mañana",
            "2025-13-01T00:00:00Z",
            "2025-12-01 21:00",
        ] {
            let e = Fecha::parse(raw).unwrap_err();
            assert!(e.to_string().contains("RFC 3339"), "{e}");
        }
    }

    proptest! {
        #[test]
        fn fecha_ida_y_vuelta(ms in 0i64..4_000_000_000_000) {
            let f = Fecha::from_millis(ms);
            prop_assert_eq!(Fecha::parse(&f.to_string()).unwrap(), f);
        }

        #[test]
        fn fecha_nunca_entra_en_panico(s in ".*") {
            let _ = Fecha::parse(&s);
        }
    }
}
