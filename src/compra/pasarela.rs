//! The payment gateway, behind a trait, and its simulator. Charges and refunds are
//! idempotent per reservation because the ledger keeps the first decision.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::error::{Error, Result};
use crate::store::{Cobro, CobroStore, RegistroSaga};

#[async_trait]
pub trait Pasarela: Send + Sync {
    /// Charges the reservation's `importe`. A repeated call returns the first decision.
    /// `Conflicto` when the purchase can no longer be charged (taken over, finished, or its
    /// hold expired): then nothing was charged.
    async fn cobrar(&self, registro: &RegistroSaga) -> Result<Cobro>;
    /// Refunds an approved charge, once. `None` when nothing was charged.
    async fn reembolsar(&self, registro: &RegistroSaga) -> Result<Option<Cobro>>;
}

/// Declines a fraction of charges at random and waits a fixed latency, recording every
/// charge and refund in the reservation store's ledger.
pub struct PasarelaSimulada {
    libro: Arc<dyn CobroStore>,
    rechazo: f64,
    latencia: Duration,
    rng: Mutex<StdRng>,
}

impl PasarelaSimulada {
    pub fn new(
        libro: Arc<dyn CobroStore>, rechazo: f64, latencia: Duration, semilla: Option<u64>,
    ) -> Result<Self> {
        if !(0.0..=1.0).contains(&rechazo) {
            return Err(Error::Invalido(format!(
                "probabilidad de rechazo de pago inválida {rechazo}: debe estar entre 0 y 1"
            )));
        }
        let rng = match semilla {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_os_rng(),
        };
        Ok(Self {
            libro,
            rechazo,
            latencia,
            rng: Mutex::new(rng),
        })
    }

    async fn esperar(&self) {
        if !self.latencia.is_zero() {
            tokio::time::sleep(self.latencia).await;
        }
    }
}

#[async_trait]
impl Pasarela for PasarelaSimulada {
    async fn cobrar(&self, registro: &RegistroSaga) -> Result<Cobro> {
        self.esperar().await;
        let aprobado = {
            let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
            rng.random::<f64>() >= self.rechazo
        };
        self.libro.registrar_cobro(registro, aprobado).await
    }

    async fn reembolsar(&self, registro: &RegistroSaga) -> Result<Option<Cobro>> {
        self.esperar().await;
        self.libro.registrar_reembolso(registro).await
    }
}
