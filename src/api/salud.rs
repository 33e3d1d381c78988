//! `GET /health`: pings both stores at once, with a deadline, and answers 200 only when
//! both reply. The body names each store by its role (`documentos`: users and events;
//! `reservas`: seats and purchases), so it reads the same on MongoDB + Redis and on the
//! embedded backend, and a 503 says which is down. An anonymous caller learns only
//! `ok` or `caido` per role; versions and errors (which may name hosts) go to the log,
//! and to a caller with an `admin` token.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::acceso::Quien;
use super::error::DetalleError;

const PLAZO: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize, ToSchema)]
pub struct Salud {
    /// `ok` o `degradado`.
    #[schema(example = "ok")]
    pub estado: &'static str,
    /// Users and events (MongoDB, or SQLite on the embedded backend).
    pub documentos: Componente,
    /// Seats, purchases and payments (Redis, or SQLite on the embedded backend).
    pub reservas: Componente,
    /// Solo con 503: el mismo objeto de error que el resto de la API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<DetalleError>,
}

/// What an anonymous caller sees.
#[derive(Debug, Serialize, ToSchema)]
pub struct SaludPublica {
    /// `ok` o `degradado`.
    #[schema(example = "ok")]
    pub estado: &'static str,
    /// `ok` o `caido`.
    #[schema(example = "ok")]
    pub documentos: &'static str,
    /// `ok` o `caido`.
    #[schema(example = "ok")]
    pub reservas: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Componente {
    pub conectado: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

async fn sondear(nombre: &str, ping: impl Future<Output = crate::Result<String>>) -> Componente {
    let r = match tokio::time::timeout(PLAZO, ping).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!("{nombre} no respondió en {} s", PLAZO.as_secs())),
    };
    match r {
        Ok(v) => Componente {
            conectado: true,
            version: Some(v),
            error: None,
        },
        Err(e) => Componente {
            conectado: false,
            version: None,
            error: Some(e),
        },
    }
}

/// Estado de los dos almacenes: `ok`/`caido` por rol; con un token `admin`, el detalle.
#[utoipa::path(get, path = "/health", operation_id = "salud", tag = "salud",
    responses(
        (status = 200, description = "ambos almacenes responden (con token admin, el cuerpo es Salud)", body = SaludPublica),
        (status = 503, description = "algún almacén no responde (con token admin, el cuerpo es Salud)", body = SaludPublica),
    ))]
pub async fn salud(State(s): State<AppState>, quien: Quien) -> Response {
    let alm = s.almacen();
    let (documentos, reservas) = tokio::join!(
        sondear("el almacén de documentos", alm.documentos.ping()),
        sondear("el almacén de reservas", alm.reservas.ping()),
    );
    let caidos: Vec<&str> = [
        ("el almacén de documentos", &documentos),
        ("el almacén de reservas", &reservas),
    ]
    .into_iter()
    .filter(|(_, c)| !c.conectado)
    .map(|(n, _)| n)
    .collect();
    let (codigo, estado, error) = if caidos.is_empty() {
        (StatusCode::OK, "ok", None)
    } else {
        let e = DetalleError {
            codigo: "backend_caido".into(),
            mensaje: format!("sin conexión con {}", caidos.join(" y ")),
            datos: serde_json::Map::new(),
        };
        (StatusCode::SERVICE_UNAVAILABLE, "degradado", Some(e))
    };
    if let Some(e) = &error {
        tracing::warn!(
            documentos = ?documentos.error,
            reservas = ?reservas.error,
            "{}",
            e.mensaje
        );
    }
    if !quien.es_admin() {
        let rol = |c: &Componente| if c.conectado { "ok" } else { "caido" };
        let cuerpo = SaludPublica {
            estado,
            documentos: rol(&documentos),
            reservas: rol(&reservas),
        };
        return (codigo, axum::Json(cuerpo)).into_response();
    }
    let cuerpo = Salud {
        estado,
        documentos,
        reservas,
        error,
    };
    (codigo, axum::Json(cuerpo)).into_response()
}
