//! The writer side: takes batches off the channel, writes them through the stores, and
//! keeps the progress and the summary.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use self::campos::Tipo;
use self::lector::FinLectura;
use crate::error::{Error, Result};
use crate::store::{Almacen, ResultadoLote};

use super::*;

/// Running totals of the writer.
pub(super) struct Avance<'a> {
    pub(super) resumen: ImportSummary,
    /// Position of the last row of the last batch the store confirmed.
    pub(super) hasta: u64,
    pub(super) rechazos: &'a mut dyn DestinoRechazos,
}

impl Avance<'_> {
    fn rechazar(&mut self, r: RejectedRow) -> Result<()> {
        self.resumen.rechazadas += 1;
        self.rechazos.rechazo(&r).map_err(error_rechazos)?;
        if self.resumen.primeros_rechazos.len() < PRIMEROS_RECHAZOS {
            self.resumen.primeros_rechazos.push(r);
        }
        Ok(())
    }

    /// Records `rechazos`, in file order.
    fn rechazar_todos(&mut self, mut rechazos: Vec<RejectedRow>) -> Result<()> {
        rechazos.sort_by_key(|r| r.linea);
        for r in rechazos {
            self.rechazar(r)?;
        }
        Ok(())
    }

    fn guardadas(&self) -> u64 {
        self.resumen.insertadas + self.resumen.actualizadas
    }
}

pub(super) fn error_rechazos(e: io::Error) -> Error {
    Error::Interno(anyhow::Error::new(e).context("escribir el archivo de rechazos"))
}

/// Imports `origen` with row type `T`: a reader thread parses and batches it (see
/// `producir`) while this task writes each batch through `alm` (none with `dry_run`),
/// reports progress and keeps the summary. A failed write stops the import with an error
/// that says what was stored (`detenida`).
pub(super) async fn importar_de<T: Tipo, R: Read + Send + 'static>(
    alm: Option<&Almacen>, origen: R, opciones: &ImportOptions, progreso: &dyn ImportProgress,
    rechazos: &mut dyn DestinoRechazos,
) -> Result<ImportSummary> {
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
    let (mut rx, fin_rx) = leer_en_hilo::<T, R>(origen, *opciones)?;
    let mut av = Avance {
        resumen: ImportSummary::default(),
        hasta: 0,
        rechazos,
    };
    while let Some(m) = rx.recv().await {
        av.resumen.leidas += m.leidas;
        av.resumen.validas += m.filas.len() as u64;
        let bytes = m.bytes;
        escribir_lote::<T>(alm, m, &mut av, opciones, progreso).await?;
        progreso.avance(av.resumen.leidas, bytes);
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

/// The writer's ends of a running reader: its batches, then its end (or the error
/// that stopped it).
type Lector<N> = (
    mpsc::Receiver<Mensaje<N>>,
    oneshot::Receiver<Result<FinLectura>>,
);

/// Starts the reader side on its own thread.
fn leer_en_hilo<T: Tipo, R: Read + Send + 'static>(
    origen: R, opciones: ImportOptions,
) -> Result<Lector<T::Nuevo>> {
    let (tx, rx) = mpsc::channel::<Mensaje<T::Nuevo>>(PROFUNDIDAD_CANAL);
    let (fin_tx, fin_rx) = oneshot::channel();
    let leidos = Arc::new(AtomicU64::new(0));
    // A plain thread, not `spawn_blocking`: a runtime waits for its blocking tasks when
    // it shuts down, and a reader stuck on a silent stdin would keep the process alive
    // after a failed import.
    std::thread::Builder::new()
        .name("importar-lector".into())
        .spawn(move || {
            let _ = fin_tx.send(producir::<T>(origen, opciones, tx, leidos));
        })
        .map_err(|e| Error::Interno(anyhow::Error::new(e).context("arrancar el lector")))?;
    Ok((rx, fin_rx))
}

/// Writes one batch from the reader through `alm` (not on a dry run) and records the
/// rows refused by the reader or the store, in file order. A failed write records the
/// reader's refusals, ends the progress and stops the import (`detenida`).
async fn escribir_lote<T: Tipo>(
    alm: Option<&Almacen>, m: Mensaje<T::Nuevo>, av: &mut Avance<'_>, opciones: &ImportOptions,
    progreso: &dyn ImportProgress,
) -> Result<()> {
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
                    Some(RejectedRow {
                        linea: f.linea,
                        campo: T::campo_de_rechazo(&motivo).map(str::to_owned),
                        registro: T::registro(&f.nuevo),
                        motivo,
                    })
                }));
            }
            Err(e) => {
                av.rechazar_todos(rechazos)?;
                let _ = av.rechazos.terminar();
                progreso.fin();
                return Err(detenida(e, av, opciones));
            }
        }
    }
    av.rechazar_todos(rechazos)
}

/// The error of an import that stopped half-way, saying what was stored and how to
/// finish. A backend that went away stays `BackendCaido` (exit 7).
pub(super) fn detenida(e: Error, av: &Avance<'_>, opciones: &ImportOptions) -> Error {
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
