//! What a run is asked to do: the tickets per purchase, the decline probability, and
//! the options as one struct.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::Rng;
use serde::{Serialize, Serializer};

use crate::compra::Fallos;
use crate::domain::{Aforo, Entradas, ParseError, Precio};
use crate::error::Result;

/// How many tickets each buyer asks for: a fixed number (`2`) or an inclusive range
/// (`1-4`) from which each buyer draws its own, reproducibly for a given seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangoEntradas {
    min: Entradas,
    max: Entradas,
}

impl RangoEntradas {
    pub fn fijo(n: Entradas) -> Self {
        Self { min: n, max: n }
    }

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        const CAMPO: &str = "entradas por compra";
        let t = raw.trim();
        let parte = |s: &str| {
            Entradas::parse(s).map_err(|e| {
                ParseError::new(
                    CAMPO,
                    raw,
                    format!(
                        "{:?} {}; use un número (2) o un rango (1-4)",
                        e.valor, e.motivo
                    ),
                )
            })
        };
        if t.starts_with('-') {
            return Err(ParseError::new(
                CAMPO,
                raw,
                "cada compra pide al menos 1 entrada; use un número (2) o un rango (1-4)",
            ));
        }
        let (min, max) = match t.split_once('-') {
            Some((a, b)) => (parte(a)?, parte(b)?),
            None => {
                let n = parte(t)?;
                (n, n)
            }
        };
        if min > max {
            return Err(ParseError::new(
                CAMPO,
                raw,
                format!("el rango está al revés; escriba {max}-{min}"),
            ));
        }
        Ok(Self { min, max })
    }

    pub fn min(self) -> Entradas {
        self.min
    }

    pub fn max(self) -> Entradas {
        self.max
    }

    pub(super) fn elegir(self, rng: &mut impl Rng) -> Entradas {
        if self.min == self.max {
            return self.min;
        }
        let n = rng.random_range(self.min.get()..=self.max.get());
        Entradas::new(i64::from(n)).unwrap_or(self.min)
    }
}

impl FromStr for RangoEntradas {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}

impl fmt::Display for RangoEntradas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}-{}", self.min, self.max)
        }
    }
}

impl Serialize for RangoEntradas {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

pub(super) const CAMPO_RECHAZO: &str = "rechazo de pago";

/// A probability of payment decline, between 0 and 1 inclusive.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct Probabilidad(f64);

impl Probabilidad {
    pub fn new(p: f64) -> Result<Self, ParseError> {
        if (0.0..=1.0).contains(&p) {
            Ok(Self(p))
        } else {
            Err(ParseError::new(
                CAMPO_RECHAZO,
                p.to_string(),
                "debe estar entre 0 y 1 (por ejemplo 0.1 para un 10 %)",
            ))
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let p: f64 = raw.trim().parse().map_err(|_| {
            ParseError::new(
                CAMPO_RECHAZO,
                raw,
                "no es un número; use un valor entre 0 y 1, por ejemplo 0.1",
            )
        })?;
        Self::new(p).map_err(|e| ParseError::new(CAMPO_RECHAZO, raw, e.motivo))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl FromStr for Probabilidad {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}

impl fmt::Display for Probabilidad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What to simulate, already parsed.
#[derive(Debug, Clone)]
pub struct SimulationOptions {
    pub aforo: Aforo,
    /// Buyers; each makes exactly one purchase. At least 1.
    pub compradores: u32,
    /// Purchases in flight at once. At least 1.
    pub concurrencia: usize,
    pub entradas: RangoEntradas,
    pub rechazo_pago: Probabilidad,
    pub latencia_pago: Duration,
    pub precio: Precio,
    /// Seeds the payment gateway and the buyers' ticket counts. `None` draws one; the
    /// report always says which was used. What a seed fixes: buyer `n` always asks for
    /// the same tickets, and the k-th charge always gets the same decision. Which buyer
    /// reaches the gateway k-th is up to the scheduler, so per-buyer outcomes vary; but
    /// when every purchase is one ticket and the event sells out, the sale ends exactly
    /// at the `aforo`-th approval, so the confirmed and declined counts repeat too.
    pub semilla: Option<u64>,
    /// Run even if the stores hold data that no simulation created.
    pub permitir_datos_existentes: bool,
    /// Remove what the run created once it is measured and verified.
    pub limpiar: bool,
    /// The seat hold of each purchase (`EVENTFLOW_RESERVA_TTL_S`).
    pub ttl: Duration,
    pub fallos: Fallos,
}
