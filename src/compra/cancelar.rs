//! `reservas cancelar`: an operator cancels a confirmed purchase. It runs the same
//! compensations as a failed saga (history and read model, refund, seats), ending in
//! `cancelada`.

use super::Reservador;
use super::recuperacion::tomar_y_deshacer;
use crate::domain::{Estado, Reserva, ReservaId};
use crate::error::{Error, Result};
use crate::store::Reclamo;

pub async fn cancelar(r: &Reservador, id: &ReservaId) -> Result<Reserva> {
    if let Some(reg) =
        tomar_y_deshacer(r, id, &Reclamo::Cancelacion, Some(Estado::Cancelada)).await?
    {
        return Ok(reg.reserva);
    }
    let actual = r.almacen.reservas.ver(id).await?;
    Err(Error::Conflicto(match actual.reserva.estado {
        Estado::Pendiente | Estado::Confirmada => format!(
            "la reserva {id} está en curso o la está procesando otra operación; vuelva a intentarlo en unos segundos"
        ),
        e => format!("la reserva {id} ya está {e}; solo se cancelan compras confirmadas"),
    }))
}
