//! The SQLite side of the reservation rules: row helpers and the predicates the
//! transactions of `reservas` and `pagos` apply, each the twin of a Redis Lua script's
//! check (`store::rechazo` holds their shared messages).

use rusqlite::{Connection, OptionalExtension, params};

use super::R;
use super::filas::{self, COLUMNAS_PAGO, COLUMNAS_RESERVA};
use crate::domain::LIBERABLES_POR_TOMA;
use crate::domain::{Estado, EventoId, Fecha, Reserva, ReservaId};
use crate::error::Error;
use crate::store::{Cobro, FiltroReservas, RegistroSaga, Toma, rechazo};

/// SQLite's clock in epoch ms: the one clock every process sharing the file compares with.
pub(super) fn reloj(con: &Connection) -> R<i64> {
    Ok(con
        .prepare_cached("SELECT CAST(round(unixepoch('subsec') * 1000) AS INTEGER)")?
        .query_row([], |r| r.get(0))?)
}

/// `(counter, capacity)` of an event, if it has a counter.
pub(super) fn contador(con: &Connection, evento: &str) -> R<Option<(i64, Option<i64>)>> {
    Ok(con
        .prepare_cached("SELECT entradas, aforo FROM contadores WHERE evento_id = ?1")?
        .query_row([evento], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

pub(super) fn registro(con: &Connection, id: &str) -> R<Option<RegistroSaga>> {
    let mut stmt = con.prepare_cached(&format!(
        "SELECT {COLUMNAS_RESERVA} FROM reservas WHERE id = ?1"
    ))?;
    filas::una(&mut stmt, [id], filas::registro)
}

pub(super) fn registro_o_error(con: &Connection, id: &ReservaId) -> R<RegistroSaga> {
    registro(con, id.as_str())?.ok_or_else(|| Error::no_encontrado("reserva", id).into())
}

pub(super) fn cobro(con: &Connection, reserva: &str) -> R<Option<Cobro>> {
    let mut stmt = con.prepare_cached(&format!(
        "SELECT {COLUMNAS_PAGO} FROM pagos WHERE reserva_id = ?1"
    ))?;
    filas::una(&mut stmt, [reserva], filas::cobro)
}

/// Drops the user's lock on the event if this reservation still holds it.
pub(super) fn soltar_bloqueo(con: &Connection, r: &Reserva) -> R<()> {
    con.prepare_cached(
        "DELETE FROM bloqueos WHERE usuario_id = ?1 AND evento_id = ?2 AND reserva_id = ?3",
    )?
    .execute([r.usuario_id.as_str(), r.evento_id.as_str(), r.id.as_str()])?;
    Ok(())
}

pub(super) fn mover_contador(con: &Connection, evento: &EventoId, delta: i64) -> R<()> {
    let movidas = con
        .prepare_cached("UPDATE contadores SET entradas = entradas + ?2 WHERE evento_id = ?1")?
        .execute(params![evento.as_str(), delta])?;
    if movidas == 0 {
        // Adding to a missing counter would invent one holding only these seats.
        return Err(rechazo::sin_contador(evento).into());
    }
    Ok(())
}

/// Inserts or overwrites a record whole.
pub(super) fn escribir_registro(con: &Connection, r: &RegistroSaga, reemplazar: bool) -> R<()> {
    let verbo = if reemplazar {
        "INSERT OR REPLACE"
    } else {
        "INSERT"
    };
    let res = &r.reserva;
    con.prepare_cached(&format!(
        "{verbo} INTO reservas ({COLUMNAS_RESERVA}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
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
        i64::from(r.terminada),
        r.toma.map(Toma::as_str),
        r.reclamada_hasta.map(Fecha::millis),
        r.fallo.as_deref(),
    ])?;
    Ok(())
}

/// Records in listing order: oldest first, id as the tie-break (as on Redis).
const SQL_LISTADO: &str = "WHERE (?1 IS NULL OR evento_id = ?1) \
       AND (?2 IS NULL OR usuario_id = ?2) \
       AND (?3 IS NULL OR estado = ?3) \
     ORDER BY creada, id";

fn parametros(filtro: &FiltroReservas) -> [Option<&str>; 3] {
    [
        filtro.evento.as_ref().map(|e| e.as_str()),
        filtro.usuario.as_ref().map(|u| u.as_str()),
        filtro.estado.map(Estado::as_str),
    ]
}

pub(super) fn registros(con: &Connection, filtro: &FiltroReservas) -> R<Vec<RegistroSaga>> {
    let mut stmt = con.prepare_cached(&format!(
        "SELECT {COLUMNAS_RESERVA} FROM reservas {SQL_LISTADO}"
    ))?;
    filas::todas(&mut stmt, parametros(filtro), filas::registro)
}

/// Like [`registros`], each with its stored id and its own read result (`reservas
/// listar` skips the ones that do not read back).
pub(super) fn registros_leidos(
    con: &Connection, filtro: &FiltroReservas,
) -> R<Vec<(String, crate::error::Result<RegistroSaga>)>> {
    let mut stmt = con.prepare_cached(&format!(
        "SELECT {COLUMNAS_RESERVA} FROM reservas {SQL_LISTADO}"
    ))?;
    Ok(
        filas::todas_crudas(&mut stmt, parametros(filtro), filas::registro)?
            .into_iter()
            .map(|c| (c.id, c.leida))
            .collect(),
    )
}

/// A stored reservation's id with its own read result.
pub(super) type Leido = (String, crate::error::Result<RegistroSaga>);

/// One page of [`registros_leidos`] in `ReservaStore::pagina`'s order (event id, then
/// id), after the purchase `despues_de`; `None` in the outer option when that purchase
/// does not exist.
pub(super) fn pagina_leida(
    con: &Connection, filtro: &FiltroReservas, limite: u32, despues_de: Option<&str>,
) -> R<Option<Vec<Leido>>> {
    let inicio: Option<(String, String)> = match despues_de {
        Some(id) => {
            let evento = con
                .prepare_cached("SELECT evento_id FROM reservas WHERE id = ?1")?
                .query_row([id], |r| r.get::<_, String>(0))
                .optional()?;
            match evento {
                Some(e) => Some((e, id.to_owned())),
                None => return Ok(None),
            }
        }
        None => None,
    };
    let mut stmt = con.prepare_cached(&format!(
        "SELECT {COLUMNAS_RESERVA} FROM reservas \
         WHERE (?1 IS NULL OR evento_id = ?1) \
           AND (?2 IS NULL OR usuario_id = ?2) \
           AND (?3 IS NULL OR estado = ?3) \
           AND (?4 IS NULL OR (evento_id, id) > (?4, ?5)) \
         ORDER BY evento_id, id LIMIT ?6"
    ))?;
    let [e, u, s] = parametros(filtro);
    let (ce, ci) = match &inicio {
        Some((e, i)) => (Some(e.as_str()), Some(i.as_str())),
        None => (None, None),
    };
    Ok(Some(
        filas::todas_crudas(&mut stmt, params![e, u, s, ce, ci, limite], filas::registro)?
            .into_iter()
            .map(|c| (c.id, c.leida))
            .collect(),
    ))
}

/// Releases the event's expired holds whose payment never started (step `inventario`,
/// no ledger entry, not taken over), as `tomar.lua` does.
pub(super) fn liberar_vencidas(con: &Connection, evento: &EventoId, ahora: i64) -> R<()> {
    let mut stmt = con.prepare_cached(&format!(
        "SELECT {COLUMNAS_RESERVA} FROM reservas \
         WHERE evento_id = ?1 AND terminada = 0 AND expira < ?2 AND estado = 'pendiente' \
           AND toma IS NULL AND paso = 'inventario' \
           AND NOT EXISTS (SELECT 1 FROM pagos WHERE pagos.reserva_id = reservas.id) \
         ORDER BY expira LIMIT ?3"
    ))?;
    let vencidas = filas::todas(
        &mut stmt,
        params![evento.as_str(), ahora, LIBERABLES_POR_TOMA],
        filas::registro,
    )?;
    for v in vencidas {
        mover_contador(con, evento, i64::from(v.reserva.entradas.get()))?;
        con.prepare_cached(
            "UPDATE reservas SET estado = 'expirada', terminada = 1, actualizada = ?2 WHERE id = ?1",
        )?
        .execute(params![v.reserva.id.as_str(), ahora])?;
        soltar_bloqueo(con, &v.reserva)?;
    }
    Ok(())
}

/// Refuses (as `EF_TOMADA` on Redis) a saga step on a purchase it no longer owns.
pub(super) fn de_la_saga(r: &RegistroSaga) -> R<()> {
    r.propia()
        .map_err(|n| rechazo::negativa(&r.reserva.id, n).into())
}
