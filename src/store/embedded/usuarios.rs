//! `UsuarioStore` on the `usuarios` and `historial` tables. Uniqueness is the unique
//! indexes' job, and their clashes become the same `Duplicado` messages MongoDB gives.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::filas::{self, COLUMNAS_COMPRA, COLUMNAS_USUARIO};
use super::{Fallo, R, SqliteStore};
use crate::domain::{
    CambiosUsuario, Compra, Documento, Email, EventoId, NuevoUsuario, ReservaId, Usuario, UsuarioId,
};
use crate::error::{Error, Result};
use crate::store::listado::{self, Cruda};
use crate::store::{FilaDanada, ModoImport, ResultadoLote, UsuarioStore};

/// Which unique index a write clashed with.
enum Choque {
    Email,
    Documento,
}

/// The clash behind a failed write, if it was a unique index. SQLite names the columns:
/// `UNIQUE constraint failed: usuarios.email`.
fn choque(e: &rusqlite::Error) -> Option<Choque> {
    let rusqlite::Error::SqliteFailure(f, Some(mensaje)) = e else {
        return None;
    };
    if f.extended_code != rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE {
        return None;
    }
    if mensaje.contains("usuarios.email") {
        Some(Choque::Email)
    } else if mensaje.contains("usuarios.tipo_documento")
        || mensaje.contains("usuarios.nro_documento")
    {
        Some(Choque::Documento)
    } else {
        None
    }
}

/// Turns a unique clash into the `Duplicado` that names the clashing value (the same
/// messages as MongoDB's) and the id of the user that holds it, read on `con` (the
/// refused statement alone is undone, so the transaction still answers); any other error
/// passes through.
fn duplicado(
    con: &Connection, e: rusqlite::Error, email: Option<&Email>, documento: Option<&Documento>,
) -> Fallo {
    let dueno = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> Option<String> {
        con.query_row(sql, p, |r| r.get(0))
            .optional()
            .ok()
            .flatten()
    };
    match (choque(&e), email, documento) {
        (Some(Choque::Email), Some(email), _) => Error::Duplicado {
            que: format!("un usuario con el email {email}"),
            campo: Some("email"),
            existente: dueno(
                "SELECT id FROM usuarios WHERE email = ?1",
                &[&email.as_str()],
            ),
        }
        .into(),
        (Some(Choque::Documento), _, Some(d)) => Error::Duplicado {
            que: format!("un usuario con el documento {d}"),
            campo: Some("documento"),
            existente: dueno(
                "SELECT id FROM usuarios WHERE tipo_documento = ?1 AND nro_documento = ?2",
                &[&d.tipo.as_str(), &d.nro.as_str()],
            ),
        }
        .into(),
        _ => Fallo::Sql(e),
    }
}

fn partes(d: Option<&Documento>) -> (Option<&str>, Option<&str>) {
    match d {
        Some(d) => (Some(d.tipo.as_str()), Some(d.nro.as_str())),
        None => (None, None),
    }
}

/// Inserts one user under a fresh id.
fn insertar(con: &Connection, u: &NuevoUsuario) -> R<UsuarioId> {
    let id = UsuarioId::generar();
    let (tipo, nro) = partes(u.documento.as_ref());
    con.prepare_cached(
        "INSERT INTO usuarios (id, tipo_documento, nro_documento, nombre, apellido, email) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        id.as_str(),
        tipo,
        nro,
        u.nombre.as_str(),
        u.apellido.as_str(),
        u.email.as_str()
    ])
    .map_err(|e| duplicado(con, e, Some(&u.email), u.documento.as_ref()))?;
    Ok(id)
}

/// The purchase history of a user, in the order it was written.
fn historial(con: &Connection, id: &str) -> R<Vec<Compra>> {
    let mut stmt = con.prepare_cached(&format!(
        "SELECT {COLUMNAS_COMPRA} FROM historial WHERE usuario_id = ?1 ORDER BY rowid"
    ))?;
    Ok(filas::todas(&mut stmt, [id], filas::compra)?
        .into_iter()
        .map(|(_, c)| c)
        .collect())
}

fn con_historial(con: &Connection, mut u: Usuario) -> R<Usuario> {
    u.historial_compras = historial(con, u.id.as_str())?;
    Ok(u)
}

/// A whole user, history included.
fn leer(con: &Connection, id: &str) -> R<Option<Usuario>> {
    let mut stmt = con.prepare_cached(&format!(
        "SELECT {COLUMNAS_USUARIO} FROM usuarios WHERE id = ?1"
    ))?;
    filas::una(&mut stmt, [id], filas::usuario)?
        .map(|u| con_historial(con, u))
        .transpose()
}

fn existe(con: &Connection, id: &str) -> R<bool> {
    Ok(con
        .prepare_cached("SELECT 1 FROM usuarios WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some())
}

impl SqliteStore {
    /// Raw usuarios after the id `desde`, each read whole or kept as its damage.
    async fn pagina_usuarios(&self, desde: String, n: u32) -> Result<Vec<Cruda<String, Usuario>>> {
        self.leer(move |tx| {
            let sql = format!(
                "SELECT {COLUMNAS_USUARIO} FROM usuarios WHERE id > ?1 ORDER BY id LIMIT ?2"
            );
            filas::pagina_cruda(tx, &sql, &desde, n, filas::usuario, con_historial)
        })
        .await
    }
}

#[async_trait]
impl UsuarioStore for SqliteStore {
    async fn crear(&self, nuevo: NuevoUsuario) -> Result<Usuario> {
        self.escribir(move |tx| {
            let id = insertar(tx, &nuevo)?;
            Ok(nuevo.en(id))
        })
        .await
    }

    async fn ver(&self, id: &UsuarioId) -> Result<Usuario> {
        let id = id.clone();
        self.leer(move |tx| leer(tx, id.as_str())?.ok_or_else(|| no_encontrado(&id)))
            .await
    }

    async fn listar(&self, limite: u32, despues_de: Option<&UsuarioId>) -> Result<Vec<Usuario>> {
        // Ids are lowercase hex of the same length, so text order is ObjectId order.
        let inicio = despues_de.map(|d| d.to_string()).unwrap_or_default();
        listado::listar("usuario", limite, inicio, |desde, n| {
            self.pagina_usuarios(desde, n)
        })
        .await
    }

    async fn actualizar(&self, id: &UsuarioId, cambios: CambiosUsuario) -> Result<Usuario> {
        let id = id.clone();
        self.escribir(move |tx| {
            let (tipo, nro) = partes(cambios.documento.as_ref());
            // NULL leaves a column as it is; a document always sets both halves.
            let cambiadas = tx
                .prepare_cached(
                    "UPDATE usuarios SET \
                       nombre = coalesce(?2, nombre), \
                       apellido = coalesce(?3, apellido), \
                       email = coalesce(?4, email), \
                       tipo_documento = coalesce(?5, tipo_documento), \
                       nro_documento = coalesce(?6, nro_documento) \
                     WHERE id = ?1",
                )?
                .execute(params![
                    id.as_str(),
                    cambios.nombre.as_ref().map(|t| t.as_str()),
                    cambios.apellido.as_ref().map(|t| t.as_str()),
                    cambios.email.as_ref().map(|e| e.as_str()),
                    tipo,
                    nro,
                ])
                .map_err(|e| {
                    duplicado(tx, e, cambios.email.as_ref(), cambios.documento.as_ref())
                })?;
            if cambiadas == 0 {
                return Err(no_encontrado(&id));
            }
            leer(tx, id.as_str())?.ok_or_else(|| no_encontrado(&id))
        })
        .await
    }

    async fn eliminar(&self, id: &UsuarioId) -> Result<()> {
        let id = id.clone();
        self.escribir(move |tx| {
            if !existe(tx, id.as_str())? {
                return Err(no_encontrado(&id));
            }
            let compras: i64 = tx
                .prepare_cached("SELECT count(*) FROM historial WHERE usuario_id = ?1")?
                .query_row([id.as_str()], |r| r.get(0))?;
            if compras > 0 {
                return Err(Error::Conflicto(format!(
                    "el usuario {id} tiene {compras} compras en su historial; cancele sus reservas antes de eliminarlo"
                ))
                .into());
            }
            tx.prepare_cached("DELETE FROM usuarios WHERE id = ?1")?
                .execute([id.as_str()])?;
            Ok(())
        })
        .await
    }

    async fn registrar_compra(&self, id: &UsuarioId, compra: &Compra) -> Result<()> {
        let (id, c) = (id.clone(), compra.clone());
        self.escribir(move |tx| {
            if !existe(tx, id.as_str())? {
                return Err(no_encontrado(&id));
            }
            // One entry per reservation: a retried step finds it there and adds nothing.
            tx.prepare_cached(
                "INSERT INTO historial (usuario_id, reserva_id, evento_id, fecha_compra, entradas) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                id.as_str(),
                c.reserva_id.as_str(),
                c.evento_id.as_str(),
                c.fecha_compra.to_string(),
                c.entradas.get(),
            ])?;
            Ok(())
        })
        .await
    }

    async fn quitar_compra(&self, id: &UsuarioId, reserva: &ReservaId) -> Result<()> {
        let (id, reserva) = (id.clone(), reserva.clone());
        self.escribir(move |tx| {
            tx.prepare_cached("DELETE FROM historial WHERE usuario_id = ?1 AND reserva_id = ?2")?
                .execute([id.as_str(), reserva.as_str()])?;
            Ok(())
        })
        .await
    }

    async fn compras_de_evento(&self, evento: &EventoId) -> Result<Vec<(UsuarioId, Compra)>> {
        let evento = evento.clone();
        self.leer(move |tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {COLUMNAS_COMPRA} FROM historial WHERE evento_id = ?1 \
                 ORDER BY usuario_id, reserva_id"
            ))?;
            filas::todas(&mut stmt, [evento.as_str()], filas::compra)
        })
        .await
    }

    async fn por_email(&self, email: &Email) -> Result<Option<Usuario>> {
        let email = email.clone();
        self.leer(move |tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {COLUMNAS_USUARIO} FROM usuarios WHERE email = ?1"
            ))?;
            filas::una(&mut stmt, [email.as_str()], filas::usuario)?
                .map(|u| con_historial(tx, u))
                .transpose()
        })
        .await
    }

    async fn importar(&self, lote: Vec<NuevoUsuario>, modo: ModoImport) -> Result<ResultadoLote> {
        self.escribir(move |tx| {
            let mut r = ResultadoLote::default();
            for (i, u) in lote.iter().enumerate() {
                // A refused statement is undone alone; the rest of the batch carries on.
                let hecho = match modo {
                    ModoImport::Insertar => insertar(tx, u).map(|_| true),
                    ModoImport::Upsert => upsert(tx, u),
                };
                match hecho {
                    Ok(true) => r.insertados += 1,
                    Ok(false) => r.actualizados += 1,
                    Err(Fallo::Dominio(e @ Error::Duplicado { .. })) => {
                        r.rechazados.push((i, e.to_string()));
                    }
                    Err(otro) => return Err(otro),
                }
            }
            Ok(r)
        })
        .await
    }

    async fn danados(&self) -> Result<Vec<FilaDanada>> {
        listado::danadas("usuario", String::new(), |desde, n| {
            self.pagina_usuarios(desde, n)
        })
        .await
    }
}

/// Matches by email: updates the names (and the document, when given) of an existing
/// user, keeping their id and history, or inserts. True when it inserted.
fn upsert(con: &Connection, u: &NuevoUsuario) -> R<bool> {
    let (tipo, nro) = partes(u.documento.as_ref());
    let cambiadas = con
        .prepare_cached(
            "UPDATE usuarios SET nombre = ?2, apellido = ?3, \
               tipo_documento = coalesce(?4, tipo_documento), \
               nro_documento = coalesce(?5, nro_documento) \
             WHERE email = ?1",
        )?
        .execute(params![
            u.email.as_str(),
            u.nombre.as_str(),
            u.apellido.as_str(),
            tipo,
            nro
        ])
        .map_err(|e| duplicado(con, e, Some(&u.email), u.documento.as_ref()))?;
    if cambiadas > 0 {
        return Ok(false);
    }
    insertar(con, u).map(|_| true)
}

fn no_encontrado(id: &UsuarioId) -> Fallo {
    Error::no_encontrado("usuario", id).into()
}
