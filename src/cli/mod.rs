//! The command-line front: clap definitions, one module per subcommand, and `output`
//! for table/json/csv rendering. This is the only part of the crate that prints.
//! Each subcommand module exposes `run(args, &Ctx)`.

pub mod ayuda;
pub mod compensar;
pub mod completions;
pub mod estado;
pub mod eventos;
pub mod importar;
pub mod man;
pub mod output;
pub mod pagina;
pub mod reservar;
pub mod reservas;
pub mod serve;
pub mod simular;
pub mod tokens;
pub mod usuarios;
pub mod verificar;

use std::collections::BTreeMap;

use clap::{Parser, Subcommand};
use tokio::sync::OnceCell;

use crate::config::{Ajustes, Config, Origen};
use crate::error::Result;
use crate::store::Almacen;
pub use output::OutputFormat;

/// EventFlow: venta de entradas sin sobreventa, en un archivo SQLite embebido o sobre MongoDB + Redis.
#[derive(Debug, Parser)]
#[command(
    name = "eventflow",
    version,
    long_about = None,
    propagate_version = true,
    after_help = EJEMPLOS
)]
pub struct Cli {
    /// Formato de salida: tabla para personas; json, jsonl, csv o id para scripts; wide para ver todas las columnas.
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = OutputFormat::Table, help_heading = "Salida")]
    pub output: OutputFormat,

    /// Omite la línea de encabezado de tablas, filas separadas por tabuladores y CSV.
    #[arg(long, global = true, help_heading = "Salida")]
    pub no_encabezado: bool,

    /// Every setting (`config::Ajustes`): a global flag and its `EVENTFLOW_*` variable each.
    #[command(flatten)]
    pub ajustes: Ajustes,

    #[command(subcommand)]
    pub comando: Comando,
}

#[derive(Debug, Subcommand)]
pub enum Comando {
    /// Backend en uso, direcciones (sin contraseñas), conectividad y versiones.
    #[command(after_help = EJEMPLOS_ESTADO)]
    Estado,
    /// Alta, consulta y baja de usuarios.
    #[command(subcommand, after_help = usuarios::EJEMPLOS)]
    Usuarios(usuarios::Accion),
    /// Alta, consulta y baja de eventos.
    #[command(subcommand, after_help = eventos::EJEMPLOS)]
    Eventos(eventos::Accion),
    /// Compra entradas: valida, retiene, cobra, confirma y anota en el historial.
    #[command(after_help = reservar::EJEMPLOS)]
    Reservar(reservar::ArgsReservar),
    /// Lista, muestra y cancela reservas.
    #[command(subcommand, after_help = reservas::EJEMPLOS)]
    Reservas(reservas::Accion),
    /// Termina las compras a medio hacer cuya retención venció.
    #[command(after_help = compensar::EJEMPLOS)]
    Compensar(compensar::ArgsCompensar),
    /// Comprueba los invariantes de cada evento (y los repara con --reparar).
    #[command(after_help = verificar::EJEMPLOS)]
    Verificar(verificar::ArgsVerificar),
    /// Simula una venta relámpago: crea un evento y compradores y los hace competir.
    #[command(after_help = simular::EJEMPLOS)]
    Simular(simular::ArgsSimular),
    /// Sirve la API REST del diseño sobre el mismo núcleo.
    #[command(after_help = serve::EJEMPLOS)]
    Serve(serve::ArgsServe),
    /// Tokens de la API REST: crear (su clave se muestra una sola vez), listar y revocar.
    #[command(subcommand, after_help = tokens::EJEMPLOS)]
    Tokens(tokens::Accion),
    /// Genera el script de autocompletado para un shell.
    #[command(after_help = completions::EJEMPLOS)]
    Completions(completions::ArgsCompletions),
    /// Escribe una página de manual (roff) por comando en un directorio.
    #[command(hide = true, after_help = man::EJEMPLOS)]
    Man(man::ArgsMan),
}

const EJEMPLOS: &str = "\
Ejemplos:
  # Sin configurar nada, los datos viven en el backend embebido (--data-dir)
  eventflow usuarios crear --nombre Ana --apellido Gil --email ana@example.com
  eventflow eventos crear --nombre Gala --fecha 2026-12-01T21:00:00Z --lugar Teatro --aforo 500
  # Los ids salen de crear y de listar; con -o json, para scripts
  eventflow reservar --evento $EVENTO --usuario $USUARIO --entradas 2
  eventflow -o json reservas listar --evento $EVENTO
  # Contra MongoDB + Redis
  eventflow --mongo-uri mongodb://localhost:27017 --redis-url redis://localhost:6379 estado";

const EJEMPLOS_ESTADO: &str = "\
Ejemplos:
  eventflow estado
  # En un script: sale con 7 si algún almacén no responde
  eventflow -o json estado
  eventflow --data-dir /srv/eventflow estado";

/// What every subcommand is handed: settings, output format, and the stores on demand.
pub struct Ctx {
    pub config: Config,
    pub formato: OutputFormat,
    almacen: OnceCell<Almacen>,
}

impl Ctx {
    pub fn new(config: Config, formato: OutputFormat) -> Self {
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

/// clap's value source of every setting that has a value.
pub fn origenes(matches: &clap::ArgMatches) -> BTreeMap<String, Origen> {
    crate::config::nombres()
        .into_iter()
        .filter_map(|n| {
            let origen = match matches.value_source(&n.clave)? {
                clap::parser::ValueSource::CommandLine => Origen::Flag,
                clap::parser::ValueSource::EnvVariable => Origen::Entorno,
                _ => return None,
            };
            Some((n.clave, origen))
        })
        .collect()
}

/// The panic hook: one line on stderr asking for a bug report; the backtrace only when the
/// user asked for it with `RUST_BACKTRACE`. A closed stderr is ignored.
pub fn informar_panico(info: &std::panic::PanicHookInfo<'_>) {
    use std::io::Write;
    let linea = output::linea_de_panico(info.location().map(|l| (l.file(), l.line())));
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{linea}");
    if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
        let _ = writeln!(err, "{}", std::backtrace::Backtrace::force_capture());
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli, origenes: &BTreeMap<String, Origen>) -> Result<()> {
    match cli.comando {
        Comando::Completions(a) => return completions::run(a),
        Comando::Man(a) => return man::run(a),
        _ => {}
    }
    output::configurar(
        cli.output,
        !cli.no_encabezado,
        matches!(cli.comando, Comando::Estado),
    );
    let config = Config::resolver(cli.ajustes.clone(), origenes)?;
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
        Comando::Completions(_) | Comando::Man(_) => unreachable!("handled above"),
    };
    ctx.cerrar().await;
    resultado
}

/// Logs go to stderr, filtered by `EVENTFLOW_LOG`. The default is `warn`, except for
/// `serve`, whose request log is its normal output (`info`); the drivers log errors only. Colour only on a terminal.
pub fn iniciar_logs(cli: &Cli) {
    use std::io::IsTerminal;
    // The drivers' own warnings (a cluster node that refuses, a retried connection) are
    // English and repeat on every command: they show only when asked for by name.
    let defecto = match cli.comando {
        Comando::Serve(_) => "info,redis=error,mongodb=error",
        _ => "warn,redis=error,mongodb=error",
    };
    let filtro = tracing_subscriber::EnvFilter::try_from_env("EVENTFLOW_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(defecto));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filtro)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
