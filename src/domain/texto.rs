//! Free-text fields (names, places) and emails.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ParseError;
use super::unicode::{UNIONES, nfc, rechazar_invisibles};

const MAX_TEXTO: usize = 200;

/// A trimmed, non-empty line of text of at most 200 characters, in NFC, with no control or
/// invisible format characters. Text is stored literally: `{"$gt": ""}` is a name like any
/// other.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Texto(String);

impl Texto {
    /// Normalises `raw` (NFC, trimmed) and checks the result: 1–200 characters, no
    /// control or format characters other than the zero-width (non-)joiner.
    pub fn parse(campo: &'static str, raw: &str) -> Result<Self, ParseError> {
        rechazar_invisibles(campo, raw, UNIONES)?;
        let t = nfc(raw.trim());
        if t.is_empty() {
            return Err(ParseError::new(
                campo,
                raw,
                format!("no puede estar {}", super::concordar(campo, "vacío")),
            ));
        }
        if t.chars().count() > MAX_TEXTO {
            return Err(ParseError::new(
                campo,
                raw,
                format!("admite como mucho {MAX_TEXTO} caracteres"),
            ));
        }
        Ok(Self(t))
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

/// An email address in its stored form: NFC, the part before the `@` lowercased, the domain
/// converted to ASCII by IDNA (UTS 46, `idna::domain_to_ascii_strict`), so `JOSÉ@Bücher.de`
/// is stored as `josé@xn--bcher-kva.de` and uniqueness ignores case and normalisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// Normalises `raw`, then checks the stored form: at most 254 bytes, 64 before the `@`,
    /// a domain of at least two labels of ASCII letters, digits and `-`.
    /// Invisible characters are refused with their position.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        rechazar_invisibles("email", raw, &[])?;
        let e = nfc(raw.trim());
        let bad = |motivo: &str| Err(ParseError::new("email", raw, motivo));
        if e.is_empty() {
            return bad("no puede estar vacío");
        }
        if e.chars().any(char::is_whitespace) {
            return bad("no admite espacios");
        }
        let Some((local, dominio)) = e.split_once('@') else {
            return bad("falta la @ (ejemplo: juan@example.com)");
        };
        if dominio.contains('@') {
            return bad("tiene más de una @");
        }
        let local = nfc(&local.to_lowercase());
        if local.is_empty() {
            return bad("falta la parte anterior a la @");
        }
        if local.len() > 64 {
            return bad("la parte anterior a la @ admite como mucho 64 bytes");
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return bad("la parte anterior a la @ no es válida");
        }
        let Ok(dominio) = idna::domain_to_ascii_strict(dominio) else {
            return bad("el dominio no es válido (ejemplo: example.com)");
        };
        let etiquetas: Vec<&str> = dominio.split('.').collect();
        if etiquetas.len() < 2
            || etiquetas.iter().any(|l| {
                l.is_empty()
                    || l.starts_with('-')
                    || l.ends_with('-')
                    || !l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
            })
        {
            return bad("el dominio no es válido (ejemplo: example.com)");
        }
        let guardado = format!("{local}@{dominio}");
        if guardado.len() > 254 {
            return bad("admite como mucho 254 bytes");
        }
        Ok(Self(guardado))
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

    #[test]
    fn email_en_nfd_y_en_nfc_es_el_mismo() {
        let nfc = Email::parse("jos\u{e9}@example.com").unwrap();
        let nfd = Email::parse("jose\u{301}@example.com").unwrap();
        assert_eq!(nfc, nfd);
        assert_eq!(nfc.as_str(), "jos\u{e9}@example.com");
    }

    #[test]
    fn email_con_espacio_de_ancho_cero_se_rechaza_con_su_posicion() {
        let e = Email::parse("ana\u{200B}@example.com").unwrap_err();
        assert!(e.motivo.contains("posición 4"), "{e}");
        assert!(e.motivo.contains("U+200B"), "{e}");
    }

    #[test]
    fn email_con_dominio_internacional_se_guarda_en_ascii_y_se_relee() {
        let e = Email::parse("a@\u{130}stanbul.com").unwrap();
        assert!(e.as_str().is_ascii(), "{e}");
        assert!(e.as_str().starts_with("a@xn--"), "{e}");
        assert_eq!(Email::parse(e.as_str()).unwrap(), e);
        let b = Email::parse("Ana@B\u{fc}cher.DE").unwrap();
        assert_eq!(b.as_str(), "ana@xn--bcher-kva.de");
    }

    #[test]
    fn nombres_en_nfd_y_nfc_son_el_mismo() {
        let a = Texto::parse("nombre", "Jos\u{e9}").unwrap();
        let b = Texto::parse("nombre", " Jose\u{301} ").unwrap();
        assert_eq!(a, b);
        assert!(Texto::parse("lugar", "Sala\u{202E}A").is_err());
        // A zero-width joiner is spelling (emoji, Persian), not a disguise.
        assert!(Texto::parse("nombre", "\u{1F469}\u{200D}\u{1F52C}").is_ok());
    }

    proptest! {
        #[test]
        fn email_aceptado_se_relee_igual(s in "\\PC{0,40}@\\PC{0,30}") {
            if let Ok(e) = Email::parse(&s) {
                prop_assert_eq!(Email::parse(e.as_str()).unwrap(), e);
            }
        }

        #[test]
        fn email_parse_nunca_entra_en_panico(s in ".*") {
            let _ = Email::parse(&s);
        }

        #[test]
        fn email_valido_se_reparsea_igual(local in "[a-z0-9_%+-]{1,10}(\\.[a-z0-9_%+-]{1,8}){0,2}", dom in "[a-z0-9]{1,10}", tld in "[a-z]{2,5}") {
            let raw = format!("{local}@{dom}.{tld}");
            let e = Email::parse(&raw).unwrap();
            prop_assert_eq!(e.as_str(), raw.as_str());
        }

        #[test]
        fn texto_aceptado_se_relee_igual(s in ".{0,250}") {
            if let Ok(t) = Texto::parse("nombre", &s) {
                prop_assert_eq!(t.as_str(), t.as_str().trim());
                prop_assert!(!t.as_str().is_empty());
                prop_assert_eq!(Texto::parse("nombre", t.as_str()).unwrap(), t);
            }
        }
    }
}
