//! `UsuarioStore` on the `usuarios` collection, with the purchase history embedded.
//! User text only ever reaches the server as a value under a fixed key (`{email: …}`,
//! `$set`), so a name like `{"$gt": ""}` is data, never an operator.

use async_trait::async_trait;
use futures::TryStreamExt;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, Document, doc};

use super::MongoStore;
use super::documentos::{
    UsuarioDoc, compra_bson, compra_de_documento, pagina_cruda, usuario_desde, usuario_id_de,
};
use super::errores::{
    Choque, choque, choque_de_mensaje, duplicado_documento, duplicado_email, duplicado_generico,
    es_clave_duplicada,
};
use super::lote::{BusquedaClaves, Fallo, FilaUpsert, Sentencia};
use crate::config::redactar_texto;
use crate::domain::{
    CambiosUsuario, Compra, Documento, Email, EventoId, NuevoUsuario, ReservaId, Usuario, UsuarioId,
};
use crate::error::{Error, Result};
use crate::store::{FilaDanada, ModoImport, ResultadoLote, UsuarioStore, listado};

impl MongoStore {
    /// Turns a duplicate-key clash into the `Duplicado` that names the clashing value and
    /// the id of the user that holds it. `yo` is the user being updated, who cannot clash
    /// with themself.
    async fn duplicado(
        &self, choque: Choque, email: Option<&Email>, documento: Option<&Documento>,
        yo: Option<ObjectId>,
    ) -> Error {
        let filtro_documento = |d: &Documento| {
            doc! { "tipo_documento": d.tipo.as_str(), "nro_documento": d.nro.as_str() }
        };
        match (choque, email, documento) {
            (Choque::Email, Some(e), _) => {
                duplicado_email(e, self.dueno(doc! { "email": e.as_str() }, yo).await)
            }
            (Choque::Documento, _, Some(d)) => {
                duplicado_documento(d, self.dueno(filtro_documento(d), yo).await)
            }
            // The message did not say which index: ask the data. If the email is free,
            // the document must be what clashed.
            (_, Some(e), d) => match self.dueno(doc! { "email": e.as_str() }, yo).await {
                Some(id) => duplicado_email(e, Some(id)),
                None => match d {
                    Some(d) => duplicado_documento(d, self.dueno(filtro_documento(d), yo).await),
                    None => duplicado_generico(email, documento),
                },
            },
            _ => duplicado_generico(email, documento),
        }
    }

    /// The id of another user matching `filtro`, if the store answers.
    async fn dueno(&self, filtro: Document, yo: Option<ObjectId>) -> Option<String> {
        let otro = self
            .usuarios
            .find_one(filtro)
            .projection(doc! { "_id": 1 })
            .await
            .ok()??;
        let oid = otro.get_object_id("_id").ok()?;
        (Some(oid) != yo).then(|| oid.to_hex())
    }

    /// The reason given for an import row the server refused.
    async fn motivo_rechazo(&self, fallo: &Fallo, fila: &NuevoUsuario) -> String {
        if es_clave_duplicada(fallo.codigo) {
            let c = choque_de_mensaje(&fallo.mensaje);
            self.duplicado(c, Some(&fila.email), fila.documento.as_ref(), None)
                .await
                .to_string()
        } else {
            redactar_texto(&fallo.mensaje, &[&self.uri])
        }
    }
}

/// `$set` for the user fields; a document always sets both halves.
fn set_usuario(
    nombre: Option<&str>, apellido: Option<&str>, email: Option<&str>,
    documento: Option<&Documento>,
) -> Document {
    let mut set = Document::new();
    if let Some(v) = nombre {
        set.insert("nombre", v);
    }
    if let Some(v) = apellido {
        set.insert("apellido", v);
    }
    if let Some(v) = email {
        set.insert("email", v);
    }
    if let Some(d) = documento {
        set.insert("tipo_documento", d.tipo.as_str());
        set.insert("nro_documento", d.nro.as_str());
    }
    set
}

#[async_trait]
impl UsuarioStore for MongoStore {
    async fn crear(&self, nuevo: NuevoUsuario) -> Result<Usuario> {
        let oid = ObjectId::new();
        let doc = UsuarioDoc::nuevo(oid, &nuevo);
        let resultado = self
            .usuarios
            .clone_with_type::<UsuarioDoc>()
            .insert_one(&doc)
            .await;
        match resultado {
            Ok(_) => Ok(nuevo.en(UsuarioId::from(oid))),
            Err(e) => Err(match choque(&e) {
                Some(c) => {
                    self.duplicado(c, Some(&nuevo.email), nuevo.documento.as_ref(), None)
                        .await
                }
                None => self.fallo(e),
            }),
        }
    }

    async fn ver(&self, id: &UsuarioId) -> Result<Usuario> {
        match self
            .usuarios
            .find_one(doc! { "_id": id.oid() })
            .await
            .map_err(|e| self.fallo(e))?
        {
            Some(d) => usuario_desde(d),
            None => Err(Error::no_encontrado("usuario", id)),
        }
    }

    async fn listar(&self, limite: u32, despues_de: Option<&UsuarioId>) -> Result<Vec<Usuario>> {
        let inicio = despues_de.map(|id| Bson::ObjectId(id.oid()));
        listado::listar("usuario", limite, inicio, |desde, n| {
            pagina_cruda(self, &self.usuarios, desde, n, usuario_desde)
        })
        .await
    }

    async fn actualizar(&self, id: &UsuarioId, cambios: CambiosUsuario) -> Result<Usuario> {
        if cambios.es_vacio() {
            return self.ver(id).await;
        }
        let set = set_usuario(
            cambios.nombre.as_ref().map(|t| t.as_str()),
            cambios.apellido.as_ref().map(|t| t.as_str()),
            cambios.email.as_ref().map(|e| e.as_str()),
            cambios.documento.as_ref(),
        );
        // update_one, then read, rather than find_one_and_update: NX answers a
        // find_one_and_update that breaks a unique index with "no document" instead of
        // error 11000, which would turn a duplicate into a not-found.
        let resultado = self
            .usuarios
            .update_one(doc! { "_id": id.oid() }, doc! { "$set": set })
            .await;
        match resultado {
            Ok(r) if r.matched_count == 0 => Err(Error::no_encontrado("usuario", id)),
            Ok(_) => self.ver(id).await,
            Err(e) => Err(match choque(&e) {
                Some(c) => {
                    self.duplicado(
                        c,
                        cambios.email.as_ref(),
                        cambios.documento.as_ref(),
                        Some(id.oid()),
                    )
                    .await
                }
                None => self.fallo(e),
            }),
        }
    }

    async fn eliminar(&self, id: &UsuarioId) -> Result<()> {
        // The guard is in the delete's filter, so a purchase recorded between a check and
        // the delete can never be lost. The read after a miss only explains the refusal.
        for _ in 0..3 {
            let borrado = self
                .usuarios
                .delete_one(doc! { "_id": id.oid(), "historial_compras": { "$size": 0 } })
                .await
                .map_err(|e| self.fallo(e))?;
            if borrado.deleted_count == 1 {
                return Ok(());
            }
            let actual = self
                .usuarios
                .find_one(doc! { "_id": id.oid() })
                .projection(doc! { "historial_compras": 1 })
                .await
                .map_err(|e| self.fallo(e))?
                .ok_or_else(|| Error::no_encontrado("usuario", id))?;
            match actual.get("historial_compras") {
                Some(Bson::Array(a)) if !a.is_empty() => {
                    return Err(Error::Conflicto(format!(
                        "el usuario {id} tiene {} compras en su historial; cancele sus reservas antes de eliminarlo",
                        a.len()
                    )));
                }
                // Emptied meanwhile: try again.
                Some(Bson::Array(_)) => {}
                // A hand-made document without the array has no purchases either.
                None => {
                    let borrado = self
                        .usuarios
                        .delete_one(
                            doc! { "_id": id.oid(), "historial_compras": { "$exists": false } },
                        )
                        .await
                        .map_err(|e| self.fallo(e))?;
                    if borrado.deleted_count == 1 {
                        return Ok(());
                    }
                }
                Some(otro) => {
                    return Err(Error::Inconsistencia(format!(
                        "el usuario {id} guardado en MongoDB está dañado: historial_compras no es una lista ({otro}); corrija el documento en la colección usuarios"
                    )));
                }
            }
        }
        Err(Error::Conflicto(format!(
            "el historial del usuario {id} cambió mientras se eliminaba; vuelva a intentarlo"
        )))
    }

    async fn registrar_compra(&self, id: &UsuarioId, compra: &Compra) -> Result<()> {
        let r = self
            .usuarios
            .update_one(
                doc! { "_id": id.oid() },
                doc! { "$addToSet": { "historial_compras": compra_bson(compra) } },
            )
            .await
            .map_err(|e| self.fallo(e))?;
        if r.matched_count == 0 {
            return Err(Error::no_encontrado("usuario", id));
        }
        Ok(())
    }

    async fn quitar_compra(&self, id: &UsuarioId, reserva: &ReservaId) -> Result<()> {
        self.usuarios
            .update_one(
                doc! { "_id": id.oid() },
                doc! { "$pull": { "historial_compras": { "reserva_id": reserva.as_str() } } },
            )
            .await
            .map_err(|e| self.fallo(e))?;
        Ok(())
    }

    async fn compras_de_evento(&self, evento: &EventoId) -> Result<Vec<(UsuarioId, Compra)>> {
        // NX matches nothing on a dotted path into an array of subdocuments, so
        // `{"historial_compras.evento_id": …}` only works after `$unwind`. `$elemMatch`
        // works on both and lets MongoDB skip users without the event before unwinding.
        let pipeline = [
            doc! { "$match": { "historial_compras": { "$elemMatch": { "evento_id": evento.as_str() } } } },
            doc! { "$unwind": "$historial_compras" },
            doc! { "$match": { "historial_compras.evento_id": evento.as_str() } },
            doc! { "$project": { "_id": 1, "historial_compras": 1 } },
        ];
        let docs: Vec<Document> = self
            .usuarios
            .aggregate(pipeline)
            .await
            .map_err(|e| self.fallo(e))?
            .try_collect()
            .await
            .map_err(|e| self.fallo(e))?;
        let mut compras = docs
            .iter()
            .map(|d| {
                let usuario = usuario_id_de(d.get("_id")).ok_or_else(|| {
                    Error::Inconsistencia(format!(
                        "un usuario con compras del evento {evento} tiene un _id inválido: {:?}",
                        d.get("_id")
                    ))
                })?;
                let compra = compra_de_documento(usuario.as_str(), d.get("historial_compras"))?;
                Ok((usuario, compra))
            })
            .collect::<Result<Vec<_>>>()?;
        compras.sort_by(|a, b| (&a.0, &a.1.reserva_id).cmp(&(&b.0, &b.1.reserva_id)));
        Ok(compras)
    }

    async fn por_email(&self, email: &Email) -> Result<Option<Usuario>> {
        self.usuarios
            .find_one(doc! { "email": email.as_str() })
            .await
            .map_err(|e| self.fallo(e))?
            .map(usuario_desde)
            .transpose()
    }

    async fn importar(&self, lote: Vec<NuevoUsuario>, modo: ModoImport) -> Result<ResultadoLote> {
        let salida = match modo {
            ModoImport::Insertar => {
                let docs: Vec<UsuarioDoc> = lote
                    .iter()
                    .map(|u| UsuarioDoc::nuevo(ObjectId::new(), u))
                    .collect();
                self.insertar_lote("usuarios", &docs).await?
            }
            ModoImport::Upsert => {
                let filas = lote
                    .iter()
                    .map(|u| {
                        let id = ObjectId::new();
                        FilaUpsert {
                            id,
                            clave: u.email.to_string(),
                            nuevo: UsuarioDoc::nuevo(id, u),
                            sentencia: Sentencia {
                                filtro: doc! { "email": u.email.as_str() },
                                set: set_usuario(
                                    Some(u.nombre.as_str()),
                                    Some(u.apellido.as_str()),
                                    None,
                                    u.documento.as_ref(),
                                ),
                                // The history is never touched by an import.
                                set_on_insert: doc! {
                                    "email": u.email.as_str(),
                                    "historial_compras": [],
                                },
                            },
                        }
                    })
                    .collect();
                let busqueda = BusquedaClaves {
                    filtro: &|filas: &[FilaUpsert<UsuarioDoc>]| {
                        let emails: Vec<&str> = filas.iter().map(|f| f.clave.as_str()).collect();
                        doc! { "email": { "$in": emails } }
                    },
                    proyeccion: doc! { "_id": 1, "email": 1 },
                    clave: &|d: &Document| d.get_str("email").ok().map(str::to_owned),
                    // Someone else created the email meanwhile: update it instead.
                    reintentar: &|f: &Fallo| {
                        es_clave_duplicada(f.codigo)
                            && choque_de_mensaje(&f.mensaje) != Choque::Documento
                    },
                };
                self.upsert_lote("usuarios", filas, busqueda).await?
            }
        };
        let mut rechazados = Vec::with_capacity(salida.fallos.len());
        for f in &salida.fallos {
            let motivo = match lote.get(f.indice) {
                Some(fila) => self.motivo_rechazo(f, fila).await,
                None => redactar_texto(&f.mensaje, &[&self.uri]),
            };
            rechazados.push((f.indice, motivo));
        }
        Ok(ResultadoLote {
            insertados: salida.insertados,
            actualizados: salida.actualizados,
            rechazados,
            insertados_ids: Vec::new(),
        })
    }

    async fn danados(&self) -> Result<Vec<FilaDanada>> {
        listado::danadas("usuario", None, |desde, n| {
            pagina_cruda(self, &self.usuarios, desde, n, usuario_desde)
        })
        .await
    }
}
