//! `/api/usuarios`: create, read, list and the purchase history. Bodies arrive as plain
//! strings and go through the domain parsers, then to the same store calls as the CLI.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::acceso::Quien;
use super::error::{ApiError, CuerpoError};
use super::extract::{Json, Path, Query};
use super::pagina::{self, Pagina};
use super::{AppState, creado, doc};
use crate::domain::{
    Documento, Email, NroDocumento, NuevoUsuario, Texto, TipoDocumento, UsuarioId,
};

/// Body of `POST /api/usuarios`. The document is optional, but both halves or none.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrearUsuario {
    #[schema(example = "Juan")]
    pub nombre: String,
    #[schema(example = "Pérez")]
    pub apellido: String,
    #[schema(example = "juan@example.com")]
    pub email: String,
    #[schema(example = "DNI")]
    pub tipo_documento: Option<String>,
    #[schema(example = "12345678")]
    pub nro_documento: Option<String>,
}

impl CrearUsuario {
    fn parsear(self) -> crate::Result<NuevoUsuario> {
        let tipo = self
            .tipo_documento
            .as_deref()
            .map(TipoDocumento::parse)
            .transpose()?;
        let nro = self
            .nro_documento
            .as_deref()
            .map(NroDocumento::parse)
            .transpose()?;
        Ok(NuevoUsuario {
            nombre: Texto::parse("nombre", &self.nombre)?,
            apellido: Texto::parse("apellido", &self.apellido)?,
            email: Email::parse(&self.email)?,
            documento: Documento::from_partes(tipo, nro)?,
        })
    }
}

fn id(raw: &str) -> Result<UsuarioId, ApiError> {
    UsuarioId::parse(raw).map_err(ApiError::peticion_desde)
}

/// Crea un usuario (alta pública, sin token).
///
/// Sin token, un email o documento ya registrados responden igual que un alta nueva
/// (201 con un id que no corresponde a ningún usuario), para no confirmar a un anónimo
/// que una dirección está registrada. Con un token con `usuarios:escribir`, responden 409.
#[utoipa::path(post, path = "/api/usuarios", operation_id = "crearUsuario", tag = "usuarios",
    request_body = CrearUsuario,
    responses(
        (status = 201, description = "usuario creado (o, sin token, email ya registrado: véase la descripción)", body = doc::Usuario),
        (status = 400, description = "JSON mal formado o content-type distinto de JSON", body = CuerpoError),
        (status = 409, description = "email o documento ya registrados (solo con token)", body = CuerpoError),
        (status = 422, description = "campo inválido, desconocido o ausente", body = CuerpoError),
    ))]
pub async fn crear(
    State(s): State<AppState>, quien: Quien, Json(cuerpo): Json<CrearUsuario>,
) -> Result<Response, ApiError> {
    let nuevo = cuerpo.parsear()?;
    let honesto = quien
        .0
        .as_ref()
        .is_some_and(|t| t.permisos.cubre(crate::domain::Permiso::UsuariosEscribir));
    let copia = (!honesto).then(|| nuevo.clone());
    match s.almacen().usuarios.crear(nuevo).await {
        Ok(u) => Ok(creado(&format!("/api/usuarios/{}", u.id), &u)),
        Err(crate::Error::Duplicado { .. }) if copia.is_some() => {
            // The log keeps the truth; the anonymous caller gets the shape of a success.
            tracing::info!("alta pública con un email o documento ya registrados");
            let u = copia.expect("checked").en(UsuarioId::generar());
            Ok(creado(&format!("/api/usuarios/{}", u.id), &u))
        }
        Err(e) => Err(e.into()),
    }
}

/// Muestra un usuario.
#[utoipa::path(get, path = "/api/usuarios/{id}", operation_id = "verUsuario", tag = "usuarios",
    params(("id" = String, Path, description = "id del usuario (24 dígitos hexadecimales)")),
    responses(
        (status = 200, description = "el usuario", body = doc::Usuario),
        (status = 400, description = "id mal formado", body = CuerpoError),
        (status = 404, description = "no existe", body = CuerpoError),
    ))]
pub async fn ver(State(s): State<AppState>, Path(raw): Path<String>) -> Result<Response, ApiError> {
    let u = s.almacen().usuarios_ap.ver(&id(&raw)?).await?;
    Ok(axum::Json(u).into_response())
}

/// Lista usuarios por id, paginados.
#[utoipa::path(get, path = "/api/usuarios", operation_id = "listarUsuarios", tag = "usuarios",
    params(Pagina),
    responses(
        (status = 200, description = "una página de usuarios; la cabecera Link apunta a la siguiente", body = [doc::Usuario]),
        (status = 400, description = "limite o despues_de inválidos", body = CuerpoError),
    ))]
pub async fn listar(
    State(s): State<AppState>, Query(p): Query<Pagina>,
) -> Result<Response, ApiError> {
    let limite = p.limite()?;
    let despues = p.despues_de(UsuarioId::parse)?;
    let l = s
        .almacen()
        .usuarios_ap
        .listar(limite, despues.as_ref())
        .await?;
    let ultimo = l.last().map(|u| u.id.as_str());
    let h = pagina::enlaces("/api/usuarios", limite, ultimo, l.len());
    Ok((h, axum::Json(&l)).into_response())
}

/// El historial de compras de un usuario.
#[utoipa::path(get, path = "/api/usuarios/{id}/historial", operation_id = "historialUsuario", tag = "usuarios",
    params(("id" = String, Path, description = "id del usuario")),
    responses(
        (status = 200, description = "las compras confirmadas del usuario", body = [doc::Compra]),
        (status = 400, description = "id mal formado", body = CuerpoError),
        (status = 404, description = "no existe", body = CuerpoError),
    ))]
pub async fn historial(
    State(s): State<AppState>, Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let u = s.almacen().usuarios_ap.ver(&id(&raw)?).await?;
    Ok((StatusCode::OK, axum::Json(u.historial_compras)).into_response())
}
