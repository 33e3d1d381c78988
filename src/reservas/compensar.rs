//! `compensar`: finishes purchases that a crash or a lost client left half done, once
//! their hold has expired, by compensating them as the seed says (refund, release).
//! A claim with a lease keeps two concurrent runs from working on the same purchase.

use serde::Serialize;

use super::verificar::{cobro_restaurado, completada_desde};
use super::{Cadena, Reservador, Saga};
use crate::domain::{Compra, Entradas, Estado, EventoId, Fecha, ReservaId, UsuarioId};
use crate::error::{Error, Result};
use crate::store::{Paso, Reclamo, RegistroSaga};

/// How long one compensation may hold its claim before another run may take over.
pub const LEASE_MS: i64 = 60_000;

#[derive(Debug, Clone, Default)]
pub struct OpcionesCompensar {
    pub reserva: Option<ReservaId>,
    pub forzar: bool,
    pub dry_run: bool,
}

/// What was (or, with `--dry-run`, would be) done to one purchase.
#[derive(Debug, Clone, Serialize)]
pub struct Compensacion {
    pub reserva_id: ReservaId,
    pub evento_id: EventoId,
    pub usuario_id: UsuarioId,
    pub entradas: Entradas,
    /// The last step the purchase recorded.
    pub paso: Paso,
    pub estado_anterior: Estado,
    /// `None` with `--dry-run`.
    pub estado_final: Option<Estado>,
    pub expira: Fecha,
}

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
    r: &Reservador,
    id: &ReservaId,
    motivo: &Reclamo,
    estado_final: Option<Estado>,
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

pub async fn compensar(r: &Reservador, opciones: &OpcionesCompensar) -> Result<Vec<Compensacion>> {
    let candidatos = match &opciones.reserva {
        Some(id) => {
            let reg = r.almacen.reservas.ver(id).await?;
            if !reg.en_curso() {
                return Ok(Vec::new());
            }
            // The store's clock decides, as in the claim itself.
            if !opciones.forzar
                && reg.toma.is_none()
                && reg.expira > r.almacen.reservas.reloj().await?
            {
                return Err(en_curso(&reg));
            }
            vec![reg]
        }
        None => r.almacen.reservas.vencidas().await?,
    };
    let motivo = if opciones.forzar {
        Reclamo::Forzada
    } else {
        Reclamo::Vencida
    };
    let mut hechas = Vec::new();
    for reg in candidatos {
        let plan = Compensacion {
            reserva_id: reg.reserva.id.clone(),
            evento_id: reg.reserva.evento_id.clone(),
            usuario_id: reg.reserva.usuario_id.clone(),
            entradas: reg.reserva.entradas,
            paso: reg.paso,
            estado_anterior: reg.reserva.estado,
            estado_final: None,
            expira: reg.expira,
        };
        if opciones.dry_run {
            hechas.push(plan);
            continue;
        }
        // `None`: finished meanwhile, or another compensator holds a live lease.
        if let Some(final_) = tomar_y_deshacer(r, &reg.reserva.id, &motivo, None).await? {
            hechas.push(Compensacion {
                estado_final: Some(final_.reserva.estado),
                ..plan
            });
        }
    }
    Ok(hechas)
}

fn en_curso(reg: &RegistroSaga) -> Error {
    Error::Conflicto(format!(
        "la reserva {} sigue en curso: su retención vence el {}; espere o use --forzar",
        reg.reserva.id, reg.expira
    ))
}
