//! Rendering: tables (comfy-table) for people, one JSON value or CSV for scripts.
//! Data goes to stdout; notices, progress and errors go to stderr only.

use std::io::Write;

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Formato {
    Table,
    Json,
    Csv,
}

/// An entity that can be shown as one row of a table or CSV file.
pub trait Fila: Serialize {
    fn columnas() -> &'static [&'static str];
    fn celdas(&self) -> Vec<String>;
}

/// Writes to stdout. A closed pipe (`eventflow ... | head`) is a normal end, not an error.
pub fn escribir(bytes: &[u8]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::Interno(
            anyhow::Error::new(e).context("escribir en stdout"),
        )),
    }
}

fn json<T: Serialize + ?Sized>(v: &T) -> Result<()> {
    let mut s = serde_json::to_string_pretty(v).map_err(|e| Error::Interno(e.into()))?;
    s.push('\n');
    escribir(s.as_bytes())
}

fn tabla() -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    t
}

fn csv_filas<T: Fila>(filas: &[T]) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| Error::Interno(e.into());
    w.write_record(T::columnas()).map_err(err)?;
    for f in filas {
        w.write_record(f.celdas()).map_err(err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Interno(anyhow::anyhow!("{e}")))?;
    escribir(&bytes)
}

/// One entity: a JSON object, a two-column table, or a one-row CSV.
pub fn uno<T: Fila>(formato: Formato, v: &T) -> Result<()> {
    match formato {
        Formato::Json => json(v),
        Formato::Csv => csv_filas(std::slice::from_ref(v)),
        Formato::Table => {
            let mut t = tabla();
            t.set_header(vec!["campo", "valor"]);
            for (c, v) in T::columnas().iter().zip(v.celdas()) {
                t.add_row(vec![c.to_string(), v]);
            }
            escribir(format!("{t}\n").as_bytes())
        }
    }
}

/// A list: a JSON array, a table, or CSV with a header.
pub fn lista<T: Fila>(formato: Formato, filas: &[T]) -> Result<()> {
    match formato {
        Formato::Json => json(filas),
        Formato::Csv => csv_filas(filas),
        Formato::Table => {
            if filas.is_empty() {
                aviso("(sin resultados)");
                return Ok(());
            }
            let mut t = tabla();
            t.set_header(T::columnas().to_vec());
            for f in filas {
                t.add_row(f.celdas());
            }
            escribir(format!("{t}\n").as_bytes())
        }
    }
}

/// Any serialisable report: JSON as is, otherwise the given key/value rows.
pub fn informe<T: Serialize>(formato: Formato, v: &T, filas: &[(String, String)]) -> Result<()> {
    match formato {
        Formato::Json => json(v),
        Formato::Csv => {
            let mut w = csv::Writer::from_writer(Vec::new());
            let err = |e: csv::Error| Error::Interno(e.into());
            w.write_record(["campo", "valor"]).map_err(err)?;
            for (k, v) in filas {
                w.write_record([k, v]).map_err(err)?;
            }
            let bytes = w
                .into_inner()
                .map_err(|e| Error::Interno(anyhow::anyhow!("{e}")))?;
            escribir(&bytes)
        }
        Formato::Table => {
            let mut t = tabla();
            t.set_header(vec!["campo", "valor"]);
            for (k, v) in filas {
                t.add_row(vec![k.clone(), v.clone()]);
            }
            escribir(format!("{t}\n").as_bytes())
        }
    }
}

/// Writes one line to stderr. A stderr that is closed or full is not worth failing (or
/// panicking, as `eprintln!` does) for: the exit code still tells the outcome.
pub fn a_stderr(linea: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{linea}");
}

/// The one line a panic prints (see `main.rs`): where, and a request for a bug report.
/// `donde` is the source location, when known.
pub fn linea_de_panico(donde: Option<(&str, u32)>) -> String {
    let donde = donde
        .map(|(archivo, linea)| format!(" en {archivo}:{linea}"))
        .unwrap_or_default();
    format!(
        "error interno de eventflow{donde}: es un fallo del programa; infórmelo con el comando \
         que lo produjo (RUST_BACKTRACE=1 añade la traza)"
    )
}

/// A notice for people, on stderr.
pub fn aviso(texto: &str) {
    a_stderr(texto);
}

/// An error, on stderr, with a hint when one helps.
pub fn error(e: &Error) {
    a_stderr(&format!("error: {e}"));
    if let Some(pista) = pista(e) {
        a_stderr(&format!("  sugerencia: {pista}"));
    }
}

fn pista(e: &Error) -> Option<&'static str> {
    match e {
        Error::BackendCaido {
            backend: "SQLite", ..
        } => Some(
            "compruebe que el directorio de datos se puede escribir y que el archivo no está dañado",
        ),
        Error::BackendCaido { .. } => Some(
            "compruebe que el servidor está en marcha y la dirección (eventflow estado lo muestra)",
        ),
        Error::SinEntradas { .. } => Some("pida menos entradas o elija otro evento"),
        // A damaged row says itself how to fix it: `--reparar` cannot rebuild it.
        Error::Inconsistencia(m) if !m.contains("dañad") && !m.contains("corrupto") => {
            Some("eventflow verificar --reparar pone de acuerdo los almacenes")
        }
        _ => None,
    }
}

use crate::domain::{Evento, Usuario};

impl Fila for Usuario {
    fn columnas() -> &'static [&'static str] {
        &[
            "id",
            "tipo_documento",
            "nro_documento",
            "nombre",
            "apellido",
            "email",
            "historial_compras",
        ]
    }
    fn celdas(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.tipo_documento
                .as_ref()
                .map(|t| t.to_string())
                .unwrap_or_default(),
            self.nro_documento
                .as_ref()
                .map(|t| t.to_string())
                .unwrap_or_default(),
            self.nombre.to_string(),
            self.apellido.to_string(),
            self.email.to_string(),
            self.historial_compras.len().to_string(),
        ]
    }
}

impl Fila for Evento {
    fn columnas() -> &'static [&'static str] {
        &[
            "id",
            "nombre",
            "fecha",
            "lugar",
            "aforo_total",
            "entradas_disponibles",
            "reservas_activas",
            "precio",
        ]
    }
    fn celdas(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.nombre.to_string(),
            self.fecha.to_string(),
            self.lugar.to_string(),
            self.aforo_total.to_string(),
            self.entradas_disponibles.to_string(),
            self.reservas_activas.len().to_string(),
            self.precio.to_string(),
        ]
    }
}

impl Fila for crate::domain::Compra {
    fn columnas() -> &'static [&'static str] {
        &["evento_id", "reserva_id", "fecha_compra", "entradas"]
    }
    fn celdas(&self) -> Vec<String> {
        vec![
            self.evento_id.to_string(),
            self.reserva_id.to_string(),
            self.fecha_compra.to_string(),
            self.entradas.to_string(),
        ]
    }
}

impl Fila for crate::domain::Reserva {
    fn columnas() -> &'static [&'static str] {
        &[
            "id",
            "evento_id",
            "usuario_id",
            "entradas",
            "estado",
            "importe",
            "creada",
            "actualizada",
        ]
    }
    fn celdas(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.evento_id.to_string(),
            self.usuario_id.to_string(),
            self.entradas.to_string(),
            self.estado.to_string(),
            self.importe.to_string(),
            self.creada.to_string(),
            self.actualizada.to_string(),
        ]
    }
}

impl Fila for crate::domain::ReservaConPago {
    fn columnas() -> &'static [&'static str] {
        &[
            "id",
            "evento_id",
            "usuario_id",
            "entradas",
            "estado",
            "importe",
            "creada",
            "actualizada",
            "pago_estado",
            "pago_importe",
        ]
    }
    fn celdas(&self) -> Vec<String> {
        let mut c = self.reserva.celdas();
        c.push(self.pago.estado.as_str().to_owned());
        c.push(self.pago.importe.to_string());
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn un_panico_se_informa_en_una_sola_linea_que_pide_un_informe() {
        for donde in [Some(("src/x.rs", 7)), None] {
            let l = linea_de_panico(donde);
            assert!(!l.contains('\n'), "{l}");
            assert!(l.contains("infórmelo"), "{l}");
        }
        assert!(linea_de_panico(Some(("src/x.rs", 7))).contains("src/x.rs:7"));
    }
}
