//! The command-line front: clap definitions, one module per subcommand, and `output`
//! for table/json/csv rendering. This is the only part of the crate that prints.
//! Each subcommand module exposes `run(args, &Ctx)`.

pub mod compensar;
pub mod estado;
pub mod eventos;
pub mod importar;
pub mod output;
pub mod reservar;
pub mod reservas;
pub mod serve;
pub mod simular;
pub mod tokens;
pub mod usuarios;
pub mod verificar;

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};
use tokio::sync::OnceCell;

use crate::config::{Capa, Config, TipoBackend};
use crate::error::Result;
use crate::store::Almacen;
pub use output::Formato;

/// EventFlow: venta de entradas sin sobreventa, sobre MongoDB + Redis.
#[derive(Debug, Parser)]
#[command(name = "eventflow", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Formato de salida: tabla para personas, json o csv para scripts.
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = Formato::Table, help_heading = "Salida")]
    pub output: Formato,

    #[command(flatten)]
    pub conexion: ArgsConexion,

    #[command(subcommand)]
    pub comando: Comando,
}

/// Where the data lives. Flags win over environment variables, which win over the config file.
#[derive(Debug, Clone, Args)]
pub struct ArgsConexion {
    /// Fuerza un backend (por defecto: mongo si hay ambas URI, embedded si no hay ninguna).
    #[arg(
        long,
        global = true,
        help_heading = "Conexión",
        value_enum,
        env = "EVENTFLOW_BACKEND"
    )]
    pub backend: Option<TipoBackend>,
    /// URI de MongoDB (la contraseña nunca se muestra).
    #[arg(
        long,
        global = true,
        help_heading = "Conexión",
        env = "EVENTFLOW_MONGO_URI",
        hide_env_values = true
    )]
    pub mongo_uri: Option<String>,
    /// Base de datos de MongoDB [por defecto: eventflow].
    #[arg(
        long,
        global = true,
        help_heading = "Conexión",
        env = "EVENTFLOW_MONGO_DB"
    )]
    pub mongo_db: Option<String>,
    /// URL de Redis, o lista de URLs de nodos separadas por comas para Redis Cluster (la
    /// contraseña nunca se muestra).
    #[arg(
        long,
        global = true,
        help_heading = "Conexión",
        env = "EVENTFLOW_REDIS_URL",
        hide_env_values = true
    )]
    pub redis_url: Option<String>,
    /// Prefijo de todas las claves de Redis [por defecto: vacío].
    #[arg(
        long,
        global = true,
        help_heading = "Conexión",
        env = "EVENTFLOW_REDIS_PREFIX"
    )]
    pub redis_prefix: Option<String>,
    /// Directorio de datos del backend embebido.
    #[arg(
        long,
        global = true,
        help_heading = "Conexión",
        env = "EVENTFLOW_DATA_DIR"
    )]
    pub data_dir: Option<PathBuf>,
    /// Archivo de configuración TOML [por defecto: eventflow.toml en el directorio de configuración].
    #[arg(
        long,
        global = true,
        help_heading = "Conexión",
        env = "EVENTFLOW_CONFIG"
    )]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Comando {
    /// Backend en uso, direcciones (sin contraseñas), conectividad y versiones.
    Estado,
    /// Alta, consulta y baja de usuarios.
    #[command(subcommand)]
    Usuarios(usuarios::Accion),
    /// Alta, consulta y baja de eventos.
    #[command(subcommand)]
    Eventos(eventos::Accion),
    /// Compra entradas: valida, retiene, cobra, confirma y anota en el historial.
    Reservar(reservar::ArgsReservar),
    /// Lista, muestra y cancela reservas.
    #[command(subcommand)]
    Reservas(reservas::Accion),
    /// Termina las compras a medio hacer cuya retención venció.
    Compensar(compensar::ArgsCompensar),
    /// Comprueba los invariantes de cada evento (y los repara con --reparar).
    Verificar(verificar::ArgsVerificar),
    /// Simula una venta relámpago: crea un evento y compradores y los hace competir.
    Simular(simular::ArgsSimular),
    /// Sirve la API REST del diseño sobre el mismo núcleo.
    Serve(serve::ArgsServe),
    /// Tokens de la API REST: crear (su clave se muestra una sola vez), listar y revocar.
    #[command(subcommand)]
    Tokens(tokens::Accion),
    /// Genera el script de autocompletado para un shell.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Escribe la página de manual (roff) en la salida estándar.
    #[command(hide = true)]
    Man,
}

/// What every subcommand is handed: settings, output format, and the stores on demand.
pub struct Ctx {
    pub config: Config,
    pub formato: Formato,
    almacen: OnceCell<Almacen>,
}

impl Ctx {
    pub fn new(config: Config, formato: Formato) -> Self {
        Self {
            config,
            formato,
            almacen: OnceCell::new(),
        }
    }

    /// Connects on first use, so commands that need no backend never touch one.
    pub async fn almacen(&self) -> Result<&Almacen> {
        self.almacen
            .get_or_try_init(|| crate::store::conectar(&self.config))
            .await
    }

    /// Shuts the clients down, in order, while the runtime still runs: a driver whose
    /// background tasks outlive the runtime can panic on its way out.
    pub async fn cerrar(&self) {
        if let Some(a) = self.almacen.get() {
            a.documentos.cerrar().await;
        }
    }
}

impl ArgsConexion {
    fn capa(&self) -> Capa {
        Capa {
            backend: self.backend,
            mongo_uri: self.mongo_uri.clone(),
            mongo_db: self.mongo_db.clone(),
            redis_url: self.redis_url.clone(),
            redis_prefix: self.redis_prefix.clone(),
            data_dir: self.data_dir.clone(),
            config: self.config.clone(),
            reserva_ttl_s: std::env::var("EVENTFLOW_RESERVA_TTL_S").ok(),
            redis_replicas_min: std::env::var("EVENTFLOW_REDIS_REPLICAS_MIN").ok(),
            mongo_lectura: std::env::var("EVENTFLOW_MONGO_LECTURA").ok(),
        }
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    match cli.comando {
        Comando::Completions { shell } => {
            let mut cmd = Cli::command();
            let mut guion = Vec::new();
            clap_complete::generate(shell, &mut cmd, "eventflow", &mut guion);
            return output::escribir(&guion);
        }
        Comando::Man => {
            let man = clap_mangen::Man::new(Cli::command());
            let mut pagina = Vec::new();
            man.render(&mut pagina)
                .map_err(|e| crate::Error::Interno(e.into()))?;
            return output::escribir(&pagina);
        }
        _ => {}
    }
    let config = Config::resolver(cli.conexion.capa())?;
    let ctx = Ctx::new(config, cli.output);
    let resultado = match cli.comando {
        Comando::Estado => estado::run(&ctx).await,
        Comando::Usuarios(a) => usuarios::run(a, &ctx).await,
        Comando::Eventos(a) => eventos::run(a, &ctx).await,
        Comando::Reservar(a) => reservar::run(a, &ctx).await,
        Comando::Reservas(a) => reservas::run(a, &ctx).await,
        Comando::Compensar(a) => compensar::run(a, &ctx).await,
        Comando::Verificar(a) => verificar::run(a, &ctx).await,
        Comando::Simular(a) => simular::run(a, &ctx).await,
        Comando::Serve(a) => serve::run(a, &ctx).await,
        Comando::Tokens(a) => tokens::run(a, &ctx).await,
        Comando::Completions { .. } | Comando::Man => unreachable!("handled above"),
    };
    ctx.cerrar().await;
    resultado
}

/// Logs go to stderr, filtered by `EVENTFLOW_LOG`. The default is `warn`, except for
/// `serve`, whose request log is its normal output (`info`). Colour only on a terminal.
pub fn iniciar_logs(cli: &Cli) {
    use std::io::IsTerminal;
    let defecto = match cli.comando {
        Comando::Serve(_) => "info",
        _ => "warn",
    };
    let filtro = tracing_subscriber::EnvFilter::try_from_env("EVENTFLOW_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(defecto));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filtro)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
