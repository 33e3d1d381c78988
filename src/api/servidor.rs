//! The accept loop, on hyper directly rather than `axum::serve`, for what that one cannot
//! be told: a deadline for the request headers, a cap on open connections (one more is
//! answered 503 and closed at once, so a flood of idle sockets never exhausts the file
//! descriptors), and a shutdown that waits for open connections only so long.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::limites::Limites;

/// Serves `app` on `listener` until `apagado` resolves. Then it stops accepting, asks
/// every connection to finish its current request, and after `limites.apagado` closes
/// whatever is still open. It returns once every connection task is gone.
pub async fn aceptar(
    listener: TcpListener, app: Router, limites: &Limites, apagado: impl Future<Output = ()>,
) {
    let cupo = Arc::new(Semaphore::new(limites.conexiones));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limites.leer_cabeceras);
    let cierre = GracefulShutdown::new();
    let mut conexiones = JoinSet::new();
    tokio::pin!(apagado);
    loop {
        let (tcp, direccion) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors or a reset during the handshake: the listener is
                    // fine, so wait a moment (no busy loop) and go on.
                    tracing::warn!(error = %e, "no se pudo aceptar una conexión");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            Some(_) = conexiones.join_next(), if !conexiones.is_empty() => continue,
            _ = &mut apagado => break,
        };
        let Ok(permiso) = cupo.clone().try_acquire_owned() else {
            conexiones.spawn(rechazar(tcp));
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let servicio = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(direccion));
            let app = app.clone();
            async move { Ok::<_, Infallible>(app.oneshot(req).await.unwrap_or_else(|e| match e {})) }
        });
        let conexion = cierre.watch(http.serve_connection(TokioIo::new(tcp), servicio));
        conexiones.spawn(async move {
            if let Err(e) = conexion.await {
                tracing::debug!(error = %e, %direccion, "conexión cerrada con error");
            }
            drop(permiso);
        });
    }
    drop(listener);
    let abiertas = conexiones.len();
    tokio::select! {
        _ = cierre.shutdown() => {}
        _ = tokio::time::sleep(limites.apagado) => {
            tracing::warn!(
                abiertas,
                plazo_s = limites.apagado.as_secs_f64(),
                "apagado: se cierran las conexiones que siguen abiertas tras el plazo"
            );
        }
    }
    // Dropping a connection drops its handler, never a purchase: those run in tasks of
    // their own, which `servir` waits for.
    conexiones.abort_all();
    while conexiones.join_next().await.is_some() {}
}

/// The answer to one connection too many: a complete 503 in the API's error shape, then
/// close. Bounded in time so a client that never reads cannot keep it.
async fn rechazar(mut tcp: TcpStream) {
    const CUERPO: &str = r#"{"error":{"codigo":"sobrecargado","mensaje":"el servidor tiene demasiadas conexiones abiertas; reintente en unos segundos"}}"#;
    let respuesta = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{CUERPO}",
        CUERPO.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        tcp.write_all(respuesta.as_bytes()).await?;
        tcp.shutdown().await
    })
    .await;
}
