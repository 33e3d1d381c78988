//! Rendering: tables (comfy-table) for people, one JSON value, JSON Lines, CSV,
//! tab-separated rows or bare ids for scripts. Data goes to stdout; notices, progress and
//! errors go to stderr only, except the error object `-o json|jsonl` prints on stdout.
//! How a value becomes text is `tabla`'s; the columns of each entity are `filas`'.

mod filas;
pub mod tabla;

use std::io::{IsTerminal, Write};
use std::marker::PhantomData;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use serde_json::Value;

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
            OutputFormat::Table | OutputFormat::Wide if self.o.terminal => {
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
                s = tabla::tabla_terminal(cols, &humanas, ancho, self.o.encabezado);
            }
            OutputFormat::Table | OutputFormat::Wide => {
                if let Some(e) = self.encabezado() {
                    s.push_str(&tabla::linea_tsv(e.into_iter().map(str::to_owned)));
                }
                for v in &valores {
                    s.push_str(&tabla::linea_tsv(
                        cols.iter()
                            .map(|c| tabla::celda_tsv(tabla::valor(v, c.campo))),
                    ));
                }
            }
        }
        if self.formato != OutputFormat::Json {
            self.filas += valores.len() as u64;
        }
        escribir(s.as_bytes())
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
    formato: OutputFormat,
    v: &T,
    filas: &[(String, String)],
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

/// A failure: one line for people on stderr (a second with a hint when one helps), and,
/// with `-o json|jsonl`, the error object on stdout, `{"error": {"codigo", "mensaje",
/// …}}`, the API's shape. A JSON array already under way is left as it is (the exit code
/// tells): stdout never holds two JSON values. JSON Lines gets the object as its last line.
pub fn error(e: &Error) {
    let o = opciones();
    for l in lineas_de_error(e, o.en_estado) {
        a_stderr(&l);
    }
    let libre = !EMPEZADA.load(Ordering::Relaxed) || o.formato == OutputFormat::Jsonl;
    if o.formato.es_json() && libre {
        let _ = json(o.formato, &objeto_de_error(e));
    }
}

/// A command line clap refused (exit 2, nothing was run). Its text goes to stderr as clap
/// wrote it; when the line asked for `-o json|jsonl`, stdout gets the error object too,
/// `{"error": {"codigo": "invalido", "mensaje"}}`. `args` is the raw command line.
pub fn error_de_uso(texto: &str, args: &[String]) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(texto.as_bytes());
    let formato = formato_pedido(args);
    if let Some(f) = formato.filter(|f| f.es_json()) {
        let primera = texto.lines().next().unwrap_or_default();
        let mensaje = primera.strip_prefix("error: ").unwrap_or(primera).trim();
        let d = crate::api::error::DetalleError {
            codigo: "invalido".into(),
            mensaje: mensaje.to_owned(),
            datos: serde_json::Map::new(),
        };
        let _ = json(f, &serde_json::json!({ "error": d }));
    }
}

/// The `-o` a raw command line asks for, if it names a valid one.
fn formato_pedido(args: &[String]) -> Option<OutputFormat> {
    use clap::ValueEnum;
    let mut pedido = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let valor = match a.as_str() {
            "-o" | "--output" => it.next().map(String::as_str),
            _ => a.strip_prefix("--output=").or_else(|| {
                a.strip_prefix("-o")
                    .filter(|v| !v.is_empty() && !a.starts_with("--"))
            }),
        };
        if let Some(v) =
            valor.and_then(|v| OutputFormat::from_str(v.trim_start_matches('='), true).ok())
        {
            pedido = Some(v);
        }
    }
    pedido
}

/// `{"error": {...}}` for a core error, the same object the API answers with.
pub fn objeto_de_error(e: &Error) -> Value {
    let d = crate::api::error::DetalleError::de(e, e.to_string());
    serde_json::json!({ "error": d })
}

/// The stderr lines of a failure. A backend that cannot be reached is one line, whose
/// hint does not send `estado` to itself.
pub fn lineas_de_error(e: &Error, en_estado: bool) -> Vec<String> {
    if let Error::BackendCaido { backend, .. } = e {
        let mut l = format!("error: {e}");
        if *backend == "SQLite" {
            l.push_str("; compruebe que el directorio de datos se puede escribir");
        } else {
            if !en_estado {
                l.push_str("; `eventflow estado` muestra a dónde se conecta");
            }
            l.push_str(" (detalle: EVENTFLOW_LOG=debug)");
        }
        return vec![l];
    }
    let mut v = vec![format!("error: {e}")];
    if let Some(pista) = pista(e) {
        v.push(format!("  sugerencia: {pista}"));
    }
    v
}

fn pista(e: &Error) -> Option<&'static str> {
    match e {
        Error::SinEntradas { .. } => Some("pida menos entradas o elija otro evento"),
        // A damaged row says itself how to fix it: `--reparar` cannot rebuild it.
        Error::Inconsistencia(m) if !m.contains("dañad") && !m.contains("corrupto") => {
            Some("eventflow verificar --reparar pone de acuerdo los almacenes")
        }
        _ => None,
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

    #[test]
    fn un_backend_caido_es_una_linea_que_no_manda_a_estado_desde_estado() {
        let e = Error::BackendCaido {
            backend: "Redis",
            direccion: "redis://127.0.0.1:1".into(),
            detalle: "conexión rechazada".into(),
        };
        let fuera = lineas_de_error(&e, false);
        assert_eq!(fuera.len(), 1, "{fuera:?}");
        assert!(fuera[0].contains("conexión rechazada"), "{fuera:?}");
        assert!(fuera[0].contains("eventflow estado"), "{fuera:?}");
        let dentro = lineas_de_error(&e, true);
        assert_eq!(dentro.len(), 1);
        assert!(!dentro[0].contains("estado`"), "{dentro:?}");
    }
}
