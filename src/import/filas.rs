//! The reader side: parsed rows, batches, and the in-file duplicate check, produced on
//! the reader thread.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use self::campos::Tipo;
use self::lector::{Contador, FinLectura, Leido};
use crate::error::Result;
pub use crate::store::ModoImport;

use super::*;

pub(super) struct Fila<N> {
    pub(super) linea: u64,
    pub(super) nuevo: N,
}

/// One batch from the reader, with the rows it refused along the way.
pub(super) struct Mensaje<N> {
    pub(super) filas: Vec<Fila<N>>,
    pub(super) rechazos: Vec<RejectedRow>,
    pub(super) leidas: u64,
    /// Bytes taken from the source so far.
    pub(super) bytes: u64,
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
pub(super) enum Duplicados {
    Archivo(HashMap<u64, u64>),
    Lote(HashSet<u64>),
}

pub(super) enum Visto {
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

/// Where one row read goes.
enum Destino<N> {
    /// Refused, with the reason.
    Rechazada(RejectedRow),
    /// Into the current batch.
    Lote(N),
    /// Into a new batch: its key is already in the current one (upsert mode).
    LoteNuevo(N),
}

/// Builds, validates and de-duplicates the row at `linea`; `formato` names positions
/// in the messages. A row that goes into a batch has its keys recorded in `dups`, except
/// a `LoteNuevo` one, recorded once its new batch begins.
fn destino<T: Tipo>(
    linea: u64, leido: Leido<'_>, dups: &mut Duplicados, formato: FileFormat,
) -> Destino<T::Nuevo> {
    let r = match leido {
        Leido::Malo {
            campo,
            motivo,
            registro,
        } => {
            return Destino::Rechazada(RejectedRow {
                linea,
                campo,
                motivo,
                registro,
            });
        }
        Leido::Registro(r) => r,
    };
    let nuevo = match T::construir(r) {
        Ok(nuevo) => nuevo,
        Err(p) => {
            return Destino::Rechazada(RejectedRow {
                linea,
                campo: p.campo,
                motivo: p.motivo,
                registro: r.a_json(),
            });
        }
    };
    match dups.ver(linea, &T::claves(&nuevo)) {
        Visto::Repetido(campo, previa) => Destino::Rechazada(RejectedRow {
            linea,
            campo: Some(campo.to_owned()),
            motivo: format!(
                "{} está repetido en el archivo: ya aparece en {} {previa}",
                T::valor_clave(&nuevo, campo),
                formato.posicion()
            ),
            registro: r.a_json(),
        }),
        Visto::EnLote => Destino::LoteNuevo(nuevo),
        Visto::Nuevo => Destino::Lote(nuevo),
    }
}

/// The reader side, on its own thread: parse, validate, de-duplicate, batch, send.
/// Returns when the source ends or the writer has gone away.
pub(super) fn producir<T: Tipo>(
    origen: impl Read, opciones: ImportOptions, tx: mpsc::Sender<Mensaje<T::Nuevo>>,
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
            let rechazo = match destino::<T>(linea, leido, &mut dups, opciones.formato) {
                Destino::Rechazada(r) => Some(r),
                Destino::LoteNuevo(nuevo) => {
                    if enviar(&mut actual).is_break() {
                        return ControlFlow::Break(());
                    }
                    dups.lote_enviado();
                    dups.ver(linea, &T::claves(&nuevo));
                    actual.filas.push(Fila { linea, nuevo });
                    None
                }
                Destino::Lote(nuevo) => {
                    actual.filas.push(Fila { linea, nuevo });
                    None
                }
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
