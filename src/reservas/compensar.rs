//! `compensar`: finishes purchases that a crash or a lost client left half done, once
//! their hold has expired, by compensating them as the seed says (refund, release).
//! A claim with a lease keeps two concurrent runs from working on the same purchase.

use serde::Serialize;

use super::{Cadena, Reservador, Saga};
use crate::domain::{Entradas, Estado, EventoId, Fecha, ReservaId, UsuarioId};
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

pub async fn compensar(r: &Reservador, opciones: &OpcionesCompensar) -> Result<Vec<Compensacion>> {
    let ahora = Fecha::ahora();
    let candidatos = match &opciones.reserva {
        Some(id) => {
            let reg = r.almacen.reservas.ver(id).await?;
            if !reg.en_curso() {
                return Ok(Vec::new());
            }
            if reg.expira > ahora && !opciones.forzar {
                return Err(Error::Conflicto(format!(
                    "la reserva {id} sigue en curso: su retención vence el {}; espere o use --forzar",
                    reg.expira
                )));
            }
            vec![reg]
        }
        None => r.almacen.reservas.vencidas(ahora).await?,
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
        let Some(reclamado) = r
            .almacen
            .reservas
            .reclamar(&reg.reserva.id, motivo, ahora, LEASE_MS)
            .await?
        else {
            // Finished meanwhile, or another `compensar` holds it.
            continue;
        };
        let hasta = ultimo_paso(&reclamado);
        let mut saga = Saga::desde_registro(r, reclamado, None);
        Cadena::estandar().compensar_hasta(&mut saga, hasta).await?;
        let final_ = r.almacen.reservas.ver(&reg.reserva.id).await?;
        hechas.push(Compensacion {
            estado_final: Some(final_.reserva.estado),
            ..plan
        });
    }
    Ok(hechas)
}
