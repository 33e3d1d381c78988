//! Free-text fields (names, places) and emails.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ParseError;

const MAX_TEXTO: usize = 200;

/// A trimmed, non-empty line of text of at most 200 characters with no control characters.
/// Text is stored literally: `{"$gt": ""}` is a name like any other.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Texto(String);

impl Texto {
    pub fn parse(campo: &'static str, raw: &str) -> Result<Self, ParseError> {
        let t = raw.trim();
        if t.is_empty() {
            return Err(ParseError::new(campo, raw, "no puede estar vacío"));
        }
        if t.chars().count() > MAX_TEXTO {
            return Err(ParseError::new(
                campo,
                raw,
                format!("admite como mucho {MAX_TEXTO} caracteres"),
            ));
        }
        if t.chars().any(char::is_control) {
            return Err(ParseError::new(
                campo,
                raw,
                "no admite caracteres de control",
            ));
        }
        Ok(Self(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Texto {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse("texto", &s)
    }
}

impl From<Texto> for String {
    fn from(t: Texto) -> String {
        t.0
    }
}

impl fmt::Display for Texto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, lowercased so that uniqueness ignores case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let e = raw.trim();
        let bad = |motivo: &str| Err(ParseError::new("email", raw, motivo));
        if e.is_empty() {
            return bad("no puede estar vacío");
        }
        if e.len() > 254 {
            return bad("admite como mucho 254 caracteres");
        }
        if e.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("no admite espacios");
        }
        let Some((local, dominio)) = e.split_once('@') else {
            return bad("falta la @ (ejemplo: juan@example.com)");
        };
        if local.is_empty() || local.len() > 64 {
            return bad("falta la parte anterior a la @");
        }
        if dominio.contains('@') {
            return bad("tiene más de una @");
        }
        let etiquetas: Vec<&str> = dominio.split('.').collect();
        if etiquetas.len() < 2
            || etiquetas.iter().any(|l| {
                l.is_empty()
                    || l.starts_with('-')
                    || l.ends_with('-')
                    || !l.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
        {
            return bad("el dominio no es válido (ejemplo: example.com)");
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return bad("la parte anterior a la @ no es válida");
        }
        Ok(Self(e.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Email {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Email {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn email_valido_se_normaliza_a_minusculas() {
        let e = Email::parse("  Juan@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "juan@example.com");
    }

    #[test]
    fn email_invalido_nombra_el_valor() {
        for raw in [
            "",
            "juan",
            "juan@",
            "@example.com",
            "a@b",
            "a b@c.com",
            "a@@b.com",
            "a@b..com",
            "a@-b.com",
        ] {
            let err = Email::parse(raw).unwrap_err();
            assert_eq!(err.campo, "email");
            assert!(err.to_string().contains(&format!("{raw:?}")), "{err}");
        }
    }

    #[test]
    fn operadores_de_consulta_son_texto_literal() {
        let t = Texto::parse("nombre", r#"{"$gt": ""}"#).unwrap();
        assert_eq!(t.as_str(), r#"{"$gt": ""}"#);
        let t = Texto::parse("nombre", "$where").unwrap();
        assert_eq!(t.as_str(), "$where");
    }

    #[test]
    fn texto_vacio_o_largo_se_rechaza() {
        assert!(Texto::parse("nombre", "   ").is_err());
        assert!(Texto::parse("nombre", &"x".repeat(201)).is_err());
        assert!(Texto::parse("nombre", "a\u{0}b").is_err());
    }

    proptest! {
        #[test]
        fn email_parse_nunca_entra_en_panico(s in ".*") {
            let _ = Email::parse(&s);
        }

        #[test]
        fn email_valido_se_reparsea_igual(local in "[a-z0-9._%+-]{1,20}", dom in "[a-z0-9]{1,10}", tld in "[a-z]{2,5}") {
            prop_assume!(!local.starts_with('.') && !local.ends_with('.') && !local.contains(".."));
            let raw = format!("{local}@{dom}.{tld}");
            let e = Email::parse(&raw).unwrap();
            prop_assert_eq!(Email::parse(e.as_str()).unwrap(), e);
        }

        #[test]
        fn texto_aceptado_esta_recortado(s in "\\PC{0,250}") {
            if let Ok(t) = Texto::parse("nombre", &s) {
                prop_assert_eq!(t.as_str(), t.as_str().trim());
                prop_assert!(!t.as_str().is_empty());
            }
        }
    }
}
