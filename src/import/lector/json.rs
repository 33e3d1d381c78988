//! JSON Lines (one object per line) and a top-level JSON array, read one record at a
//! time. Each object is read with its repeated keys noticed and its numbers taken as
//! written; a record over the cap is rejected, never buffered whole.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufRead};
use std::ops::ControlFlow;

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{Esquema, FinLectura, Leido, MAX_LINEA, Registro, Valor, error_lectura};
use crate::error::{Error, Result};
use crate::import::estricto::{Marca, Tope, ValorJson, es_enorme};

impl Registro for Map<String, Value> {
    fn valor(&self, campo: &str) -> Valor<'_> {
        match self.get(campo) {
            None | Some(Value::Null) => Valor::Ausente,
            Some(Value::String(s)) if s.trim().is_empty() => Valor::Ausente,
            Some(Value::String(s)) => Valor::Texto(Cow::Borrowed(s)),
            Some(Value::Number(n)) => numero(campo, n),
            Some(Value::Bool(_)) => {
                Valor::Invalido(format!("{campo} debe ser texto o número, no un booleano"))
            }
            Some(Value::Array(_)) => {
                Valor::Invalido(format!("{campo} debe ser texto o número, no un array"))
            }
            Some(Value::Object(_)) => {
                Valor::Invalido(format!("{campo} debe ser texto o número, no un objeto"))
            }
        }
    }

    fn a_json(&self) -> Value {
        Value::Object(self.clone())
    }
}

/// Integers are exact up to 2^53 in a JSON number written with a fraction or exponent.
const MAX_ENTERO_EXACTO: f64 = 9_007_199_254_740_992.0;

/// A JSON number as the file says it: an integer (`42`, `4.2e1`, `12345678.0`) is an
/// integer, whatever field takes it (a text field gets its decimal digits); a number with
/// a fraction is refused rather than turned into text such as `"42.5"`.
fn numero(campo: &str, n: &serde_json::Number) -> Valor<'static> {
    if let Some(i) = n.as_i64() {
        return Valor::Entero(i);
    }
    if let Some(u) = n.as_u64() {
        return Valor::Texto(Cow::Owned(u.to_string()));
    }
    match n.as_f64() {
        Some(x) if x.fract() == 0.0 && x.abs() <= MAX_ENTERO_EXACTO => Valor::Entero(x as i64),
        Some(x) if x.fract() == 0.0 => Valor::Invalido(format!(
            "{campo} es el número {n}, demasiado grande para leerlo exacto: escríbalo sin decimales ni exponente, o entre comillas"
        )),
        _ => Valor::Invalido(format!(
            "{campo} es el número {n}, que no es entero: escriba un entero, o el valor entre comillas"
        )),
    }
}

/// Hands one JSON value over: an object whose keys the schema knows, each once, is a
/// record; anything else a bad record.
fn entregar(
    linea: u64, v: ValorJson, esquema: &Esquema, fin: &mut FinLectura,
    f: &mut dyn FnMut(u64, Leido<'_>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    if let Some(k) = v.duplicada {
        return f(
            linea,
            Leido::Malo {
                campo: Some(k.clone()),
                motivo: format!(
                    "la clave {k:?} aparece más de una vez en el registro; deje una sola"
                ),
                registro: v.valor,
            },
        );
    }
    let Value::Object(m) = v.valor else {
        return f(
            linea,
            Leido::Malo {
                campo: None,
                motivo: format!("se esperaba un objeto JSON, no {}", tipo_json(&v.valor)),
                registro: v.valor,
            },
        );
    };
    for k in m.keys() {
        if esquema.campos.contains(&k.as_str()) {
            continue;
        }
        if esquema.solo_lectura.contains(&k.as_str()) {
            if !fin.ignoradas.contains(k) {
                fin.ignoradas.insert(k.clone());
            }
            continue;
        }
        return f(
            linea,
            Leido::Malo {
                campo: Some(k.clone()),
                motivo: format!("campo desconocido: los campos son {}", esquema.lista()),
                registro: Value::Object(m),
            },
        );
    }
    f(linea, Leido::Registro(&m))
}

fn tipo_json(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "un booleano",
        Value::Number(_) => "un número",
        Value::String(_) => "un texto",
        Value::Array(_) => "un array",
        Value::Object(_) => "un objeto",
    }
}

/// Reads one line into `buf` (without the `\n`), keeping at most `max` bytes and
/// skipping the rest. Returns the bytes consumed (0 at the end) and whether it cut.
fn leer_linea<R: BufRead>(r: &mut R, buf: &mut Vec<u8>, max: usize) -> io::Result<(usize, bool)> {
    buf.clear();
    let mut consumidos = 0;
    let mut cortada = false;
    loop {
        let disponible = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if disponible.is_empty() {
            return Ok((consumidos, cortada));
        }
        let (hasta, fin) = match disponible.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (disponible.len(), false),
        };
        let datos = if fin { hasta - 1 } else { hasta };
        let cabe = max.saturating_sub(buf.len()).min(datos);
        buf.extend_from_slice(&disponible[..cabe]);
        cortada |= cabe < datos;
        r.consume(hasta);
        consumidos += hasta;
        if fin {
            return Ok((consumidos, cortada));
        }
    }
}

fn recorte(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if s.chars().count() > 200 {
        s.chars().take(197).collect::<String>() + "..."
    } else {
        s.into_owned()
    }
}

pub(super) fn leer_jsonl<R: BufRead>(
    mut origen: R, esquema: &Esquema, f: &mut dyn FnMut(u64, Leido<'_>) -> ControlFlow<()>,
) -> Result<FinLectura> {
    let mut fin = FinLectura::default();
    let mut buf = Vec::new();
    let mut linea = 0u64;
    loop {
        let (n, cortada) = leer_linea(&mut origen, &mut buf, MAX_LINEA).map_err(error_lectura)?;
        if n == 0 {
            return Ok(fin);
        }
        linea += 1;
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        if buf.iter().all(u8::is_ascii_whitespace) && !cortada {
            continue;
        }
        let control = if cortada {
            f(
                linea,
                Leido::Malo {
                    campo: None,
                    motivo: format!(
                        "la línea supera {} MiB: un registro JSON Lines ocupa una sola línea",
                        MAX_LINEA >> 20
                    ),
                    registro: Value::String(recorte(&buf)),
                },
            )
        } else {
            match serde_json::from_slice::<ValorJson>(&buf) {
                Ok(v) => entregar(linea, v, esquema, &mut fin, f),
                Err(e) => f(
                    linea,
                    Leido::Malo {
                        campo: None,
                        motivo: format!("json inválido: {}", sin_posicion(&e)),
                        registro: Value::String(String::from_utf8_lossy(&buf).into_owned()),
                    },
                ),
            }
        };
        if control.is_break() {
            return Ok(fin);
        }
    }
}

/// serde_json's message without its " at line 1 column N" tail, which means nothing
/// once the line is known.
fn sin_posicion(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// Streams the elements of a top-level array: each one is deserialized, handed over
/// and dropped before the next is read, so the array never sits in memory whole.
struct Elementos<'a> {
    esquema: &'a Esquema,
    fin: &'a mut FinLectura,
    f: &'a mut dyn FnMut(u64, Leido<'_>) -> ControlFlow<()>,
    vistos: &'a mut u64,
    marca: Marca,
    dentro: &'a mut bool,
    cortado: &'a mut bool,
}

impl<'de> DeserializeSeed<'de> for Elementos<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Elementos<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("un array JSON de objetos")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        *self.dentro = true;
        self.marca.nuevo_registro();
        while let Some(v) = seq.next_element::<ValorJson>()? {
            self.marca.nuevo_registro();
            *self.vistos += 1;
            if entregar(*self.vistos, v, self.esquema, self.fin, self.f).is_break() {
                *self.cortado = true;
                return Err(de::Error::custom("importación interrumpida"));
            }
        }
        Ok(())
    }
}

/// Skips leading whitespace; true if nothing else is left.
fn solo_espacios<R: BufRead>(r: &mut R) -> io::Result<bool> {
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(true);
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                r.consume(i);
                return Ok(false);
            }
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    }
}

pub(super) fn leer_json<R: BufRead>(
    mut origen: R, esquema: &Esquema, f: &mut dyn FnMut(u64, Leido<'_>) -> ControlFlow<()>,
) -> Result<FinLectura> {
    let mut fin = FinLectura::default();
    if solo_espacios(&mut origen).map_err(error_lectura)? {
        return Ok(fin);
    }
    let (mut vistos, mut dentro, mut cortado) = (0u64, false, false);
    // Each element is built whole in memory before it is handed over: the cap keeps one
    // element from being the whole file.
    let (origen, marca) = Tope::new(origen, MAX_LINEA);
    let mut de = serde_json::Deserializer::from_reader(origen);
    let semilla = Elementos {
        esquema,
        fin: &mut fin,
        f: &mut *f,
        vistos: &mut vistos,
        marca,
        dentro: &mut dentro,
        cortado: &mut cortado,
    };
    let resultado = semilla.deserialize(&mut de).and_then(|()| de.end());
    match resultado {
        Ok(()) => Ok(fin),
        Err(_) if cortado => Ok(fin),
        Err(e) if e.is_io() => {
            let e = io::Error::from(e);
            if !es_enorme(&e) {
                return Err(error_lectura(e));
            }
            let _ = f(
                vistos + 1,
                Leido::Malo {
                    campo: None,
                    motivo: format!(
                        "el registro {} supera {} MiB; el resto del archivo no se leyó",
                        vistos + 1,
                        MAX_LINEA >> 20
                    ),
                    registro: Value::Null,
                },
            );
            Ok(fin)
        }
        Err(e) if !dentro => Err(Error::Invalido(format!(
            "el archivo no es un array JSON de objetos ({e}); para un objeto por línea use --formato jsonl"
        ))),
        // Past a syntax error there is no telling where the next element starts: the
        // rest of the file is one rejection, and the rows before it stay imported.
        Err(e) => {
            let _ = f(
                vistos + 1,
                Leido::Malo {
                    campo: None,
                    motivo: format!(
                        "json inválido en el registro {} ({e}); el resto del archivo no se pudo leer",
                        vistos + 1
                    ),
                    registro: Value::Null,
                },
            );
            Ok(fin)
        }
    }
}
