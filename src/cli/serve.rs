//! `eventflow serve`: the REST API of the design on the same core and runtime as the
//! other commands. Binds first and prints the bound address (so `--addr HOST:0` works),
//! then serves until SIGINT or SIGTERM, finishing the purchases in flight before it exits.

use std::time::Duration;

use clap::Args;
use tokio::net::TcpListener;

use crate::api::limites::{Cuota, Limites};
use crate::cli::{Ctx, output, reservar::reservador};
use crate::error::{Error, Result};

pub const EJEMPLOS: &str = "\
Ejemplos:
  eventflow serve
  # Puerto 0: el sistema elige uno libre y se imprime la dirección
  eventflow serve --addr 127.0.0.1:0
  eventflow serve --addr 0.0.0.0:8080 --limite-ip 20 --rafaga-ip 40";

#[derive(Debug, Args)]
pub struct ArgsServe {
    /// Dirección en la que escuchar, HOST:PUERTO (con el puerto 0 el sistema elige uno libre).
    #[arg(long, env = "EVENTFLOW_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: String,
    /// Cada cuántos segundos se compensan las compras abandonadas cuya retención venció.
    #[arg(long, env = "EVENTFLOW_COMPENSAR_CADA_S", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub compensar_cada: u64,
    #[command(flatten)]
    pub limites: ArgsLimites,
}

/// The abuse limits (see `api::limites`). Milliseconds, so tests can shrink them.
#[derive(Debug, Args)]
#[command(next_help_heading = "Límites")]
pub struct ArgsLimites {
    /// Peticiones por segundo por dirección de cliente (sostenidas).
    #[arg(long, env = "EVENTFLOW_LIMITE_IP", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub limite_ip: u32,
    /// Ráfaga por dirección de cliente.
    #[arg(long, env = "EVENTFLOW_RAFAGA_IP", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub rafaga_ip: u32,
    /// Peticiones por segundo por token (sostenidas).
    #[arg(long, env = "EVENTFLOW_LIMITE_TOKEN", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub limite_token: u32,
    /// Ráfaga por token.
    #[arg(long, env = "EVENTFLOW_RAFAGA_TOKEN", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub rafaga_token: u32,
    /// Plazo para recibir las cabeceras de una petición, en ms; luego se cierra la conexión.
    #[arg(long, env = "EVENTFLOW_PLAZO_CABECERAS_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub plazo_cabeceras_ms: u64,
    /// Plazo para recibir el cuerpo, en ms; luego 408.
    #[arg(long, env = "EVENTFLOW_PLAZO_CUERPO_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub plazo_cuerpo_ms: u64,
    /// Plazo para la petición entera, en ms; luego 408 (una compra en curso termina igual).
    #[arg(long, env = "EVENTFLOW_PLAZO_PETICION_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub plazo_peticion_ms: u64,
    /// Conexiones abiertas a la vez; la siguiente recibe 503 y se cierra.
    #[arg(long, env = "EVENTFLOW_MAX_CONEXIONES", default_value_t = 512,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_conexiones: u64,
    /// Peticiones atendidas a la vez; la siguiente recibe 503.
    #[arg(long, env = "EVENTFLOW_MAX_EN_CURSO", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_en_curso: u64,
    /// Cuánto espera el apagado a las conexiones abiertas, en ms, antes de cerrarlas.
    #[arg(long, env = "EVENTFLOW_PLAZO_APAGADO_MS", default_value_t = 30_000)]
    pub plazo_apagado_ms: u64,
}

impl ArgsLimites {
    fn limites(&self) -> Limites {
        let ms = Duration::from_millis;
        Limites {
            por_ip: Cuota {
                por_segundo: self.limite_ip,
                rafaga: self.rafaga_ip,
            },
            por_token: Cuota {
                por_segundo: self.limite_token,
                rafaga: self.rafaga_token,
            },
            leer_cabeceras: ms(self.plazo_cabeceras_ms),
            leer_cuerpo: ms(self.plazo_cuerpo_ms),
            peticion: ms(self.plazo_peticion_ms),
            conexiones: self.max_conexiones as usize,
            en_curso: self.max_en_curso as usize,
            apagado: ms(self.plazo_apagado_ms),
        }
    }
}

/// What `.env.example` puts where a password goes. A deployment still using it is
/// refused before anything connects.
const MARCADOR: &str = "change-me";

/// The password inside `uri` (every node of a comma-separated Redis Cluster list).
fn contrasenas(uri: &str) -> Vec<String> {
    uri.split(',')
        .filter_map(|u| url::Url::parse(u.trim()).ok())
        .filter_map(|u| u.password().map(|p| p.to_owned()))
        .collect()
}

/// `Invalido` (exit 2) naming the setting whose password is still the placeholder.
fn rechazar_marcadores(config: &crate::config::Config) -> Result<()> {
    let crate::config::Backend::Mongo {
        mongo_uri,
        redis_url,
        ..
    } = &config.backend
    else {
        return Ok(());
    };
    for (nombre, uri, variable) in [
        ("MongoDB", mongo_uri, "MONGO_APP_PASSWORD"),
        ("Redis", redis_url, "REDIS_APP_PASSWORD"),
    ] {
        if contrasenas(uri.expose())
            .iter()
            .any(|p| p.starts_with(MARCADOR))
        {
            return Err(Error::Invalido(format!(
                "la contraseña de {nombre} en {} sigue siendo el marcador de .env.example; \
                 ponga una propia en {variable} de .env (p. ej. `openssl rand -hex 24`)",
                uri.redactada()
            )));
        }
    }
    Ok(())
}

pub async fn run(a: ArgsServe, ctx: &Ctx) -> Result<()> {
    rechazar_marcadores(&ctx.config)?;
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
    let opciones = crate::api::ServerOptions {
        compensar_cada: Duration::from_secs(a.compensar_cada),
        limites: a.limites.limites(),
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
