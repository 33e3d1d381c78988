//! `EventoStore` on the `eventos` and `reservas_activas` tables: the description plus the
//! read model of confirmed sales. Each read-model change checks and writes in one
//! transaction, so a retried saga step applies once.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::filas::{self, COLUMNAS_EVENTO};
use super::{Fallo, R, SqliteStore};
use crate::domain::{
    Aforo, CambiosEvento, Entradas, Evento, EventoId, Fecha, NuevoEvento, Precio, ReservaId, Texto,
};
use crate::error::{Error, Result};
use crate::store::listado::{self, Cruda};
use crate::store::{EventoStore, FilaDanada, ModoImport, ResultadoLote};

fn insertar(con: &Connection, e: &NuevoEvento) -> R<EventoId> {
    let id = EventoId::generar();
    let aforo = i64::from(e.aforo.get());
    con.prepare_cached(
        "INSERT INTO eventos (id, nombre, fecha, lugar, aforo_total, entradas_disponibles, precio) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
    )?
    .execute(params![
        id.as_str(),
        e.nombre.as_str(),
        e.fecha.to_string(),
        e.lugar.as_str(),
        aforo,
        e.precio.get(),
    ])?;
    Ok(id)
}

/// `reservas_activas` in the order the sales were applied.
fn activas(con: &Connection, id: &str) -> R<Vec<ReservaId>> {
    let mut stmt = con.prepare_cached(
        "SELECT reserva_id FROM reservas_activas WHERE evento_id = ?1 ORDER BY rowid",
    )?;
    let ids: Vec<String> = stmt
        .query_map([id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    ids.iter()
        .map(|r| {
            ReservaId::parse(r).map_err(|e| {
                Fallo::Dominio(Error::Inconsistencia(format!(
                    "dato corrupto en SQLite: la tabla reservas_activas del evento {id} contiene {e}; \
                     corríjalo o restáurelo con `eventflow verificar --evento {id} --reparar`"
                )))
            })
        })
        .collect()
}

fn con_activas(con: &Connection, mut e: Evento) -> R<Evento> {
    e.reservas_activas = activas(con, e.id.as_str())?;
    Ok(e)
}

fn leer(con: &Connection, id: &str) -> R<Option<Evento>> {
    let mut stmt = con.prepare_cached(&format!(
        "SELECT {COLUMNAS_EVENTO} FROM eventos WHERE id = ?1"
    ))?;
    filas::una(&mut stmt, [id], filas::evento)?
        .map(|e| con_activas(con, e))
        .transpose()
}

fn existe(con: &Connection, id: &str) -> R<bool> {
    Ok(con
        .prepare_cached("SELECT 1 FROM eventos WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The oldest event called `nombre` on `fecha` (the upsert key of imports).
fn id_por_nombre_fecha(con: &Connection, nombre: &Texto, fecha: &Fecha) -> R<Option<String>> {
    Ok(con
        .prepare_cached(
            "SELECT id FROM eventos WHERE nombre = ?1 AND fecha = ?2 ORDER BY id LIMIT 1",
        )?
        .query_row(params![nombre.as_str(), fecha.to_string()], |r| r.get(0))
        .optional()?)
}

fn no_encontrado(id: &EventoId) -> Fallo {
    Error::no_encontrado("evento", id).into()
}

impl SqliteStore {
    /// Raw eventos after the id `desde`, each read whole or kept as its damage.
    async fn pagina_eventos(&self, desde: String, n: u32) -> Result<Vec<Cruda<String, Evento>>> {
        self.leer(move |tx| {
            let sql =
                format!("SELECT {COLUMNAS_EVENTO} FROM eventos WHERE id > ?1 ORDER BY id LIMIT ?2");
            filas::pagina_cruda(tx, &sql, &desde, n, filas::evento, con_activas)
        })
        .await
    }
}

#[async_trait]
impl EventoStore for SqliteStore {
    async fn crear(&self, nuevo: NuevoEvento) -> Result<Evento> {
        self.escribir(move |tx| {
            let id = insertar(tx, &nuevo)?;
            Ok(nuevo.en(id))
        })
        .await
    }

    async fn ver(&self, id: &EventoId) -> Result<Evento> {
        let id = id.clone();
        self.leer(move |tx| leer(tx, id.as_str())?.ok_or_else(|| no_encontrado(&id)))
            .await
    }

    async fn aforo(&self, id: &EventoId) -> Result<Aforo> {
        let id = id.clone();
        let n: rusqlite::types::Value = self
            .leer(move |tx| {
                tx.prepare_cached("SELECT aforo_total FROM eventos WHERE id = ?1")?
                    .query_row([id.as_str()], |r| r.get(0))
                    .optional()?
                    .ok_or_else(|| no_encontrado(&id))
            })
            .await?;
        match n {
            rusqlite::types::Value::Integer(n) => Aforo::new(n)
                .map_err(|e| Error::Inconsistencia(format!("aforo_total guardado inválido: {e}"))),
            otro => Err(Error::Inconsistencia(format!(
                "aforo_total guardado inválido: {otro:?}"
            ))),
        }
    }

    async fn precio(&self, id: &EventoId) -> Result<Precio> {
        let id = id.clone();
        let n: i64 = self
            .leer(move |tx| {
                tx.prepare_cached("SELECT precio FROM eventos WHERE id = ?1")?
                    .query_row([id.as_str()], |r| r.get(0))
                    .optional()?
                    .ok_or_else(|| no_encontrado(&id))
            })
            .await?;
        Precio::new(n).map_err(|e| Error::Inconsistencia(format!("precio guardado inválido: {e}")))
    }

    async fn listar(&self, limite: u32, despues_de: Option<&EventoId>) -> Result<Vec<Evento>> {
        // Ids are lowercase hex of the same length, so text order is ObjectId order.
        let inicio = despues_de.map(|d| d.to_string()).unwrap_or_default();
        listado::listar("evento", limite, inicio, |desde, n| {
            self.pagina_eventos(desde, n)
        })
        .await
    }

    async fn actualizar(
        &self, id: &EventoId, cambios: CambiosEvento, aforo_anterior: Aforo,
    ) -> Result<Evento> {
        let id = id.clone();
        self.escribir(move |tx| {
            let aforo: Option<i64> = tx
                .prepare_cached("SELECT aforo_total FROM eventos WHERE id = ?1")?
                .query_row([id.as_str()], |r| r.get(0))
                .optional()?;
            let Some(aforo) = aforo else {
                return Err(no_encontrado(&id));
            };
            if cambios.es_vacio() {
                return leer(tx, id.as_str())?.ok_or_else(|| no_encontrado(&id));
            }
            // Compare-and-set on the capacity the caller adjusted the seat counter from,
            // so two concurrent changes cannot both move `entradas_disponibles`.
            let (nuevo_aforo, diferencia) = match cambios.aforo {
                Some(nuevo) => {
                    if aforo != i64::from(aforo_anterior.get()) {
                        return Err(Error::Conflicto(format!(
                            "el aforo del evento {id} cambió mientras se actualizaba; vuelva a intentarlo"
                        ))
                        .into());
                    }
                    let nuevo = i64::from(nuevo.get());
                    (Some(nuevo), nuevo - aforo)
                }
                None => (None, 0),
            };
            tx.prepare_cached(
                "UPDATE eventos SET \
                   nombre = coalesce(?2, nombre), \
                   fecha = coalesce(?3, fecha), \
                   lugar = coalesce(?4, lugar), \
                   precio = coalesce(?5, precio), \
                   aforo_total = coalesce(?6, aforo_total), \
                   entradas_disponibles = entradas_disponibles + ?7 \
                 WHERE id = ?1",
            )?
            .execute(params![
                id.as_str(),
                cambios.nombre.as_ref().map(|t| t.as_str()),
                cambios.fecha.map(|f| f.to_string()),
                cambios.lugar.as_ref().map(|t| t.as_str()),
                cambios.precio.map(|p| p.get()),
                nuevo_aforo,
                diferencia,
            ])?;
            leer(tx, id.as_str())?.ok_or_else(|| no_encontrado(&id))
        })
        .await
    }

    async fn eliminar(&self, id: &EventoId) -> Result<()> {
        let id = id.clone();
        self.escribir(move |tx| {
            // `reservas_activas` goes with it (ON DELETE CASCADE).
            let borradas = tx
                .prepare_cached("DELETE FROM eventos WHERE id = ?1")?
                .execute([id.as_str()])?;
            if borradas == 0 {
                return Err(no_encontrado(&id));
            }
            Ok(())
        })
        .await
    }

    async fn aplicar_venta(
        &self, id: &EventoId, reserva: &ReservaId, entradas: Entradas,
    ) -> Result<()> {
        let (id, reserva) = (id.clone(), reserva.clone());
        self.escribir(move |tx| {
            if !existe(tx, id.as_str())? {
                return Err(no_encontrado(&id));
            }
            let nueva = tx
                .prepare_cached(
                    "INSERT INTO reservas_activas (evento_id, reserva_id) VALUES (?1, ?2) \
                     ON CONFLICT DO NOTHING",
                )?
                .execute([id.as_str(), reserva.as_str()])?;
            if nueva == 1 {
                tx.prepare_cached(
                    "UPDATE eventos SET entradas_disponibles = entradas_disponibles - ?2 WHERE id = ?1",
                )?
                .execute(params![id.as_str(), entradas.get()])?;
            }
            Ok(())
        })
        .await
    }

    async fn revertir_venta(
        &self, id: &EventoId, reserva: &ReservaId, entradas: Entradas,
    ) -> Result<()> {
        let (id, reserva) = (id.clone(), reserva.clone());
        self.escribir(move |tx| {
            // Keyed on the reservation, so a second call finds nothing to undo.
            let quitada = tx
                .prepare_cached(
                    "DELETE FROM reservas_activas WHERE evento_id = ?1 AND reserva_id = ?2",
                )?
                .execute([id.as_str(), reserva.as_str()])?;
            if quitada == 1 {
                tx.prepare_cached(
                    "UPDATE eventos SET entradas_disponibles = entradas_disponibles + ?2 WHERE id = ?1",
                )?
                .execute(params![id.as_str(), entradas.get()])?;
            }
            Ok(())
        })
        .await
    }

    async fn fijar_modelo_lectura(
        &self, id: &EventoId, disponibles: i64, activas: &[ReservaId],
    ) -> Result<()> {
        let (id, activas) = (id.clone(), activas.to_vec());
        self.escribir(move |tx| {
            let cambiadas = tx
                .prepare_cached("UPDATE eventos SET entradas_disponibles = ?2 WHERE id = ?1")?
                .execute(params![id.as_str(), disponibles])?;
            if cambiadas == 0 {
                return Err(no_encontrado(&id));
            }
            tx.prepare_cached("DELETE FROM reservas_activas WHERE evento_id = ?1")?
                .execute([id.as_str()])?;
            let mut insertar = tx.prepare_cached(
                "INSERT INTO reservas_activas (evento_id, reserva_id) VALUES (?1, ?2) \
                 ON CONFLICT DO NOTHING",
            )?;
            for r in &activas {
                insertar.execute([id.as_str(), r.as_str()])?;
            }
            Ok(())
        })
        .await
    }

    async fn por_nombre_fecha(&self, nombre: &Texto, fecha: &Fecha) -> Result<Option<Evento>> {
        let (nombre, fecha) = (nombre.clone(), *fecha);
        self.leer(move |tx| match id_por_nombre_fecha(tx, &nombre, &fecha)? {
            Some(id) => leer(tx, &id),
            None => Ok(None),
        })
        .await
    }

    async fn importar(&self, lote: Vec<NuevoEvento>, modo: ModoImport) -> Result<ResultadoLote> {
        self.escribir(move |tx| {
            let mut r = ResultadoLote::default();
            for (i, e) in lote.iter().enumerate() {
                if modo == ModoImport::Upsert
                    && let Some(id) = id_por_nombre_fecha(tx, &e.nombre, &e.fecha)?
                {
                    // Capacity and sales stay as they are: an existing event's capacity
                    // moves only through `actualizar`, which keeps the counter in step.
                    tx.prepare_cached("UPDATE eventos SET lugar = ?2, precio = ?3 WHERE id = ?1")?
                        .execute(params![id, e.lugar.as_str(), e.precio.get()])?;
                    r.actualizados += 1;
                    continue;
                }
                let id = insertar(tx, e)?;
                r.insertados += 1;
                r.insertados_ids.push((i, id.to_string()));
            }
            Ok(r)
        })
        .await
    }

    async fn danados(&self) -> Result<Vec<FilaDanada>> {
        listado::danadas("evento", String::new(), |desde, n| {
            self.pagina_eventos(desde, n)
        })
        .await
    }
}
