//! MongoDB: users (`usuarios`) and events with their read model (`eventos`).
//! Everything here must also run on NX-27017, the wire-compatible server the tests use,
//! so it sticks to operations that behave the same on both (the NX quirks are noted
//! where they shaped the code).

mod documentos;
mod errores;
mod eventos;
mod lote;
mod tokens;
mod usuarios;

use std::time::Duration;

use async_trait::async_trait;
use mongodb::bson::{Document, doc};
use mongodb::options::{
    Acknowledgment, ClientOptions, CollectionOptions, IndexOptions, ReadPreference,
    SelectionCriteria, WriteConcern,
};
use mongodb::{Client, Collection, Database, IndexModel};

use crate::config::{LecturaMongo, Uri, redactar_texto};
use crate::error::{Error, Result};
use crate::store::StoreHealth;

/// Without these a server that is down takes the driver's 30 s default to fail; the
/// CLI contract wants `BackendCaido` (exit 7) in about two seconds.
const PLAZO_POR_DEFECTO: Duration = Duration::from_secs(2);

/// Users and events in one MongoDB database. Cheap to clone: the driver's client is
/// a handle to a shared pool.
#[derive(Clone)]
pub struct MongoStore {
    db: Database,
    usuarios: Collection<Document>,
    eventos: Collection<Document>,
    tokens: Collection<Document>,
    /// Kept to redact driver messages and to say where the server was.
    uri: Uri,
}

impl MongoStore {
    /// Connects and makes sure the indexes exist. Creating them is idempotent and is
    /// also the connectivity check: a server that is down fails here, within ~2 s.
    pub async fn conectar(uri: &Uri, db: &str) -> Result<MongoStore> {
        let mut opciones = ClientOptions::parse(uri.expose())
            .await
            .map_err(|e| match *e.kind {
                mongodb::error::ErrorKind::InvalidArgument { .. } => Error::Invalido(format!(
                    "uri de MongoDB inválida {}: {}",
                    uri.redactada(),
                    redactar_texto(&e.to_string(), &[uri])
                )),
                _ => errores::mapear(e, uri),
            })?;
        opciones
            .server_selection_timeout
            .get_or_insert(PLAZO_POR_DEFECTO);
        opciones.connect_timeout.get_or_insert(PLAZO_POR_DEFECTO);
        opciones.app_name.get_or_insert_with(|| "eventflow".into());
        // A network error mid-write is retried once by the driver (the server dedupes it).
        opciones.retry_writes.get_or_insert(true);
        let cliente = Client::with_options(opciones).map_err(|e| errores::mapear(e, uri))?;
        let db = cliente.database(db);
        // Users (their purchase histories) and events (their read model) are written with
        // `w: majority` and journaling, stated here rather than left to server defaults: a
        // history entry the saga was told is stored survives the loss of the primary.
        let mayoria = CollectionOptions::builder()
            .write_concern(
                WriteConcern::builder()
                    .w(Acknowledgment::Majority)
                    .journal(true)
                    .build(),
            )
            .build();
        let store = MongoStore {
            usuarios: db.collection_with_options("usuarios", mayoria.clone()),
            eventos: db.collection_with_options("eventos", mayoria),
            tokens: db.collection("tokens"),
            db,
            uri: uri.clone(),
        };
        store.crear_indices().await?;
        Ok(store)
    }

    /// The same store for AP reads (listings and `ver`): with `SecundarioPreferido` they go
    /// to a secondary when one is up and may miss the latest writes; `Primario` forces the
    /// primary whatever the URI's `readPreference` says. Writes are unchanged.
    pub fn para_lectura(&self, lectura: LecturaMongo) -> MongoStore {
        let preferencia = match lectura {
            LecturaMongo::Primario => ReadPreference::Primary,
            LecturaMongo::SecundarioPreferido => {
                ReadPreference::SecondaryPreferred { options: None }
            }
        };
        let opciones = || {
            CollectionOptions::builder()
                .selection_criteria(SelectionCriteria::ReadPreference(preferencia.clone()))
                .build()
        };
        MongoStore {
            usuarios: self.db.collection_with_options("usuarios", opciones()),
            eventos: self.db.collection_with_options("eventos", opciones()),
            ..self.clone()
        }
    }

    async fn crear_indices(&self) -> Result<()> {
        let unico = || IndexOptions::builder().unique(true);
        self.usuarios
            .create_indexes([
                IndexModel::builder()
                    .keys(doc! { "email": 1 })
                    .options(unico().build())
                    .build(),
                // Partial, so users without a document never clash with each other (real
                // MongoDB indexes a missing field as null and would reject the second one).
                IndexModel::builder()
                    .keys(doc! { "tipo_documento": 1, "nro_documento": 1 })
                    .options(
                        unico()
                            .partial_filter_expression(
                                doc! { "tipo_documento": { "$exists": true } },
                            )
                            .build(),
                    )
                    .build(),
            ])
            .await
            .map_err(|e| self.fallo(e))?;
        self.eventos
            .create_index(
                IndexModel::builder()
                    .keys(doc! { "nombre": 1, "fecha": 1 })
                    .build(),
            )
            .await
            .map_err(|e| self.fallo(e))?;
        Ok(())
    }

    /// Maps a driver error that has no domain meaning at the call site.
    fn fallo(&self, e: mongodb::error::Error) -> Error {
        errores::mapear(e, &self.uri)
    }
}

#[async_trait]
impl StoreHealth for MongoStore {
    async fn ping(&self) -> Result<String> {
        let info = self
            .db
            .client()
            .database("admin")
            .run_command(doc! { "buildInfo": 1 })
            .await
            .map_err(|e| self.fallo(e))?;
        Ok(match info.get_str("version") {
            Ok(v) if !v.is_empty() => format!("MongoDB {v}"),
            _ => "MongoDB (versión desconocida)".to_owned(),
        })
    }

    async fn cerrar(&self) {
        // `immediate`: a cursor still held somewhere must not make the exit wait forever.
        self.db.client().clone().shutdown().immediate(true).await;
    }
}
