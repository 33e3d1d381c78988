//! Step `pago` (ProcesadorDePago): records the intent, then charges `entradas × precio`
//! through the gateway. The gateway's ledger entry is the record that the charge happened.

use async_trait::async_trait;

use super::{Handler, Saga};
use crate::error::{Error, Result};
use crate::store::{Fase, Paso};

pub struct ProcesadorDePago;

#[async_trait]
impl Handler for ProcesadorDePago {
    fn paso(&self) -> Paso {
        Paso::Pago
    }

    async fn ejecutar(&self, saga: &mut Saga<'_>) -> Result<()> {
        let registro = saga.registro()?;
        saga.r
            .almacen
            .reservas
            .marcar(registro, Paso::Pago, Fase::Iniciado)
            .await?;
        let cobro = saga.r.pasarela.cobrar(registro).await?;
        if !cobro.aprobado {
            return Err(Error::PagoRechazado {
                reserva: saga.reserva_id.to_string(),
                estado: None,
            });
        }
        saga.cobrado = true;
        Ok(())
    }

    /// Refunds the charge if there was one; the ledger makes a second refund a no-op.
    async fn compensar(&self, saga: &mut Saga<'_>) -> Result<()> {
        let registro = saga.registro()?;
        if let Some(c) = saga.r.pasarela.reembolsar(registro).await? {
            saga.cobrado |= c.aprobado;
        }
        Ok(())
    }
}
