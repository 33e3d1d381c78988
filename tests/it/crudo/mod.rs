//! The independent judge: reads (and, to stage damage, writes) the raw stores — Redis keys
//! and hashes, MongoDB documents, SQLite rows — without the project's store code, so a
//! bug in that code cannot hide itself. Every raw access of the suite goes through here:
//! a new backend configuration (Redis Cluster, say) adapts this one module.

use std::collections::{BTreeMap, BTreeSet};

use futures::TryStreamExt;
use mongodb::bson::{Bson, Document, doc, oid::ObjectId};
use redis::AsyncCommands;
use rusqlite::OptionalExtension;

use crate::helpers::Entorno;

mod danos;
mod espia;
mod invariantes;

pub use danos::*;
pub use espia::*;
pub use invariantes::*;

/// A saga record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistroCrudo {
    pub id: String,
    pub usuario: String,
    pub entradas: i64,
    pub estado: String,
    pub importe: i64,
    pub terminada: bool,
}

impl RegistroCrudo {
    /// Pending or confirmed: its seats are out of the counter.
    pub fn retiene(&self) -> bool {
        self.estado == "pendiente" || self.estado == "confirmada"
    }
}

/// A ledger entry as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CobroCrudo {
    pub importe: i64,
    pub aprobado: bool,
    pub reembolsado: bool,
}

/// One `historial_compras` entry as stored, with its owner.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CompraCruda {
    pub usuario: String,
    pub reserva: String,
    pub evento: String,
    pub entradas: i64,
}

/// An event's capacity and read model as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeloCrudo {
    pub aforo_total: i64,
    pub entradas_disponibles: i64,
    pub reservas_activas: BTreeSet<String>,
}

// ---------------------------------------------------------------------------------------
// Redis, MongoDB and SQLite access: the only place that names keys, collections, tables.
// ---------------------------------------------------------------------------------------

pub(super) async fn redis(env: &Entorno) -> eventflow::store::redis::Conexion {
    env.redis().await
}

pub(super) fn clave_contador(env: &Entorno, e: &str) -> String {
    env.clave(&format!("evento:{{{e}}}:entradas"))
}

pub(super) fn clave_registro(env: &Entorno, e: &str, r: &str) -> String {
    env.clave(&format!("reserva:{{{e}}}:{r}"))
}

pub(super) fn clave_pago(env: &Entorno, e: &str, r: &str) -> String {
    env.clave(&format!("pago:{{{e}}}:{r}"))
}

pub(super) fn oid(id: &str) -> ObjectId {
    ObjectId::parse_str(id).unwrap_or_else(|e| panic!("{id} no es un ObjectId: {e}"))
}

pub(super) async fn coleccion(env: &Entorno, nombre: &str) -> mongodb::Collection<Document> {
    env.mongo().await.collection::<Document>(nombre)
}

async fn documentos(env: &Entorno, nombre: &str, filtro: Document) -> Vec<Document> {
    coleccion(env, nombre)
        .await
        .find(filtro)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

/// An integer field that NX-27017 may hand back as Int32.
fn entero(d: &Document, campo: &str) -> i64 {
    match d.get(campo) {
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Int64(n)) => *n,
        otro => panic!("el campo {campo} no es un entero: {otro:?} en {d}"),
    }
}

// ---------------------------------------------------------------------------------------
// Readers.
// ---------------------------------------------------------------------------------------

/// The live seat counter (`evento:{E}:entradas`, or the `contadores` row).
pub async fn contador_crudo(env: &Entorno, e: &str) -> Option<i64> {
    if env.es_mongo() {
        redis(env).await.get(clave_contador(env, e)).await.unwrap()
    } else {
        env.sqlite()
            .query_row(
                "SELECT entradas FROM contadores WHERE evento_id = ?1",
                [e],
                |f| f.get(0),
            )
            .optional()
            .unwrap()
    }
}

/// The capacity the reservation store accounts the counter against.
pub async fn aforo_crudo(env: &Entorno, e: &str) -> Option<i64> {
    if env.es_mongo() {
        redis(env)
            .await
            .get(env.clave(&format!("evento:{{{e}}}:aforo")))
            .await
            .unwrap()
    } else {
        env.sqlite()
            .query_row(
                "SELECT aforo FROM contadores WHERE evento_id = ?1",
                [e],
                |f| f.get(0),
            )
            .optional()
            .unwrap()
            .flatten()
    }
}

/// Every saga record of event `e`, by id.
pub async fn registros_crudos(env: &Entorno, e: &str) -> Vec<RegistroCrudo> {
    let mut v = Vec::new();
    if env.es_mongo() {
        let mut con = redis(env).await;
        let ids: Vec<String> = con
            .smembers(env.clave(&format!("evento:{{{e}}}:reservas")))
            .await
            .unwrap();
        for id in ids {
            let h: BTreeMap<String, String> =
                con.hgetall(clave_registro(env, e, &id)).await.unwrap();
            if h.is_empty() {
                continue;
            }
            let campo = |c: &str| {
                h.get(c)
                    .unwrap_or_else(|| panic!("al registro {id} le falta {c}: {h:?}"))
                    .clone()
            };
            v.push(RegistroCrudo {
                usuario: campo("usuario_id"),
                entradas: campo("entradas").parse().unwrap(),
                estado: campo("estado"),
                importe: campo("importe").parse().unwrap(),
                terminada: campo("terminada") == "1",
                id,
            });
        }
    } else {
        let con = env.sqlite();
        let mut q = con
            .prepare(
                "SELECT id, usuario_id, entradas, estado, importe, terminada \
                 FROM reservas WHERE evento_id = ?1",
            )
            .unwrap();
        v = q
            .query_map([e], |f| {
                Ok(RegistroCrudo {
                    id: f.get(0)?,
                    usuario: f.get(1)?,
                    entradas: f.get(2)?,
                    estado: f.get(3)?,
                    importe: f.get(4)?,
                    terminada: f.get::<_, i64>(5)? != 0,
                })
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    }
    v.sort_by(|a, b| a.id.cmp(&b.id));
    v
}

/// The record `r` of event `e`.
pub async fn registro_crudo(env: &Entorno, e: &str, r: &str) -> Option<RegistroCrudo> {
    registros_crudos(env, e)
        .await
        .into_iter()
        .find(|x| x.id == r)
}

/// The ledger entry of purchase `r` of event `e`.
pub async fn cobro_crudo(env: &Entorno, e: &str, r: &str) -> Option<CobroCrudo> {
    if env.es_mongo() {
        let h: BTreeMap<String, String> = redis(env)
            .await
            .hgetall(clave_pago(env, e, r))
            .await
            .unwrap();
        if h.is_empty() {
            return None;
        }
        Some(CobroCrudo {
            importe: h["importe"].parse().unwrap(),
            aprobado: h["aprobado"] == "1",
            reembolsado: h.contains_key("reembolsado"),
        })
    } else {
        env.sqlite()
            .query_row(
                "SELECT importe, aprobado, reembolsado FROM pagos WHERE reserva_id = ?1",
                [r],
                |f| {
                    Ok(CobroCrudo {
                        importe: f.get(0)?,
                        aprobado: f.get::<_, i64>(1)? != 0,
                        reembolsado: f.get::<_, Option<i64>>(2)?.is_some(),
                    })
                },
            )
            .optional()
            .unwrap()
    }
}

/// The event's capacity and read model (`eventos` document or rows).
pub async fn modelo_crudo(env: &Entorno, e: &str) -> Option<ModeloCrudo> {
    if env.es_mongo() {
        let d = coleccion(env, "eventos")
            .await
            .find_one(doc! { "_id": oid(e) })
            .await
            .unwrap()?;
        let activas = d
            .get_array("reservas_activas")
            .unwrap()
            .iter()
            .map(|b| b.as_str().unwrap().to_owned())
            .collect();
        Some(ModeloCrudo {
            aforo_total: entero(&d, "aforo_total"),
            entradas_disponibles: entero(&d, "entradas_disponibles"),
            reservas_activas: activas,
        })
    } else {
        let con = env.sqlite();
        let (aforo_total, entradas_disponibles) = con
            .query_row(
                "SELECT aforo_total, entradas_disponibles FROM eventos WHERE id = ?1",
                [e],
                |f| Ok((f.get(0)?, f.get(1)?)),
            )
            .optional()
            .unwrap()?;
        let mut q = con
            .prepare("SELECT reserva_id FROM reservas_activas WHERE evento_id = ?1")
            .unwrap();
        let activas = q
            .query_map([e], |f| f.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        Some(ModeloCrudo {
            aforo_total,
            entradas_disponibles,
            reservas_activas: activas,
        })
    }
}

/// Every entry of every user's `historial_compras`, sorted.
pub async fn historiales_crudos(env: &Entorno) -> Vec<CompraCruda> {
    let mut v = Vec::new();
    if env.es_mongo() {
        for u in documentos(env, "usuarios", doc! {}).await {
            let usuario = u.get_object_id("_id").unwrap().to_hex();
            for c in u.get_array("historial_compras").unwrap() {
                let c = c.as_document().unwrap_or_else(|| {
                    panic!("historial_compras no es una lista de documentos: {u}")
                });
                v.push(CompraCruda {
                    usuario: usuario.clone(),
                    reserva: c.get_str("reserva_id").unwrap().to_owned(),
                    evento: c.get_str("evento_id").unwrap().to_owned(),
                    entradas: entero(c, "entradas"),
                });
            }
        }
    } else {
        let con = env.sqlite();
        let mut q = con
            .prepare("SELECT usuario_id, reserva_id, evento_id, entradas FROM historial")
            .unwrap();
        v = q
            .query_map([], |f| {
                Ok(CompraCruda {
                    usuario: f.get(0)?,
                    reserva: f.get(1)?,
                    evento: f.get(2)?,
                    entradas: f.get(3)?,
                })
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    }
    v.sort();
    v
}

/// How many users (`usuarios` documents or rows) are stored.
pub async fn usuarios_guardados(env: &Entorno) -> u64 {
    filas(env, "usuarios").await
}

async fn filas(env: &Entorno, coleccion_o_tabla: &str) -> u64 {
    if env.es_mongo() {
        coleccion(env, coleccion_o_tabla)
            .await
            .count_documents(doc! {})
            .await
            .unwrap()
    } else {
        let n: i64 = env
            .sqlite()
            .query_row(
                &format!("SELECT count(*) FROM {coleccion_o_tabla}"),
                [],
                |f| f.get(0),
            )
            .unwrap();
        n as u64
    }
}

/// Every stored user as `(email, nombre)`.
pub async fn usuarios_crudos(env: &Entorno) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = if env.es_mongo() {
        documentos(env, "usuarios", doc! {})
            .await
            .iter()
            .map(|d| {
                (
                    d.get_str("email").unwrap().to_owned(),
                    d.get_str("nombre").unwrap().to_owned(),
                )
            })
            .collect()
    } else {
        let con = env.sqlite();
        let mut q = con.prepare("SELECT email, nombre FROM usuarios").unwrap();
        q.query_map([], |f| Ok((f.get(0)?, f.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    v.sort();
    v
}

/// Every stored event as `(id, nombre, lugar)`.
pub async fn eventos_crudos(env: &Entorno) -> Vec<(String, String, String)> {
    let mut v: Vec<(String, String, String)> = if env.es_mongo() {
        documentos(env, "eventos", doc! {})
            .await
            .iter()
            .map(|d| {
                (
                    d.get_object_id("_id").unwrap().to_hex(),
                    d.get_str("nombre").unwrap().to_owned(),
                    d.get_str("lugar").unwrap().to_owned(),
                )
            })
            .collect()
    } else {
        let con = env.sqlite();
        let mut q = con
            .prepare("SELECT id, nombre, lugar FROM eventos")
            .unwrap();
        q.query_map([], |f| Ok((f.get(0)?, f.get(1)?, f.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    v.sort();
    v
}

/// Every reservation-store key (under this test's prefix) or row left, and every history
/// or read-model row, to tell that a clean-up took everything with it.
pub async fn restos_crudos(env: &Entorno) -> Vec<String> {
    if env.es_mongo() {
        redis(env).await.keys(env.clave("*")).await.unwrap()
    } else {
        let con = env.sqlite();
        let mut v = Vec::new();
        for tabla in [
            "contadores",
            "reservas",
            "pagos",
            "bloqueos",
            "idempotencia",
            "historial",
            "reservas_activas",
        ] {
            let n: i64 = con
                .query_row(&format!("SELECT count(*) FROM {tabla}"), [], |f| f.get(0))
                .unwrap();
            if n > 0 {
                v.push(format!("{tabla}: {n} fila(s)"));
            }
        }
        v
    }
}

/// Every stored user's email, by id.
pub async fn emails_crudos(env: &Entorno) -> BTreeMap<String, String> {
    if env.es_mongo() {
        documentos(env, "usuarios", doc! {})
            .await
            .iter()
            .map(|d| {
                (
                    d.get_object_id("_id").unwrap().to_hex(),
                    d.get_str("email").unwrap().to_owned(),
                )
            })
            .collect()
    } else {
        let con = env.sqlite();
        let mut q = con.prepare("SELECT id, email FROM usuarios").unwrap();
        q.query_map([], |f| Ok((f.get(0)?, f.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }
}
