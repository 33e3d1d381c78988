//! Step `inventario` (ValidadorDeInventario): checks and takes the seats in one atomic
//! store operation that also writes the durable purchase record and the user's lock.

use async_trait::async_trait;

use super::{Handler, Saga};
use crate::domain::Estado;
use crate::error::{Error, Result};
use crate::store::{Paso, Retencion};

pub struct ValidadorDeInventario;

#[async_trait]
impl Handler for ValidadorDeInventario {
    fn paso(&self) -> Paso {
        Paso::Inventario
    }

    async fn ejecutar(&self, saga: &mut Saga<'_>) -> Result<()> {
        let precio = saga.precio.ok_or_else(|| {
            Error::Interno(anyhow::anyhow!(
                "inventario sin precio: falta el paso datos"
            ))
        })?;
        let retencion = Retencion {
            reserva: saga.reserva_id.clone(),
            evento: saga.solicitud.evento.clone(),
            usuario: saga.solicitud.usuario.clone(),
            entradas: saga.solicitud.entradas,
            importe: precio.importe(saga.solicitud.entradas),
            ttl_ms: i64::try_from(saga.r.ttl.as_millis()).unwrap_or(i64::MAX / 2),
            clave: saga.solicitud.clave.clone(),
        };
        saga.registro = Some(saga.r.almacen.reservas.tomar(&retencion).await?);
        Ok(())
    }

    /// Puts the seats back, once, and leaves the final state (the store turns `expirada`
    /// into `compensada` if anything was ever charged).
    async fn compensar(&self, saga: &mut Saga<'_>) -> Result<()> {
        let Some(registro) = saga.registro.as_ref() else {
            return Ok(());
        };
        let estado = saga.estado_final.unwrap_or(if saga.cobrado {
            Estado::Compensada
        } else {
            Estado::Expirada
        });
        saga.r.almacen.reservas.liberar(registro, estado).await?;
        Ok(())
    }
}
