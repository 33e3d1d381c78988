//! Rendering: tables (comfy-table) for people, one JSON value, JSON Lines, CSV,
//! tab-separated rows or bare ids for scripts. Data goes to stdout; notices, progress and
//! errors go to stderr only, except the error object `-o json|jsonl` prints on stdout.
//! How a value becomes text is `tabla`'s; the columns of each entity are `filas`'; how a
//! failure is shown is `errores`'.

mod errores;
mod filas;
pub mod tabla;

use std::io::{IsTerminal, Write};
use std::marker::PhantomData;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use serde_json::Value;

pub use errores::{error, error_de_uso, linea_de_panico, lineas_de_error, objeto_de_error};
pub use tabla::{Clase, Columna};

use crate::error::{Error, Result};

/// `-o`: what stdout carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Tabla ajustada al terminal; en una tubería, filas separadas por tabuladores.
    Table,
    /// Un único valor JSON: un objeto, o una lista para los listados.
    Json,
    /// CSV con los mismos campos y valores que JSON.
    Csv,
    /// Tabla con todas las columnas y los textos enteros.
    Wide,
    /// Solo el id de cada fila, uno por línea.
    Id,
    /// Un objeto JSON por línea (JSON Lines).
    Jsonl,
}

impl OutputFormat {
    /// JSON on stdout, where a failure is an error object too.
    pub fn es_json(self) -> bool {
        matches!(self, OutputFormat::Json | OutputFormat::Jsonl)
    }
}

/// What the whole run's output depends on besides `-o`: set once by `cli::run`.
#[derive(Debug, Clone, Copy)]
pub struct OutputOptions {
    pub formato: OutputFormat,
    /// False with `--no-encabezado`.
    pub encabezado: bool,
    /// Whether stdout is a terminal: tables there, tab-separated rows elsewhere.
    pub terminal: bool,
    /// The terminal's width in cells, when known.
    pub ancho: Option<usize>,
    /// True while running `eventflow estado` (its errors do not point to itself).
    pub en_estado: bool,
}

static OPCIONES: OnceLock<OutputOptions> = OnceLock::new();
/// Set once anything has been written to stdout.
static EMPEZADA: AtomicBool = AtomicBool::new(false);

/// Fixes the run's output options; the first call wins.
pub fn configurar(formato: OutputFormat, encabezado: bool, en_estado: bool) {
    let terminal = std::io::stdout().is_terminal();
    let ancho = terminal
        .then(|| comfy_table::Table::new().width())
        .flatten()
        .map(usize::from);
    let _ = OPCIONES.set(OutputOptions {
        formato,
        encabezado,
        terminal,
        ancho,
        en_estado,
    });
}

fn opciones() -> OutputOptions {
    *OPCIONES.get_or_init(|| OutputOptions {
        formato: OutputFormat::Table,
        encabezado: true,
        terminal: std::io::stdout().is_terminal(),
        ancho: None,
        en_estado: false,
    })
}

/// An entity that can be shown as one row of a table or CSV file: its columns, read from
/// its JSON form.
pub trait Fila: Serialize {
    fn columnas() -> &'static [Columna];
}

/// Writes to stdout. A closed pipe (`eventflow ... | head`) is a normal end, not an error.
pub fn escribir(bytes: &[u8]) -> Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    EMPEZADA.store(true, Ordering::Relaxed);
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::Interno(
            anyhow::Error::new(e).context("escribir en stdout"),
        )),
    }
}

fn interno<E: Into<anyhow::Error>>(e: E) -> Error {
    Error::Interno(e.into())
}

fn a_valor<T: Serialize + ?Sized>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(interno)
}

fn json_bonito(v: &Value) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(interno)
}

fn csv_lineas<I, S>(filas: I) -> Result<Vec<u8>>
where
    I: IntoIterator<Item = Vec<S>>,
    S: AsRef<[u8]>,
{
    let mut w = csv::Writer::from_writer(Vec::new());
    for f in filas {
        w.write_record(f).map_err(interno)?;
    }
    w.into_inner().map_err(|e| interno(anyhow::anyhow!("{e}")))
}

/// A listing written as it arrives, page by page, so memory does not grow with its
/// length: `-o json` opens the array on the first row and closes it in `cerrar`.
pub struct Lista<T: Fila> {
    formato: OutputFormat,
    o: OutputOptions,
    filas: u64,
    encabezado_hecho: bool,
    _t: PhantomData<fn(&T)>,
}

impl<T: Fila> Lista<T> {
    pub fn new(formato: OutputFormat) -> Self {
        Self {
            formato,
            o: opciones(),
            filas: 0,
            encabezado_hecho: false,
            _t: PhantomData,
        }
    }

    fn encabezado(&mut self) -> Option<Vec<&'static str>> {
        if self.encabezado_hecho || !self.o.encabezado {
            return None;
        }
        self.encabezado_hecho = true;
        Some(T::columnas().iter().map(|c| c.campo).collect())
    }

    /// Writes one page of the listing in the run's format.
    pub fn pagina(&mut self, filas: &[T]) -> Result<()> {
        if filas.is_empty() {
            return Ok(());
        }
        let cols = T::columnas();
        let valores = filas.iter().map(a_valor).collect::<Result<Vec<_>>>()?;
        let mut s = String::new();
        match self.formato {
            OutputFormat::Json => {
                for v in &valores {
                    s.push_str(if self.filas == 0 { "[\n" } else { ",\n" });
                    for (i, l) in json_bonito(v)?.lines().enumerate() {
                        if i > 0 {
                            s.push('\n');
                        }
                        s.push_str("  ");
                        s.push_str(l);
                    }
                    self.filas += 1;
                }
            }
            OutputFormat::Jsonl => {
                for v in &valores {
                    s.push_str(&v.to_string());
                    s.push('\n');
                }
            }
            OutputFormat::Id => {
                let id = tabla::columna_id(cols);
                for v in &valores {
                    s.push_str(&tabla::celda_tsv(tabla::valor(v, id)));
                    s.push('\n');
                }
            }
            OutputFormat::Csv => {
                let mut lineas: Vec<Vec<String>> = Vec::new();
                if let Some(e) = self.encabezado() {
                    lineas.push(e.into_iter().map(str::to_owned).collect());
                }
                lineas.extend(valores.iter().map(|v| {
                    cols.iter()
                        .map(|c| tabla::plano(tabla::valor(v, c.campo)))
                        .collect()
                }));
                escribir(&csv_lineas(lineas)?)?;
            }
            OutputFormat::Table | OutputFormat::Wide => s = self.tabla(&valores),
        }
        if self.formato != OutputFormat::Json {
            self.filas += valores.len() as u64;
        }
        escribir(s.as_bytes())
    }

    /// One page for people: a table fitted to the terminal (whole with `-o wide`), or
    /// tab-separated rows in a pipe, under a header on the first page.
    fn tabla(&mut self, valores: &[Value]) -> String {
        let cols = T::columnas();
        if self.o.terminal {
            let humanas: Vec<Vec<String>> = valores
                .iter()
                .map(|v| {
                    cols.iter()
                        .map(|c| tabla::humano_en(c, tabla::valor(v, c.campo)))
                        .collect()
                })
                .collect();
            let ancho = if self.formato == OutputFormat::Wide {
                None
            } else {
                self.o.ancho
            };
            return tabla::tabla_terminal(cols, &humanas, ancho, self.o.encabezado);
        }
        let mut s = String::new();
        if let Some(e) = self.encabezado() {
            s.push_str(&tabla::linea_tsv(e.into_iter().map(str::to_owned)));
        }
        for v in valores {
            s.push_str(&tabla::linea_tsv(
                cols.iter()
                    .map(|c| tabla::celda_tsv(tabla::valor(v, c.campo))),
            ));
        }
        s
    }

    /// Ends the listing: closes the JSON array, or writes the header of an empty one.
    pub fn cerrar(mut self) -> Result<()> {
        match self.formato {
            OutputFormat::Json if self.filas == 0 => escribir(b"[]\n"),
            OutputFormat::Json => escribir(b"\n]\n"),
            OutputFormat::Csv => match self.encabezado() {
                Some(e) => escribir(&csv_lineas([e])?),
                None => Ok(()),
            },
            OutputFormat::Table | OutputFormat::Wide if self.o.terminal => {
                if self.filas == 0 {
                    aviso("(sin resultados)");
                }
                Ok(())
            }
            OutputFormat::Table | OutputFormat::Wide => match self.encabezado() {
                Some(e) => escribir(tabla::linea_tsv(e.into_iter().map(str::to_owned)).as_bytes()),
                None => Ok(()),
            },
            OutputFormat::Jsonl | OutputFormat::Id => Ok(()),
        }
    }
}

/// A whole list at once (one page).
pub fn lista<T: Fila>(formato: OutputFormat, filas: &[T]) -> Result<()> {
    let mut l = Lista::new(formato);
    l.pagina(filas)?;
    l.cerrar()
}

/// One entity: a JSON object, a `campo | valor` table (tab-separated in a pipe), a
/// one-row CSV, or its id.
pub fn uno<T: Fila>(formato: OutputFormat, v: &T) -> Result<()> {
    let o = opciones();
    let cols = T::columnas();
    let valor = a_valor(v)?;
    let campo = |c: &Columna| tabla::valor(&valor, c.campo);
    match formato {
        OutputFormat::Json | OutputFormat::Jsonl => json(formato, &valor),
        OutputFormat::Id => escribir(
            format!(
                "{}\n",
                tabla::celda_tsv(tabla::valor(&valor, tabla::columna_id(cols)))
            )
            .as_bytes(),
        ),
        OutputFormat::Csv => {
            let mut lineas: Vec<Vec<String>> = Vec::new();
            if o.encabezado {
                lineas.push(cols.iter().map(|c| c.campo.to_owned()).collect());
            }
            lineas.push(cols.iter().map(|c| tabla::plano(campo(c))).collect());
            escribir(&csv_lineas(lineas)?)
        }
        OutputFormat::Table | OutputFormat::Wide if o.terminal => {
            let filas: Vec<(String, String)> = cols
                .iter()
                .map(|c| (c.campo.to_owned(), tabla::humano_en(c, campo(c))))
                .collect();
            escribir(tabla::tabla_campos(&filas, o.encabezado).as_bytes())
        }
        OutputFormat::Table | OutputFormat::Wide => campos_tsv(
            cols.iter()
                .map(|c| (c.campo.to_owned(), tabla::celda_tsv(campo(c)))),
            o.encabezado,
        ),
    }
}

/// `campo\tvalor` lines under a `campo\tvalor` header.
fn campos_tsv(filas: impl Iterator<Item = (String, String)>, encabezado: bool) -> Result<()> {
    let mut s = String::new();
    if encabezado {
        s.push_str("campo\tvalor\n");
    }
    for (k, v) in filas {
        s.push_str(&tabla::linea_tsv([k, v]));
    }
    escribir(s.as_bytes())
}

fn json(formato: OutputFormat, v: &Value) -> Result<()> {
    let mut s = if formato == OutputFormat::Jsonl {
        v.to_string()
    } else {
        json_bonito(v)?
    };
    s.push('\n');
    escribir(s.as_bytes())
}

/// Any serialisable report: JSON as is; for people, the given rows; for CSV and pipes,
/// its leaves as `campo,valor` rows with the JSON paths and plain values; with `-o id`,
/// its `id` if it has one.
pub fn informe<T: Serialize>(
    formato: OutputFormat, v: &T, filas: &[(String, String)],
) -> Result<()> {
    let o = opciones();
    let valor = a_valor(v)?;
    match formato {
        OutputFormat::Json | OutputFormat::Jsonl => json(formato, &valor),
        OutputFormat::Id => match valor.get("id") {
            Some(id) => escribir(format!("{}\n", tabla::celda_tsv(id)).as_bytes()),
            None => {
                aviso("este comando no devuelve ids: use -o json para leer su informe");
                Ok(())
            }
        },
        OutputFormat::Csv => {
            let mut lineas = Vec::new();
            if o.encabezado {
                lineas.push(vec!["campo".to_owned(), "valor".to_owned()]);
            }
            lineas.extend(tabla::aplanar(&valor).into_iter().map(|(k, v)| vec![k, v]));
            escribir(&csv_lineas(lineas)?)
        }
        OutputFormat::Table | OutputFormat::Wide if o.terminal => {
            escribir(tabla::tabla_campos(filas, o.encabezado).as_bytes())
        }
        OutputFormat::Table | OutputFormat::Wide => campos_tsv(
            tabla::aplanar(&valor)
                .into_iter()
                .map(|(k, v)| (k, v.replace(['\t', '\n', '\r'], " "))),
            o.encabezado,
        ),
    }
}

/// What a delete prints: nothing for people (the notice on stderr says it), the id with
/// `-o id`, `{"id", "eliminado": true}` for JSON.
pub fn eliminado(formato: OutputFormat, id: &str) -> Result<()> {
    match formato {
        OutputFormat::Json | OutputFormat::Jsonl => {
            json(formato, &serde_json::json!({"id": id, "eliminado": true}))
        }
        OutputFormat::Id => escribir(format!("{id}\n").as_bytes()),
        _ => Ok(()),
    }
}

/// Writes one line to stderr. A stderr that is closed or full is not worth failing (or
/// panicking, as `eprintln!` does) for: the exit code still tells the outcome.
pub fn a_stderr(linea: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{linea}");
}

/// A notice for people, on stderr.
pub fn aviso(texto: &str) {
    a_stderr(texto);
}
