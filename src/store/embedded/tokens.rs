//! `TokenStore` on the `tokens` table (schema migration 2).

use async_trait::async_trait;
use rusqlite::params;

use super::SqliteStore;
use super::filas::{self, COLUMNAS_TOKEN};
use crate::domain::{Fecha, Token, TokenId};
use crate::error::{Error, Result};
use crate::store::TokenStore;

fn lista<T: std::fmt::Display>(v: impl IntoIterator<Item = T>) -> String {
    v.into_iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn crear(&self, t: &Token, huella: &str) -> Result<()> {
        let t = t.clone();
        let huella = huella.to_owned();
        self.escribir(move |tx| {
            tx.prepare_cached(
                "INSERT INTO tokens (id, nombre, permisos, eventos, creado, expira, revocado, huella) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                t.id.as_str(),
                t.nombre.as_str(),
                t.permisos.to_string(),
                lista(&t.eventos),
                t.creado.millis(),
                t.expira.map(Fecha::millis),
                t.revocado.map(Fecha::millis),
                huella,
            ])?;
            Ok(())
        })
        .await
    }

    async fn buscar(&self, id: &TokenId) -> Result<Option<(Token, String)>> {
        let id = id.clone();
        self.leer(move |tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {COLUMNAS_TOKEN} FROM tokens WHERE id = ?1"
            ))?;
            filas::una(&mut stmt, [id.as_str()], filas::token)
        })
        .await
    }

    async fn listar(&self, limite: u32, despues_de: Option<&TokenId>) -> Result<Vec<Token>> {
        let despues = despues_de.map(|t| t.to_string());
        self.leer(move |tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {COLUMNAS_TOKEN} FROM tokens WHERE (?1 IS NULL OR id > ?1) \
                 ORDER BY id LIMIT ?2"
            ))?;
            let v = filas::todas(&mut stmt, params![despues, limite], filas::token)?;
            Ok(v.into_iter().map(|(t, _)| t).collect())
        })
        .await
    }

    async fn revocar(&self, id: &TokenId, ahora: Fecha) -> Result<Token> {
        let id = id.clone();
        self.escribir(move |tx| {
            tx.prepare_cached(
                "UPDATE tokens SET revocado = ?2 WHERE id = ?1 AND revocado IS NULL",
            )?
            .execute(params![id.as_str(), ahora.millis()])?;
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {COLUMNAS_TOKEN} FROM tokens WHERE id = ?1"
            ))?;
            match filas::una(&mut stmt, [id.as_str()], filas::token)? {
                Some((t, _)) => Ok(t),
                None => Err(Error::no_encontrado("token", &id).into()),
            }
        })
        .await
    }
}
