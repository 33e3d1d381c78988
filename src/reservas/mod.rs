//! The purchase saga and everything that finishes or checks purchases.
//!
//! A purchase runs as a chain of handlers (`ValidadorDeDatos → ValidadorDeInventario →
//! ProcesadorDePago → ConfirmadorDeReserva → ActualizadorDeHistorial`), one file per step,
//! each with `ejecutar` and an idempotent `compensar`. The orchestrator in `cadena` runs
//! them and, when one fails, compensates the completed ones in reverse. `compensar`
//! (crash recovery), `cancelar` and `verificar` reuse the same handlers and records.

mod cadena;
mod cancelar;
mod compensar;
mod confirmacion;
mod datos;
mod fallos;
mod historial;
mod inventario;
mod pago;
mod pasarela;
mod verificar;

use std::sync::Arc;
use std::time::Duration;

pub use cadena::{Cadena, Handler, Saga};
pub use cancelar::cancelar;
pub use compensar::{Compensacion, OpcionesCompensar, compensar};
pub use confirmacion::ConfirmadorDeReserva;
pub use datos::ValidadorDeDatos;
pub use fallos::{Fallo, Fallos};
pub use historial::ActualizadorDeHistorial;
pub use inventario::ValidadorDeInventario;
pub use pago::ProcesadorDePago;
pub use pasarela::{Pasarela, PasarelaSimulada};
pub use verificar::{InformeEvento, verificar};

use crate::domain::{ClaveIdempotencia, Entradas, EventoId, Reserva, UsuarioId};
use crate::error::{Error, Result};
use crate::store::Almacen;

/// A purchase request, already parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Solicitud {
    pub evento: EventoId,
    pub usuario: UsuarioId,
    pub entradas: Entradas,
    pub clave: Option<ClaveIdempotencia>,
}

impl Solicitud {
    /// What an idempotency key is bound to: the same key with another fingerprint is a conflict.
    pub fn huella(&self) -> String {
        format!("{}|{}|{}", self.evento, self.usuario, self.entradas)
    }
}

/// Everything a purchase needs besides the stores.
#[derive(Clone)]
pub struct Reservador {
    pub almacen: Almacen,
    pub pasarela: Arc<dyn Pasarela>,
    pub ttl: Duration,
    pub fallos: Fallos,
}

impl Reservador {
    /// The production wiring: the simulated gateway configured from the environment.
    /// `fallos` comes in already parsed, so a front can refuse bad settings before it
    /// connects to anything.
    pub fn desde_entorno(almacen: Almacen, ttl: Duration, fallos: Fallos) -> Result<Self> {
        let pasarela = Arc::new(PasarelaSimulada::desde_entorno(almacen.reservas.clone())?);
        Ok(Self {
            almacen,
            pasarela,
            ttl,
            fallos,
        })
    }

    /// Runs one purchase to the end. On success the reservation is `confirmada`.
    /// With an idempotency key, a repeated request returns the reservation it created.
    pub async fn reservar(&self, solicitud: Solicitud) -> Result<Reserva> {
        let reserva_id = match &solicitud.clave {
            None => crate::domain::ReservaId::generar(),
            Some(clave) => {
                let nueva = crate::domain::ReservaId::generar();
                let huella = solicitud.huella();
                match self
                    .almacen
                    .reservas
                    .vincular_clave(clave, &huella, &nueva)
                    .await?
                {
                    None => nueva,
                    Some((h, _)) if h != huella => {
                        return Err(Error::Conflicto(format!(
                            "la clave de idempotencia {:?} ya se usó para otra compra; use una clave nueva para cada compra distinta",
                            clave.as_str()
                        )));
                    }
                    Some((_, existente)) => match self.almacen.reservas.ver(&existente).await {
                        Ok(r) => return Ok(r.reserva),
                        // The first attempt stopped before taking seats: run it again, same id.
                        Err(Error::NoEncontrado { .. }) => existente,
                        Err(e) => return Err(e),
                    },
                }
            }
        };
        let mut saga = Saga::new(self, solicitud, reserva_id);
        Cadena::estandar().ejecutar(&mut saga).await?;
        saga.reserva()
    }
}
