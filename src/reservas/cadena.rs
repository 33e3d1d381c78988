//! The chain of responsibility and the saga orchestrator that runs it. Each handler
//! passes control on only when it succeeds; the chain remembers which ones did, and on
//! a failure compensates exactly those, newest first.

use async_trait::async_trait;

use super::{
    ActualizadorDeHistorial, ConfirmadorDeReserva, ProcesadorDePago, Reservador, Solicitud,
    ValidadorDeDatos, ValidadorDeInventario,
};
use crate::domain::{Estado, Precio, Reserva, ReservaId};
use crate::error::{Error, Result};
use crate::store::{Paso, RegistroSaga};

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
        r: &'r Reservador,
        registro: RegistroSaga,
        estado_final: Option<Estado>,
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

    /// Runs the chain. When a step fails, compensates the completed steps in reverse and
    /// returns the step's error (or, if compensation itself failed, that failure).
    pub async fn ejecutar(&self, saga: &mut Saga<'_>) -> Result<()> {
        let mut hechos: Vec<&dyn Handler> = Vec::with_capacity(self.eslabones.len());
        for h in &self.eslabones {
            let paso = h.paso();
            let resultado = if saga.r.fallos.falla(paso) {
                Err(fallo_inyectado(saga, paso))
            } else {
                h.ejecutar(saga).await
            };
            match resultado {
                Ok(()) => {
                    hechos.push(h.as_ref());
                    saga.r.fallos.tras(paso);
                }
                Err(causa) => {
                    for hecho in hechos.iter().rev() {
                        if let Err(e) = hecho.compensar(saga).await {
                            tracing::error!(
                                reserva = %saga.reserva_id, paso = hecho.paso().as_str(), error = %e,
                                "compensación incompleta; `eventflow compensar` la terminará al vencer la retención"
                            );
                            return Err(e);
                        }
                    }
                    return Err(match (paso, causa) {
                        (
                            Paso::Historial,
                            e @ (Error::BackendCaido { .. }
                            | Error::Interno(_)
                            | Error::NoEncontrado { .. }),
                        ) => Error::HistorialFallido {
                            reserva: saga.reserva_id.to_string(),
                            causa: e.to_string(),
                        },
                        (_, e) => e,
                    });
                }
            }
        }
        Ok(())
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

fn fallo_inyectado(saga: &Saga<'_>, paso: Paso) -> Error {
    match paso {
        Paso::Pago => Error::PagoRechazado {
            reserva: saga.reserva_id.to_string(),
        },
        _ => Error::Interno(anyhow::anyhow!(
            "fallo inyectado en el paso {} (EVENTFLOW_FAULT=error@{})",
            paso.as_str(),
            paso.as_str()
        )),
    }
}
