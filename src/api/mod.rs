//! The REST API: a second front on the same core as the CLI (see the design's
//! `/api/usuarios`, `/api/eventos`, `/api/reservas`). Handlers parse, call the core, and
//! encode; the HTTP layer holds no business logic.
//!
//! - [`error`]: every failure as `{"error": {"codigo", "mensaje"}}` with its status.
//! - [`extract`]: `Json`, `Path`, `Query` whose rejections use that shape.
//! - [`usuarios`], [`eventos`], [`reservas`], [`salud`]: one module per resource.
//! - [`doc`]: the OpenAPI description at `/api/openapi.json`.
//!
//! [`servir`] runs the router until a shutdown signal, then lets requests and purchases in
//! flight finish, while a background task compensates abandoned holds.

pub mod doc;
pub mod error;
pub mod eventos;
pub mod extract;
pub mod pagina;
pub mod reservas;
pub mod salud;
pub mod usuarios;

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tower_http::LatencyUnit;
use tower_http::trace::{DefaultMakeSpan, DefaultOnRequest, DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;

use crate::error::{Error, Result};
use crate::reservas::{OpcionesCompensar, Reservador};
use crate::store::Almacen;
use error::{ApiError, LIMITE_CUERPO};

/// What every handler is handed: the saga wiring (which holds the stores) and the tracker
/// of the work that must finish before the process exits.
#[derive(Clone)]
pub struct AppState {
    pub reservador: Arc<Reservador>,
    tareas: Tareas,
}

impl AppState {
    /// The state, and the handle that waits for every tracked task once the state and
    /// all its clones are gone.
    pub fn nuevo(reservador: Reservador) -> (Self, Pendientes) {
        let (vivas, rx) = mpsc::channel(1);
        let estado = Self {
            reservador: Arc::new(reservador),
            tareas: Tareas { vivas },
        };
        (estado, Pendientes(rx))
    }

    pub fn almacen(&self) -> &Almacen {
        &self.reservador.almacen
    }
}

/// Work that must not be cut short (a purchase, a cancellation). Each task holds a clone
/// of the sender; the receiver sees the channel close when the last one is dropped.
#[derive(Clone)]
struct Tareas {
    vivas: mpsc::Sender<()>,
}

impl Tareas {
    /// Runs `fut` in a task of its own, so it finishes even if the client hangs up and the
    /// handler is dropped, and waits for its result.
    async fn ejecutar<T, F>(&self, fut: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: Future<Output = Result<T>> + Send + 'static,
    {
        let testigo = self.vivas.clone();
        let h = tokio::spawn(async move {
            let r = fut.await;
            drop(testigo);
            r
        });
        match h.await {
            Ok(r) => Ok(r?),
            Err(e) => Err(Error::Interno(anyhow::anyhow!(
                "la tarea de la compra terminó de forma inesperada: {e}"
            ))
            .into()),
        }
    }
}

/// Waits for every tracked task (see [`AppState::nuevo`]).
pub struct Pendientes(mpsc::Receiver<()>);

impl Pendientes {
    pub async fn esperar(mut self) {
        while self.0.recv().await.is_some() {}
    }
}

/// Settings of [`servir`].
#[derive(Debug, Clone)]
pub struct Opciones {
    /// How often the background task compensates purchases whose hold expired.
    pub compensar_cada: Duration,
}

/// The router with every endpoint, the body limit and request tracing.
pub fn router(estado: AppState) -> Router {
    Router::new()
        .route("/api/usuarios", post(usuarios::crear).get(usuarios::listar))
        .route("/api/usuarios/{id}", get(usuarios::ver))
        .route("/api/usuarios/{id}/historial", get(usuarios::historial))
        .route("/api/eventos", post(eventos::crear).get(eventos::listar))
        .route("/api/eventos/{id}", get(eventos::ver))
        .route("/api/reservas", post(reservas::crear))
        .route(
            "/api/reservas/{id}",
            get(reservas::ver).delete(reservas::cancelar),
        )
        .route("/api/openapi.json", get(openapi))
        .route("/health", get(salud::salud))
        .fallback(ruta_desconocida)
        .method_not_allowed_fallback(metodo_no_permitido)
        .layer(DefaultBodyLimit::max(LIMITE_CUERPO))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_request(DefaultOnRequest::new().level(Level::DEBUG))
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(LatencyUnit::Millis),
                ),
        )
        .with_state(estado)
}

/// Serves on `listener` until `apagado` resolves. Then it stops accepting, lets the
/// requests in flight answer, waits for every purchase and cancellation it started, and
/// stops the periodic compensation after its current run.
pub async fn servir(
    listener: TcpListener,
    reservador: Reservador,
    opciones: Opciones,
    apagado: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (estado, pendientes) = AppState::nuevo(reservador);
    let (fin_tx, fin_rx) = watch::channel(false);
    let compensador = tokio::spawn(compensar_periodicamente(
        estado.clone(),
        opciones.compensar_cada,
        fin_rx,
    ));
    let senal = async move {
        apagado.await;
        tracing::info!("apagando: se terminan las peticiones y compras en curso");
        let _ = fin_tx.send(true);
    };
    let app = router(estado);
    let servido = axum::serve(listener, app)
        .with_graceful_shutdown(senal)
        .await
        .map_err(|e| Error::Interno(anyhow::anyhow!("el servidor HTTP falló: {e}")));
    // Whatever happened to the listener, no purchase is left half done.
    let _ = compensador.await;
    pendientes.esperar().await;
    servido
}

/// Every `cada`, the work of `eventflow compensar`: purchases whose hold expired (a lost
/// client, a crashed replica) are finished. Claims keep replicas from doubling up.
async fn compensar_periodicamente(
    estado: AppState,
    cada: Duration,
    mut fin: watch::Receiver<bool>,
) {
    let mut intervalo = tokio::time::interval(cada);
    intervalo.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = intervalo.tick() => {}
            _ = fin.changed() => break,
        }
        let r = estado.reservador.clone();
        let hecho = estado
            .tareas
            .ejecutar(
                async move { crate::reservas::compensar(&r, &OpcionesCompensar::default()).await },
            )
            .await;
        match hecho {
            Ok(v) if !v.is_empty() => {
                tracing::info!(compensadas = v.len(), "compras vencidas compensadas")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = e.mensaje, "compensar falló; se reintentará"),
        }
    }
}

static OPENAPI: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(doc::ApiDoc::openapi);

async fn openapi() -> Response {
    axum::Json(&*OPENAPI).into_response()
}

async fn ruta_desconocida(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ruta_desconocida",
        format!(
            "no existe la ruta {method} {}; /api/openapi.json lista las rutas",
            uri.path()
        ),
    )
}

async fn metodo_no_permitido(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "metodo_no_permitido",
        format!(
            "la ruta {} no admite {method}; /api/openapi.json lista los métodos",
            uri.path()
        ),
    )
}

/// 201 with the new resource and its `Location`.
fn creado<T: Serialize>(ubicacion: &str, v: &T) -> Response {
    let mut r = (StatusCode::CREATED, axum::Json(v)).into_response();
    if let Ok(h) = HeaderValue::from_str(ubicacion) {
        r.headers_mut().insert(header::LOCATION, h);
    }
    r
}
