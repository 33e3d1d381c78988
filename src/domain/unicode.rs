//! Human text in one stored form. Text is NFC-normalised on the way in, so two strings that
//! look the same are the same; invisible characters, which make different strings look the
//! same, are refused with their position.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use super::ParseError;

/// Zero-width non-joiner and joiner: invisible, but part of the spelling of Persian and
/// Indic words and of emoji sequences, so free text keeps them.
pub(crate) const UNIONES: &[char] = &['\u{200C}', '\u{200D}'];

/// `s` in Unicode Normalization Form C.
pub(crate) fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// Control characters (Cc) and format characters (Cf: zero-width space, bidi controls,
/// byte-order mark, soft hyphen, ...): they print as nothing or reorder what follows.
pub(crate) fn es_invisible(c: char) -> bool {
    c.is_control() || c.general_category() == GeneralCategory::Format
}

/// Refuses the first invisible character of `raw` not in `permitidos`, naming its
/// 1-based character position in `raw`.
pub(crate) fn rechazar_invisibles(
    campo: &'static str, raw: &str, permitidos: &[char],
) -> Result<(), ParseError> {
    match raw
        .chars()
        .enumerate()
        .find(|(_, c)| es_invisible(*c) && !permitidos.contains(c))
    {
        None => Ok(()),
        Some((i, c)) => Err(ParseError::new(
            campo,
            raw,
            format!(
                "contiene el carácter invisible U+{:04X} en la posición {}; bórrelo y escriba el valor de nuevo",
                u32::from(c),
                i + 1
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn un_invisible_se_rechaza_con_su_posicion() {
        for (raw, pos, cp) in [
            ("ab\u{200B}c", 3, "U+200B"),
            ("\u{202E}abc", 1, "U+202E"),
            ("a\u{FEFF}", 2, "U+FEFF"),
            ("a\tb", 2, "U+0009"),
            ("ñ\u{00AD}", 2, "U+00AD"),
        ] {
            let e = rechazar_invisibles("email", raw, &[])
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(&format!("posición {pos}")) && e.contains(cp),
                "{raw:?}: {e}"
            );
        }
        assert!(rechazar_invisibles("nombre", "a\u{200D}b", UNIONES).is_ok());
    }

    #[test]
    fn nfd_y_nfc_dan_el_mismo_texto() {
        assert_eq!(nfc("jose\u{301}"), "jos\u{e9}");
    }
}
