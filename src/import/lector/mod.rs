//! Readers: CSV, JSON Lines and a top-level JSON array, turned into records one at a
//! time so memory stays flat whatever the file size. Each record carries its position
//! (1-based file line for CSV and JSONL, ordinal for a JSON array) so that a rejection
//! points at the spot to fix.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::io::{self, BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};

use super::FileFormat;
mod json;

use super::estricto::{MENSAJE_UTF16, Tope, es_enorme, es_utf16};
use crate::error::{Error, Result};
use json::{leer_json, leer_jsonl};

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
    formato: FileFormat, origen: R, esquema: &Esquema,
    f: &mut dyn FnMut(u64, Leido<'_>) -> ControlFlow<()>,
) -> Result<FinLectura> {
    let inicio = Inicio::leer(origen).map_err(error_lectura)?;
    if es_utf16(&inicio.primera) {
        return Err(Error::Invalido(MENSAJE_UTF16.into()));
    }
    match formato {
        FileFormat::Csv => {
            let delim = delimitador(inicio.primera_linea());
            leer_csv(inicio.lector(), delim, esquema, f)
        }
        FileFormat::Jsonl => leer_jsonl(inicio.lector(), esquema, f),
        FileFormat::Json => leer_json(inicio.lector(), esquema, f),
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
    origen: R, delim: u8, esquema: &Esquema, f: &mut dyn FnMut(u64, Leido<'_>) -> ControlFlow<()>,
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

#[cfg(test)]
mod tests;
