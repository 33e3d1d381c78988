//! The errors the core returns, one variant per way a caller must react.
//! Every front (CLI, REST) maps them the same way: `exit_code` for the CLI,
//! `api::error::estado_http` for HTTP. Messages are lowercase, Spanish, and name the bad value.

use crate::domain::ParseError;

/// Result alias used across the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that can never succeed as given (exit 2).
    #[error("{0}")]
    Invalido(String),

    /// An entity that does not exist (exit 3).
    #[error("{entidad} {id} no existe")]
    NoEncontrado { entidad: &'static str, id: String },

    /// A uniqueness clash: duplicate email, document pair, event (exit 4).
    #[error("ya existe {0}")]
    Duplicado(String),

    /// A request that clashes with the current state (exit 4): an idempotency key
    /// reused for another request, a purchase already in flight, an event with sales.
    #[error("{0}")]
    Conflicto(String),

    /// Not enough tickets left; nothing was taken (exit 5).
    #[error(
        "no quedan entradas suficientes para el evento {evento}: pedidas {pedidas}, disponibles {disponibles}"
    )]
    SinEntradas {
        evento: String,
        pedidas: u32,
        disponibles: i64,
    },

    /// The payment was declined and the purchase compensated (exit 6).
    #[error(
        "pago rechazado para la reserva {reserva}: la compra se compensó y las entradas se liberaron"
    )]
    PagoRechazado { reserva: String },

    /// A backend cannot be reached (exit 7). `direccion` is already redacted.
    #[error("no se puede conectar con {backend} en {direccion}: {detalle}")]
    BackendCaido {
        backend: &'static str,
        direccion: String,
        detalle: String,
    },

    /// The history step failed and the purchase was compensated (exit 7: the cause is a backend).
    #[error(
        "no se pudo actualizar el historial de la reserva {reserva} ({causa}); el pago se reembolsó y las entradas se liberaron"
    )]
    HistorialFallido { reserva: String, causa: String },

    /// Stored data disagrees with itself (exit 8).
    #[error("{0}")]
    Inconsistencia(String),

    /// An import rejected rows; the others were written (exit 8).
    #[error("{0}")]
    FilasRechazadas(String),

    /// An idempotent retry replaying the failure of the first attempt: the same code
    /// (one of [`Error::codigo`]'s tags) and message, hence the same exit code and status.
    #[error("{mensaje}")]
    Repetido {
        codigo: &'static str,
        mensaje: String,
    },

    /// Anything else (exit 1).
    #[error(transparent)]
    Interno(#[from] anyhow::Error),
}

/// Every machine tag with its exit code (`../shared/cli-contract.md`); the one table both
/// `exit_code` and replayed failures read.
const SALIDAS: &[(&str, u8)] = &[
    ("invalido", 2),
    ("no_encontrado", 3),
    ("duplicado", 4),
    ("conflicto", 4),
    ("sin_entradas", 5),
    ("pago_rechazado", 6),
    ("backend_caido", 7),
    ("historial_fallido", 7),
    ("inconsistencia", 8),
    ("filas_rechazadas", 8),
    ("interno", 1),
];

impl Error {
    /// The exit code the CLI contract assigns to this error.
    pub fn exit_code(&self) -> u8 {
        let codigo = self.codigo();
        SALIDAS
            .iter()
            .find(|(c, _)| *c == codigo)
            .map_or(1, |(_, salida)| *salida)
    }

    /// The tag of `codigo` as a static string, `interno` when it is not one of ours
    /// (a record written by a newer version).
    pub fn codigo_conocido(codigo: &str) -> &'static str {
        SALIDAS
            .iter()
            .find(|(c, _)| *c == codigo)
            .map_or("interno", |(c, _)| c)
    }

    /// A short machine-readable tag, used in JSON error bodies.
    pub fn codigo(&self) -> &'static str {
        match self {
            Error::Invalido(_) => "invalido",
            Error::NoEncontrado { .. } => "no_encontrado",
            Error::Duplicado(_) => "duplicado",
            Error::Conflicto(_) => "conflicto",
            Error::SinEntradas { .. } => "sin_entradas",
            Error::PagoRechazado { .. } => "pago_rechazado",
            Error::BackendCaido { .. } => "backend_caido",
            Error::HistorialFallido { .. } => "historial_fallido",
            Error::Inconsistencia(_) => "inconsistencia",
            Error::FilasRechazadas(_) => "filas_rechazadas",
            Error::Repetido { codigo, .. } => codigo,
            Error::Interno(_) => "interno",
        }
    }

    /// True when the error means a store could not be reached.
    pub fn es_backend_caido(&self) -> bool {
        matches!(self, Error::BackendCaido { .. })
    }

    pub fn no_encontrado(entidad: &'static str, id: impl ToString) -> Self {
        Error::NoEncontrado {
            entidad,
            id: id.to_string(),
        }
    }
}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error::Invalido(e.to_string())
    }
}
