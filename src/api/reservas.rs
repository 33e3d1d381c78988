//! `/api/reservas`: buy (the purchase saga), read and cancel. The saga and the
//! cancellation run in tracked tasks of their own, so neither a client that hangs up nor a
//! shutdown leaves a purchase half done: the server waits for them before it exits.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::acceso::Quien;
use super::error::{ApiError, CuerpoError};
use super::extract::{Json, Path};
use super::{AppState, creado, doc};
use crate::compra::Solicitud;
use crate::domain::{ClaveIdempotencia, Entradas, EventoId, ReservaId, TokenId, UsuarioId};

/// The header that makes a purchase safe to retry.
pub const CABECERA_IDEMPOTENCIA: &str = "idempotency-key";

/// The longest key a client may send. The key is stored as `<token id>:<key>` so that
/// two tokens never share a key, and the stored form must fit `ClaveIdempotencia`'s 128.
pub const MAX_CLAVE: usize = 100;

/// Body of `POST /api/reservas`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrearReserva {
    #[schema(example = "665f1c2e9b1e8a3d4c5b6a79")]
    pub evento_id: String,
    #[schema(example = "665f1c2e9b1e8a3d4c5b6a78")]
    pub usuario_id: String,
    /// Al menos 1.
    #[schema(example = 2)]
    #[serde(deserialize_with = "super::extract::entero")]
    pub entradas: i64,
}

impl CrearReserva {
    fn parsear(self, clave: Option<ClaveIdempotencia>) -> crate::Result<Solicitud> {
        Ok(Solicitud {
            evento: EventoId::parse(&self.evento_id)?,
            usuario: UsuarioId::parse(&self.usuario_id)?,
            entradas: Entradas::new(self.entradas)?,
            clave,
        })
    }
}

/// The client's idempotency key, scoped to its token: two integrators may pick the same
/// key and never see each other's purchase.
fn clave(headers: &HeaderMap, token: &TokenId) -> Result<Option<ClaveIdempotencia>, ApiError> {
    let Some(v) = headers.get(CABECERA_IDEMPOTENCIA) else {
        return Ok(None);
    };
    let invalida = || {
        ApiError::peticion(format!(
            "la cabecera idempotency-key debe tener entre 1 y {MAX_CLAVE} caracteres ASCII visibles, sin espacios"
        ))
    };
    let raw = v.to_str().map_err(|_| invalida())?;
    if raw.is_empty() || raw.len() > MAX_CLAVE || !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalida());
    }
    ClaveIdempotencia::parse(&format!("{token}:{raw}"))
        .map(Some)
        .map_err(ApiError::peticion_desde)
}

fn id(raw: &str) -> Result<ReservaId, ApiError> {
    ReservaId::parse(raw).map_err(ApiError::peticion_desde)
}

/// Compra entradas: valida, retiene, cobra, confirma y anota en el historial.
#[utoipa::path(post, path = "/api/reservas", operation_id = "crearReserva", tag = "reservas",
    request_body = CrearReserva,
    params(("Idempotency-Key" = Option<String>, Header,
        description = "repetir la petición con la misma clave devuelve la misma reserva; con otro cuerpo es 409")),
    responses(
        (status = 201, description = "compra confirmada", body = doc::Reserva),
        (status = 400, description = "JSON mal formado, content-type distinto de JSON o clave de idempotencia inválida", body = CuerpoError),
        (status = 402, description = "pago rechazado; la compra se compensó", body = CuerpoError),
        (status = 404, description = "el usuario o el evento no existen", body = CuerpoError),
        (status = 409, description = "no quedan entradas, compra ya en curso o clave reutilizada con otro cuerpo", body = CuerpoError),
        (status = 422, description = "campo inválido, desconocido o ausente", body = CuerpoError),
        (status = 503, description = "un almacén no responde, o falló el historial y la compra se compensó", body = CuerpoError),
    ))]
pub async fn crear(
    State(s): State<AppState>, quien: Quien, headers: HeaderMap, Json(cuerpo): Json<CrearReserva>,
) -> Result<Response, ApiError> {
    let token = quien.token()?;
    let solicitud = cuerpo.parsear(clave(&headers, &token.id)?)?;
    quien.alcanza(&solicitud.evento)?;
    let r = s.reservador.clone();
    let reserva = s
        .tareas
        .ejecutar(async move { r.reservar(solicitud).await })
        .await?;
    Ok(creado(&format!("/api/reservas/{}", reserva.id), &reserva))
}

/// Muestra una reserva.
#[utoipa::path(get, path = "/api/reservas/{id}", operation_id = "verReserva", tag = "reservas",
    params(("id" = String, Path, description = "id de la reserva (24 dígitos hexadecimales)")),
    responses(
        (status = 200, description = "la reserva con su pago", body = doc::ReservaConPago),
        (status = 400, description = "id mal formado", body = CuerpoError),
        (status = 404, description = "no existe", body = CuerpoError),
    ))]
pub async fn ver(
    State(s): State<AppState>, quien: Quien, Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let r = crate::store::reserva_con_pago(s.almacen().reservas.as_ref(), &id(&raw)?).await?;
    quien.alcanza(&r.reserva.evento_id)?;
    Ok(axum::Json(r).into_response())
}

/// Cancela una compra confirmada: reembolsa, libera las entradas y limpia el historial.
#[utoipa::path(delete, path = "/api/reservas/{id}", operation_id = "cancelarReserva", tag = "reservas",
    params(("id" = String, Path, description = "id de la reserva")),
    responses(
        (status = 200, description = "reserva cancelada", body = doc::Reserva),
        (status = 400, description = "id mal formado", body = CuerpoError),
        (status = 404, description = "no existe", body = CuerpoError),
        (status = 409, description = "no está confirmada, o la está procesando otra operación", body = CuerpoError),
    ))]
pub async fn cancelar(
    State(s): State<AppState>, quien: Quien, Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let id = id(&raw)?;
    // The event decides whether this token may cancel; it never changes after purchase.
    let reg = s.almacen().reservas.ver(&id).await?;
    quien.alcanza(&reg.reserva.evento_id)?;
    let r = s.reservador.clone();
    let reserva = s
        .tareas
        .ejecutar(async move { crate::compra::cancelar(&r, &id).await })
        .await?;
    Ok(axum::Json(reserva).into_response())
}
