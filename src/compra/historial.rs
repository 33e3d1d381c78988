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
        let registro = saga.registro()?.clone();
        let compra = registro.compra().ok_or_else(|| {
            Error::Interno(anyhow::anyhow!(
                "la reserva {} no está confirmada",
                registro.reserva.id
            ))
        })?;
        let reservador = saga.r;
        let alm = &reservador.almacen;
        let (u, e) = tokio::join!(
            alm.usuarios
                .registrar_compra(&registro.reserva.usuario_id, &compra),
            alm.eventos
                .aplicar_venta(&compra.evento_id, &compra.reserva_id, compra.entradas)
        );
        // A write refused because the server could not be reached never happened; any
        // other outcome may have, and must be undone if the saga fails.
        let escrito = |r: &Result<()>| !matches!(r, Err(Error::BackendCaido { .. }));
        saga.historial_escrito = Some([escrito(&u), escrito(&e)]);
        u?;
        e?;
        if !alm.reservas.completar(&registro).await? {
            return Err(Error::Conflicto(format!(
                "la reserva {} fue reclamada por una compensación antes de terminar",
                registro.reserva.id
            )));
        }
        let mut terminado = registro;
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
        let [deshacer_u, deshacer_e] = saga.historial_escrito.unwrap_or([true, true]);
        let (u, e) = tokio::join!(
            async {
                if deshacer_u {
                    alm.usuarios.quitar_compra(&r.usuario_id, &r.id).await
                } else {
                    Ok(())
                }
            },
            async {
                if deshacer_e {
                    alm.eventos
                        .revertir_venta(&r.evento_id, &r.id, r.entradas)
                        .await
                } else {
                    Ok(())
                }
            }
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
