//! Who may call what. [`RUTAS`] is the one place where every route's permission is
//! declared; [`autorizar`] enforces it before any handler or body parsing runs, and the
//! OpenAPI document is annotated from the same table. A secret is never logged: the
//! request span records the token's id.

use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use super::limites::demasiadas_peticiones;
use crate::casos::tokens::{Rechazo, autenticar};
use crate::domain::{EventoId, Fecha, Permiso, Token};

/// What a route asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acceso {
    /// No token needed. If one is sent it must be valid, and handlers may use it
    /// (`/health` shows detail to `admin`; sign-up tells a duplicate only to a token).
    Publico,
    /// A live token with this permission (`admin` covers all).
    Requiere(Permiso),
}

/// One route: method, path as the router spells it, and its access rule.
#[derive(Debug, Clone, Copy)]
pub struct Ruta {
    pub metodo: &'static str,
    pub ruta: &'static str,
    pub acceso: Acceso,
}

const fn ruta(metodo: &'static str, ruta: &'static str, acceso: Acceso) -> Ruta {
    Ruta {
        metodo,
        ruta,
        acceso,
    }
}

use Acceso::{Publico, Requiere};
use Permiso as P;

/// Every route of the API and the permission it needs. A route the router serves but
/// this table does not name is refused (403) for everyone: access fails closed.
pub const RUTAS: &[Ruta] = &[
    ruta("POST", "/api/usuarios", Publico),
    ruta("GET", "/api/usuarios", Requiere(P::UsuariosLeer)),
    ruta("GET", "/api/usuarios/{id}", Requiere(P::UsuariosLeer)),
    ruta(
        "GET",
        "/api/usuarios/{id}/historial",
        Requiere(P::UsuariosLeer),
    ),
    ruta("POST", "/api/eventos", Requiere(P::EventosEscribir)),
    ruta("GET", "/api/eventos", Requiere(P::EventosLeer)),
    ruta("GET", "/api/eventos/{id}", Requiere(P::EventosLeer)),
    ruta("POST", "/api/reservas", Requiere(P::ReservasCrear)),
    ruta("GET", "/api/reservas/{id}", Requiere(P::ReservasLeer)),
    ruta(
        "DELETE",
        "/api/reservas/{id}",
        Requiere(P::ReservasCancelar),
    ),
    ruta("GET", "/api/openapi.json", Publico),
    ruta("GET", "/health", Publico),
];

/// The access rule of `metodo ruta`; `None` if the table does not name the route.
pub fn acceso(metodo: &str, ruta: &str) -> Option<Acceso> {
    RUTAS
        .iter()
        .find(|r| r.metodo == metodo && r.ruta == ruta)
        .map(|r| r.acceso)
}

/// The authenticated caller of a request, if it sent a valid token.
#[derive(Debug, Clone)]
pub struct Quien(pub Option<Arc<Token>>);

impl Quien {
    pub fn es_admin(&self) -> bool {
        self.0.as_ref().is_some_and(|t| t.permisos.cubre(P::Admin))
    }

    /// The token, for routes that require one (the middleware guarantees it there).
    pub fn token(&self) -> Result<&Token, ApiError> {
        self.0
            .as_deref()
            .ok_or_else(|| no_autenticado("falta la cabecera Authorization"))
    }

    /// 403 unless the token may act on `evento` (tokens limited with `--eventos`).
    pub fn alcanza(&self, evento: &EventoId) -> Result<(), ApiError> {
        let t = self.token()?;
        if t.alcanza(evento) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "prohibido",
                format!(
                    "el token {} no tiene acceso al evento {evento}; está limitado a: {}",
                    t.id,
                    lista(&t.eventos)
                ),
            ))
        }
    }

    /// 403 unless the token may create events: one limited to some events may not.
    pub fn sin_limite_de_eventos(&self) -> Result<(), ApiError> {
        let t = self.token()?;
        if t.eventos.is_empty() {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "prohibido",
                format!(
                    "el token {} está limitado a los eventos {} y no puede crear eventos nuevos",
                    t.id,
                    lista(&t.eventos)
                ),
            ))
        }
    }
}

fn lista(v: &[EventoId]) -> String {
    v.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ")
}

impl<S: Send + Sync> FromRequestParts<S> for Quien {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Quien>()
            .cloned()
            .unwrap_or(Quien(None)))
    }
}

/// 401 with `WWW-Authenticate: Bearer` (added by `ApiError`'s response).
fn no_autenticado(motivo: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "no_autenticado",
        format!(
            "{motivo}; envíe Authorization: Bearer <token> con un token de `eventflow tokens crear`"
        ),
    )
}

/// The middleware: finds the route's rule, authenticates the bearer token if any, checks
/// the permission and the per-token rate limit, and hands the caller to the handler.
pub async fn autorizar(
    State(s): State<AppState>, ruta: Option<MatchedPath>, mut req: Request, next: Next,
) -> Response {
    // No matched route: the fallbacks answer 404 or 405 with nothing to protect.
    let Some(ruta) = ruta else {
        return next.run(req).await;
    };
    let regla = match acceso(req.method().as_str(), ruta.as_str()) {
        Some(r) => r,
        // A method the path does not serve: let the router answer 405.
        None if RUTAS.iter().any(|r| r.ruta == ruta.as_str()) => {
            return next.run(req).await;
        }
        None => {
            tracing::error!(ruta = ruta.as_str(), "ruta sin permiso declarado en RUTAS");
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "prohibido",
                format!("la ruta {} no tiene un permiso declarado", ruta.as_str()),
            )
            .into_response();
        }
    };
    let token = match credencial(&req) {
        Ok(None) => None,
        Ok(Some(raw)) => match autenticar(s.almacen(), raw, Fecha::ahora()).await {
            Ok(Ok(t)) => Some(Arc::new(t)),
            Ok(Err(rechazo)) => return rechazado(rechazo).into_response(),
            Err(e) => return ApiError::from(e).into_response(),
        },
        Err(e) => return e.into_response(),
    };
    if let Some(t) = &token {
        tracing::Span::current().record("token", tracing::field::display(&t.id));
        if let Some(espera) = s.limites.token(&t.id) {
            tracing::info!(token = %t.id, "límite de peticiones por token superado");
            return demasiadas_peticiones(espera, "este token");
        }
    }
    if let Acceso::Requiere(p) = regla {
        let Some(t) = &token else {
            return no_autenticado("esta ruta necesita un token").into_response();
        };
        if !t.permisos.cubre(p) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "prohibido",
                format!(
                    "el token {} no tiene el permiso {p}; tiene: {}",
                    t.id, t.permisos
                ),
            )
            .into_response();
        }
    }
    req.extensions_mut().insert(Quien(token));
    next.run(req).await
}

/// The secret in `Authorization: Bearer <secret>`, if the header is there.
fn credencial(req: &Request) -> Result<Option<&str>, ApiError> {
    let Some(v) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| no_autenticado("la cabecera Authorization no es ASCII"))?;
    let (esquema, resto) = v.split_once(' ').unwrap_or((v, ""));
    if !esquema.eq_ignore_ascii_case("bearer") || resto.trim().is_empty() {
        return Err(no_autenticado(
            "la cabecera Authorization debe ser del esquema Bearer",
        ));
    }
    Ok(Some(resto.trim()))
}

fn rechazado(r: Rechazo) -> ApiError {
    match r {
        Rechazo::Malformado => no_autenticado("el token no tiene la forma ef_<id>_<secreto>"),
        Rechazo::Desconocido => no_autenticado("token desconocido"),
        Rechazo::Inactivo { id, motivo } => {
            tracing::info!(token = %id, motivo, "token rechazado");
            no_autenticado(&format!("el token {id} está {motivo}"))
        }
    }
}
