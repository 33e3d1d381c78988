//! Batch writes shared by the user and event importers: `insert_many` with per-row
//! errors, and upserts as one lookup + `insert_many` for new rows + a multi-statement
//! `update` command for the rest. All report by index in the caller's batch, so one bad
//! row never hides what happened to the others.

use std::collections::{HashMap, HashSet};

use futures::TryStreamExt;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, Document, doc};
use mongodb::error::ErrorKind;
use serde::{Deserialize, Serialize};

use super::MongoStore;
use super::errores::es_clave_duplicada;
use crate::config::redactar_texto;
use crate::error::{Error, Result};

/// Rows per round trip of an upsert (keys per lookup, statements per `update` command).
/// A statement is at most ~2.6 KB (three 200-character texts of up to 4 bytes per
/// character, plus keys), so 2000 stay far below the 16 MB command limit, which the
/// driver does not split for `run_command` as it does for `insert_many`.
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
    /// Batch index → `_id` of each document an upsert inserted (upserts only).
    pub upsertados: Vec<(usize, ObjectId)>,
    pub fallos: Vec<Fallo>,
}

/// One row's upsert statement, in parts: `upsert_lote` adds the `_id` to the filter or
/// to `$setOnInsert` depending on whether the row is known to exist.
pub(super) struct Sentencia {
    /// Equality on the match key (`{email}`; `{nombre, fecha}`), plain values only.
    pub filtro: Document,
    pub set: Document,
    /// Fields of a new document that `set` does not write; never `_id`.
    pub set_on_insert: Document,
}

impl Sentencia {
    /// A known `_id` goes into the filter: NX resolves an update by `_id` through its
    /// primary key but scans the collection for any other filter (4000 updates by email
    /// took 7 s against 0.4 s by `_id`). The key stays in the filter, so a row whose key
    /// changed meanwhile is not overwritten. Without a known `_id`, the row's own one
    /// goes into `$setOnInsert`, so an insert gets an ObjectId on every server.
    fn componer(self, existente: Option<ObjectId>, propio: ObjectId) -> Document {
        let (filtro, al_insertar) = match existente {
            Some(id) => {
                let mut filtro = doc! { "_id": id };
                filtro.extend(self.filtro);
                (filtro, self.set_on_insert)
            }
            None => {
                let mut al_insertar = doc! { "_id": propio };
                al_insertar.extend(self.set_on_insert);
                (self.filtro, al_insertar)
            }
        };
        // MongoDB refuses an empty operator document.
        let mut cambios = Document::new();
        if !self.set.is_empty() {
            cambios.insert("$set", self.set);
        }
        if !al_insertar.is_empty() {
            cambios.insert("$setOnInsert", al_insertar);
        }
        doc! { "q": filtro, "u": cambios, "upsert": true }
    }
}

/// One row of an upsert, in both shapes it may be written in.
pub(super) struct FilaUpsert<T> {
    /// The `_id` the row gets if it is inserted (also the statement's `$setOnInsert`).
    pub id: ObjectId,
    /// The match key as text (email; nombre + fecha), to find existing rows.
    pub clave: String,
    /// The whole document, for rows that do not exist yet.
    pub nuevo: T,
    /// The upsert statement, for rows that exist (or appeared meanwhile).
    pub sentencia: Sentencia,
}

/// How an upsert finds which rows already exist.
pub(super) struct BusquedaClaves<'a, T> {
    /// The filter that finds the stored documents of these rows (plain `$in` on values).
    pub filtro: &'a (dyn Fn(&[FilaUpsert<T>]) -> Document + Sync),
    pub proyeccion: Document,
    /// The key of a stored document, comparable with `FilaUpsert::clave`.
    pub clave: &'a (dyn Fn(&Document) -> Option<String> + Sync),
    /// Whether an insert failure means "someone inserted this key meanwhile", so the row
    /// should go through the update statement instead of being refused.
    pub reintentar: &'a (dyn Fn(&Fallo) -> bool + Sync),
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

    /// Upserts `filas` unordered. Rows whose key is not stored yet go in with
    /// `insert_many`, the rest as upsert statements of one `update` command per
    /// `SENTENCIAS_POR_COMANDO` rows. Inserting new rows directly, not through upserts,
    /// matters on NX: there an upsert that inserts costs time proportional to the
    /// collection (4000 new rows took 18 s against 0.2 s for `insert_many`).
    pub(super) async fn upsert_lote<T>(
        &self, coleccion: &str, filas: Vec<FilaUpsert<T>>, busqueda: BusquedaClaves<'_, T>,
    ) -> Result<Salida>
    where
        T: Serialize + Send + Sync,
    {
        let mut salida = Salida::default();
        let mut filas = filas.into_iter().enumerate().peekable();
        while filas.peek().is_some() {
            let (indices, trozo): (Vec<usize>, Vec<FilaUpsert<T>>) =
                filas.by_ref().take(SENTENCIAS_POR_COMANDO).unzip();
            self.upsert_trozo(coleccion, &indices, trozo, &busqueda, &mut salida)
                .await?;
        }
        salida.fallos.sort_by_key(|f| f.indice);
        salida.upsertados.sort_by_key(|(i, _)| *i);
        Ok(salida)
    }

    /// Upserts one chunk of at most `SENTENCIAS_POR_COMANDO` rows (`indices[p]` is the
    /// batch index of `filas[p]`): rows whose key is new go in with `insert_many`, the
    /// rest, and the inserts that met a stored key, as one `update` command.
    ///
    /// With a unique index on the match key, a row that exists fails its insert and is
    /// retried as an update, so the lookup of stored keys can wait until some row does: a
    /// fresh load then costs one `insert_many`. It matters on NX, where the `$in` lookup
    /// grows with the collection (0.84 s per 20 000 missing keys at 40 000–60 000 stored
    /// rows, against 1.2 s for inserting them), which held upserts into an empty
    /// collection to ~45 % of plain inserts.
    async fn upsert_trozo<T>(
        &self, coleccion: &str, indices: &[usize], filas: Vec<FilaUpsert<T>>,
        busqueda: &BusquedaClaves<'_, T>, salida: &mut Salida,
    ) -> Result<()>
    where
        T: Serialize + Send + Sync,
    {
        let insertar_primero = match filas.first() {
            Some(f) => self.clave_unica(coleccion, &f.sentencia.filtro).await?,
            None => return Ok(()),
        };
        // Key → `_id` of the rows already stored, then of the rows this batch inserts.
        let mut guardadas: HashMap<String, ObjectId> = if insertar_primero {
            HashMap::new()
        } else {
            self.buscar_guardadas(coleccion, &filas, busqueda).await?
        };
        let (nuevas, mut existentes) = separar_nuevas(&filas, &guardadas);

        let docs: Vec<&T> = nuevas.iter().map(|&p| &filas[p].nuevo).collect();
        let insertadas = self.insertar_lote(coleccion, &docs).await?;
        // Inserted blind, a stored row can fail on any unique index (NX names the
        // document's when the row repeats both its email and its document), so every
        // duplicate goes through the update, which tells a real clash from itself.
        let reintentar = |f: &Fallo| {
            (insertar_primero && es_clave_duplicada(f.codigo)) || (busqueda.reintentar)(f)
        };
        let fallidas = repartir_fallos(insertadas.fallos, &nuevas, indices, reintentar, salida)?;
        for (posicion, &p) in nuevas.iter().enumerate() {
            match fallidas.get(&posicion) {
                None => {
                    let fila = &filas[p];
                    salida.insertados += 1;
                    salida.upsertados.push((indices[p], fila.id));
                    guardadas.insert(fila.clave.clone(), fila.id);
                }
                Some(true) => existentes.push(p),
                Some(false) => {}
            }
        }

        if existentes.is_empty() {
            return Ok(());
        }
        if insertar_primero {
            guardadas = self.buscar_guardadas(coleccion, &filas, busqueda).await?;
        }
        let (ids, sentencias) = componer_sentencias(filas, existentes, &guardadas, indices);
        let respuesta = self.actualizar_lote(coleccion, sentencias).await?;
        anotar_update(respuesta, &ids, salida)
    }

    /// Sends `sentencias` as one unordered `update` command and reads its answer. A write
    /// concern error fails the whole chunk; per-row errors stay in the answer.
    async fn actualizar_lote(
        &self, coleccion: &str, sentencias: Vec<Document>,
    ) -> Result<RespuestaUpdate> {
        let respuesta = self
            .db
            .run_command(doc! { "update": coleccion, "updates": sentencias, "ordered": false })
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
        Ok(r)
    }
}

/// Splits the positions of `filas` into those to insert (key neither stored nor seen
/// earlier in the chunk) and those to update. A key seen earlier in the chunk is an
/// update of that row, as if the rows were applied in order.
fn separar_nuevas<T>(
    filas: &[FilaUpsert<T>], guardadas: &HashMap<String, ObjectId>,
) -> (Vec<usize>, Vec<usize>) {
    let mut vistas: HashSet<&str> = guardadas.keys().map(String::as_str).collect();
    let (mut nuevas, mut existentes) = (Vec::new(), Vec::new());
    for (posicion, fila) in filas.iter().enumerate() {
        if vistas.insert(fila.clave.as_str()) {
            nuevas.push(posicion);
        } else {
            existentes.push(posicion);
        }
    }
    (nuevas, existentes)
}

/// Sorts the failed inserts of `nuevas` (positions in the chunk): those `reintentar`
/// accepts go on to the update, the rest are refused into `salida` under their batch
/// index. Returns position in `nuevas` → whether it is retried.
fn repartir_fallos(
    fallos: Vec<Fallo>, nuevas: &[usize], indices: &[usize], reintentar: impl Fn(&Fallo) -> bool,
    salida: &mut Salida,
) -> Result<HashMap<usize, bool>> {
    let mut fallidas: HashMap<usize, bool> = HashMap::new();
    for f in fallos {
        let posicion = f.indice;
        let Some(&p) = nuevas.get(posicion) else {
            return Err(fuera_de_lote(posicion));
        };
        let f = Fallo {
            indice: indices[p],
            ..f
        };
        let reintentar = reintentar(&f);
        if !reintentar {
            salida.fallos.push(f);
        }
        fallidas.insert(posicion, reintentar);
    }
    Ok(fallidas)
}

/// The update statements of the rows at positions `existentes`, in order, each with the
/// `_id` it is known by (batch index, stored `_id` or the row's own), by statement index.
fn componer_sentencias<T>(
    filas: Vec<FilaUpsert<T>>, mut existentes: Vec<usize>, guardadas: &HashMap<String, ObjectId>,
    indices: &[usize],
) -> (Vec<(usize, ObjectId)>, Vec<Document>) {
    existentes.sort_unstable();
    let mut filas: Vec<Option<FilaUpsert<T>>> = filas.into_iter().map(Some).collect();
    let mut ids: Vec<(usize, ObjectId)> = Vec::with_capacity(existentes.len());
    let mut sentencias: Vec<Document> = Vec::with_capacity(existentes.len());
    for p in existentes {
        let Some(fila) = filas[p].take() else {
            continue;
        };
        let existente = guardadas.get(&fila.clave).copied();
        ids.push((indices[p], existente.unwrap_or(fila.id)));
        sentencias.push(fila.sentencia.componer(existente, fila.id));
    }
    (ids, sentencias)
}

/// Adds an `update` command's answer to `salida`; `ids` maps its statement indices to
/// (batch index, `_id`), as `componer_sentencias` built them.
fn anotar_update(r: RespuestaUpdate, ids: &[(usize, ObjectId)], salida: &mut Salida) -> Result<()> {
    let upsertados = r.upserted.len() as u64;
    salida.insertados += upsertados;
    salida.actualizados += (r.n.max(0) as u64).saturating_sub(upsertados);
    let fila = |i: i64| {
        usize::try_from(i)
            .ok()
            .and_then(|i| ids.get(i).copied())
            .ok_or_else(|| fuera_de_lote(i))
    };
    for u in r.upserted {
        // The `_id` is our own `$setOnInsert`; a server that reports it as text still
        // wrote ours.
        let (indice, propio) = fila(u.index)?;
        let id = match u.id {
            Bson::ObjectId(o) => o,
            _ => propio,
        };
        salida.upsertados.push((indice, id));
    }
    for w in r.write_errors {
        salida.fallos.push(Fallo {
            indice: fila(w.index)?.0,
            codigo: w.code,
            mensaje: w.errmsg,
        });
    }
    Ok(())
}

impl MongoStore {
    /// Key → `_id` of the stored documents that match `filas`.
    async fn buscar_guardadas<T>(
        &self, coleccion: &str, filas: &[FilaUpsert<T>], busqueda: &BusquedaClaves<'_, T>,
    ) -> Result<HashMap<String, ObjectId>> {
        Ok(self
            .db
            .collection::<Document>(coleccion)
            .find((busqueda.filtro)(filas))
            .projection(busqueda.proyeccion.clone())
            .await
            .map_err(|e| self.fallo(e))?
            .try_collect::<Vec<Document>>()
            .await
            .map_err(|e| self.fallo(e))?
            .iter()
            .filter_map(|d| Some(((busqueda.clave)(d)?, d.get_object_id("_id").ok()?)))
            .collect())
    }

    /// Whether a unique, non-partial index has exactly the fields of `filtro` (the
    /// email of users; events have none), so that no two documents share a match key.
    async fn clave_unica(&self, coleccion: &str, filtro: &Document) -> Result<bool> {
        let campos: HashSet<&str> = filtro.keys().map(String::as_str).collect();
        let indices: Vec<mongodb::IndexModel> = self
            .db
            .collection::<Document>(coleccion)
            .list_indexes()
            .await
            .map_err(|e| self.fallo(e))?
            .try_collect()
            .await
            .map_err(|e| self.fallo(e))?;
        Ok(indices.iter().any(|i| {
            let unico = i
                .options
                .as_ref()
                .is_some_and(|o| o.unique == Some(true) && o.partial_filter_expression.is_none());
            unico
                && i.keys.len() == campos.len()
                && i.keys.keys().all(|k| campos.contains(k.as_str()))
        }))
    }
}

fn fuera_de_lote(indice: impl std::fmt::Display) -> Error {
    Error::Interno(anyhow::anyhow!(
        "MongoDB informó de una fila {indice} que no está en el lote"
    ))
}
