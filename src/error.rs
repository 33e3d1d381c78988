//! The errors the core returns, one variant per way a caller must react.
//! Every front (CLI, REST) maps them the same way: `exit_code` for the CLI,
//! `api::error::estado_http` for HTTP. Messages are lowercase, Spanish, and name the bad value.

use crate::domain::{Estado, ParseError};

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

    /// A uniqueness clash: duplicate email or document pair (exit 4). `que` says what
    /// clashed ("un usuario con el email …"), `campo` which unique field (`email`,
    /// `documento`), `existente` the id that already holds it, when the store could tell.
    #[error("ya existe {que}")]
    Duplicado {
        que: String,
        campo: Option<&'static str>,
        existente: Option<String>,
    },

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

    /// The payment was declined and the purchase compensated (exit 6). `estado` is the
    /// purchase's final state once the saga rolled it back (`None` before that).
    #[error(
        "pago rechazado para la reserva {reserva}: la compra se compensó y las entradas se liberaron"
    )]
    PagoRechazado {
        reserva: String,
        estado: Option<Estado>,
    },

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
    HistorialFallido {
        reserva: String,
        causa: String,
        estado: Option<Estado>,
    },

    /// Stored data disagrees with itself (exit 8).
    #[error("{0}")]
    Inconsistencia(String),

    /// An import rejected rows; the others were written (exit 8).
    #[error("{0}")]
    FilasRechazadas(String),

    /// An idempotent retry replaying the failure of the first attempt: the same code
    /// (one of [`Error::codigo`]'s tags) and message, hence the same exit code and status,
    /// with the purchase it concerns and the state it ended in.
    #[error("{mensaje}")]
    Repetido {
        codigo: &'static str,
        mensaje: String,
        reserva: String,
        estado: Estado,
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
            Error::Duplicado { .. } => "duplicado",
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

    /// What a script needs next besides `codigo` and `mensaje`, as the fields of the error
    /// object both fronts print (`{"error": {"codigo", "mensaje", …}}`, `docs/cli.md`):
    /// `entidad`+`id` (no_encontrado), `campo`+`existente_id` (duplicado),
    /// `evento_id`+`pedidas`+`disponibles` (sin_entradas), `reserva_id`+`estado` (a
    /// compensated or replayed purchase), `backend`+`direccion` (backend_caido). A field
    /// of the kind whose value is unknown is `null`.
    pub fn datos(&self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::json;
        let v = match self {
            Error::NoEncontrado { entidad, id } => json!({"entidad": entidad, "id": id}),
            Error::Duplicado {
                campo, existente, ..
            } => json!({"campo": campo, "existente_id": existente}),
            Error::SinEntradas {
                evento,
                pedidas,
                disponibles,
            } => json!({"evento_id": evento, "pedidas": pedidas, "disponibles": disponibles}),
            Error::PagoRechazado { reserva, estado }
            | Error::HistorialFallido {
                reserva, estado, ..
            } => json!({"reserva_id": reserva, "estado": estado}),
            Error::Repetido {
                reserva, estado, ..
            } => json!({"reserva_id": reserva, "estado": estado}),
            Error::BackendCaido {
                backend, direccion, ..
            } => json!({"backend": backend, "direccion": direccion}),
            _ => json!({}),
        };
        match v {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        }
    }

    /// A server that cannot be reached, from its driver's report: the report (English,
    /// often many lines) goes to the debug log (`EVENTFLOW_LOG=debug`) and the error keeps
    /// one line a person can act on. `direccion` must already be redacted, and so must
    /// `informe`.
    pub fn caido(backend: &'static str, direccion: String, informe: &str) -> Self {
        tracing::debug!(backend, direccion = %direccion, informe, "fallo de conexión");
        Error::BackendCaido {
            backend,
            direccion,
            detalle: causa_de_conexion(informe),
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

/// The kind of a connection failure, read from a driver's report: what a person can act
/// on, in one line.
fn causa_de_conexion(detalle: &str) -> String {
    let d = detalle.to_ascii_lowercase();
    let conocida = [
        (
            &["auth", "wrongpass", "noauth", "password"][..],
            "la autenticación falló (revise el usuario y la contraseña de la URI)",
        ),
        (
            &["refused"][..],
            "conexión rechazada (¿está el servidor en marcha en ese puerto?)",
        ),
        (
            &["dns", "resolve", "lookup", "name or service"][..],
            "no se encuentra el nombre del servidor",
        ),
        (
            &["timed out", "timeout", "deadline", "sin respuesta"][..],
            "el servidor no responde a tiempo",
        ),
        (
            &[
                "unable to open",
                "readonly",
                "read-only",
                "permission denied",
            ][..],
            "no se puede abrir o escribir el archivo",
        ),
    ];
    for (claves, causa) in conocida {
        if claves.iter().any(|c| d.contains(c)) {
            return causa.to_owned();
        }
    }
    "el servidor no está disponible".to_owned()
}

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        Error::Invalido(e.to_string())
    }
}
