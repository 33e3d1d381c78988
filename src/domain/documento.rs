//! Identity documents: an optional (tipo, nro) pair, unique together when present.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ParseError;

/// Document type such as `DNI`, `PASAPORTE` or `CI`: 1–20 letters, digits or `_`, uppercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TipoDocumento(String);

impl TipoDocumento {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        super::unicode::rechazar_invisibles("tipo_documento", raw, &[])?;
        let t = raw.trim();
        if t.is_empty() || t.len() > 20 {
            return Err(ParseError::new(
                "tipo_documento",
                raw,
                "debe tener entre 1 y 20 caracteres (ejemplo: DNI)",
            ));
        }
        if !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(ParseError::new(
                "tipo_documento",
                raw,
                "solo admite letras, dígitos y _ (ejemplo: DNI)",
            ));
        }
        Ok(Self(t.to_ascii_uppercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for TipoDocumento {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}
impl TryFrom<String> for TipoDocumento {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse(&s)
    }
}
impl From<TipoDocumento> for String {
    fn from(t: TipoDocumento) -> String {
        t.0
    }
}
impl fmt::Display for TipoDocumento {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Document number: 1–30 letters, digits, `-` or `.`, kept as given (leading zeros matter).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NroDocumento(String);

impl NroDocumento {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        super::unicode::rechazar_invisibles("nro_documento", raw, &[])?;
        let t = raw.trim();
        if t.is_empty() || t.len() > 30 {
            return Err(ParseError::new(
                "nro_documento",
                raw,
                "debe tener entre 1 y 30 caracteres",
            ));
        }
        if !t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(ParseError::new(
                "nro_documento",
                raw,
                "solo admite letras, dígitos, - y .",
            ));
        }
        Ok(Self(t.to_ascii_uppercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for NroDocumento {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}
impl TryFrom<String> for NroDocumento {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse(&s)
    }
}
impl From<NroDocumento> for String {
    fn from(t: NroDocumento) -> String {
        t.0
    }
}
impl fmt::Display for NroDocumento {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A complete document: both parts or none, never one without the other.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Documento {
    pub tipo: TipoDocumento,
    pub nro: NroDocumento,
}

impl Documento {
    /// Builds the optional pair from the two optional halves; one without the other is refused.
    pub fn from_partes(
        tipo: Option<TipoDocumento>, nro: Option<NroDocumento>,
    ) -> Result<Option<Self>, ParseError> {
        match (tipo, nro) {
            (Some(tipo), Some(nro)) => Ok(Some(Self { tipo, nro })),
            (None, None) => Ok(None),
            (Some(t), None) => Err(ParseError::new(
                "nro_documento",
                "",
                format!("falta el número (nro_documento) del documento {t}"),
            )),
            (None, Some(n)) => Err(ParseError::new(
                "tipo_documento",
                "",
                format!("falta el tipo (tipo_documento) del documento {n}"),
            )),
        }
    }
}

impl fmt::Display for Documento {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.tipo, self.nro)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn documento_necesita_ambas_partes() {
        let t = TipoDocumento::parse("dni").unwrap();
        let n = NroDocumento::parse("12345678").unwrap();
        assert_eq!(t.as_str(), "DNI");
        assert!(Documento::from_partes(Some(t.clone()), None).is_err());
        assert!(Documento::from_partes(None, Some(n.clone())).is_err());
        assert!(Documento::from_partes(None, None).unwrap().is_none());
        assert!(Documento::from_partes(Some(t), Some(n)).unwrap().is_some());
    }

    #[test]
    fn documento_con_operadores_se_rechaza() {
        assert!(NroDocumento::parse("{\"$gt\":\"\"}").is_err());
        assert!(TipoDocumento::parse("$where").is_err());
    }

    proptest! {
        #[test]
        fn documento_aceptado_se_relee_igual(s in ".{0,35}") {
            if let Ok(n) = NroDocumento::parse(&s) {
                prop_assert_eq!(NroDocumento::parse(n.as_str()).unwrap(), n);
            }
            if let Ok(t) = TipoDocumento::parse(&s) {
                prop_assert_eq!(TipoDocumento::parse(t.as_str()).unwrap(), t);
            }
        }
    }
}
