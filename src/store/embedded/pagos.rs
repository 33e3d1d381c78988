//! The payment ledger and idempotency keys on SQLite, each the twin of its Redis script
//! (`registrar_cobro.lua`, `registrar_reembolso.lua`, `vincular_clave.lua`).

use rusqlite::{OptionalExtension, Transaction, params};

use super::R;
use super::registros::{cobro, registro_o_error, reloj};
use crate::domain::{ClaveIdempotencia, Fecha, Reserva, ReservaId, TTL_IDEMPOTENCIA_MS};
use crate::error::Error;
use crate::store::{Cobro, rechazo};

/// Binds `clave` once; a second binding reads the first instead. A key past its time is
/// gone, as a Redis key past its TTL.
pub(super) fn vincular_clave(
    tx: &Transaction<'_>, clave: &ClaveIdempotencia, huella: &str, reserva: &ReservaId,
) -> R<Option<(String, ReservaId)>> {
    let ahora = reloj(tx)?;
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
}

/// The first charge decision wins; a new one needs a pending, unclaimed, unexpired
/// purchase, checked in this transaction beside the record.
pub(super) fn registrar_cobro(tx: &Transaction<'_>, r: &Reserva, aprobado: bool) -> R<Cobro> {
    // The first decision wins: a retried charge reads it back instead.
    if let Some(c) = cobro(tx, r.id.as_str())? {
        return Ok(c);
    }
    let actual = registro_o_error(tx, &r.id)?;
    let ahora = reloj(tx)?;
    actual
        .cobrable(Fecha::from_millis(ahora))
        .map_err(|n| rechazo::negativa(&r.id, n))?;
    tx.prepare_cached(
        "INSERT INTO pagos (reserva_id, evento_id, importe, aprobado, cobrado) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        r.id.as_str(),
        r.evento_id.as_str(),
        r.importe,
        i64::from(aprobado),
        ahora
    ])?;
    cobro(tx, r.id.as_str())?.ok_or_else(|| Error::no_encontrado("reserva", &r.id).into())
}

/// Refunds an approved charge once; `None` when nothing was charged.
pub(super) fn registrar_reembolso(tx: &Transaction<'_>, id: &ReservaId) -> R<Option<Cobro>> {
    match cobro(tx, id.as_str())? {
        Some(c) if c.aprobado => {}
        _ => return Ok(None),
    }
    tx.prepare_cached(
        "UPDATE pagos SET reembolsado = ?2 WHERE reserva_id = ?1 AND reembolsado IS NULL",
    )?
    .execute(params![id.as_str(), reloj(tx)?])?;
    cobro(tx, id.as_str())
}
