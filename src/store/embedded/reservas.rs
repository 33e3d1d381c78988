//! `ReservaStore` on SQLite: seat counters, saga records, per-user locks, idempotency keys
//! and the payment ledger. Each operation is one transaction that does what the Redis Lua
//! script of the same name does, with the same refusals, so the saga cannot tell them apart.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::filas::{self, COLUMNAS_PAGO, COLUMNAS_RESERVA};
use super::{Fallo, R, SqliteStore};
use crate::domain::{Aforo, ClaveIdempotencia, Estado, EventoId, Fecha, ReservaId};
use crate::error::{Error, Result};
use crate::store::{
    Cobro, Fase, FiltroReservas, Paso, Reclamo, RegistroSaga, ReservaStore, Retencion,
};

/// As on Redis: long enough for any client retry, short enough not to pile up.
const TTL_IDEMPOTENCIA_MS: i64 = 7 * 24 * 3600 * 1000;
/// As on Redis: a lock that expires before the take returns would protect nothing.
const TTL_MIN_BLOQUEO_MS: i64 = 1000;

fn contador(con: &Connection, evento: &str) -> R<Option<i64>> {
    Ok(con
        .prepare_cached("SELECT entradas FROM contadores WHERE evento_id = ?1")?
        .query_row([evento], |r| r.get(0))
        .optional()?)
}

fn registro(con: &Connection, id: &str) -> R<Option<RegistroSaga>> {
    let mut stmt = con.prepare_cached(&format!(
        "SELECT {COLUMNAS_RESERVA} FROM reservas WHERE id = ?1"
    ))?;
    filas::una(&mut stmt, [id], filas::registro)
}

fn cobro(con: &Connection, reserva: &str) -> R<Option<Cobro>> {
    let mut stmt = con.prepare_cached(&format!(
        "SELECT {COLUMNAS_PAGO} FROM pagos WHERE reserva_id = ?1"
    ))?;
    filas::una(&mut stmt, [reserva], filas::cobro)
}

/// Drops the user's lock on the event if this reservation still holds it.
fn soltar_bloqueo(con: &Connection, r: &RegistroSaga) -> R<()> {
    con.prepare_cached(
        "DELETE FROM bloqueos WHERE usuario_id = ?1 AND evento_id = ?2 AND reserva_id = ?3",
    )?
    .execute([
        r.reserva.usuario_id.as_str(),
        r.reserva.evento_id.as_str(),
        r.reserva.id.as_str(),
    ])?;
    Ok(())
}

fn sin_contador(evento: &EventoId) -> Fallo {
    Error::Inconsistencia(format!(
        "el evento {evento} no tiene contador de entradas; \
         ejecute `eventflow verificar --evento {evento} --reparar`"
    ))
    .into()
}

fn no_reserva(id: &ReservaId) -> Fallo {
    Error::no_encontrado("reserva", id).into()
}

fn bool_sql(b: bool) -> i64 {
    i64::from(b)
}

/// Inserts or overwrites a record whole.
fn escribir_registro(con: &Connection, r: &RegistroSaga, reemplazar: bool) -> R<()> {
    let verbo = if reemplazar {
        "INSERT OR REPLACE"
    } else {
        "INSERT"
    };
    let res = &r.reserva;
    con.prepare_cached(&format!(
        "{verbo} INTO reservas ({COLUMNAS_RESERVA}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
    ))?
    .execute(params![
        res.id.as_str(),
        res.evento_id.as_str(),
        res.usuario_id.as_str(),
        res.entradas.get(),
        res.estado.as_str(),
        res.importe,
        res.creada.millis(),
        res.actualizada.millis(),
        r.paso.as_str(),
        r.fase.as_str(),
        r.expira.millis(),
        r.clave.as_ref().map(|k| k.as_str()),
        r.fecha_compra.map(Fecha::millis),
        bool_sql(r.terminada),
        r.reclamada_hasta.map(Fecha::millis),
    ])?;
    Ok(())
}

/// Records in listing order: oldest first, id as the tie-break (as on Redis).
fn registros(con: &Connection, filtro: &FiltroReservas) -> R<Vec<RegistroSaga>> {
    let mut stmt = con.prepare_cached(&format!(
        "SELECT {COLUMNAS_RESERVA} FROM reservas \
         WHERE (?1 IS NULL OR evento_id = ?1) \
           AND (?2 IS NULL OR usuario_id = ?2) \
           AND (?3 IS NULL OR estado = ?3) \
         ORDER BY creada, id"
    ))?;
    filas::todas(
        &mut stmt,
        params![
            filtro.evento.as_ref().map(|e| e.as_str()),
            filtro.usuario.as_ref().map(|u| u.as_str()),
            filtro.estado.map(Estado::as_str),
        ],
        filas::registro,
    )
}

/// Seats that pending or confirmed records of the event hold.
fn entradas_fuera(con: &Connection, evento: &str) -> R<i64> {
    Ok(con
        .prepare_cached(
            "SELECT coalesce(sum(entradas), 0) FROM reservas \
             WHERE evento_id = ?1 AND estado IN ('pendiente', 'confirmada')",
        )?
        .query_row([evento], |r| r.get(0))?)
}

#[async_trait]
impl ReservaStore for SqliteStore {
    async fn crear_contador(&self, evento: &EventoId, aforo: Aforo) -> Result<bool> {
        let evento = evento.clone();
        self.escribir(move |tx| {
            let creado = tx
                .prepare_cached(
                    "INSERT INTO contadores (evento_id, entradas) VALUES (?1, ?2) \
                     ON CONFLICT DO NOTHING",
                )?
                .execute(params![evento.as_str(), aforo.get()])?;
            Ok(creado == 1)
        })
        .await
    }

    async fn contador(&self, evento: &EventoId) -> Result<Option<i64>> {
        let evento = evento.clone();
        self.con(move |con| contador(con, evento.as_str())).await
    }

    async fn ajustar_aforo(&self, evento: &EventoId, anterior: Aforo, nuevo: Aforo) -> Result<()> {
        let evento = evento.clone();
        self.escribir(move |tx| {
            let (a, n) = (i64::from(anterior.get()), i64::from(nuevo.get()));
            let Some(c) = contador(tx, evento.as_str())? else {
                return Err(sin_contador(&evento));
            };
            // Lowering only while no seat is out, so the new capacity can never be below
            // what was already sold or held.
            if n < a && c != a {
                let fuera = a - c;
                return Err(if fuera > 0 {
                    Error::Conflicto(format!(
                        "el evento {evento} tiene {fuera} entradas vendidas o retenidas; \
                         no se puede bajar el aforo de {anterior} a {nuevo}"
                    ))
                } else {
                    Error::Inconsistencia(format!(
                        "el contador del evento {evento} ({c}) supera su aforo ({anterior}); \
                         ejecute `eventflow verificar --evento {evento} --reparar`"
                    ))
                }
                .into());
            }
            tx.prepare_cached(
                "UPDATE contadores SET entradas = entradas + ?2 WHERE evento_id = ?1",
            )?
            .execute(params![evento.as_str(), n - a])?;
            Ok(())
        })
        .await
    }

    async fn borrar_evento(&self, evento: &EventoId, aforo: Aforo) -> Result<()> {
        let evento = evento.clone();
        self.escribir(move |tx| {
            let e = evento.as_str();
            let con_ventas = |fuera: i64| -> Fallo {
                Error::Conflicto(format!(
                    "el evento {evento} tiene {fuera} entradas vendidas o retenidas; no se puede \
                     eliminar: cancele antes sus reservas con `eventflow reservas cancelar`"
                ))
                .into()
            };
            if let Some(c) = contador(tx, e)?
                && c != i64::from(aforo.get())
            {
                return Err(con_ventas(i64::from(aforo.get()) - c));
            }
            let retenidas = entradas_fuera(tx, e)?;
            if retenidas > 0 {
                return Err(con_ventas(retenidas));
            }
            for sql in [
                "DELETE FROM pagos WHERE evento_id = ?1",
                "DELETE FROM reservas WHERE evento_id = ?1",
                "DELETE FROM bloqueos WHERE evento_id = ?1",
                "DELETE FROM contadores WHERE evento_id = ?1",
            ] {
                tx.prepare_cached(sql)?.execute([e])?;
            }
            Ok(())
        })
        .await
    }

    async fn fijar_contador(
        &self,
        evento: &EventoId,
        anterior: Option<i64>,
        valor: i64,
    ) -> Result<bool> {
        let evento = evento.clone();
        self.escribir(move |tx| {
            // Compare-and-set: a repair computed from a snapshot never undoes a sale that
            // ran meanwhile.
            if contador(tx, evento.as_str())? != anterior {
                return Ok(false);
            }
            tx.prepare_cached(
                "INSERT INTO contadores (evento_id, entradas) VALUES (?1, ?2) \
                 ON CONFLICT (evento_id) DO UPDATE SET entradas = excluded.entradas",
            )?
            .execute(params![evento.as_str(), valor])?;
            Ok(true)
        })
        .await
    }

    async fn eventos(&self) -> Result<Vec<EventoId>> {
        self.leer(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT evento_id FROM contadores UNION SELECT evento_id FROM reservas ORDER BY 1",
            )?;
            let ids: Vec<String> = stmt
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            ids.iter()
                .map(|id| {
                    EventoId::parse(id).map_err(|_| {
                        Error::Inconsistencia(format!(
                            "dato corrupto en SQLite: {id:?} en contadores o reservas no es un id de evento"
                        ))
                        .into()
                    })
                })
                .collect()
        })
        .await
    }

    async fn tomar(&self, r: &Retencion) -> Result<RegistroSaga> {
        let r = r.clone();
        self.escribir(move |tx| {
            let (u, e) = (r.usuario.as_str(), r.evento.as_str());
            let ahora = r.ahora.millis();
            // A lock whose time ran out no longer counts, as a Redis key past its TTL.
            let en_curso: Option<String> = tx
                .prepare_cached(
                    "SELECT reserva_id FROM bloqueos \
                     WHERE usuario_id = ?1 AND evento_id = ?2 AND expira > ?3",
                )?
                .query_row(params![u, e, ahora], |f| f.get(0))
                .optional()?;
            if en_curso.is_some() {
                return Err(Error::Conflicto(format!(
                    "el usuario {} ya tiene una compra en curso para el evento {}",
                    r.usuario, r.evento
                ))
                .into());
            }
            let Some(disponibles) = contador(tx, e)? else {
                return Err(Error::no_encontrado("evento", &r.evento).into());
            };
            if disponibles < i64::from(r.entradas.get()) {
                return Err(Error::SinEntradas {
                    evento: r.evento.to_string(),
                    pedidas: r.entradas.get(),
                    disponibles,
                }
                .into());
            }
            if registro(tx, r.reserva.as_str())?.is_some() {
                return Err(Error::Conflicto(format!("la reserva {} ya existe", r.reserva)).into());
            }
            tx.prepare_cached(
                "UPDATE contadores SET entradas = entradas - ?2 WHERE evento_id = ?1",
            )?
            .execute(params![e, r.entradas.get()])?;
            let nuevo = RegistroSaga {
                reserva: crate::domain::Reserva {
                    id: r.reserva.clone(),
                    evento_id: r.evento.clone(),
                    usuario_id: r.usuario.clone(),
                    entradas: r.entradas,
                    estado: Estado::Pendiente,
                    importe: r.importe,
                    creada: r.ahora,
                    actualizada: r.ahora,
                },
                paso: Paso::Inventario,
                fase: Fase::Hecho,
                expira: r.expira,
                clave: r.clave.clone(),
                fecha_compra: None,
                terminada: false,
                reclamada_hasta: None,
            };
            escribir_registro(tx, &nuevo, false)?;
            let ttl = (r.expira.millis() - ahora).max(TTL_MIN_BLOQUEO_MS);
            tx.prepare_cached(
                "INSERT OR REPLACE INTO bloqueos (usuario_id, evento_id, reserva_id, expira) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![u, e, r.reserva.as_str(), ahora.saturating_add(ttl)])?;
            // Read back, so the caller holds exactly what is stored (instants in ms).
            registro(tx, r.reserva.as_str())?.ok_or_else(|| no_reserva(&r.reserva))
        })
        .await
    }

    async fn marcar(&self, reserva: &RegistroSaga, paso: Paso, fase: Fase) -> Result<()> {
        let id = reserva.reserva.id.clone();
        self.escribir(move |tx| {
            let cambiadas = tx
                .prepare_cached(
                    "UPDATE reservas SET paso = ?2, fase = ?3, actualizada = ?4 WHERE id = ?1",
                )?
                .execute(params![
                    id.as_str(),
                    paso.as_str(),
                    fase.as_str(),
                    Fecha::ahora().millis()
                ])?;
            if cambiadas == 0 {
                return Err(no_reserva(&id));
            }
            Ok(())
        })
        .await
    }

    async fn confirmar(&self, reserva: &RegistroSaga, fecha_compra: Fecha) -> Result<RegistroSaga> {
        let id = reserva.reserva.id.clone();
        self.escribir(move |tx| {
            let ahora = Fecha::ahora();
            let actual = registro(tx, id.as_str())?.ok_or_else(|| no_reserva(&id))?;
            if actual.reserva.estado != Estado::Pendiente {
                return Err(Error::Conflicto(format!(
                    "la reserva {id} ya no está pendiente (estado {})",
                    actual.reserva.estado
                ))
                .into());
            }
            // A live claim means a compensator may already be refunding: confirming now
            // would sell seats it is about to give back.
            if let Some(hasta) = actual.reclamada_hasta.filter(|h| *h > ahora) {
                return Err(Error::Conflicto(format!(
                    "la reserva {id} ya no está pendiente: una compensación la reclamó hasta {hasta}"
                ))
                .into());
            }
            tx.prepare_cached(
                "UPDATE reservas SET estado = 'confirmada', paso = 'confirmacion', fase = 'hecho', \
                   fecha_compra = ?2, actualizada = ?3 \
                 WHERE id = ?1",
            )?
            .execute(params![id.as_str(), fecha_compra.millis(), ahora.millis()])?;
            registro(tx, id.as_str())?.ok_or_else(|| no_reserva(&id))
        })
        .await
    }

    async fn completar(&self, reserva: &RegistroSaga) -> Result<bool> {
        let id = reserva.reserva.id.clone();
        self.escribir(move |tx| {
            let ahora = Fecha::ahora();
            let Some(actual) = registro(tx, id.as_str())? else {
                return Ok(false);
            };
            if actual.reserva.estado != Estado::Confirmada || actual.terminada {
                return Ok(false);
            }
            // Yield to a live compensation claim, which then owns the purchase.
            if actual.reclamada_hasta.is_some_and(|h| h > ahora) {
                return Ok(false);
            }
            tx.prepare_cached(
                "UPDATE reservas SET paso = 'historial', fase = 'hecho', terminada = 1 \
                 WHERE id = ?1",
            )?
            .execute(params![id.as_str()])?;
            soltar_bloqueo(tx, &actual)?;
            Ok(true)
        })
        .await
    }

    async fn reclamar(
        &self,
        reserva: &ReservaId,
        motivo: Reclamo,
        ahora: Fecha,
        lease_ms: i64,
    ) -> Result<Option<RegistroSaga>> {
        let id = reserva.clone();
        self.escribir(move |tx| {
            let actual = registro(tx, id.as_str())?.ok_or_else(|| no_reserva(&id))?;
            if actual.reclamada_hasta.is_some_and(|h| h > ahora) {
                return Ok(None);
            }
            let elegible = match motivo {
                Reclamo::Vencida => !actual.terminada && actual.expira < ahora,
                Reclamo::Forzada => !actual.terminada,
                Reclamo::Cancelacion => {
                    actual.reserva.estado == Estado::Confirmada && actual.terminada
                }
            };
            if !elegible {
                return Ok(None);
            }
            tx.prepare_cached("UPDATE reservas SET reclamada_hasta = ?2 WHERE id = ?1")?
                .execute(params![
                    id.as_str(),
                    ahora.millis().saturating_add(lease_ms.max(1))
                ])?;
            registro(tx, id.as_str())
        })
        .await
    }

    async fn liberar(
        &self,
        reserva: &RegistroSaga,
        estado_final: Estado,
        ahora: Fecha,
    ) -> Result<bool> {
        if estado_final.retiene_entradas() {
            return Err(Error::Invalido(format!(
                "estado final inválido {estado_final}: liberar deja la reserva cancelada, compensada o expirada"
            )));
        }
        let id = reserva.reserva.id.clone();
        self.escribir(move |tx| {
            let actual = registro(tx, id.as_str())?.ok_or_else(|| no_reserva(&id))?;
            // The state check makes a second release (a retry, or a racing compensator)
            // a no-op.
            if !actual.reserva.estado.retiene_entradas() {
                return Ok(false);
            }
            let evento = &actual.reserva.evento_id;
            // Adding to a missing counter would invent one holding only these seats.
            let devueltas = tx
                .prepare_cached(
                    "UPDATE contadores SET entradas = entradas + ?2 WHERE evento_id = ?1",
                )?
                .execute(params![evento.as_str(), actual.reserva.entradas.get()])?;
            if devueltas == 0 {
                return Err(sin_contador(evento));
            }
            tx.prepare_cached(
                "UPDATE reservas SET estado = ?2, terminada = 1, actualizada = ?3, \
                   reclamada_hasta = NULL \
                 WHERE id = ?1",
            )?
            .execute(params![id.as_str(), estado_final.as_str(), ahora.millis()])?;
            soltar_bloqueo(tx, &actual)?;
            Ok(true)
        })
        .await
    }

    async fn ver(&self, reserva: &ReservaId) -> Result<RegistroSaga> {
        let id = reserva.clone();
        self.con(move |con| registro(con, id.as_str())?.ok_or_else(|| no_reserva(&id)))
            .await
    }

    async fn de_evento(&self, evento: &EventoId) -> Result<Vec<RegistroSaga>> {
        let filtro = FiltroReservas {
            evento: Some(evento.clone()),
            ..FiltroReservas::default()
        };
        self.con(move |con| registros(con, &filtro)).await
    }

    async fn listar(&self, filtro: &FiltroReservas) -> Result<Vec<RegistroSaga>> {
        let filtro = filtro.clone();
        self.con(move |con| registros(con, &filtro)).await
    }

    async fn vencidas(&self, ahora: Fecha) -> Result<Vec<RegistroSaga>> {
        self.con(move |con| {
            let mut stmt = con.prepare_cached(&format!(
                "SELECT {COLUMNAS_RESERVA} FROM reservas \
                 WHERE terminada = 0 AND expira < ?1 ORDER BY expira, id"
            ))?;
            filas::todas(&mut stmt, [ahora.millis()], filas::registro)
        })
        .await
    }

    async fn restaurar(&self, registro: &RegistroSaga) -> Result<()> {
        let r = registro.clone();
        self.escribir(move |tx| escribir_registro(tx, &r, true))
            .await
    }

    async fn vincular_clave(
        &self,
        clave: &ClaveIdempotencia,
        huella: &str,
        reserva: &ReservaId,
    ) -> Result<Option<(String, ReservaId)>> {
        let (clave, huella, reserva) = (clave.clone(), huella.to_owned(), reserva.clone());
        self.escribir(move |tx| {
            let ahora = Fecha::ahora().millis();
            let k = clave.as_str();
            // A key past its time is gone, as a Redis key past its TTL.
            tx.prepare_cached("DELETE FROM idempotencia WHERE clave = ?1 AND caduca <= ?2")?
                .execute(params![k, ahora])?;
            let previo: Option<(String, String)> = tx
                .prepare_cached("SELECT huella, reserva_id FROM idempotencia WHERE clave = ?1")?
                .query_row([k], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            match previo {
                Some((h, r)) => {
                    let r = ReservaId::parse(&r).map_err(|e| {
                        Error::Inconsistencia(format!(
                            "dato corrupto en SQLite: la clave de idempotencia {k:?} no apunta a una reserva ({e})"
                        ))
                    })?;
                    Ok(Some((h, r)))
                }
                None => {
                    tx.prepare_cached(
                        "INSERT INTO idempotencia (clave, huella, reserva_id, caduca) \
                         VALUES (?1, ?2, ?3, ?4)",
                    )?
                    .execute(params![
                        k,
                        huella,
                        reserva.as_str(),
                        ahora.saturating_add(TTL_IDEMPOTENCIA_MS)
                    ])?;
                    Ok(None)
                }
            }
        })
        .await
    }

    async fn registrar_cobro(
        &self,
        reserva: &RegistroSaga,
        aprobado: bool,
        ahora: Fecha,
    ) -> Result<Cobro> {
        let r = reserva.reserva.clone();
        self.escribir(move |tx| {
            // The first decision wins: a retried charge reads it back instead.
            tx.prepare_cached(
                "INSERT INTO pagos (reserva_id, evento_id, importe, aprobado, cobrado) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                r.id.as_str(),
                r.evento_id.as_str(),
                r.importe,
                bool_sql(aprobado),
                ahora.millis()
            ])?;
            cobro(tx, r.id.as_str())?.ok_or_else(|| no_reserva(&r.id))
        })
        .await
    }

    async fn registrar_reembolso(
        &self,
        reserva: &RegistroSaga,
        ahora: Fecha,
    ) -> Result<Option<Cobro>> {
        let id = reserva.reserva.id.clone();
        self.escribir(move |tx| {
            match cobro(tx, id.as_str())? {
                Some(c) if c.aprobado => {}
                _ => return Ok(None),
            }
            tx.prepare_cached(
                "UPDATE pagos SET reembolsado = ?2 WHERE reserva_id = ?1 AND reembolsado IS NULL",
            )?
            .execute(params![id.as_str(), ahora.millis()])?;
            cobro(tx, id.as_str())
        })
        .await
    }

    async fn cobro(&self, reserva: &RegistroSaga) -> Result<Option<Cobro>> {
        let id = reserva.reserva.id.clone();
        self.con(move |con| cobro(con, id.as_str())).await
    }

    async fn ping(&self) -> Result<String> {
        self.version().await
    }
}
