//! Bulk import of users and events from CSV, JSON Lines or a JSON array, in batches.
//! A reader thread parses and validates rows and hands batches over a bounded channel to
//! the writer, so parsing overlaps with writing and memory stays flat whatever the file
//! size. Progress is reported through `Progreso`; drawing it is the CLI's business.
//!
//! ```text
//!  file ─▶ reader thread ──(batches, channel of 2)──▶ writer ─▶ UsuarioStore / EventoStore::importar
//!          parse · validate · in-file duplicates          └──▶ seat counters (events)
//! ```

mod esquema;
mod estricto;
#[cfg(test)]
mod fuzz;
mod lector;

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use self::esquema::{Eventos, Tipo, Usuarios};
use self::lector::{Contador, FinLectura, Leido};
use crate::error::{Error, Result};
pub use crate::store::ModoImport;
use crate::store::{Almacen, ResultadoLote};

/// How many rejections `Resumen` keeps for the CLI to show; the rest go to
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
pub enum Formato {
    /// A header line with the field names, then one row per line.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// One top-level JSON array of objects.
    Json,
}

impl Formato {
    /// From the extension: `.csv`, `.jsonl` / `.ndjson`, `.json` (any case).
    pub fn por_extension(ruta: &Path) -> Option<Formato> {
        let ext = ruta.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Formato::Csv),
            "jsonl" | "ndjson" => Some(Formato::Jsonl),
            "json" => Some(Formato::Json),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Formato::Csv => "csv",
            Formato::Jsonl => "jsonl",
            Formato::Json => "json",
        }
    }

    /// What a position is called: a file line, or the ordinal of an array element.
    fn posicion(self) -> &'static str {
        match self {
            Formato::Json => "el registro",
            Formato::Csv | Formato::Jsonl => "la línea",
        }
    }
}

/// How to import.
#[derive(Debug, Clone, Copy)]
pub struct Opciones {
    pub formato: Formato,
    pub modo: ModoImport,
    /// Validate everything, write nothing and connect to nothing.
    pub dry_run: bool,
    /// Rows per store call.
    pub lote: usize,
}

/// Progress of an import: rows read so far and bytes taken from the source.
pub trait Progreso: Send + Sync {
    fn avance(&self, filas: u64, bytes: u64);
    fn fin(&self);
}

/// For callers that show no progress.
pub struct SinProgreso;

impl Progreso for SinProgreso {
    fn avance(&self, _: u64, _: u64) {}
    fn fin(&self) {}
}

/// A rejected row: where it is, what to fix, and the row itself, ready to be fixed and
/// imported again (`jq -c .registro rechazos.jsonl > arreglar.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rechazo {
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
    fn rechazo(&mut self, r: &Rechazo) -> io::Result<()>;
    fn terminar(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Rejections as JSON Lines: one `{linea, campo, motivo, registro}` object per line.
pub struct RechazosJsonl<W: Write + Send>(pub W);

impl<W: Write + Send> DestinoRechazos for RechazosJsonl<W> {
    fn rechazo(&mut self, r: &Rechazo) -> io::Result<()> {
        serde_json::to_writer(&mut self.0, r)?;
        self.0.write_all(b"\n")
    }
    fn terminar(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Keeps no rejection beyond what `Resumen` holds.
pub struct SinDestino;

impl DestinoRechazos for SinDestino {
    fn rechazo(&mut self, _: &Rechazo) -> io::Result<()> {
        Ok(())
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Resumen {
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
    pub primeros_rechazos: Vec<Rechazo>,
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
    entidad: Entidad,
    alm: Option<&Almacen>,
    origen: R,
    opciones: &Opciones,
    progreso: &dyn Progreso,
    rechazos: &mut dyn DestinoRechazos,
) -> Result<Resumen> {
    match entidad {
        Entidad::Usuarios => {
            importar_de::<Usuarios, R>(alm, origen, opciones, progreso, rechazos).await
        }
        Entidad::Eventos => {
            importar_de::<Eventos, R>(alm, origen, opciones, progreso, rechazos).await
        }
    }
}

struct Fila<N> {
    linea: u64,
    nuevo: N,
}

/// One batch from the reader, with the rows it refused along the way.
struct Mensaje<N> {
    filas: Vec<Fila<N>>,
    rechazos: Vec<Rechazo>,
    leidas: u64,
    /// Bytes taken from the source so far.
    bytes: u64,
}

impl<N> Mensaje<N> {
    fn new(lote: usize) -> Self {
        Self {
            filas: Vec::with_capacity(lote),
            rechazos: Vec::new(),
            leidas: 0,
            bytes: 0,
        }
    }
}

/// The in-file duplicate check. Insert mode remembers every key of the file (its 64-bit
/// fingerprint and line, 16 bytes a row); upsert only needs the current batch's keys, to
/// keep a repeated key out of the batch that holds the first one, which makes the later
/// row apply after the earlier one.
enum Duplicados {
    Archivo(HashMap<u64, u64>),
    Lote(HashSet<u64>),
}

enum Visto {
    Nuevo,
    /// Insert mode: the key of field `.0` was first seen at position `.1`.
    Repetido(&'static str, u64),
    /// Upsert mode: the key is already in the current batch.
    EnLote,
}

impl Duplicados {
    fn new(modo: ModoImport) -> Self {
        match modo {
            ModoImport::Insertar => Self::Archivo(HashMap::new()),
            ModoImport::Upsert => Self::Lote(HashSet::new()),
        }
    }

    /// Checks the row's keys and, unless repeated, records them.
    fn ver(&mut self, linea: u64, claves: &[(&'static str, u64)]) -> Visto {
        match self {
            Self::Archivo(m) => {
                if let Some((campo, previa)) =
                    claves.iter().find_map(|(c, h)| m.get(h).map(|l| (*c, *l)))
                {
                    return Visto::Repetido(campo, previa);
                }
                m.extend(claves.iter().map(|(_, h)| (*h, linea)));
                Visto::Nuevo
            }
            Self::Lote(s) => {
                if claves.iter().any(|(_, h)| s.contains(h)) {
                    return Visto::EnLote;
                }
                s.extend(claves.iter().map(|(_, h)| *h));
                Visto::Nuevo
            }
        }
    }

    fn lote_enviado(&mut self) {
        if let Self::Lote(s) = self {
            s.clear();
        }
    }
}

/// The reader side, on its own thread: parse, validate, de-duplicate, batch, send.
/// Returns when the source ends or the writer has gone away.
fn producir<T: Tipo>(
    origen: impl Read,
    opciones: Opciones,
    tx: mpsc::Sender<Mensaje<T::Nuevo>>,
    leidos: Arc<AtomicU64>,
) -> Result<FinLectura> {
    let lote = opciones.lote.max(1);
    let mut dups = Duplicados::new(opciones.modo);
    let mut actual = Mensaje::new(lote);
    let enviar = |m: &mut Mensaje<T::Nuevo>| -> ControlFlow<()> {
        let mut listo = std::mem::replace(m, Mensaje::new(lote));
        listo.bytes = leidos.load(Ordering::Relaxed);
        match tx.blocking_send(listo) {
            Ok(()) => ControlFlow::Continue(()),
            Err(_) => ControlFlow::Break(()),
        }
    };
    let fin = lector::leer(
        opciones.formato,
        Contador::new(origen, leidos.clone()),
        &T::ESQUEMA,
        &mut |linea, leido| {
            let rechazo = match leido {
                Leido::Malo {
                    campo,
                    motivo,
                    registro,
                } => Some(Rechazo {
                    linea,
                    campo,
                    motivo,
                    registro,
                }),
                Leido::Registro(r) => match T::construir(r) {
                    Err(p) => Some(Rechazo {
                        linea,
                        campo: p.campo,
                        motivo: p.motivo,
                        registro: r.a_json(),
                    }),
                    Ok(nuevo) => match dups.ver(linea, &T::claves(&nuevo)) {
                        Visto::Repetido(campo, previa) => Some(Rechazo {
                            linea,
                            campo: Some(campo.to_owned()),
                            motivo: format!(
                                "{} está repetido en el archivo: ya aparece en {} {previa}",
                                T::valor_clave(&nuevo, campo),
                                opciones.formato.posicion()
                            ),
                            registro: r.a_json(),
                        }),
                        Visto::EnLote => {
                            if enviar(&mut actual).is_break() {
                                return ControlFlow::Break(());
                            }
                            dups.lote_enviado();
                            dups.ver(linea, &T::claves(&nuevo));
                            actual.filas.push(Fila { linea, nuevo });
                            None
                        }
                        Visto::Nuevo => {
                            actual.filas.push(Fila { linea, nuevo });
                            None
                        }
                    },
                },
            };
            actual.leidas += 1;
            actual.rechazos.extend(rechazo);
            if actual.filas.len() >= lote || actual.rechazos.len() >= lote {
                if enviar(&mut actual).is_break() {
                    return ControlFlow::Break(());
                }
                dups.lote_enviado();
            }
            ControlFlow::Continue(())
        },
    )?;
    if actual.leidas > 0 {
        let _ = enviar(&mut actual);
    }
    Ok(fin)
}

/// Running totals of the writer.
struct Avance<'a> {
    resumen: Resumen,
    /// Position of the last row of the last batch the store confirmed.
    hasta: u64,
    rechazos: &'a mut dyn DestinoRechazos,
}

impl Avance<'_> {
    fn rechazar(&mut self, r: Rechazo) -> Result<()> {
        self.resumen.rechazadas += 1;
        self.rechazos.rechazo(&r).map_err(error_rechazos)?;
        if self.resumen.primeros_rechazos.len() < PRIMEROS_RECHAZOS {
            self.resumen.primeros_rechazos.push(r);
        }
        Ok(())
    }

    fn guardadas(&self) -> u64 {
        self.resumen.insertadas + self.resumen.actualizadas
    }
}

fn error_rechazos(e: io::Error) -> Error {
    Error::Interno(anyhow::Error::new(e).context("escribir el archivo de rechazos"))
}

async fn importar_de<T: Tipo, R: Read + Send + 'static>(
    alm: Option<&Almacen>,
    origen: R,
    opciones: &Opciones,
    progreso: &dyn Progreso,
    rechazos: &mut dyn DestinoRechazos,
) -> Result<Resumen> {
    let alm = match (alm, opciones.dry_run) {
        (_, true) => None,
        (Some(a), false) => Some(a),
        (None, false) => {
            return Err(Error::Interno(anyhow::anyhow!(
                "importar sin almacén solo se permite con dry_run"
            )));
        }
    };
    let inicio = Instant::now();
    let (tx, mut rx) = mpsc::channel::<Mensaje<T::Nuevo>>(PROFUNDIDAD_CANAL);
    let (fin_tx, fin_rx) = oneshot::channel();
    let leidos = Arc::new(AtomicU64::new(0));
    let opts = *opciones;
    // A plain thread, not `spawn_blocking`: a runtime waits for its blocking tasks when
    // it shuts down, and a reader stuck on a silent stdin would keep the process alive
    // after a failed import.
    std::thread::Builder::new()
        .name("importar-lector".into())
        .spawn(move || {
            let _ = fin_tx.send(producir::<T>(origen, opts, tx, leidos));
        })
        .map_err(|e| Error::Interno(anyhow::Error::new(e).context("arrancar el lector")))?;

    let mut av = Avance {
        resumen: Resumen::default(),
        hasta: 0,
        rechazos,
    };
    while let Some(m) = rx.recv().await {
        av.resumen.leidas += m.leidas;
        av.resumen.validas += m.filas.len() as u64;
        let mut rechazos = m.rechazos;
        if let (Some(alm), false) = (alm, m.filas.is_empty()) {
            let nuevos: Vec<T::Nuevo> = m.filas.iter().map(|f| f.nuevo.clone()).collect();
            match T::escribir(alm, &nuevos, opciones.modo).await {
                Ok(r) => {
                    let ResultadoLote {
                        insertados,
                        actualizados,
                        rechazados,
                        ..
                    } = r;
                    av.resumen.insertadas += insertados;
                    av.resumen.actualizadas += actualizados;
                    av.hasta = m.filas.last().map_or(av.hasta, |f| f.linea);
                    rechazos.extend(rechazados.into_iter().filter_map(|(i, motivo)| {
                        let f = m.filas.get(i)?;
                        Some(Rechazo {
                            linea: f.linea,
                            campo: T::campo_de_rechazo(&motivo).map(str::to_owned),
                            registro: T::registro(&f.nuevo),
                            motivo,
                        })
                    }));
                }
                Err(e) => {
                    rechazos.sort_by_key(|r| r.linea);
                    for r in rechazos {
                        av.rechazar(r)?;
                    }
                    let _ = av.rechazos.terminar();
                    progreso.fin();
                    return Err(detenida(e, &av, opciones));
                }
            }
        }
        rechazos.sort_by_key(|r| r.linea);
        for r in rechazos {
            av.rechazar(r)?;
        }
        progreso.avance(av.resumen.leidas, m.bytes);
    }
    progreso.fin();
    av.rechazos.terminar().map_err(error_rechazos)?;
    let fin = match fin_rx.await {
        Ok(Ok(fin)) => fin,
        Ok(Err(e)) if av.guardadas() == 0 => return Err(e),
        Ok(Err(e)) => return Err(detenida(e, &av, opciones)),
        Err(_) => {
            return Err(Error::Interno(anyhow::anyhow!(
                "el lector del archivo terminó de forma inesperada"
            )));
        }
    };
    let mut resumen = av.resumen;
    resumen.ignoradas = fin.ignoradas.into_iter().collect();
    resumen.segundos = inicio.elapsed().as_secs_f64();
    resumen.filas_por_segundo = if resumen.segundos > 0.0 {
        resumen.leidas as f64 / resumen.segundos
    } else {
        0.0
    };
    Ok(resumen)
}

/// The error of an import that stopped half-way, saying what was stored and how to
/// finish. A backend that went away stays `BackendCaido` (exit 7).
fn detenida(e: Error, av: &Avance<'_>, opciones: &Opciones) -> Error {
    let hasta = if av.hasta > 0 {
        format!(
            " (hasta {} {} del archivo)",
            opciones.formato.posicion(),
            av.hasta
        )
    } else {
        String::new()
    };
    let nota = format!(
        "la importación se detuvo tras guardar {} filas confirmadas{hasta}; el lote en curso \
         pudo quedar a medias: vuelva a ejecutarla con --modo upsert para completarla sin \
         duplicar lo ya guardado",
        av.guardadas()
    );
    match e {
        Error::BackendCaido {
            backend,
            direccion,
            detalle,
        } => Error::BackendCaido {
            backend,
            direccion,
            detalle: format!("{detalle}; {nota}"),
        },
        Error::Interno(a) => Error::Interno(anyhow::anyhow!("{a:#}\n{nota}")),
        otro => Error::Interno(anyhow::anyhow!("{otro}\n{nota}")),
    }
}
