//! `EventoStore` on the `eventos` collection: the event's description plus the read
//! model of its confirmed sales (`entradas_disponibles`, `reservas_activas`). Every
//! read-model change is one guarded `update_one`, so a retried saga step applies once.

use async_trait::async_trait;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Bson, Document, doc};
use mongodb::options::ReturnDocument;

use super::MongoStore;
use super::documentos::{EventoDoc, evento_desde, pagina_cruda};
use super::lote::{BusquedaClaves, Fallo, FilaUpsert, Salida, Sentencia};
use crate::config::redactar_texto;
use crate::domain::{
    Aforo, CambiosEvento, Entradas, Evento, EventoId, Fecha, NuevoEvento, Precio, ReservaId, Texto,
};
use crate::error::{Error, Result};
use crate::store::{EventoStore, FilaDanada, ModoImport, ResultadoLote, listado};

impl MongoStore {
    async fn evento_existe(&self, id: &EventoId) -> Result<Option<Document>> {
        self.eventos
            .find_one(doc! { "_id": id.oid() })
            .projection(doc! { "reservas_activas": 1 })
            .await
            .map_err(|e| self.fallo(e))
    }
}

/// The upsert match key of an event. `Texto` admits no control characters, so NUL
/// cannot occur in a name and the pair is unambiguous.
fn clave_evento(nombre: &str, fecha: &str) -> String {
    format!("{nombre}\u{0}{fecha}")
}

fn contiene_reserva(doc: &Document, reserva: &ReservaId) -> bool {
    matches!(doc.get("reservas_activas"), Some(Bson::Array(a))
        if a.iter().any(|r| r.as_str() == Some(reserva.as_str())))
}

#[async_trait]
impl EventoStore for MongoStore {
    async fn crear(&self, nuevo: NuevoEvento) -> Result<Evento> {
        let oid = ObjectId::new();
        self.eventos
            .clone_with_type::<EventoDoc>()
            .insert_one(EventoDoc::nuevo(oid, &nuevo))
            .await
            .map_err(|e| self.fallo(e))?;
        Ok(nuevo.en(EventoId::from(oid)))
    }

    async fn ver(&self, id: &EventoId) -> Result<Evento> {
        match self
            .eventos
            .find_one(doc! { "_id": id.oid() })
            .await
            .map_err(|e| self.fallo(e))?
        {
            Some(d) => evento_desde(d),
            None => Err(Error::no_encontrado("evento", id)),
        }
    }

    async fn aforo(&self, id: &EventoId) -> Result<Aforo> {
        let d = self
            .eventos
            .find_one(doc! { "_id": id.oid() })
            .projection(doc! { "aforo_total": 1 })
            .await
            .map_err(|e| self.fallo(e))?
            .ok_or_else(|| Error::no_encontrado("evento", id))?;
        let mal = |detalle: String| {
            Error::Inconsistencia(format!(
                "el evento {id} tiene un aforo_total guardado inválido: {detalle}"
            ))
        };
        // Small Int64 values come back as Int32 from some servers.
        match d.get("aforo_total") {
            Some(Bson::Int32(n)) => Aforo::new(i64::from(*n)).map_err(|e| mal(e.to_string())),
            Some(Bson::Int64(n)) => Aforo::new(*n).map_err(|e| mal(e.to_string())),
            otro => Err(mal(format!("{otro:?}"))),
        }
    }

    async fn precio(&self, id: &EventoId) -> Result<Precio> {
        let d = self
            .eventos
            .find_one(doc! { "_id": id.oid() })
            .projection(doc! { "precio": 1 })
            .await
            .map_err(|e| self.fallo(e))?
            .ok_or_else(|| Error::no_encontrado("evento", id))?;
        // Small Int64 values come back as Int32 from some servers.
        let n = match d.get("precio") {
            None => 0,
            Some(Bson::Int32(n)) => i64::from(*n),
            Some(Bson::Int64(n)) => *n,
            Some(otro) => {
                return Err(Error::Inconsistencia(format!(
                    "el evento {id} tiene un precio guardado inválido: {otro}"
                )));
            }
        };
        Precio::new(n).map_err(|e| {
            Error::Inconsistencia(format!(
                "el evento {id} tiene un precio guardado inválido: {e}"
            ))
        })
    }

    async fn listar(&self, limite: u32, despues_de: Option<&EventoId>) -> Result<Vec<Evento>> {
        let inicio = despues_de.map(|id| Bson::ObjectId(id.oid()));
        listado::listar("evento", limite, inicio, |desde, n| {
            pagina_cruda(self, &self.eventos, desde, n, evento_desde)
        })
        .await
    }

    async fn actualizar(
        &self, id: &EventoId, cambios: CambiosEvento, aforo_anterior: Aforo,
    ) -> Result<Evento> {
        if cambios.es_vacio() {
            return self.ver(id).await;
        }
        let mut filtro = doc! { "_id": id.oid() };
        let mut set = Document::new();
        if let Some(v) = &cambios.nombre {
            set.insert("nombre", v.as_str());
        }
        if let Some(v) = &cambios.fecha {
            set.insert("fecha", v.to_string());
        }
        if let Some(v) = &cambios.lugar {
            set.insert("lugar", v.as_str());
        }
        if let Some(v) = &cambios.precio {
            set.insert("precio", v.get());
        }
        let mut update = Document::new();
        if let Some(aforo) = cambios.aforo {
            let anterior = i64::from(aforo_anterior.get());
            let nuevo = i64::from(aforo.get());
            // Compare-and-set on the capacity the caller adjusted the seat counter from,
            // so two concurrent changes cannot both move `entradas_disponibles`.
            filtro.insert("aforo_total", anterior);
            set.insert("aforo_total", nuevo);
            update.insert("$inc", doc! { "entradas_disponibles": nuevo - anterior });
        }
        update.insert("$set", set);
        let actualizado = self
            .eventos
            .find_one_and_update(filtro, update)
            .return_document(ReturnDocument::After)
            .await
            .map_err(|e| self.fallo(e))?;
        match actualizado {
            Some(d) => evento_desde(d),
            None if cambios.aforo.is_some() && self.evento_existe(id).await?.is_some() => {
                Err(Error::Conflicto(format!(
                    "el aforo del evento {id} cambió mientras se actualizaba; vuelva a intentarlo"
                )))
            }
            None => Err(Error::no_encontrado("evento", id)),
        }
    }

    async fn eliminar(&self, id: &EventoId) -> Result<()> {
        let r = self
            .eventos
            .delete_one(doc! { "_id": id.oid() })
            .await
            .map_err(|e| self.fallo(e))?;
        if r.deleted_count == 0 {
            return Err(Error::no_encontrado("evento", id));
        }
        Ok(())
    }

    async fn aplicar_venta(
        &self, id: &EventoId, reserva: &ReservaId, entradas: Entradas,
    ) -> Result<()> {
        // `$nin`, not `$ne`: on NX `$ne` against an array field does not filter in updates.
        // The guard and both changes are one document write, so a retry never decrements
        // twice.
        let filtro = doc! { "_id": id.oid(), "reservas_activas": { "$nin": [reserva.as_str()] } };
        let update = doc! {
            "$push": { "reservas_activas": reserva.as_str() },
            "$inc": { "entradas_disponibles": -i64::from(entradas.get()) },
        };
        // Twice at most: the only way to miss and still not find the reservation is a
        // `revertir_venta` landing in between, and then applying again is right.
        for _ in 0..2 {
            let r = self
                .eventos
                .update_one(filtro.clone(), update.clone())
                .await
                .map_err(|e| self.fallo(e))?;
            if r.matched_count == 1 {
                return Ok(());
            }
            match self.evento_existe(id).await? {
                None => return Err(Error::no_encontrado("evento", id)),
                Some(d) if contiene_reserva(&d, reserva) => return Ok(()),
                Some(_) => {}
            }
        }
        Err(Error::Conflicto(format!(
            "la venta de la reserva {reserva} en el evento {id} cambió mientras se aplicaba; vuelva a intentarlo"
        )))
    }

    async fn revertir_venta(
        &self, id: &EventoId, reserva: &ReservaId, entradas: Entradas,
    ) -> Result<()> {
        // Matching on the reservation makes the second call a no-op.
        self.eventos
            .update_one(
                doc! { "_id": id.oid(), "reservas_activas": reserva.as_str() },
                doc! {
                    "$pull": { "reservas_activas": reserva.as_str() },
                    "$inc": { "entradas_disponibles": i64::from(entradas.get()) },
                },
            )
            .await
            .map_err(|e| self.fallo(e))?;
        Ok(())
    }

    async fn fijar_modelo_lectura(
        &self, id: &EventoId, disponibles: i64, activas: &[ReservaId],
    ) -> Result<()> {
        let activas: Vec<&str> = activas.iter().map(ReservaId::as_str).collect();
        let r = self
            .eventos
            .update_one(
                doc! { "_id": id.oid() },
                doc! { "$set": { "entradas_disponibles": disponibles, "reservas_activas": activas } },
            )
            .await
            .map_err(|e| self.fallo(e))?;
        if r.matched_count == 0 {
            return Err(Error::no_encontrado("evento", id));
        }
        Ok(())
    }

    async fn por_nombre_fecha(&self, nombre: &Texto, fecha: &Fecha) -> Result<Option<Evento>> {
        self.eventos
            .find_one(doc! { "nombre": nombre.as_str(), "fecha": fecha.to_string() })
            .await
            .map_err(|e| self.fallo(e))?
            .map(evento_desde)
            .transpose()
    }

    async fn importar(&self, lote: Vec<NuevoEvento>, modo: ModoImport) -> Result<ResultadoLote> {
        let (salida, insertados_ids) = match modo {
            ModoImport::Insertar => self.insertar_eventos(&lote).await?,
            ModoImport::Upsert => self.upsert_eventos(&lote).await?,
        };
        Ok(ResultadoLote {
            insertados: salida.insertados,
            actualizados: salida.actualizados,
            rechazados: salida
                .fallos
                .iter()
                .map(|f| (f.indice, redactar_texto(&f.mensaje, &[&self.uri])))
                .collect(),
            insertados_ids,
        })
    }

    async fn danados(&self) -> Result<Vec<FilaDanada>> {
        listado::danadas("evento", None, |desde, n| {
            pagina_cruda(self, &self.eventos, desde, n, evento_desde)
        })
        .await
    }
}

/// What an import batch wrote, with the ids of the events it inserted by batch index.
type Importados = (Salida, Vec<(usize, String)>);

impl MongoStore {
    /// Inserts the batch; a row that fails does not stop the others.
    async fn insertar_eventos(&self, lote: &[NuevoEvento]) -> Result<Importados> {
        // Ids chosen here, so the caller learns them without reading back.
        let docs: Vec<EventoDoc> = lote
            .iter()
            .map(|e| EventoDoc::nuevo(ObjectId::new(), e))
            .collect();
        let salida = self.insertar_lote("eventos", &docs).await?;
        let rechazados: std::collections::HashSet<usize> =
            salida.fallos.iter().map(|f| f.indice).collect();
        let ids = docs
            .iter()
            .enumerate()
            .filter(|(i, _)| !rechazados.contains(i))
            .map(|(i, d)| (i, d.id.to_hex()))
            .collect();
        Ok((salida, ids))
    }

    /// Upserts the batch by name and date.
    async fn upsert_eventos(&self, lote: &[NuevoEvento]) -> Result<Importados> {
        let filas = lote.iter().map(fila_upsert).collect();
        let busqueda = BusquedaClaves {
            filtro: &|filas: &[FilaUpsert<EventoDoc>]| {
                let nombres: Vec<&str> = filas.iter().map(|f| f.nuevo.nombre.as_str()).collect();
                let fechas: Vec<&str> = filas.iter().map(|f| f.nuevo.fecha.as_str()).collect();
                doc! { "nombre": { "$in": nombres }, "fecha": { "$in": fechas } }
            },
            proyeccion: doc! { "_id": 1, "nombre": 1, "fecha": 1 },
            clave: &|d: &Document| {
                Some(clave_evento(
                    d.get_str("nombre").ok()?,
                    d.get_str("fecha").ok()?,
                ))
            },
            // No unique index on events: any refusal is final.
            reintentar: &|_: &Fallo| false,
        };
        let salida = self.upsert_lote("eventos", filas, busqueda).await?;
        let ids = salida
            .upsertados
            .iter()
            .map(|(i, id)| (*i, id.to_hex()))
            .collect();
        Ok((salida, ids))
    }
}

/// The upsert row of one imported event, matched by name and date.
fn fila_upsert(e: &NuevoEvento) -> FilaUpsert<EventoDoc> {
    let id = ObjectId::new();
    let aforo = i64::from(e.aforo.get());
    FilaUpsert {
        id,
        clave: clave_evento(e.nombre.as_str(), &e.fecha.to_string()),
        nuevo: EventoDoc::nuevo(id, e),
        sentencia: Sentencia {
            filtro: doc! { "nombre": e.nombre.as_str(), "fecha": e.fecha.to_string() },
            // Capacity and sales stay out of `set`: an existing event's capacity moves
            // only through `actualizar`, which keeps the seat counter in step.
            set: doc! {
                "nombre": e.nombre.as_str(),
                "lugar": e.lugar.as_str(),
                "precio": e.precio.get(),
            },
            set_on_insert: doc! {
                "fecha": e.fecha.to_string(),
                "aforo_total": aforo,
                "entradas_disponibles": aforo,
                "reservas_activas": [],
            },
        },
    }
}
