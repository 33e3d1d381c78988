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
mod recuperacion;
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

use crate::domain::{ClaveIdempotencia, Entradas, Estado, EventoId, Reserva, ReservaId, UsuarioId};
use crate::error::{Error, Result};
use crate::store::{Almacen, RegistroSaga};

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
    /// The saga over `almacen`, charging through `pasarela`, holding seats for `ttl`, with
    /// `fallos` injected. `config::Config::reservador` is the production wiring.
    pub fn new(
        almacen: Almacen, pasarela: Arc<dyn Pasarela>, ttl: Duration, fallos: Fallos,
    ) -> Self {
        Self {
            almacen,
            pasarela,
            ttl,
            fallos,
        }
    }

    /// Runs one purchase to the end. On success the reservation is `confirmada`; `Ok`
    /// always means `confirmada`.
    ///
    /// With an idempotency key, a repeated request replays the first attempt's outcome
    /// (`docs/consistency.md`): the same confirmed reservation; the same failure, code and
    /// message (`Error::Repetido`); a purchase still in flight is waited for up to
    /// [`ESPERA_REINTENTO`], then `Conflicto` ("en curso"). A first attempt that stopped
    /// before taking seats left nothing behind, so the retry runs it again with the same id.
    pub async fn reservar(&self, solicitud: Solicitud) -> Result<Reserva> {
        let Some(clave) = &solicitud.clave else {
            return self.ejecutar(solicitud, ReservaId::generar()).await;
        };
        let nueva = ReservaId::generar();
        let huella = solicitud.huella();
        let existente = match self
            .almacen
            .reservas
            .vincular_clave(clave, &huella, &nueva)
            .await?
        {
            None => return self.ejecutar(solicitud, nueva).await,
            Some((h, _)) if h != huella => {
                return Err(Error::Conflicto(format!(
                    "la clave de idempotencia {:?} ya se usó para otra compra; use una clave nueva para cada compra distinta",
                    clave.as_str()
                )));
            }
            Some((_, existente)) => existente,
        };
        match self.almacen.reservas.ver(&existente).await {
            Ok(_) => self.repetir(&existente).await,
            Err(Error::NoEncontrado { .. }) => {
                let res = self.ejecutar(solicitud, existente.clone()).await;
                match res {
                    // Lost a race with the first attempt, which took the seats meanwhile.
                    Err(_) if self.almacen.reservas.ver(&existente).await.is_ok() => {
                        self.repetir(&existente).await
                    }
                    otro => otro,
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn ejecutar(&self, solicitud: Solicitud, id: ReservaId) -> Result<Reserva> {
        let mut saga = Saga::new(self, solicitud, id);
        Cadena::estandar().ejecutar(&mut saga).await?;
        saga.reserva()
    }

    /// The outcome of the purchase `id` as its first attempt reported it, waiting for it
    /// while it is still in flight.
    async fn repetir(&self, id: &ReservaId) -> Result<Reserva> {
        let limite = tokio::time::Instant::now() + ESPERA_REINTENTO;
        loop {
            let reg = self.almacen.reservas.ver(id).await?;
            if let Some(salida) = resultado(&reg) {
                return salida;
            }
            if tokio::time::Instant::now() >= limite {
                return Err(Error::Conflicto(format!(
                    "la compra {id} de esta clave de idempotencia sigue en curso; vuelva a \
                     intentarlo con la misma clave en unos segundos"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// How long a retry waits for the first attempt still in flight.
pub const ESPERA_REINTENTO: Duration = Duration::from_secs(5);

/// The outcome a finished (or rolled-back) purchase stands for; `None` while in flight.
fn resultado(reg: &RegistroSaga) -> Option<Result<Reserva>> {
    let r = &reg.reserva;
    if let Some(fallo) = &reg.fallo {
        let (codigo, mensaje) = fallo.split_once(' ').unwrap_or((fallo, ""));
        return Some(Err(Error::Repetido {
            codigo: Error::codigo_conocido(codigo),
            mensaje: mensaje.to_owned(),
            reserva: r.id.to_string(),
            estado: r.estado,
        }));
    }
    match r.estado {
        Estado::Confirmada if reg.terminada && reg.toma.is_none() => Some(Ok(r.clone())),
        Estado::Pendiente | Estado::Confirmada => None,
        Estado::Cancelada => Some(Err(Error::Conflicto(format!(
            "la compra {} de esta clave de idempotencia se confirmó y después se canceló",
            r.id
        )))),
        Estado::Compensada | Estado::Expirada => Some(Err(Error::Conflicto(format!(
            "la compra {} de esta clave de idempotencia no terminó (el proceso que la hacía se \
             interrumpió) y se deshizo: está {}; haga una compra nueva con otra clave",
            r.id, r.estado
        )))),
    }
}
