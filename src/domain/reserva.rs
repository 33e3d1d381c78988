//! Reservations (purchases) and their states.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Entradas, EventoId, Fecha, ParseError, ReservaId, UsuarioId};

/// The state of a purchase, as the contract names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Estado {
    /// Seats held, purchase in flight.
    Pendiente,
    /// Paid and confirmed: the seats are sold.
    Confirmada,
    /// Cancelled by an operator after confirmation: refunded, seats back.
    Cancelada,
    /// Rolled back by the saga after a failure: refunded if charged, seats back.
    Compensada,
    /// The hold ran out before payment: seats back, nothing charged.
    Expirada,
}

impl Estado {
    pub const TODOS: [Estado; 5] = [
        Estado::Pendiente,
        Estado::Confirmada,
        Estado::Cancelada,
        Estado::Compensada,
        Estado::Expirada,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Estado::Pendiente => "pendiente",
            Estado::Confirmada => "confirmada",
            Estado::Cancelada => "cancelada",
            Estado::Compensada => "compensada",
            Estado::Expirada => "expirada",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        Self::TODOS
            .into_iter()
            .find(|e| e.as_str() == raw.trim())
            .ok_or_else(|| {
                ParseError::new(
                    "estado",
                    raw,
                    "debe ser pendiente, confirmada, cancelada, compensada o expirada",
                )
            })
    }

    /// States whose seats are out of the counter (held or sold).
    pub fn retiene_entradas(self) -> bool {
        matches!(self, Estado::Pendiente | Estado::Confirmada)
    }
}

impl std::str::FromStr for Estado {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}

impl fmt::Display for Estado {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A purchase, as the contract prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reserva {
    pub id: ReservaId,
    pub evento_id: EventoId,
    pub usuario_id: UsuarioId,
    pub entradas: Entradas,
    pub estado: Estado,
    /// `entradas × precio`, integer minor units.
    pub importe: i64,
    pub creada: Fecha,
    pub actualizada: Fecha,
}

/// Where the payment of a purchase stands, from the gateway's ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EstadoPago {
    /// Nothing was charged (yet).
    Ninguno,
    /// Charged, and the charge stands.
    Aprobado,
    /// The gateway declined the charge: no money moved.
    Rechazado,
    /// Charged, then refunded.
    Reembolsado,
}

impl EstadoPago {
    pub fn as_str(self) -> &'static str {
        match self {
            EstadoPago::Ninguno => "ninguno",
            EstadoPago::Aprobado => "aprobado",
            EstadoPago::Rechazado => "rechazado",
            EstadoPago::Reembolsado => "reembolsado",
        }
    }
}

/// The payment of a purchase, as `reservas ver` shows it so a script can audit the money
/// without reading store internals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pago {
    pub estado: EstadoPago,
    /// What the ledger recorded, in integer minor units; 0 when nothing was charged.
    pub importe: i64,
}

/// A purchase with its payment: `{…reserva, "pago": {"estado", "importe"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReservaConPago {
    #[serde(flatten)]
    pub reserva: Reserva,
    pub pago: Pago,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estado_ida_y_vuelta() {
        for e in Estado::TODOS {
            assert_eq!(Estado::parse(e.as_str()).unwrap(), e);
        }
        assert!(Estado::parse("pagada").is_err());
    }
}
