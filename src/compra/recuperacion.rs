//! Recovery: "take the purchase over, then compensate it", written once. `compensar`
//! (expired holds), `reservas cancelar` and `verificar --reparar` all finish a purchase
//! through [`tomar_y_deshacer`], so each undo has one implementation: the saga's own
//! handlers, run backwards from the last step whose effects may exist.

use super::verificar::{cobro_restaurado, completada_desde};
use super::{Cadena, Reservador, Saga};
use crate::domain::{Compra, Estado, ReservaId};
use crate::error::{Error, Result};
use crate::store::{Paso, Reclamo, RegistroSaga};

/// How long one compensation may hold its claim before another run may take over (ms).
pub const LEASE_MS: i64 = 60_000;

/// The last step whose effects may exist, and so the last one to compensate.
pub(super) fn ultimo_paso(r: &RegistroSaga) -> Paso {
    if r.reserva.estado == Estado::Confirmada {
        Paso::Historial
    } else {
        r.paso
    }
}

/// Takes a purchase over for `motivo` and, if granted, compensates every step whose
/// effects may exist. The one "claim, then compensate" of `compensar`, `cancelar` and
/// `verificar --reparar`. Returns the final record, or `None` when the claim was refused
/// (finished meanwhile, or a live owner holds it).
///
/// A purchase in flight that its buyer's history already holds was sold: the buyer was
/// told `confirmada`, and the reservation store lost its last steps (a Redis `kill -9`
/// loses up to a second of writes). Once taken over, it is completed from the history,
/// with its ledger entry, never compensated.
pub(super) async fn tomar_y_deshacer(
    r: &Reservador, id: &ReservaId, motivo: &Reclamo, estado_final: Option<Estado>,
) -> Result<Option<RegistroSaga>> {
    let Some(reclamado) = r.almacen.reservas.reclamar(id, motivo, LEASE_MS).await? else {
        return Ok(None);
    };
    if matches!(motivo, Reclamo::Vencida | Reclamo::Forzada)
        && let Some(compra) = en_historial(r, &reclamado).await?
    {
        let completa = completada_desde(&reclamado, &compra);
        // We hold the take-over, so nobody else writes it meanwhile.
        if !r
            .almacen
            .reservas
            .restaurar(&completa, Some(&cobro_restaurado(&completa)))
            .await?
        {
            return Err(Error::Interno(anyhow::anyhow!(
                "no se pudo completar desde el historial la compra {id}, tomada por este proceso"
            )));
        }
        return r.almacen.reservas.ver(id).await.map(Some);
    }
    let hasta = ultimo_paso(&reclamado);
    let mut saga = Saga::desde_registro(r, reclamado, estado_final);
    Cadena::estandar().compensar_hasta(&mut saga, hasta).await?;
    r.almacen.reservas.ver(id).await.map(Some)
}

/// The buyer's history entry of this purchase, if the history holds it.
async fn en_historial(r: &Reservador, reg: &RegistroSaga) -> Result<Option<Compra>> {
    match r.almacen.usuarios.ver(&reg.reserva.usuario_id).await {
        Ok(u) => Ok(u
            .historial_compras
            .into_iter()
            .find(|c| c.reserva_id == reg.reserva.id)),
        Err(Error::NoEncontrado { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}
