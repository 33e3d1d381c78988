//! What the readers need to read exactly what a file says: JSON objects whose repeated
//! keys are noticed (serde_json would keep the last value silently), a cap on the bytes of
//! one record, and telling a UTF-16 file apart before it is parsed as garbage.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read};
use std::rc::Rc;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// A JSON value and the first key repeated inside its top-level object, if any.
pub(crate) struct ValorJson {
    pub valor: Value,
    pub duplicada: Option<String>,
}

impl<'de> Deserialize<'de> for ValorJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Visitante)
    }
}

struct Visitante;

fn valor(v: impl Into<Value>) -> ValorJson {
    ValorJson {
        valor: v.into(),
        duplicada: None,
    }
}

impl<'de> Visitor<'de> for Visitante {
    type Value = ValorJson;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("un valor JSON")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<ValorJson, A::Error> {
        let mut obj = Map::new();
        let mut duplicada = None;
        while let Some(k) = m.next_key::<String>()? {
            let v: Value = m.next_value()?;
            if obj.contains_key(&k) {
                duplicada.get_or_insert(k);
            } else {
                obj.insert(k, v);
            }
        }
        Ok(ValorJson {
            valor: Value::Object(obj),
            duplicada,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<ValorJson, A::Error> {
        let mut v = Vec::new();
        while let Some(e) = s.next_element::<Value>()? {
            v.push(e);
        }
        Ok(valor(v))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<ValorJson, E> {
        Ok(valor(b))
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<ValorJson, E> {
        Ok(valor(n))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<ValorJson, E> {
        Ok(valor(n))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<ValorJson, E> {
        Ok(valor(n))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<ValorJson, E> {
        Ok(valor(s))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<ValorJson, E> {
        Ok(valor(s))
    }
    fn visit_unit<E: de::Error>(self) -> Result<ValorJson, E> {
        Ok(valor(Value::Null))
    }
}

/// The error a [`Tope`] fails a read with once its record is too big.
#[derive(Debug)]
pub(crate) struct RegistroEnorme;

impl fmt::Display for RegistroEnorme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("registro demasiado grande")
    }
}

impl std::error::Error for RegistroEnorme {}

/// True when `e` (an I/O error, possibly wrapped by a parser) comes from a [`Tope`].
pub(crate) fn es_enorme(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<RegistroEnorme>())
}

/// Counts the bytes read since the last [`Marca::nuevo_registro`] and fails the next read
/// once they pass `max`, so one record (a CSV field whose quote never closes, a huge
/// element of a JSON array) cannot take the memory with it.
pub(crate) struct Tope<R> {
    interior: R,
    usados: Rc<Cell<usize>>,
    max: usize,
}

/// The handle the parser loop uses to say where a record starts.
#[derive(Clone)]
pub(crate) struct Marca(Rc<Cell<usize>>);

impl Marca {
    pub fn nuevo_registro(&self) {
        self.0.set(0);
    }
}

impl<R> Tope<R> {
    pub fn new(interior: R, max: usize) -> (Self, Marca) {
        let usados = Rc::new(Cell::new(0));
        let marca = Marca(usados.clone());
        (
            Self {
                interior,
                usados,
                max,
            },
            marca,
        )
    }
}

impl<R: Read> Read for Tope<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.usados.get() > self.max {
            return Err(io::Error::other(RegistroEnorme));
        }
        let n = self.interior.read(buf)?;
        self.usados.set(self.usados.get() + n);
        Ok(n)
    }
}

/// True for the start of a UTF-16 text: a UTF-16 byte order mark, or, without one, NUL
/// bytes in every other position as ASCII text in UTF-16 has.
pub(crate) fn es_utf16(inicio: &[u8]) -> bool {
    if inicio.starts_with(b"\xFF\xFE") || inicio.starts_with(b"\xFE\xFF") {
        return true;
    }
    let pares: Vec<&[u8]> = inicio.chunks_exact(2).take(64).collect();
    if pares.len() < 2 {
        return false;
    }
    let altos_nulos = pares.iter().filter(|p| p[1] == 0 && p[0] != 0).count();
    let bajos_nulos = pares.iter().filter(|p| p[0] == 0 && p[1] != 0).count();
    altos_nulos * 4 >= pares.len() * 3 || bajos_nulos * 4 >= pares.len() * 3
}

/// The message for a UTF-16 file.
pub(crate) const MENSAJE_UTF16: &str = "el archivo está en UTF-16; conviértalo a UTF-8 \
     (por ejemplo: iconv -f UTF-16 -t UTF-8 archivo > archivo-utf8)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn una_clave_repetida_se_nota() {
        let v: ValorJson =
            serde_json::from_str(r#"{"email":"a@x.com","nombre":"A","email":"b@x.com"}"#).unwrap();
        assert_eq!(v.duplicada.as_deref(), Some("email"));
        let v: ValorJson = serde_json::from_str(r#"{"a":{"b":1},"c":[1,2.5,"x",null]}"#).unwrap();
        assert!(v.duplicada.is_none());
        assert_eq!(v.valor["c"][1], 2.5);
    }

    #[test]
    fn utf16_con_y_sin_bom_se_reconoce() {
        let texto = "email,nombre\nana@x.com,Ana\n";
        let le: Vec<u8> = texto.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = texto.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert!(es_utf16(&le) && es_utf16(&be));
        assert!(es_utf16(&[&b"\xFF\xFE"[..], &le].concat()));
        assert!(!es_utf16(texto.as_bytes()));
        assert!(!es_utf16("ñandú,ü\n".as_bytes()));
    }

    #[test]
    fn el_tope_corta_un_registro_largo_y_se_reinicia() {
        let datos = [b'x'; 100];
        let (mut t, marca) = Tope::new(&datos[..], 10);
        let mut buf = [0u8; 8];
        t.read_exact(&mut buf).unwrap();
        marca.nuevo_registro();
        t.read_exact(&mut buf).unwrap();
        t.read_exact(&mut buf).unwrap();
        let e = t.read(&mut buf).unwrap_err();
        assert!(es_enorme(&e));
    }
}
