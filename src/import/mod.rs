//! Bulk import of users and events from CSV, JSON Lines or a JSON array, in batches.
//! A reader thread parses and validates rows and hands batches over a bounded channel to
//! the writer, so parsing overlaps with writing and memory stays flat whatever the file
//! size. Progress is reported through `ImportProgress`; drawing it is the CLI's business.
//!
//! ```text
//!  file ─▶ reader thread ──(batches, channel of 2)──▶ writer ─▶ UsuarioStore / EventoStore::importar
//!          parse · validate · in-file duplicates          └──▶ seat counters (events)
//! ```

mod campos;
mod escritura;
mod estricto;
mod filas;
#[cfg(test)]
mod fuzz;
mod lector;

use escritura::*;
use filas::*;

use std::io::{self, Read, Write};
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use self::campos::{Eventos, Tipo, Usuarios};
use crate::error::Result;
use crate::store::Almacen;
pub use crate::store::ModoImport;

/// How many rejections `ImportSummary` keeps for the CLI to show; the rest go to
/// `DestinoRechazos` only.
pub const PRIMEROS_RECHAZOS: usize = 10;

/// Batches waiting between the reader and the writer. Two keep the writer busy while
/// the reader fills the next one, and bound memory to a few batches.
const PROFUNDIDAD_CANAL: usize = 2;

/// What is imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Entidad {
    Usuarios,
    Eventos,
}

impl Entidad {
    pub fn as_str(self) -> &'static str {
        match self {
            Entidad::Usuarios => "usuarios",
            Entidad::Eventos => "eventos",
        }
    }

    /// The columns (CSV) or keys (JSON) the entity takes, in the seed's order.
    pub fn campos(self) -> &'static [&'static str] {
        match self {
            Entidad::Usuarios => Usuarios::ESQUEMA.campos,
            Entidad::Eventos => Eventos::ESQUEMA.campos,
        }
    }
}

/// The file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    /// A header line with the field names, then one row per line.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// One top-level JSON array of objects.
    Json,
}

impl FileFormat {
    /// From the extension: `.csv`, `.jsonl` / `.ndjson`, `.json` (any case).
    pub fn por_extension(ruta: &Path) -> Option<FileFormat> {
        let ext = ruta.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(FileFormat::Csv),
            "jsonl" | "ndjson" => Some(FileFormat::Jsonl),
            "json" => Some(FileFormat::Json),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Jsonl => "jsonl",
            FileFormat::Json => "json",
        }
    }

    /// What a position is called: a file line, or the ordinal of an array element.
    fn posicion(self) -> &'static str {
        match self {
            FileFormat::Json => "el registro",
            FileFormat::Csv | FileFormat::Jsonl => "la línea",
        }
    }
}

/// How to import.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    pub formato: FileFormat,
    pub modo: ModoImport,
    /// Validate everything, write nothing and connect to nothing.
    pub dry_run: bool,
    /// Rows per store call.
    pub lote: usize,
}

/// Progress of an import: rows read so far and bytes taken from the source.
pub trait ImportProgress: Send + Sync {
    fn avance(&self, filas: u64, bytes: u64);
    fn fin(&self);
}

/// For callers that show no progress.
pub struct NoImportProgress;

impl ImportProgress for NoImportProgress {
    fn avance(&self, _: u64, _: u64) {}
    fn fin(&self) {}
}

/// A rejected row: where it is, what to fix, and the row itself, ready to be fixed and
/// imported again (`jq -c .registro rechazos.jsonl > arreglar.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectedRow {
    /// The 1-based file line (CSV: the header is line 1; JSONL), or the 1-based position
    /// of the element in a JSON array.
    pub linea: u64,
    /// The field to fix; `None` when the row as a whole is wrong.
    pub campo: Option<String>,
    pub motivo: String,
    pub registro: Value,
}

/// Where every rejection goes.
pub trait DestinoRechazos: Send {
    fn rechazo(&mut self, r: &RejectedRow) -> io::Result<()>;
    fn terminar(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Rejections as JSON Lines: one `{linea, campo, motivo, registro}` object per line.
pub struct RechazosJsonl<W: Write + Send>(pub W);

impl<W: Write + Send> DestinoRechazos for RechazosJsonl<W> {
    fn rechazo(&mut self, r: &RejectedRow) -> io::Result<()> {
        serde_json::to_writer(&mut self.0, r)?;
        self.0.write_all(b"\n")
    }
    fn terminar(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Keeps no rejection beyond what `ImportSummary` holds.
pub struct SinDestino;

impl DestinoRechazos for SinDestino {
    fn rechazo(&mut self, _: &RejectedRow) -> io::Result<()> {
        Ok(())
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportSummary {
    /// Records read (rows, lines or array elements; blank lines are not records).
    pub leidas: u64,
    /// Records that passed validation and the in-file duplicate check.
    pub validas: u64,
    pub insertadas: u64,
    /// Rows that matched an existing record in upsert mode (even if nothing changed).
    pub actualizadas: u64,
    pub rechazadas: u64,
    pub segundos: f64,
    pub filas_por_segundo: f64,
    /// Read-only columns or keys that were skipped (`id`, `historial_compras`, ...).
    pub ignoradas: Vec<String>,
    /// The first `PRIMEROS_RECHAZOS` rejections, in file order.
    #[serde(skip)]
    pub primeros_rechazos: Vec<RejectedRow>,
}

/// Imports `origen` into the stores. `alm` may be `None` only with `dry_run`.
///
/// Every row goes through the domain parsers `crear` uses. In insert mode a row whose
/// key (email or document; events: nombre + fecha) appeared earlier in the file is
/// rejected; in upsert mode rows apply in file order, so a later row wins. Events get
/// their seat counters as `eventos crear` gives them.
///
/// A store error stops the import: the error says how many rows were stored, and a
/// re-run with `ModoImport::Upsert` completes it without duplicates.
pub async fn importar<R: Read + Send + 'static>(
    entidad: Entidad, alm: Option<&Almacen>, origen: R, opciones: &ImportOptions,
    progreso: &dyn ImportProgress, rechazos: &mut dyn DestinoRechazos,
) -> Result<ImportSummary> {
    match entidad {
        Entidad::Usuarios => {
            importar_de::<Usuarios, R>(alm, origen, opciones, progreso, rechazos).await
        }
        Entidad::Eventos => {
            importar_de::<Eventos, R>(alm, origen, opciones, progreso, rechazos).await
        }
    }
}
