//! Batch writes shared by the user and event importers: `insert_many` with per-row
//! errors, and a multi-statement `update` command for upserts. Both report by index in
//! the caller's batch, so one bad row never hides what happened to the others.

use mongodb::bson::{Bson, Document, doc};
use mongodb::error::ErrorKind;
use serde::{Deserialize, Serialize};

use super::MongoStore;
use crate::config::redactar_texto;
use crate::error::{Error, Result};

/// Statements per `update` command. A statement is at most ~2.6 KB (three 200-character
/// texts of up to 4 bytes per character, plus keys), so 2000 stay far below the 16 MB
/// command limit that the driver does not split for `run_command`.
const SENTENCIAS_POR_COMANDO: usize = 2000;

/// A row the server refused: its index in the batch, its error code and message.
#[derive(Debug)]
pub(super) struct Fallo {
    pub indice: usize,
    pub codigo: i32,
    pub mensaje: String,
}

/// What an `insert_many` or upsert run did.
#[derive(Debug, Default)]
pub(super) struct Salida {
    pub insertados: u64,
    pub actualizados: u64,
    /// Batch index → `_id` of each upserted document (upserts only).
    pub upsertados: Vec<(usize, Bson)>,
    pub fallos: Vec<Fallo>,
}

/// One upsert statement of the `update` command.
pub(super) struct Sentencia {
    pub filtro: Document,
    pub cambios: Document,
}

#[derive(Deserialize)]
struct RespuestaUpdate {
    #[serde(default)]
    n: i64,
    #[serde(default)]
    upserted: Vec<Upsertado>,
    #[serde(default, rename = "writeErrors")]
    write_errors: Vec<ErrorEscritura>,
    #[serde(default, rename = "writeConcernError")]
    write_concern_error: Option<Document>,
}

#[derive(Deserialize)]
struct Upsertado {
    index: i64,
    #[serde(rename = "_id")]
    id: Bson,
}

#[derive(Deserialize)]
struct ErrorEscritura {
    index: i64,
    code: i32,
    #[serde(default)]
    errmsg: String,
}

impl MongoStore {
    /// Inserts `docs` unordered into `coleccion`: every row that can go in does.
    pub(super) async fn insertar_lote<T>(&self, coleccion: &str, docs: &[T]) -> Result<Salida>
    where
        T: Serialize + Send + Sync,
    {
        if docs.is_empty() {
            return Ok(Salida::default());
        }
        let total = docs.len() as u64;
        let resultado = self
            .db
            .collection::<T>(coleccion)
            .insert_many(docs)
            .ordered(false)
            .await;
        match resultado {
            Ok(_) => Ok(Salida {
                insertados: total,
                ..Salida::default()
            }),
            Err(e) => {
                let ErrorKind::InsertMany(im) = &*e.kind else {
                    return Err(self.fallo(e));
                };
                if let Some(wc) = &im.write_concern_error {
                    return Err(Error::Interno(anyhow::anyhow!(
                        "MongoDB no confirmó la escritura del lote: {}",
                        redactar_texto(&wc.message, &[&self.uri])
                    )));
                }
                let fallos: Vec<Fallo> = im
                    .write_errors
                    .iter()
                    .flatten()
                    .map(|w| Fallo {
                        indice: w.index,
                        codigo: w.code,
                        mensaje: w.message.clone(),
                    })
                    .collect();
                Ok(Salida {
                    insertados: total - fallos.len() as u64,
                    fallos,
                    ..Salida::default()
                })
            }
        }
    }

    /// Runs the statements as `update` commands with `upsert: true`, unordered. One
    /// command round trip per `SENTENCIAS_POR_COMANDO` rows, instead of one per row.
    pub(super) async fn upsert_lote(
        &self,
        coleccion: &str,
        sentencias: Vec<Sentencia>,
    ) -> Result<Salida> {
        let mut salida = Salida::default();
        let mut base = 0usize;
        let mut sentencias = sentencias.into_iter().peekable();
        while sentencias.peek().is_some() {
            let trozo: Vec<Document> = sentencias
                .by_ref()
                .take(SENTENCIAS_POR_COMANDO)
                .map(|s| doc! { "q": s.filtro, "u": s.cambios, "upsert": true })
                .collect();
            let cuantas = trozo.len();
            let respuesta = self
                .db
                .run_command(doc! { "update": coleccion, "updates": trozo, "ordered": false })
                .await
                .map_err(|e| self.fallo(e))?;
            let r: RespuestaUpdate = mongodb::bson::from_document(respuesta).map_err(|e| {
                Error::Interno(anyhow::anyhow!(
                    "respuesta inesperada de MongoDB a update: {e}"
                ))
            })?;
            if let Some(wc) = r.write_concern_error {
                return Err(Error::Interno(anyhow::anyhow!(
                    "MongoDB no confirmó la escritura del lote: {wc}"
                )));
            }
            let upsertados = r.upserted.len() as u64;
            salida.insertados += upsertados;
            salida.actualizados += (r.n.max(0) as u64).saturating_sub(upsertados);
            salida.upsertados.extend(
                r.upserted
                    .into_iter()
                    .map(|u| (base + u.index as usize, u.id)),
            );
            salida
                .fallos
                .extend(r.write_errors.into_iter().map(|w| Fallo {
                    indice: base + w.index as usize,
                    codigo: w.code,
                    mensaje: w.errmsg,
                }));
            base += cuantas;
        }
        Ok(salida)
    }
}
