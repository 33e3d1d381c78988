//! Step `datos` (ValidadorDeDatos): the user and the event exist. Both reads run at once.

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
        let (usuario, evento) = tokio::join!(
            alm.usuarios.ver(&saga.solicitud.usuario),
            alm.eventos.ver(&saga.solicitud.evento)
        );
        usuario?;
        saga.evento = Some(evento?);
        Ok(())
    }

    /// Reading has no effects to undo.
    async fn compensar(&self, _saga: &mut Saga<'_>) -> Result<()> {
        Ok(())
    }
}
