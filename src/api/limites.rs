//! Abuse limits: request rates per client address (`tower_governor`) and per token
//! (`governor`), the time allowed to send headers, body and the whole request, the caps
//! on open connections and requests in flight, and how long shutdown may wait for slow
//! clients. Every figure is configurable (`eventflow serve --help`); the defaults suit
//! one server behind a reverse proxy.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tower_governor::GovernorError;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::PeerIpKeyExtractor;

use super::error::ApiError;
use crate::domain::TokenId;

/// A sustained rate with a burst on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cuota {
    pub por_segundo: u32,
    pub rafaga: u32,
}

impl Cuota {
    fn periodo(self) -> Duration {
        Duration::from_nanos(1_000_000_000 / u64::from(self.por_segundo.max(1)))
    }

    fn quota(self) -> Quota {
        let rafaga = NonZeroU32::new(self.rafaga.max(1)).expect("max(1)");
        Quota::with_period(self.periodo())
            .expect("a positive period")
            .allow_burst(rafaga)
    }
}

/// Every limit of the HTTP server.
#[derive(Debug, Clone)]
pub struct Limites {
    /// Requests per client address (all routes, tokens or not).
    pub por_ip: Cuota,
    /// Requests per token.
    pub por_token: Cuota,
    /// Time to send the request line and headers; then the connection is closed.
    pub leer_cabeceras: Duration,
    /// Time to send the body; then 408.
    pub leer_cuerpo: Duration,
    /// Time for the whole request, handler included; then 408. A purchase keeps
    /// running to its end in its own task.
    pub peticion: Duration,
    /// Open connections; one more is answered 503 and closed at once.
    pub conexiones: usize,
    /// Requests being handled at once; one more is answered 503 at once.
    pub en_curso: usize,
    /// How long shutdown waits for open connections before closing them.
    pub apagado: Duration,
}

impl Default for Limites {
    fn default() -> Self {
        Self {
            por_ip: Cuota {
                por_segundo: 50,
                rafaga: 100,
            },
            por_token: Cuota {
                por_segundo: 100,
                rafaga: 200,
            },
            leer_cabeceras: Duration::from_secs(10),
            leer_cuerpo: Duration::from_secs(10),
            peticion: Duration::from_secs(30),
            conexiones: 512,
            en_curso: 256,
            apagado: Duration::from_secs(30),
        }
    }
}

/// The per-token limiter, shared by every request.
pub struct Limitadores {
    por_token: DefaultKeyedRateLimiter<TokenId>,
}

impl Limitadores {
    pub fn new(l: &Limites) -> Arc<Self> {
        Arc::new(Self {
            por_token: RateLimiter::keyed(l.por_token.quota()),
        })
    }

    /// `None` if the token may go on, else how long it must wait.
    pub fn token(&self, id: &TokenId) -> Option<Duration> {
        self.por_token
            .check_key(id)
            .err()
            .map(|n| n.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets tokens idle long enough to be back at a full burst.
    pub fn purgar(&self) {
        self.por_token.retain_recent();
    }
}

/// 429 in the API's error shape, with `Retry-After` in whole seconds (at least 1).
pub fn demasiadas_peticiones(espera: Duration, quien: &str) -> Response {
    let s = espera.as_secs() + u64::from(espera.subsec_nanos() > 0);
    let s = s.max(1);
    let mut r = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "demasiadas_peticiones",
        format!("demasiadas peticiones desde {quien}; reintente en {s} s"),
    )
    .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(s));
    r
}

/// The per-address rate-limit layer.
pub type CapaPorIp = tower_governor::GovernorLayer<
    PeerIpKeyExtractor,
    governor::middleware::NoOpMiddleware<governor::clock::QuantaInstant>,
    axum::body::Body,
>;

/// Forgets idle keys of a limiter.
pub type Purgar = Arc<dyn Fn() + Send + Sync>;

/// The per-address rate limit as a layer. It keys on the peer address of the TCP
/// connection, never on `X-Forwarded-For` (which any client can write); behind a reverse
/// proxy every client shares the proxy's address, so raise `--limite-ip` there.
pub fn capa_por_ip(l: &Limites) -> (CapaPorIp, Purgar) {
    let config = Arc::new(
        GovernorConfigBuilder::default()
            .period(l.por_ip.periodo())
            .burst_size(l.por_ip.rafaga.max(1))
            .finish()
            .expect("a positive period and burst"),
    );
    let limitador = config.limiter().clone();
    let purgar = Arc::new(move || limitador.retain_recent());
    let capa = tower_governor::GovernorLayer::new(config).error_handler(|e| match e {
        GovernorError::TooManyRequests { wait_time, .. } => {
            demasiadas_peticiones(Duration::from_secs(wait_time), "esta dirección")
        }
        otro => {
            tracing::error!(error = %otro, "límite por dirección");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "interno",
                "no se pudo identificar la dirección del cliente",
            )
            .into_response()
        }
    });
    (capa, purgar)
}
