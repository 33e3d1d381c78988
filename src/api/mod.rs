//! The REST API: a second front on the same core as the CLI (see the design's
//! `/api/usuarios`, `/api/eventos`, `/api/reservas`). Handlers parse, call the core, and
//! encode; the HTTP layer holds no business logic.
//!
//! - [`acceso`]: the permission of every route, in one table, and the bearer-token check.
//! - [`limites`]: rates, timeouts and caps; [`servidor`]: the accept loop that applies
//!   the connection-level ones.
//! - [`error`]: every failure as `{"error": {"codigo", "mensaje"}}` with its status.
//! - [`extract`]: `Json`, `Path`, `Query` whose rejections use that shape.
//! - [`usuarios`], [`eventos`], [`reservas`], [`salud`]: one module per resource.
//! - [`doc`]: the OpenAPI description at `/api/openapi.json`, completed by [`esquema`].
//!
//! [`servir`] runs the router until a shutdown signal, then lets requests and purchases in
//! flight finish, while a background task compensates abandoned holds.

pub mod acceso;
pub mod doc;
pub mod error;
pub mod esquema;
pub mod eventos;
pub mod extract;
pub mod limites;
pub mod pagina;
pub mod reservas;
pub mod salud;
pub mod servidor;
pub mod usuarios;

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::LatencyUnit;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::{DefaultOnRequest, DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;

use crate::compra::{OpcionesCompensar, Reservador};
use crate::error::{Error, Result};
use crate::store::Almacen;
use error::{ApiError, LIMITE_CUERPO};
use limites::{Limitadores, Limites};

/// What every handler is handed: the saga wiring (which holds the stores) and the tracker
/// of the work that must finish before the process exits.
#[derive(Clone)]
pub struct AppState {
    pub reservador: Arc<Reservador>,
    tareas: Tareas,
    limites: Arc<Limitadores>,
}

impl AppState {
    /// The state, and the handle that waits for every tracked task once the state and
    /// all its clones are gone.
    pub fn nuevo(reservador: Reservador, limites: &Limites) -> (Self, Pendientes) {
        let (vivas, rx) = mpsc::channel(1);
        let estado = Self {
            reservador: Arc::new(reservador),
            tareas: Tareas { vivas },
            limites: Limitadores::new(limites),
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
pub struct ServerOptions {
    /// How often the background task compensates purchases whose hold expired.
    pub compensar_cada: Duration,
    pub limites: Limites,
}

/// The router with every endpoint and, from the outside in: request tracing (the span
/// names the method, path and, once known, the token id; never a header), the cap on
/// requests in flight and the whole-request deadline (503 and 408 in the error shape),
/// the per-address rate limit, the token check ([`acceso::autorizar`]), the body
/// deadline and the body limit.
pub fn router(estado: AppState, limites: &Limites) -> Router {
    let (por_ip, _) = limites::capa_por_ip(limites);
    router_con(estado, limites, por_ip)
}

fn router_con(estado: AppState, limites: &Limites, por_ip: limites::CapaPorIp) -> Router {
    let carga = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(desbordado))
        .load_shed()
        // Global: `Router::layer` wraps each route apart, and the cap is for all of them.
        .layer(GlobalConcurrencyLimitLayer::new(limites.en_curso.max(1)))
        .timeout(limites.peticion);
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
        .layer(RequestBodyTimeoutLayer::new(limites.leer_cuerpo))
        .layer(axum::middleware::from_fn_with_state(
            estado.clone(),
            acceso::autorizar,
        ))
        .layer(por_ip)
        .layer(carga)
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    tracing::info_span!(
                        "peticion",
                        metodo = %req.method(),
                        ruta = req.uri().path(),
                        token = tracing::field::Empty,
                    )
                })
                .on_request(DefaultOnRequest::new().level(Level::DEBUG))
                .on_response(
                    DefaultOnResponse::new()
                        .level(Level::INFO)
                        .latency_unit(LatencyUnit::Millis),
                ),
        )
        .with_state(estado)
}

/// What the in-flight cap and the whole-request deadline answer.
async fn desbordado(e: tower::BoxError) -> ApiError {
    if e.is::<tower::timeout::error::Elapsed>() {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "plazo_vencido",
            "la petición superó el tiempo máximo; una compra en curso termina igualmente, consúltela con GET /api/reservas",
        )
    } else if e.is::<tower::load_shed::error::Overloaded>() {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "sobrecargado",
            "el servidor atiende demasiadas peticiones a la vez; reintente en unos segundos",
        )
    } else {
        Error::Interno(anyhow::anyhow!("capa HTTP: {e}")).into()
    }
}

/// Serves on `listener` until `apagado` resolves. Then it stops accepting, lets the
/// requests in flight answer (for at most `limites.apagado`), waits for every purchase
/// and cancellation it started, and stops the periodic compensation after its current
/// run.
pub async fn servir(
    listener: TcpListener, reservador: Reservador, opciones: ServerOptions,
    apagado: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (estado, pendientes) = AppState::nuevo(reservador, &opciones.limites);
    let (fin_tx, fin_rx) = watch::channel(false);
    let compensador = tokio::spawn(compensar_periodicamente(
        estado.clone(),
        opciones.compensar_cada,
        fin_rx.clone(),
    ));
    let (por_ip, purgar_ip) = limites::capa_por_ip(&opciones.limites);
    let purgador = tokio::spawn(purgar_limites(estado.limites.clone(), purgar_ip, fin_rx));
    let senal = async move {
        apagado.await;
        tracing::info!("apagando: se terminan las peticiones y compras en curso");
        let _ = fin_tx.send(true);
    };
    let app = router_con(estado, &opciones.limites, por_ip);
    servidor::aceptar(listener, app, &opciones.limites, senal).await;
    // Whatever happened to the connections, no purchase is left half done.
    let _ = compensador.await;
    let _ = purgador.await;
    pendientes.esperar().await;
    Ok(())
}

/// Keeps the rate limiters' memory bounded: every minute, forgets keys that are back at a
/// full burst.
async fn purgar_limites(
    tokens: Arc<Limitadores>, ip: limites::Purgar, mut fin: watch::Receiver<bool>,
) {
    let mut intervalo = tokio::time::interval(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = intervalo.tick() => {}
            _ = fin.changed() => break,
        }
        tokens.purgar();
        ip();
    }
}

/// Every `cada`, the work of `eventflow compensar`: purchases whose hold expired (a lost
/// client, a crashed replica) are finished. Claims keep replicas from doubling up.
async fn compensar_periodicamente(
    estado: AppState, cada: Duration, mut fin: watch::Receiver<bool>,
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
                async move { crate::compra::compensar(&r, &OpcionesCompensar::default()).await },
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

/// The document, generated once: utoipa's, completed by [`esquema::completar`].
static OPENAPI: LazyLock<serde_json::Value> = LazyLock::new(|| {
    let generado = serde_json::to_value(doc::ApiDoc::openapi()).expect("the document serializes");
    esquema::completar(generado)
});

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
