//! `eventflow serve`: the REST API of the design on the same core and runtime as the
//! other commands. Binds first and prints the bound address (so `--addr HOST:0` works),
//! then serves until SIGINT or SIGTERM, finishing the purchases in flight before it exits.

use std::time::Duration;

use clap::Args;
use tokio::net::TcpListener;

use crate::cli::{Ctx, output, reservar::reservador};
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct ArgsServe {
    /// Dirección en la que escuchar, HOST:PUERTO (con el puerto 0 el sistema elige uno libre).
    #[arg(long, env = "EVENTFLOW_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: String,
    /// Cada cuántos segundos se compensan las compras abandonadas cuya retención venció.
    #[arg(long, env = "EVENTFLOW_COMPENSAR_CADA_S", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub compensar_cada: u64,
}

pub async fn run(a: ArgsServe, ctx: &Ctx) -> Result<()> {
    let r = reservador(ctx).await?;
    // Handlers first: a signal that arrives right after the address is printed must
    // start a graceful shutdown, not kill the process.
    let apagado = senal_de_apagado()?;
    let listener = TcpListener::bind(&a.addr).await.map_err(|e| {
        Error::Invalido(format!(
            "no se puede escuchar en {:?}: {e}; indique otra dirección con --addr HOST:PUERTO",
            a.addr
        ))
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::Interno(anyhow::anyhow!("dirección local del socket: {e}")))?;
    output::aviso(&format!("escuchando en http://{local}"));
    let opciones = crate::api::Opciones {
        compensar_cada: Duration::from_secs(a.compensar_cada),
    };
    crate::api::servir(listener, r, opciones, apagado).await?;
    output::aviso("servidor detenido: no quedó ninguna compra en curso");
    Ok(())
}

/// Resolves on the first SIGINT or SIGTERM. The handlers are installed before it returns.
fn senal_de_apagado() -> Result<impl Future<Output = ()> + Send + 'static> {
    let error = |e: std::io::Error| Error::Interno(anyhow::anyhow!("señales: {e}"));
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt()).map_err(error)?;
        let mut term = signal(SignalKind::terminate()).map_err(error)?;
        Ok(async move {
            let nombre = tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
            output::aviso(&format!(
                "{nombre} recibida: se terminan las peticiones y compras en curso"
            ));
        })
    }
    #[cfg(not(unix))]
    {
        let _ = error;
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            output::aviso("Ctrl-C recibido: se terminan las peticiones y compras en curso");
        })
    }
}
