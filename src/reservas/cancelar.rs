//! `reservas cancelar`: an operator cancels a confirmed purchase. It runs the same
//! compensations as a failed saga (history and read model, refund, seats), ending in
//! `cancelada`.

use super::compensar::LEASE_MS;
use super::{Cadena, Reservador, Saga};
use crate::domain::{Estado, Fecha, Reserva, ReservaId};
use crate::error::{Error, Result};
use crate::store::{Paso, Reclamo};

pub async fn cancelar(r: &Reservador, id: &ReservaId) -> Result<Reserva> {
    let Some(reg) = r
        .almacen
        .reservas
        .reclamar(id, Reclamo::Cancelacion, Fecha::ahora(), LEASE_MS)
        .await?
    else {
        let actual = r.almacen.reservas.ver(id).await?;
        return Err(Error::Conflicto(match actual.reserva.estado {
            Estado::Pendiente | Estado::Confirmada => format!(
                "la reserva {id} está en curso o la está procesando otra operación; vuelva a intentarlo en unos segundos"
            ),
            e => format!("la reserva {id} ya está {e}; solo se cancelan compras confirmadas"),
        }));
    };
    let mut saga = Saga::desde_registro(r, reg, Some(Estado::Cancelada));
    Cadena::estandar()
        .compensar_hasta(&mut saga, Paso::Historial)
        .await?;
    Ok(r.almacen.reservas.ver(id).await?.reserva)
}
