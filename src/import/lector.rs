//! Readers: CSV, JSON Lines and a top-level JSON array, turned into records one at a
//! time so memory stays flat whatever the file size. Each record carries its position
//! (1-based file line for CSV and JSONL, ordinal for a JSON array) so that a rejection
//! points at the spot to fix.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::Formato;
use super::estricto::{MENSAJE_UTF16, Marca, Tope, ValorJson, es_enorme, es_utf16};
use crate::error::{Error, Result};

/// A JSON Lines line longer than this is rejected (and skipped) instead of buffered, so
/// a file without newlines cannot take the memory with it.
pub(crate) const MAX_LINEA: usize = 1 << 20;

/// The buffer between the file and the parsers.
const BUFFER: usize = 64 * 1024;

/// The fields an entity accepts, as the seed names them.
#[derive(Debug)]
pub(crate) struct Esquema {
    pub campos: &'static [&'static str],
    pub obligatorios: &'static [&'static str],
    /// Fields that `listar -o csv|json` prints but an import cannot set (`id`, the read
    /// model). They are ignored, so an export can be imported again as is.
    pub solo_lectura: &'static [&'static str],
}

impl Esquema {
    fn lista(&self) -> String {
        self.campos.join(", ")
    }
}

/// One field's raw value. Blank text counts as absent: in a CSV an empty cell is how a
/// field is left out.
pub(crate) enum Valor<'a> {
    Ausente,
    Texto(Cow<'a, str>),
    Entero(i64),
    /// A value of a type no field takes (a JSON object, array or boolean, bytes that are
    /// not UTF-8), with the reason.
    Invalido(String),
}

/// A record whose fields can be read by name.
pub(crate) trait Registro {
    fn valor(&self, campo: &str) -> Valor<'_>;
    /// The record as a JSON object, for the rejections file.
    fn a_json(&self) -> Value;
}

/// What the reader hands over for each record.
pub(crate) enum Leido<'a> {
    Registro(&'a dyn Registro),
    /// A record that cannot even be read as fields (bad JSON, wrong column count).
    Malo {
        campo: Option<String>,
        motivo: String,
        registro: Value,
    },
}

/// What the reader learned besides the records.
#[derive(Debug, Default)]
pub(crate) struct FinLectura {
    /// Read-only columns or keys that were skipped.
    pub ignoradas: BTreeSet<String>,
}

/// Counts the bytes taken from the source, for progress by bytes.
pub(crate) struct Contador<R> {
    interior: R,
    leidos: Arc<AtomicU64>,
}

impl<R> Contador<R> {
    pub fn new(interior: R, leidos: Arc<AtomicU64>) -> Self {
        Self { interior, leidos }
    }
}

impl<R: Read> Read for Contador<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.interior.read(buf)?;
        self.leidos.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The start of the source, read ahead up to the end of the first line (at most one
/// buffer), with a leading UTF-8 byte order mark dropped; then the rest. Reading ahead
/// lets the CSV reader see its header line whole, however the source hands bytes over.
struct Inicio<R> {
    primera: Vec<u8>,
    resto: R,
}

impl<R: Read> Inicio<R> {
    fn leer(mut resto: R) -> io::Result<Self> {
        let mut primera = Vec::new();
        let mut trozo = [0u8; 4096];
        while primera.len() < BUFFER && !primera.contains(&b'\n') {
            match resto.read(&mut trozo) {
                Ok(0) => break,
                Ok(n) => primera.extend_from_slice(&trozo[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if primera.starts_with(b"\xEF\xBB\xBF") {
            primera.drain(..3);
        }
        Ok(Self { primera, resto })
    }

    fn primera_linea(&self) -> &[u8] {
        self.primera.split(|b| *b == b'\n').next().unwrap_or(&[])
    }

    fn lector(self) -> BufReader<io::Chain<io::Cursor<Vec<u8>>, R>> {
        BufReader::with_capacity(BUFFER, io::Cursor::new(self.primera).chain(self.resto))
    }
}

fn error_lectura(e: io::Error) -> Error {
    Error::Interno(anyhow::Error::new(e).context("leer el archivo a importar"))
}

/// Reads every record of `origen` and hands it to `f` with its position, until the end
/// or until `f` breaks. Fails on I/O errors and on a file that cannot be read as the
/// format at all (a CSV header without a required column, a JSON file that is not an
/// array); a bad record is a `Leido::Malo`, never an error.
pub(crate) fn leer<R: Read>(
    formato: Formato,
    origen: R,
    esquema: &Esquema,
    f: &mut dyn FnMut(u64, Leido<'_>) -> ControlFlow<()>,
) -> Result<FinLectura> {
    let inicio = Inicio::leer(origen).map_err(error_lectura)?;
    if es_utf16(&inicio.primera) {
        return Err(Error::Invalido(MENSAJE_UTF16.into()));
    }
    match formato {
        Formato::Csv => {
            let delim = delimitador(inicio.primera_linea());
            leer_csv(inicio.lector(), delim, esquema, f)
        }
        Formato::Jsonl => leer_jsonl(inicio.lector(), esquema, f),
        Formato::Json => leer_json(inicio.lector(), esquema, f),
    }
}

// ---------------------------------------------------------------------------------------
// CSV

/// The header, resolved against the schema once.
struct Cabecera {
    nombres: Vec<String>,
    /// Column of each schema field, in `Esquema::campos` order.
    columnas: Vec<Option<usize>>,
    campos: &'static [&'static str],
}

struct FilaCsv<'a> {
    cab: &'a Cabecera,
    fila: &'a csv::ByteRecord,
}

/// The csv reader ends records at `\n` only (see `leer_csv`), so a CRLF file leaves a
/// `\r` on the last field.
fn sin_cr(b: &[u8]) -> &[u8] {
    b.strip_suffix(b"\r").unwrap_or(b)
}

fn texto_de_bytes<'a>(campo: &str, b: &'a [u8]) -> Valor<'a> {
    match std::str::from_utf8(sin_cr(b)) {
        Ok(s) if s.trim().is_empty() => Valor::Ausente,
        Ok(s) => Valor::Texto(Cow::Borrowed(s)),
        Err(_) => Valor::Invalido(format!(
            "{campo} no es texto UTF-8 válido (guarde el archivo como UTF-8)"
        )),
    }
}

impl Registro for FilaCsv<'_> {
    fn valor(&self, campo: &str) -> Valor<'_> {
        let Some(i) = self.cab.campos.iter().position(|c| *c == campo) else {
            return Valor::Ausente;
        };
        match self.cab.columnas[i].and_then(|col| self.fila.get(col)) {
            Some(b) => texto_de_bytes(campo, b),
            None => Valor::Ausente,
        }
    }

    fn a_json(&self) -> Value {
        let mut m = Map::new();
        let mut extra = Vec::new();
        for (i, celda) in self.fila.iter().enumerate() {
            let v = Value::String(String::from_utf8_lossy(sin_cr(celda)).into_owned());
            match self.cab.nombres.get(i) {
                Some(n) => {
                    m.insert(n.clone(), v);
                }
                None => extra.push(v),
            }
        }
        if !extra.is_empty() {
            m.insert("_columnas_extra".into(), Value::Array(extra));
        }
        Value::Object(m)
    }
}

/// `;` when the header line has more semicolons than commas (spreadsheets in Spanish
/// locales export that way), `,` otherwise.
fn delimitador(linea: &[u8]) -> u8 {
    let cuenta = |c: u8| linea.iter().filter(|b| **b == c).count();
    if cuenta(b';') > cuenta(b',') {
        b';'
    } else {
        b','
    }
}

fn cabecera(esquema: &Esquema, fila: &csv::ByteRecord) -> Result<(Cabecera, BTreeSet<String>)> {
    let nombres: Vec<String> = fila
        .iter()
        .map(|b| String::from_utf8_lossy(b).trim().to_lowercase())
        .collect();
    let mut ignoradas = BTreeSet::new();
    let mut columnas = vec![None; esquema.campos.len()];
    for (col, n) in nombres.iter().enumerate() {
        if let Some(i) = esquema.campos.iter().position(|c| c == n) {
            if columnas[i].is_some() {
                return Err(Error::Invalido(format!(
                    "la columna {n} aparece dos veces en la cabecera del CSV"
                )));
            }
            columnas[i] = Some(col);
        } else if esquema.solo_lectura.contains(&n.as_str()) {
            ignoradas.insert(n.clone());
        } else {
            return Err(Error::Invalido(format!(
                "columna desconocida {n:?} en la cabecera del CSV: las columnas son {}",
                esquema.lista()
            )));
        }
    }
    let faltan: Vec<&str> = esquema
        .obligatorios
        .iter()
        .filter(|o| {
            let i = esquema.campos.iter().position(|c| c == *o);
            i.is_none_or(|i| columnas[i].is_none())
        })
        .copied()
        .collect();
    if !faltan.is_empty() {
        return Err(Error::Invalido(format!(
            "a la cabecera del CSV le falta {} {}: la primera línea debe nombrar las columnas ({})",
            if faltan.len() == 1 {
                "la columna"
            } else {
                "las columnas"
            },
            faltan.join(", "),
            esquema.lista()
        )));
    }
    Ok((
        Cabecera {
            nombres,
            columnas,
            campos: esquema.campos,
        },
        ignoradas,
    ))
}

fn error_csv(e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => error_lectura(e),
        otro => Error::Interno(anyhow::anyhow!("leer el CSV: {otro:?}")),
    }
}

fn registro_enorme(linea: u64) -> Leido<'static> {
    Leido::Malo {
        campo: None,
        motivo: format!(
            "el registro que empieza en la línea {linea} supera {} MiB (¿unas comillas sin cerrar?); \
             el resto del archivo no se leyó",
            MAX_LINEA >> 20
        ),
        registro: Value::Null,
    }
}

fn leer_csv<R: BufRead>(
    origen: R,
    delim: u8,
    esquema: &Esquema,
    f: &mut dyn FnMut(u64, Leido<'_>) -> ControlFlow<()>,
) -> Result<FinLectura> {
    // Records end at `\n` only: with the default CRLF terminator the reader stops at the
    // `\r` and reports the next record's line one short. The `\r` left on the last field
    // is dropped by `sin_cr`.
    // The csv reader keeps a field whole in memory however long it is: the cap stops a
    // quote that never closes. It counts what was read since the record began, read-ahead
    // included, so it allows one buffer more than a JSON Lines line.
    let (origen, marca) = Tope::new(origen, MAX_LINEA + BUFFER);
    let mut lector = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delim)
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(BUFFER)
        .from_reader(origen);
    let mut fila = csv::ByteRecord::new();
    // A blank CRLF line is a lone `\r` to this reader.
    let en_blanco =
        |f: &csv::ByteRecord| f.len() == 1 && sin_cr(&f[0]).iter().all(u8::is_ascii_whitespace);
    let cab = loop {
        if !lector.read_byte_record(&mut fila).map_err(error_csv)? {
            return Ok(FinLectura::default());
        }
        if !en_blanco(&fila) {
            break cabecera(esquema, &fila)?;
        }
    };
    let (cab, ignoradas) = cab;
    loop {
        marca.nuevo_registro();
        let inicio = lector.position().line();
        match lector.read_byte_record(&mut fila) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) if matches!(e.kind(), csv::ErrorKind::Io(io) if es_enorme(io)) => {
                // Past an unterminated quote there is no telling where the next record
                // starts: this one is rejected and the rest of the file is not read.
                let _ = f(inicio, registro_enorme(inicio));
                break;
            }
            Err(e) => return Err(error_csv(e)),
        }
        let linea = fila.position().map_or(0, |p| p.line());
        if en_blanco(&fila) {
            continue;
        }
        let leido = if fila.len() != cab.nombres.len() {
            Leido::Malo {
                campo: None,
                motivo: format!(
                    "la fila tiene {} columnas y la cabecera {}",
                    fila.len(),
                    cab.nombres.len()
                ),
                registro: FilaCsv {
                    cab: &cab,
                    fila: &fila,
                }
                .a_json(),
            }
        } else {
            Leido::Registro(&FilaCsv {
                cab: &cab,
                fila: &fila,
            })
        };
        if f(linea, leido).is_break() {
            break;
        }
    }
    Ok(FinLectura { ignoradas })
}

// ---------------------------------------------------------------------------------------
// JSON (one object per line, or an array of objects)

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
    linea: u64,
    v: ValorJson,
    esquema: &Esquema,
    fin: &mut FinLectura,
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

fn leer_jsonl<R: BufRead>(
    mut origen: R,
    esquema: &Esquema,
    f: &mut dyn FnMut(u64, Leido<'_>) -> ControlFlow<()>,
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

fn leer_json<R: BufRead>(
    mut origen: R,
    esquema: &Esquema,
    f: &mut dyn FnMut(u64, Leido<'_>) -> ControlFlow<()>,
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

#[cfg(test)]
#[path = "lector_tests.rs"]
mod tests;
