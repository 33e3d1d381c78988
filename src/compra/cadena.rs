//! The chain of responsibility and the saga orchestrator that runs it. Each handler
//! passes control on only when it succeeds; the chain remembers which ones did, and on
//! a failure compensates exactly those, newest first.

use async_trait::async_trait;

use super::recuperacion::LEASE_MS;
use super::{
    ActualizadorDeHistorial, ConfirmadorDeReserva, ProcesadorDePago, Reservador, Solicitud,
    ValidadorDeDatos, ValidadorDeInventario,
};
use crate::domain::{Estado, Precio, Reserva, ReservaId};
use crate::error::{Error, Result};
use crate::store::{Paso, Reclamo, RegistroSaga};

/// The state one purchase carries through the chain.
pub struct Saga<'r> {
    pub r: &'r Reservador,
    pub solicitud: Solicitud,
    pub reserva_id: ReservaId,
    /// The event's price, loaded by `datos`.
    pub precio: Option<Precio>,
    /// The durable record, once `inventario` has taken the seats.
    pub registro: Option<RegistroSaga>,
    /// Set by `pago` when a charge was approved.
    pub cobrado: bool,
    /// Which history writes (user, event) may have been applied; `None` when unknown
    /// (crash recovery), which undoes both.
    pub historial_escrito: Option<[bool; 2]>,
    /// The state compensation leaves behind; `None` lets it decide (`expirada` when
    /// nothing was charged, `compensada` otherwise).
    pub estado_final: Option<Estado>,
}

impl<'r> Saga<'r> {
    pub fn new(r: &'r Reservador, solicitud: Solicitud, reserva_id: ReservaId) -> Self {
        Self {
            r,
            solicitud,
            reserva_id,
            precio: None,
            registro: None,
            cobrado: false,
            historial_escrito: None,
            estado_final: Some(Estado::Compensada),
        }
    }

    /// A saga rebuilt from its durable record, to compensate or cancel it.
    pub fn desde_registro(
        r: &'r Reservador, registro: RegistroSaga, estado_final: Option<Estado>,
    ) -> Self {
        let solicitud = Solicitud {
            evento: registro.reserva.evento_id.clone(),
            usuario: registro.reserva.usuario_id.clone(),
            entradas: registro.reserva.entradas,
            clave: registro.clave.clone(),
        };
        Self {
            r,
            solicitud,
            reserva_id: registro.reserva.id.clone(),
            precio: None,
            registro: Some(registro),
            cobrado: false,
            historial_escrito: None,
            estado_final,
        }
    }

    pub fn registro(&self) -> Result<&RegistroSaga> {
        self.registro.as_ref().ok_or_else(|| {
            Error::Interno(anyhow::anyhow!(
                "la saga {} no tiene registro todavía",
                self.reserva_id
            ))
        })
    }

    pub fn reserva(&self) -> Result<Reserva> {
        Ok(self.registro()?.reserva.clone())
    }
}

/// One step of the purchase. `compensar` must be idempotent and safe to run when the
/// step's effects never happened, because crash recovery cannot always tell.
#[async_trait]
pub trait Handler: Send + Sync {
    fn paso(&self) -> Paso;
    async fn ejecutar(&self, saga: &mut Saga<'_>) -> Result<()>;
    async fn compensar(&self, saga: &mut Saga<'_>) -> Result<()>;
}

/// The ordered handlers of a purchase.
pub struct Cadena {
    eslabones: Vec<Box<dyn Handler>>,
}

impl Cadena {
    /// The seed's chain, with confirmation as its own step as the contract names it.
    pub fn estandar() -> Self {
        Self::new(vec![
            Box::new(ValidadorDeDatos),
            Box::new(ValidadorDeInventario),
            Box::new(ProcesadorDePago),
            Box::new(ConfirmadorDeReserva),
            Box::new(ActualizadorDeHistorial),
        ])
    }

    pub fn new(eslabones: Vec<Box<dyn Handler>>) -> Self {
        Self { eslabones }
    }

    /// Runs the chain. When a step fails, the saga first takes its purchase over (if a
    /// record exists) with the failure stored for idempotent retries; if another actor
    /// already owns it, that actor finishes it and the saga only reports. Otherwise it
    /// compensates the failing step and the completed ones, newest first: a failing step
    /// may have applied part of its effects, and every compensation is idempotent. Returns
    /// the step's error (or, if compensation itself failed, that failure).
    pub async fn ejecutar(&self, saga: &mut Saga<'_>) -> Result<()> {
        for (i, h) in self.eslabones.iter().enumerate() {
            let paso = h.paso();
            let resultado = if saga.r.fallos.falla(paso) {
                Err(fallo_inyectado(saga, paso))
            } else {
                h.ejecutar(saga).await
            };
            match resultado {
                Ok(()) => saga.r.fallos.tras(paso),
                Err(causa) => {
                    let error = error_de_la_compra(saga, paso, causa);
                    if !self.tomar_para_deshacer(saga, &error).await? {
                        return Err(error);
                    }
                    for h in self.eslabones[..=i].iter().rev() {
                        if let Err(e) = h.compensar(saga).await {
                            tracing::error!(
                                reserva = %saga.reserva_id, paso = h.paso().as_str(), error = %e,
                                "compensación incompleta; `eventflow compensar` la terminará al vencer la retención"
                            );
                            return Err(e);
                        }
                    }
                    return Err(con_estado_final(saga, error).await);
                }
            }
        }
        Ok(())
    }

    /// The saga's own take-over before it rolls back. False when another actor owns the
    /// purchase (or it is already finished): then the saga must not touch it again.
    async fn tomar_para_deshacer(&self, saga: &mut Saga<'_>, error: &Error) -> Result<bool> {
        if saga.registro.is_none() {
            return Ok(true);
        }
        let fallo = format!("{} {error}", error.codigo());
        let reservas = &saga.r.almacen.reservas;
        match reservas
            .reclamar(&saga.reserva_id, &Reclamo::Fallo(fallo), LEASE_MS)
            .await
        {
            Ok(Some(reg)) => {
                saga.registro = Some(reg);
                Ok(true)
            }
            Ok(None) => Ok(false),
            // The store did not answer: the purchase is left to `compensar`, which takes it
            // over once its hold expires; the buyer hears the step's own failure.
            Err(e) => {
                tracing::error!(
                    reserva = %saga.reserva_id, error = %e,
                    "no se pudo tomar la compra para deshacerla; `eventflow compensar` la terminará al vencer la retención"
                );
                Ok(false)
            }
        }
    }

    /// Compensates every step up to and including `hasta`, newest first (crash recovery
    /// and cancellation). Each compensation is idempotent, so a repeat is harmless.
    pub async fn compensar_hasta(&self, saga: &mut Saga<'_>, hasta: Paso) -> Result<()> {
        for h in self.eslabones.iter().rev().filter(|h| h.paso() <= hasta) {
            h.compensar(saga).await?;
        }
        Ok(())
    }
}

/// What the buyer is told when `paso` failed with `causa`. A history write refused because
/// the user or event vanished is that absence (exit 3); a backend failure there is
/// `HistorialFallido` (exit 7), since the purchase is compensated.
fn error_de_la_compra(saga: &Saga<'_>, paso: Paso, causa: Error) -> Error {
    match (paso, causa) {
        (Paso::Historial, e @ (Error::BackendCaido { .. } | Error::Interno(_))) => {
            Error::HistorialFallido {
                reserva: saga.reserva_id.to_string(),
                causa: e.to_string(),
                estado: None,
            }
        }
        (_, e) => e,
    }
}

/// A rolled-back purchase's error with the state the purchase ended in, read back from
/// the store, so the buyer (and a script, `-o json`) learns it. Left unset when the store
/// does not answer: the error itself still stands.
async fn con_estado_final(saga: &Saga<'_>, mut error: Error) -> Error {
    if let Error::PagoRechazado { estado, .. } | Error::HistorialFallido { estado, .. } = &mut error
        && let Ok(reg) = saga.r.almacen.reservas.ver(&saga.reserva_id).await
    {
        *estado = Some(reg.reserva.estado);
    }
    error
}

fn fallo_inyectado(saga: &Saga<'_>, paso: Paso) -> Error {
    match paso {
        Paso::Pago => Error::PagoRechazado {
            reserva: saga.reserva_id.to_string(),
            estado: None,
        },
        _ => Error::Interno(anyhow::anyhow!(
            "fallo inyectado en el paso {} (EVENTFLOW_FAULT=error@{})",
            paso.as_str(),
            paso.as_str()
        )),
    }
}
