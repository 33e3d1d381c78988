//! `eventflow usuarios|eventos importar <ARCHIVO|->`: turns the flags into import
//! options, opens the file, draws the progress and prints the summary. The import
//! itself (reading, batching, writing) is `crate::import`.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::cli::{Ctx, output};
use crate::error::{Error, Result};
use crate::import::{
    self, DestinoRechazos, Entidad, FileFormat, ImportOptions, ImportProgress, ImportSummary,
    ModoImport, PRIMEROS_RECHAZOS, RechazosJsonl, SinDestino,
};

/// How often the plain (non-terminal) progress line is printed.
const CADA: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatoArg {
    Csv,
    Jsonl,
    Json,
}

impl From<FormatoArg> for FileFormat {
    fn from(f: FormatoArg) -> Self {
        match f {
            FormatoArg::Csv => FileFormat::Csv,
            FormatoArg::Jsonl => FileFormat::Jsonl,
            FormatoArg::Json => FileFormat::Json,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModoArg {
    /// Inserta; una fila que ya existe se rechaza.
    Insertar,
    /// Actualiza la que ya existe (usuarios por email, eventos por nombre+fecha) o la inserta.
    Upsert,
}

impl From<ModoArg> for ModoImport {
    fn from(m: ModoArg) -> Self {
        match m {
            ModoArg::Insertar => ModoImport::Insertar,
            ModoArg::Upsert => ModoImport::Upsert,
        }
    }
}

/// Importa filas de un archivo CSV (con cabecera), JSON Lines o un array JSON.
#[derive(Debug, Args)]
pub struct ArgsImportar {
    /// Archivo a importar, o - para leer la entrada estándar (requiere --formato).
    #[arg(value_name = "ARCHIVO|-")]
    pub archivo: PathBuf,
    /// Formato del archivo [por defecto: según la extensión .csv, .jsonl, .json].
    #[arg(long, value_enum)]
    pub formato: Option<FormatoArg>,
    /// Qué hacer con las filas que ya existen.
    #[arg(long, value_enum, default_value_t = ModoArg::Insertar)]
    pub modo: ModoArg,
    /// Valida todas las filas sin escribir nada (ni conectarse a la base de datos).
    #[arg(long)]
    pub dry_run: bool,
    /// Guarda todas las filas rechazadas en RUTA, en JSON Lines, listas para corregir y reimportar.
    #[arg(long, value_name = "RUTA")]
    pub rechazos: Option<PathBuf>,
    /// Filas por escritura en la base de datos.
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub lote: u32,
}

/// What `-o json` prints: one object.
#[derive(Serialize)]
struct Informe<'a> {
    entidad: Entidad,
    archivo: String,
    formato: FileFormat,
    modo: ModoImport,
    dry_run: bool,
    #[serde(flatten)]
    resumen: &'a ImportSummary,
}

fn es_stdin(ruta: &Path) -> bool {
    ruta.as_os_str() == "-"
}

fn formato(args: &ArgsImportar) -> Result<FileFormat> {
    if let Some(f) = args.formato {
        return Ok(f.into());
    }
    if es_stdin(&args.archivo) {
        return Err(Error::Invalido(
            "la entrada estándar (-) no tiene extensión: indique --formato csv, jsonl o json"
                .into(),
        ));
    }
    FileFormat::por_extension(&args.archivo).ok_or_else(|| {
        Error::Invalido(format!(
            "no se reconoce el formato de {} por su extensión: indique --formato csv, jsonl o json",
            args.archivo.display()
        ))
    })
}

/// The source and, for a regular file, its size (for the ETA).
fn abrir(ruta: &Path) -> Result<(Box<dyn Read + Send>, Option<u64>)> {
    if es_stdin(ruta) {
        return Ok((Box::new(std::io::stdin()), None));
    }
    let f = File::open(ruta).map_err(|e| {
        Error::Invalido(match e.kind() {
            std::io::ErrorKind::NotFound => format!("no existe el archivo {}", ruta.display()),
            _ => format!("no se puede leer el archivo {}: {e}", ruta.display()),
        })
    })?;
    let meta = f.metadata().map_err(|e| {
        Error::Invalido(format!(
            "no se puede leer el archivo {}: {e}",
            ruta.display()
        ))
    })?;
    if meta.is_dir() {
        return Err(Error::Invalido(format!(
            "{} es un directorio, no un archivo",
            ruta.display()
        )));
    }
    Ok((Box::new(f), meta.is_file().then_some(meta.len())))
}

fn destino_rechazos(args: &ArgsImportar) -> Result<Box<dyn DestinoRechazos>> {
    let Some(ruta) = &args.rechazos else {
        return Ok(Box::new(SinDestino));
    };
    let misma = !es_stdin(&args.archivo)
        && matches!(
            (ruta.canonicalize(), args.archivo.canonicalize()),
            (Ok(a), Ok(b)) if a == b
        );
    if misma {
        return Err(Error::Invalido(format!(
            "--rechazos {} es el mismo archivo que se importa: elija otra ruta",
            ruta.display()
        )));
    }
    let f = File::create(ruta).map_err(|e| {
        Error::Invalido(format!(
            "no se puede crear el archivo de rechazos {}: {e}",
            ruta.display()
        ))
    })?;
    Ok(Box::new(RechazosJsonl(BufWriter::new(f))))
}

/// Imports users or events.
pub async fn run(entidad: Entidad, args: ArgsImportar, ctx: &Ctx) -> Result<()> {
    // Everything that can fail on the command line fails before any connection.
    let formato = formato(&args)?;
    let (origen, total) = abrir(&args.archivo)?;
    let mut rechazos = destino_rechazos(&args)?;
    let opciones = ImportOptions {
        formato,
        modo: args.modo.into(),
        dry_run: args.dry_run,
        lote: args.lote as usize,
    };
    let alm = if args.dry_run {
        None
    } else {
        Some(ctx.almacen().await?)
    };
    let progreso = progreso(total, args.dry_run);
    let resumen = import::importar(
        entidad,
        alm,
        origen,
        &opciones,
        progreso.as_ref(),
        rechazos.as_mut(),
    )
    .await?;
    drop(rechazos);

    avisos(&resumen, &args);
    let informe = Informe {
        entidad,
        archivo: if es_stdin(&args.archivo) {
            "-".to_owned()
        } else {
            args.archivo.display().to_string()
        },
        formato,
        modo: opciones.modo,
        dry_run: args.dry_run,
        resumen: &resumen,
    };
    output::informe(ctx.formato, &informe, &filas(&informe))?;
    rechazadas(&resumen, args.rechazos.as_deref())
}

/// The notices on stderr after an import: the first rejections, the read-only fields
/// ignored, and that a dry run wrote nothing.
fn avisos(resumen: &ImportSummary, args: &ArgsImportar) {
    mostrar_rechazos(resumen, args.rechazos.as_deref());
    if !resumen.ignoradas.is_empty() {
        output::aviso(&format!(
            "se ignoraron los campos de solo lectura: {}",
            resumen.ignoradas.join(", ")
        ));
    }
    if args.dry_run {
        output::aviso("simulación (--dry-run): no se escribió nada");
    }
}

/// The table rows of the summary; `-o json` prints the same `Informe` whole.
fn filas(i: &Informe<'_>) -> Vec<(String, String)> {
    let r = i.resumen;
    let mut filas = vec![
        ("entidad".to_owned(), i.entidad.as_str().to_owned()),
        ("archivo".to_owned(), i.archivo.clone()),
        ("formato".to_owned(), i.formato.as_str().to_owned()),
        (
            "modo".to_owned(),
            match i.modo {
                ModoImport::Insertar => "insertar",
                ModoImport::Upsert => "upsert",
            }
            .to_owned(),
        ),
        ("leídas".to_owned(), r.leidas.to_string()),
    ];
    if i.dry_run {
        filas.push(("válidas".to_owned(), r.validas.to_string()));
    } else {
        filas.push(("insertadas".to_owned(), r.insertadas.to_string()));
        filas.push(("actualizadas".to_owned(), r.actualizadas.to_string()));
    }
    filas.push(("rechazadas".to_owned(), r.rechazadas.to_string()));
    filas.push(("tiempo".to_owned(), format!("{:.2} s", r.segundos)));
    filas.push(("filas/s".to_owned(), format!("{:.0}", r.filas_por_segundo)));
    filas
}

/// `FilasRechazadas` (exit 8) when any row was refused, saying where they all are or
/// how to keep them; `ruta` is `--rechazos`.
fn rechazadas(resumen: &ImportSummary, ruta: Option<&Path>) -> Result<()> {
    if resumen.rechazadas == 0 {
        return Ok(());
    }
    let donde = match ruta {
        Some(r) => format!(
            "corrija las filas de {} y vuelva a importarlas",
            r.display()
        ),
        None => "--rechazos RUTA las guarda todas, listas para corregir y reimportar".into(),
    };
    Err(Error::FilasRechazadas(format!(
        "se rechazaron {} de {} filas: {donde}",
        resumen.rechazadas, resumen.leidas
    )))
}

fn mostrar_rechazos(resumen: &ImportSummary, ruta: Option<&Path>) {
    for r in &resumen.primeros_rechazos {
        match &r.campo {
            Some(c) => output::aviso(&format!("línea {}, campo {c}: {}", r.linea, r.motivo)),
            None => output::aviso(&format!("línea {}: {}", r.linea, r.motivo)),
        }
    }
    let resto = resumen.rechazadas.saturating_sub(PRIMEROS_RECHAZOS as u64);
    if resto > 0 {
        output::aviso(&match ruta {
            Some(p) => format!("… y {resto} rechazos más (todos en {})", p.display()),
            None => format!("… y {resto} rechazos más (--rechazos RUTA los guarda todos)"),
        });
    }
}

fn progreso(total: Option<u64>, dry_run: bool) -> Box<dyn ImportProgress> {
    let verbo = if dry_run { "validadas" } else { "importadas" };
    if std::io::stderr().is_terminal() {
        Box::new(Barra::new(total, verbo))
    } else {
        Box::new(Lineas {
            inicio: Instant::now(),
            ultima: Mutex::new(Instant::now()),
            verbo,
        })
    }
}

fn ritmo(filas: u64, inicio: Instant) -> f64 {
    let s = inicio.elapsed().as_secs_f64();
    if s > 0.0 { filas as f64 / s } else { 0.0 }
}

/// An indicatif bar on a terminal: by bytes with an ETA when the size is known, a
/// spinner otherwise (stdin).
struct Barra {
    barra: ProgressBar,
    inicio: Instant,
    verbo: &'static str,
}

impl Barra {
    fn new(total: Option<u64>, verbo: &'static str) -> Self {
        let barra = match total {
            Some(t) => {
                let b = ProgressBar::new(t);
                // Two lines, so the bar keeps its width on an 80-column terminal.
                if let Ok(s) = ProgressStyle::with_template(
                    "[{bar:30}] {bytes}/{total_bytes} ({percent}%) · quedan {eta}\n{spinner} {msg}",
                ) {
                    b.set_style(s.progress_chars("=> "));
                }
                b
            }
            None => {
                let b = ProgressBar::new_spinner();
                if let Ok(s) = ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}") {
                    b.set_style(s);
                }
                b
            }
        };
        barra.enable_steady_tick(Duration::from_millis(200));
        Self {
            barra,
            inicio: Instant::now(),
            verbo,
        }
    }
}

impl ImportProgress for Barra {
    fn avance(&self, filas: u64, bytes: u64) {
        self.barra.set_position(bytes);
        self.barra.set_message(format!(
            "{} {filas} filas ({:.0} filas/s)",
            self.verbo,
            ritmo(filas, self.inicio)
        ));
    }
    fn fin(&self) {
        self.barra.finish_and_clear();
    }
}

/// Plain lines for logs and pipes, at most one every `CADA`.
struct Lineas {
    inicio: Instant,
    ultima: Mutex<Instant>,
    verbo: &'static str,
}

impl ImportProgress for Lineas {
    fn avance(&self, filas: u64, _bytes: u64) {
        let Ok(mut ultima) = self.ultima.lock() else {
            return;
        };
        if ultima.elapsed() >= CADA {
            *ultima = Instant::now();
            output::aviso(&format!(
                "{} {filas} filas ({:.0} filas/s)",
                self.verbo,
                ritmo(filas, self.inicio)
            ));
        }
    }
    fn fin(&self) {}
}
