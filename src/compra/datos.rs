//! Step `datos` (ValidadorDeDatos): the user and the event exist, and the event's price.
//! Both reads run at once.

use async_trait::async_trait;

use super::{Handler, Saga};
use crate::error::Result;
use crate::store::Paso;

pub struct ValidadorDeDatos;

#[async_trait]
impl Handler for ValidadorDeDatos {
    fn paso(&self) -> Paso {
        Paso::Datos
    }

    async fn ejecutar(&self, saga: &mut Saga<'_>) -> Result<()> {
        let alm = &saga.r.almacen;
        let (usuario, precio) = tokio::join!(
            alm.usuarios.ver(&saga.solicitud.usuario),
            alm.eventos.precio(&saga.solicitud.evento)
        );
        usuario?;
        saga.precio = Some(precio?);
        Ok(())
    }

    /// Reading has no effects to undo.
    async fn compensar(&self, _saga: &mut Saga<'_>) -> Result<()> {
        Ok(())
    }
}
