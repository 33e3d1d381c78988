//! `/api/eventos`: create (document and seat counter, through `casos::eventos`), read
//! and list.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::acceso::Quien;
use super::error::{ApiError, CuerpoError};
use super::extract::{Json, Path, Query};
use super::pagina::{self, Pagina};
use super::{AppState, creado, doc};
use crate::domain::{Aforo, EventoId, Fecha, NuevoEvento, Precio, Texto};

/// Body of `POST /api/eventos`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrearEvento {
    #[schema(example = "Concierto Rock")]
    pub nombre: String,
    /// RFC 3339.
    #[schema(example = "2025-12-01T21:00:00Z")]
    pub fecha: String,
    #[schema(example = "Estadio Centenario")]
    pub lugar: String,
    #[schema(example = 1000)]
    #[serde(deserialize_with = "super::extract::entero")]
    pub aforo_total: i64,
    /// Unidades menores (céntimos); por defecto 0.
    #[schema(example = 2500)]
    #[serde(default, deserialize_with = "super::extract::entero_opcional")]
    pub precio: Option<i64>,
}

impl CrearEvento {
    fn parsear(self) -> crate::Result<NuevoEvento> {
        Ok(NuevoEvento {
            nombre: Texto::parse("nombre", &self.nombre)?,
            fecha: Fecha::parse(&self.fecha)?,
            lugar: Texto::parse("lugar", &self.lugar)?,
            aforo: Aforo::new(self.aforo_total)?,
            precio: self
                .precio
                .map(Precio::new)
                .transpose()?
                .unwrap_or_default(),
        })
    }
}

/// Crea un evento y su contador de entradas.
#[utoipa::path(post, path = "/api/eventos", operation_id = "crearEvento", tag = "eventos",
    request_body = CrearEvento,
    responses(
        (status = 201, description = "evento creado", body = doc::Evento),
        (status = 400, description = "JSON mal formado o content-type distinto de JSON", body = CuerpoError),
        (status = 422, description = "campo inválido, desconocido o ausente", body = CuerpoError),
    ))]
pub async fn crear(
    State(s): State<AppState>, quien: Quien, Json(cuerpo): Json<CrearEvento>,
) -> Result<Response, ApiError> {
    quien.sin_limite_de_eventos()?;
    let nuevo = cuerpo.parsear()?;
    let e = crate::casos::eventos::crear(s.almacen(), nuevo).await?;
    Ok(creado(&format!("/api/eventos/{}", e.id), &e))
}

/// Muestra un evento.
#[utoipa::path(get, path = "/api/eventos/{id}", operation_id = "verEvento", tag = "eventos",
    params(("id" = String, Path, description = "id del evento (24 dígitos hexadecimales)")),
    responses(
        (status = 200, description = "el evento", body = doc::Evento),
        (status = 400, description = "id mal formado", body = CuerpoError),
        (status = 404, description = "no existe", body = CuerpoError),
    ))]
pub async fn ver(State(s): State<AppState>, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let id = EventoId::parse(&raw).map_err(ApiError::peticion_desde)?;
    let e = s.almacen().eventos_ap.ver(&id).await?;
    Ok(axum::Json(e).into_response())
}

/// Lista eventos por id, paginados.
#[utoipa::path(get, path = "/api/eventos", operation_id = "listarEventos", tag = "eventos",
    params(Pagina),
    responses(
        (status = 200, description = "una página de eventos; la cabecera Link apunta a la siguiente", body = [doc::Evento]),
        (status = 400, description = "limite o despues_de inválidos", body = CuerpoError),
    ))]
pub async fn listar(
    State(s): State<AppState>, Query(p): Query<Pagina>,
) -> Result<Response, ApiError> {
    let limite = p.limite()?;
    let despues = p.despues_de(EventoId::parse)?;
    let l = s
        .almacen()
        .eventos_ap
        .listar(limite, despues.as_ref())
        .await?;
    let ultimo = l.last().map(|e| e.id.as_str());
    let h = pagina::enlaces("/api/eventos", limite, ultimo, l.len());
    Ok((h, axum::Json(&l)).into_response())
}
