//! Instants, always UTC, written and read as RFC 3339.

use std::fmt;

use chrono::{DateTime, Datelike, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::ParseError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Fecha(DateTime<Utc>);

impl Fecha {
    /// Reads an RFC 3339 instant and normalises it to its stored form: UTC, milliseconds
    /// (finer digits are dropped). The stored form must itself be RFC 3339, so an instant
    /// whose UTC year leaves 0001–9999 (`9999-12-31T23:59:59-01:00`) is refused.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let t = raw.trim();
        let d = DateTime::parse_from_rfc3339(t).map_err(|e| {
            ParseError::new(
                "fecha",
                raw,
                format!(
                    "no es RFC 3339 ({}); ejemplo: 2025-12-01T21:00:00Z",
                    motivo_chrono(e)
                ),
            )
        })?;
        DateTime::from_timestamp_millis(d.timestamp_millis())
            .filter(|u| (1..=9999).contains(&u.year()))
            .map(Self)
            .ok_or_else(|| {
                ParseError::new(
                    "fecha",
                    raw,
                    "en UTC queda fuera de 0001-01-01T00:00:00Z..9999-12-31T23:59:59Z; \
                     indique una fecha dentro de ese rango",
                )
            })
    }

    /// The current instant, to the millisecond: the precision it is stored and printed in,
    /// so the value in memory is the one that reads back.
    pub fn ahora() -> Self {
        Self::from(Utc::now())
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
/// Truncates to the millisecond, the stored precision.
impl From<DateTime<Utc>> for Fecha {
    fn from(d: DateTime<Utc>) -> Self {
        Self::from_millis(d.timestamp_millis())
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

/// chrono's parse error in Spanish: its own Display is English ("premature end of input").
fn motivo_chrono(e: chrono::ParseError) -> &'static str {
    use chrono::format::ParseErrorKind as K;
    match e.kind() {
        K::TooShort => "termina antes de tiempo: falta parte de la fecha o de la hora",
        K::TooLong => "sobran caracteres al final",
        K::Invalid => "tiene un carácter que no corresponde en esa posición",
        K::OutOfRange => "un campo está fuera de rango (mes 1-12, día 1-31, hora 0-23…)",
        K::Impossible => "esa fecha no existe",
        K::NotEnough => "faltan datos para fijar la fecha y la hora",
        _ => "no se puede leer",
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

    #[test]
    fn los_motivos_de_chrono_llegan_en_castellano() {
        // Issue 12: chrono's own text ("premature end of input") leaked into messages.
        for (raw, motivo) in [
            ("2025-12", "termina antes de tiempo"),
            ("2025-12-01T21:00:00Zx", "sobran caracteres"),
            ("2025-13-01T00:00:00Z", "fuera de rango"),
            ("2025-02-30T00:00:00Z", "fuera de rango"),
            ("2025-12-01X21:00:00Z", "carácter que no corresponde"),
        ] {
            let e = Fecha::parse(raw).unwrap_err().to_string();
            assert!(e.starts_with("fecha inválida "), "{e}");
            assert!(e.contains(motivo), "{raw}: {e}");
            assert!(!e.contains("input"), "{e}");
        }
    }

    #[test]
    fn fecha_cuyo_utc_sale_del_ano_9999_se_rechaza() {
        // Issue 10: its UTC form is year 10000, which no RFC 3339 parser reads back.
        let e = Fecha::parse("9999-12-31T23:59:59-01:00").unwrap_err();
        assert!(e.motivo.contains("9999-12-31T23:59:59Z"), "{e}");
        assert!(Fecha::parse("0001-01-01T00:30:00+01:00").is_err());
        assert!(Fecha::parse("9999-12-31T23:59:59+01:00").is_ok());
    }

    #[test]
    fn ahora_se_relee_igual() {
        let f = Fecha::ahora();
        assert_eq!(Fecha::parse(&f.to_string()).unwrap(), f);
    }

    #[test]
    fn fecha_guarda_milisegundos() {
        let f = Fecha::parse("2025-12-01T21:00:00.1234567Z").unwrap();
        assert_eq!(f.to_string(), "2025-12-01T21:00:00.123Z");
        let f = Fecha::parse("2025-12-01T21:00:00.0004Z").unwrap();
        assert_eq!(Fecha::parse(&f.to_string()).unwrap(), f);
    }

    proptest! {
        #[test]
        fn fecha_aceptada_se_relee_igual(
            y in 0i32..10000, mo in 0u32..14, d in 0u32..33, h in 0u32..25, mi in 0u32..61,
            s in 0u32..62, frac in "(\\.[0-9]{1,12})?", zh in -24i32..25, zm in 0u32..61,
        ) {
            let zona = if zh == 0 && zm == 0 { "Z".to_owned() } else {
                format!("{}{:02}:{zm:02}", if zh < 0 { '-' } else { '+' }, zh.abs())
            };
            let raw = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{zona}");
            if let Ok(f) = Fecha::parse(&raw) {
                prop_assert_eq!(Fecha::parse(&f.to_string()).unwrap(), f);
            }
        }

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
