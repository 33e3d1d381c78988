//! Step `historial` (ActualizadorDeHistorial): the MongoDB read model. The user's
//! `historial_compras` entry and the event's `reservas_activas`/`entradas_disponibles`
//! are independent writes, so they run at once; both are idempotent. Then the saga is
//! marked finished, unless a compensation claimed it meanwhile.

use async_trait::async_trait;

use super::{Handler, Saga};
use crate::error::{Error, Result};
use crate::store::Paso;

pub struct ActualizadorDeHistorial;

#[async_trait]
impl Handler for ActualizadorDeHistorial {
    fn paso(&self) -> Paso {
        Paso::Historial
    }

    async fn ejecutar(&self, saga: &mut Saga<'_>) -> Result<()> {
        let registro = saga.registro()?;
        let compra = registro.compra().ok_or_else(|| {
            Error::Interno(anyhow::anyhow!(
                "la reserva {} no está confirmada",
                registro.reserva.id
            ))
        })?;
        let alm = &saga.r.almacen;
        tokio::try_join!(
            alm.usuarios.registrar_compra(&registro.reserva.usuario_id, &compra),
            alm.eventos
                .aplicar_venta(&compra.evento_id, &compra.reserva_id, compra.entradas)
        )?;
        if !alm.reservas.completar(registro).await? {
            return Err(Error::Conflicto(format!(
                "la reserva {} fue reclamada por una compensación antes de terminar",
                registro.reserva.id
            )));
        }
        let mut terminado = registro.clone();
        terminado.paso = Paso::Historial;
        terminado.fase = crate::store::Fase::Hecho;
        terminado.terminada = true;
        saga.registro = Some(terminado);
        Ok(())
    }

    /// Removes the history entry and the read-model sale; both are no-ops if absent.
    async fn compensar(&self, saga: &mut Saga<'_>) -> Result<()> {
        let registro = saga.registro()?;
        let r = &registro.reserva;
        let alm = &saga.r.almacen;
        let (u, e) = tokio::join!(
            alm.usuarios.quitar_compra(&r.usuario_id, &r.id),
            alm.eventos.revertir_venta(&r.evento_id, &r.id, r.entradas)
        );
        // A user or event deleted since has nothing left to undo.
        for res in [u, e] {
            match res {
                Ok(()) | Err(Error::NoEncontrado { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
