//! `compensar`: finishes purchases that a crash or a lost client left half done, once
//! their hold has expired, by compensating them as the seed says (refund, release).
//! A claim with a lease keeps two concurrent runs from working on the same purchase.

use serde::Serialize;

use super::Reservador;
use super::recuperacion::tomar_y_deshacer;
use crate::domain::{Entradas, Estado, EventoId, Fecha, ReservaId, UsuarioId};
use crate::error::{Error, Result};
use crate::store::{Paso, Reclamo, RegistroSaga};

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
