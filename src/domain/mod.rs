//! The domain: users, events and reservations, and the newtypes their fields are made of.
//! A value of any type here is valid by construction: each newtype has one parsing entry
//! point (`parse` / `TryFrom` / `FromStr`), used by clap, serde and the importers alike.

mod concordancia;
mod documento;
mod entradas;
mod evento;
mod fecha;
mod ids;
mod reserva;
pub mod saga;
mod texto;
mod token;
mod transiciones;
mod unicode;
mod usuario;

pub use concordancia::concordar;
pub use documento::{Documento, NroDocumento, TipoDocumento};
pub use entradas::{Aforo, Entradas, Precio};
pub use evento::{CambiosEvento, Evento, NuevoEvento};
pub use fecha::Fecha;
pub use ids::{ClaveIdempotencia, EventoId, ReservaId, TokenId, UsuarioId};
pub use reserva::{Estado, EstadoPago, Pago, Reserva, ReservaConPago};
pub use texto::{Email, Texto};
pub use token::{NuevoToken, Permiso, Permisos, Secreto, Token};
pub use transiciones::{
    LIBERABLES_POR_TOMA, Negativa, Operacion, TTL_IDEMPOTENCIA_MS, TTL_MIN_BLOQUEO_MS,
};
pub use usuario::{CambiosUsuario, Compra, NuevoUsuario, Usuario};

/// Why a raw value was refused. The message names the field and the value, with the
/// adjective agreeing with the field (`fecha inválida`, `entradas inválidas`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{campo} {} {valor:?}: {motivo}", concordar(campo, "inválido"))]
pub struct ParseError {
    pub campo: &'static str,
    pub valor: String,
    pub motivo: String,
}

impl ParseError {
    pub fn new(campo: &'static str, valor: impl Into<String>, motivo: impl Into<String>) -> Self {
        let mut valor: String = valor.into();
        if valor.chars().count() > 80 {
            valor = valor.chars().take(77).collect::<String>() + "...";
        }
        Self {
            campo,
            valor,
            motivo: motivo.into(),
        }
    }
}
