//! The stored shape of `usuarios` and `eventos`, and the only way in and out of it.
//! Reads go through the domain parsers, so a document edited by hand into something
//! invalid surfaces as `Inconsistencia` naming the id and field, never as a panic.

use mongodb::bson::oid::ObjectId;
use mongodb::bson::{self, Bson, Document};
use serde::{Deserialize, Serialize};

use crate::domain::{
    Aforo, Compra, Email, Entradas, Evento, EventoId, Fecha, NroDocumento, NuevoEvento,
    NuevoUsuario, ParseError, Precio, ReservaId, Texto, TipoDocumento, Usuario, UsuarioId,
};
use crate::error::{Error, Result};

/// A `usuarios` document. Counts are `i64` because NX hands small Int64 back as Int32;
/// serde widens either.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct UsuarioDoc {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    // Absent, not null, when the user has no document: the unique index is partial on
    // `$exists`, and a stored null would count as present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tipo_documento: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nro_documento: Option<String>,
    pub nombre: String,
    pub apellido: String,
    pub email: String,
    // Always written as `[]`: NX's `$addToSet` does nothing on a missing field.
    #[serde(default)]
    pub historial_compras: Vec<CompraDoc>,
}

/// One `historial_compras` entry. The field order is fixed by this struct, so the same
/// `Compra` always encodes to the same subdocument and `$addToSet` dedupes a retry.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct CompraDoc {
    pub evento_id: String,
    pub reserva_id: String,
    pub fecha_compra: String,
    pub entradas: i64,
}

/// An `eventos` document.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct EventoDoc {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub nombre: String,
    pub fecha: String,
    pub lugar: String,
    pub aforo_total: i64,
    pub entradas_disponibles: i64,
    #[serde(default)]
    pub reservas_activas: Vec<String>,
    // The seed's events have no price; they read as free.
    #[serde(default)]
    pub precio: i64,
}

impl UsuarioDoc {
    pub fn nuevo(id: ObjectId, u: &NuevoUsuario) -> Self {
        let (tipo, nro) = match &u.documento {
            Some(d) => (Some(d.tipo.to_string()), Some(d.nro.to_string())),
            None => (None, None),
        };
        Self {
            id,
            tipo_documento: tipo,
            nro_documento: nro,
            nombre: u.nombre.to_string(),
            apellido: u.apellido.to_string(),
            email: u.email.to_string(),
            historial_compras: Vec::new(),
        }
    }
}

impl EventoDoc {
    pub fn nuevo(id: ObjectId, e: &NuevoEvento) -> Self {
        let aforo = i64::from(e.aforo.get());
        Self {
            id,
            nombre: e.nombre.to_string(),
            fecha: e.fecha.to_string(),
            lugar: e.lugar.to_string(),
            aforo_total: aforo,
            entradas_disponibles: aforo,
            reservas_activas: Vec::new(),
            precio: e.precio.get(),
        }
    }
}

impl From<&Compra> for CompraDoc {
    fn from(c: &Compra) -> Self {
        Self {
            evento_id: c.evento_id.to_string(),
            reserva_id: c.reserva_id.to_string(),
            fecha_compra: c.fecha_compra.to_string(),
            entradas: i64::from(c.entradas.get()),
        }
    }
}

/// The subdocument `$addToSet` compares whole.
pub(super) fn compra_bson(c: &Compra) -> Bson {
    bson::to_bson(&CompraDoc::from(c)).expect("strings and integers always encode")
}

fn danado(entidad: &str, id: &str, causa: impl std::fmt::Display) -> Error {
    Error::Inconsistencia(format!(
        "el {entidad} {id} guardado en MongoDB está dañado: {causa}; corrija el documento en la colección {entidad}s"
    ))
}

/// How to name a document whose `_id` may itself be the corrupt part.
pub(super) fn nombre_id(doc: &Document) -> String {
    match doc.get("_id") {
        Some(Bson::ObjectId(o)) => o.to_hex(),
        Some(Bson::String(s)) => s.clone(),
        Some(otro) => otro.to_string(),
        None => "(sin _id)".to_owned(),
    }
}

/// A page of raw documents of `coleccion` after `desde` (an `_id`), in `_id` order, each
/// parsed by `leer` or kept as the reason it does not parse.
pub(super) async fn pagina_cruda<T>(
    store: &super::MongoStore, coleccion: &mongodb::Collection<Document>, desde: Option<Bson>,
    n: u32, leer: fn(Document) -> Result<T>,
) -> Result<Vec<crate::store::listado::Cruda<Option<Bson>, T>>> {
    use futures::TryStreamExt;
    if n == 0 {
        // The driver reads `limit(0)` as "no limit".
        return Ok(Vec::new());
    }
    let filtro = match desde {
        Some(id) => mongodb::bson::doc! { "_id": { "$gt": id } },
        None => mongodb::bson::doc! {},
    };
    let docs: Vec<Document> = coleccion
        .find(filtro)
        .sort(mongodb::bson::doc! { "_id": 1 })
        .limit(i64::from(n))
        .await
        .map_err(|e| store.fallo(e))?
        .try_collect()
        .await
        .map_err(|e| store.fallo(e))?;
    Ok(docs
        .into_iter()
        .map(|d| crate::store::listado::Cruda {
            cursor: d.get("_id").cloned(),
            id: nombre_id(&d),
            leida: leer(d),
        })
        .collect())
}

/// An id as it comes back from a pipeline: NX turns `_id` into its hex string after
/// `$unwind`, MongoDB keeps the ObjectId.
pub(super) fn usuario_id_de(b: Option<&Bson>) -> Option<UsuarioId> {
    match b? {
        Bson::ObjectId(o) => Some(UsuarioId::from(*o)),
        Bson::String(s) => UsuarioId::parse(s).ok(),
        _ => None,
    }
}

pub(super) fn usuario_desde(doc: Document) -> Result<Usuario> {
    let id = nombre_id(&doc);
    let d: UsuarioDoc = bson::from_document(doc).map_err(|e| danado("usuario", &id, e))?;
    let mal = |e: ParseError| danado("usuario", &id, e);
    let tipo_documento = d
        .tipo_documento
        .as_deref()
        .map(TipoDocumento::parse)
        .transpose()
        .map_err(mal)?;
    let nro_documento = d
        .nro_documento
        .as_deref()
        .map(NroDocumento::parse)
        .transpose()
        .map_err(mal)?;
    Ok(Usuario {
        id: UsuarioId::from(d.id),
        tipo_documento,
        nro_documento,
        nombre: Texto::parse("nombre", &d.nombre).map_err(mal)?,
        apellido: Texto::parse("apellido", &d.apellido).map_err(mal)?,
        email: Email::parse(&d.email).map_err(mal)?,
        historial_compras: d
            .historial_compras
            .into_iter()
            .map(|c| compra_desde(&id, c))
            .collect::<Result<_>>()?,
    })
}

/// One history entry; `usuario` names the owner in the error.
pub(super) fn compra_desde(usuario: &str, c: CompraDoc) -> Result<Compra> {
    let mal = |e: ParseError| danado("usuario", usuario, format!("historial_compras: {e}"));
    Ok(Compra {
        evento_id: EventoId::parse(&c.evento_id).map_err(mal)?,
        reserva_id: ReservaId::parse(&c.reserva_id).map_err(mal)?,
        fecha_compra: Fecha::parse(&c.fecha_compra).map_err(mal)?,
        entradas: Entradas::new(c.entradas).map_err(mal)?,
    })
}

/// A history entry inside a pipeline result (`{_id, historial_compras: {...}}`).
pub(super) fn compra_de_documento(usuario: &str, b: Option<&Bson>) -> Result<Compra> {
    let c = b
        .cloned()
        .ok_or_else(|| danado("usuario", usuario, "falta historial_compras"))
        .and_then(|b| {
            bson::from_bson::<CompraDoc>(b)
                .map_err(|e| danado("usuario", usuario, format!("historial_compras: {e}")))
        })?;
    compra_desde(usuario, c)
}

pub(super) fn evento_desde(doc: Document) -> Result<Evento> {
    let id = nombre_id(&doc);
    let d: EventoDoc = bson::from_document(doc).map_err(|e| danado("evento", &id, e))?;
    let mal = |e: ParseError| danado("evento", &id, e);
    Ok(Evento {
        id: EventoId::from(d.id),
        nombre: Texto::parse("nombre", &d.nombre).map_err(mal)?,
        fecha: Fecha::parse(&d.fecha).map_err(mal)?,
        lugar: Texto::parse("lugar", &d.lugar).map_err(mal)?,
        aforo_total: Aforo::new(d.aforo_total).map_err(mal)?,
        entradas_disponibles: d.entradas_disponibles,
        reservas_activas: d
            .reservas_activas
            .iter()
            .map(|r| ReservaId::parse(r))
            .collect::<Result<_, _>>()
            .map_err(mal)?,
        precio: Precio::new(d.precio).map_err(mal)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;

    #[test]
    fn un_usuario_danado_nombra_id_y_campo() {
        let oid = ObjectId::new();
        let doc = doc! {
            "_id": oid, "nombre": "Ana", "apellido": "Paz", "email": "no-es-email",
            "historial_compras": [],
        };
        let e = usuario_desde(doc).unwrap_err().to_string();
        assert!(e.contains(&oid.to_hex()) && e.contains("email"), "{e}");

        let doc = doc! { "_id": oid, "apellido": "Paz", "email": "a@b.com" };
        let e = usuario_desde(doc).unwrap_err().to_string();
        assert!(e.contains(&oid.to_hex()) && e.contains("nombre"), "{e}");
    }

    #[test]
    fn un_evento_con_int32_se_lee() {
        let oid = ObjectId::new();
        let doc = doc! {
            "_id": oid, "nombre": "Rock", "fecha": "2025-12-01T21:00:00Z", "lugar": "Estadio",
            "aforo_total": 10_i32, "entradas_disponibles": 7_i32, "reservas_activas": [],
        };
        let e = evento_desde(doc).unwrap();
        assert_eq!(e.aforo_total.get(), 10);
        assert_eq!(e.entradas_disponibles, 7);
        assert_eq!(e.precio.get(), 0);
    }
}
