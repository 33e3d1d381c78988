//! Step `confirmacion` (ConfirmadorDeReserva): `pendiente → confirmada`, atomically, and
//! only if nobody took the purchase over meanwhile.

use async_trait::async_trait;

use super::{Handler, Saga};
use crate::error::Result;
use crate::store::Paso;

pub struct ConfirmadorDeReserva;

#[async_trait]
impl Handler for ConfirmadorDeReserva {
    fn paso(&self) -> Paso {
        Paso::Confirmacion
    }

    async fn ejecutar(&self, saga: &mut Saga<'_>) -> Result<()> {
        let registro = saga.registro()?;
        let confirmado = saga.r.almacen.reservas.confirmar(registro).await?;
        saga.registro = Some(confirmado);
        Ok(())
    }

    /// Releasing the seats (step `inventario`) also moves a confirmed purchase to its final
    /// state, so there is nothing of its own to undo here.
    async fn compensar(&self, _saga: &mut Saga<'_>) -> Result<()> {
        Ok(())
    }
}
