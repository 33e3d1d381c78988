//! `TokenStore` on the `tokens` collection. Instants are epoch milliseconds (Int64 at
//! that size, so NX's Int32 narrowing never applies); `huella` is the SHA-256 of the
//! secret, never the secret.

use async_trait::async_trait;
use futures::TryStreamExt;
use mongodb::bson::{self, Document, doc, oid::ObjectId};
use serde::{Deserialize, Serialize};

use super::MongoStore;
use crate::domain::{EventoId, Fecha, Permisos, Texto, Token, TokenId};
use crate::error::{Error, Result};
use crate::store::TokenStore;

#[derive(Debug, Serialize, Deserialize)]
struct TokenDoc {
    #[serde(rename = "_id")]
    id: ObjectId,
    nombre: String,
    permisos: String,
    #[serde(default)]
    eventos: Vec<String>,
    creado: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expira: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revocado: Option<i64>,
    huella: String,
}

fn danado(id: &str, causa: impl std::fmt::Display) -> Error {
    Error::Inconsistencia(format!(
        "el token {id} guardado en MongoDB está dañado: {causa}; corrija el documento en la colección tokens o revóquelo"
    ))
}

fn desde(doc: Document) -> Result<(Token, String)> {
    let id = doc
        .get_object_id("_id")
        .map(|o| o.to_hex())
        .unwrap_or_else(|_| "(sin _id)".into());
    let d: TokenDoc = bson::from_document(doc).map_err(|e| danado(&id, e))?;
    let eventos = d
        .eventos
        .iter()
        .map(|e| EventoId::parse(e))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| danado(&id, e))?;
    let t = Token {
        id: TokenId::from(d.id),
        nombre: Texto::parse("nombre", &d.nombre).map_err(|e| danado(&id, e))?,
        permisos: Permisos::parse(&d.permisos).map_err(|e| danado(&id, e))?,
        eventos,
        creado: Fecha::from_millis(d.creado),
        expira: d.expira.map(Fecha::from_millis),
        revocado: d.revocado.map(Fecha::from_millis),
    };
    Ok((t, d.huella))
}

#[async_trait]
impl TokenStore for MongoStore {
    async fn crear(&self, t: &Token, huella: &str) -> Result<()> {
        let d = TokenDoc {
            id: t.id.oid(),
            nombre: t.nombre.to_string(),
            permisos: t.permisos.to_string(),
            eventos: t.eventos.iter().map(|e| e.to_string()).collect(),
            creado: t.creado.millis(),
            expira: t.expira.map(Fecha::millis),
            revocado: t.revocado.map(Fecha::millis),
            huella: huella.to_owned(),
        };
        self.tokens
            .clone_with_type::<TokenDoc>()
            .insert_one(d)
            .await
            .map_err(|e| self.fallo(e))?;
        Ok(())
    }

    async fn buscar(&self, id: &TokenId) -> Result<Option<(Token, String)>> {
        self.tokens
            .find_one(doc! { "_id": id.oid() })
            .await
            .map_err(|e| self.fallo(e))?
            .map(desde)
            .transpose()
    }

    async fn listar(&self, limite: u32, despues_de: Option<&TokenId>) -> Result<Vec<Token>> {
        let filtro = match despues_de {
            Some(t) => doc! { "_id": { "$gt": t.oid() } },
            None => doc! {},
        };
        let docs: Vec<Document> = self
            .tokens
            .find(filtro)
            .sort(doc! { "_id": 1 })
            .limit(i64::from(limite))
            .await
            .map_err(|e| self.fallo(e))?
            .try_collect()
            .await
            .map_err(|e| self.fallo(e))?;
        docs.into_iter().map(|d| desde(d).map(|(t, _)| t)).collect()
    }

    async fn revocar(&self, id: &TokenId, ahora: Fecha) -> Result<Token> {
        let (t, _) = self
            .buscar(id)
            .await?
            .ok_or_else(|| Error::no_encontrado("token", id))?;
        if t.revocado.is_some() {
            return Ok(t);
        }
        self.tokens
            .update_one(
                doc! { "_id": id.oid() },
                doc! { "$set": { "revocado": ahora.millis() } },
            )
            .await
            .map_err(|e| self.fallo(e))?;
        Ok(Token {
            revocado: Some(ahora),
            ..t
        })
    }
}
