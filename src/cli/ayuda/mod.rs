//! Spanish for everything clap writes on its own: help layout and headings, the
//! `[por defecto: …]`-style notes, usage lines and usage errors (clap's texts are fixed
//! English). [`comando`] builds the one command tree the binary parses with and prints help
//! from; [`parsear`] turns argv into a [`Cli`] or exits as clap does (2, or 0 for help).

mod errores;

use std::collections::HashSet;
use std::ffi::OsString;

use clap::builder::{PossibleValue, StyledStr, TypedValueParser};
use clap::error::{ContextKind, ContextValue};
use clap::{Arg, ArgAction, Args, Command, CommandFactory, FromArgMatches};

pub use errores::Espanol;

use crate::cli::Cli;
use crate::config::{Ajustes, Origen};

const ARGUMENTOS: &str = "Argumentos";
const OPCIONES: &str = "Opciones";
const CONEXION: &str = "Conexión (opciones globales: valen en todos los comandos)";
/// Where each command's examples start; the test of the examples looks for it too.
pub const EJEMPLOS: &str = "Ejemplos:";

/// What the command tree is for. They parse alike; they differ in what is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destino {
    /// Parsing and `--help`: the connection flags appear once, in `eventflow --help`, and
    /// each subcommand's help points there.
    Ayuda,
    /// Shell completions: every flag everywhere, and no hidden commands (`man`).
    Completado,
    /// Manual pages: every flag on every page.
    Manual,
}

/// The command tree with Spanish help, ready to parse or render (built).
pub fn comando(destino: Destino) -> Command {
    let mut raiz = Cli::command();
    if destino == Destino::Completado {
        raiz = sin_ocultos(raiz);
    }
    let raiz = raiz
        .disable_help_flag(true)
        .disable_version_flag(true)
        .disable_help_subcommand(destino == Destino::Manual)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .global(true)
                .help("Muestra esta ayuda"),
        )
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .global(true)
                .help("Muestra la versión"),
        );
    let conexion: HashSet<String> = Ajustes::augment_args(Command::new("conexion"))
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    let mut raiz = localizar(raiz, destino, &conexion, true);
    raiz.build();
    fijar_usos(raiz)
}

/// Parses this process's arguments. `eventflow` alone prints the help and exits 0; a
/// usage error prints in Spanish and exits 2, as clap would.
pub fn parsear() -> (Cli, std::collections::BTreeMap<String, Origen>) {
    let args: Vec<OsString> = std::env::args_os().collect();
    let mut cmd = comando(Destino::Ayuda);
    if args.len() <= 1 {
        let _ = cmd.print_help();
        std::process::exit(0);
    }
    match cmd
        .try_get_matches_from_mut(&args)
        .and_then(|m| Ok((Cli::from_arg_matches(&m)?, crate::cli::origenes(&m))))
    {
        Ok(r) => r,
        Err(mut e) => {
            // clap leaves the usage out of bad-value errors; with it, the message also
            // names the command whose --help to read.
            if e.get(ContextKind::Usage).is_none() && e.use_stderr() {
                let uso = subcomando(&cmd, &args).clone().render_usage();
                e.insert(ContextKind::Usage, ContextValue::StyledStr(uso));
            }
            let e = e.apply::<Espanol>();
            if !e.use_stderr() {
                // --help and --version: clap prints them and exits 0.
                e.exit()
            }
            let args: Vec<String> = args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            crate::cli::output::error_de_uso(&e.render().to_string(), &args);
            std::process::exit(2)
        }
    }
}

/// The deepest subcommand `args` names (for an error's usage line): subcommand names are
/// followed; options, and the value after an option that takes one, are skipped.
fn subcomando<'a>(raiz: &'a Command, args: &[OsString]) -> &'a Command {
    let mut cmd = raiz;
    let mut resto = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(a) = resto.next() {
        if a == "--" {
            break;
        }
        if a.starts_with('-') && a.len() > 1 {
            let toma_valor = |x: &Arg| x.get_action().takes_values();
            let sigue_valor = match a.strip_prefix("--") {
                Some(largo) => {
                    !largo.contains('=')
                        && cmd
                            .get_arguments()
                            .any(|x| x.get_long() == Some(largo) && toma_valor(x))
                }
                None => {
                    a.chars().count() == 2
                        && cmd
                            .get_arguments()
                            .any(|x| x.get_short() == a.chars().nth(1) && toma_valor(x))
                }
            };
            if sigue_valor {
                resto.next();
            }
            continue;
        }
        match cmd.find_subcommand(a.as_ref()) {
            Some(s) => cmd = s,
            None => break,
        }
    }
    cmd
}

/// A copy of `raiz` without its hidden subcommands (clap_complete lists those too).
fn sin_ocultos(raiz: Command) -> Command {
    let visibles: Vec<Command> = raiz
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    let mut nueva = Command::new("eventflow")
        .args(raiz.get_arguments().cloned())
        .subcommands(visibles)
        .subcommand_required(raiz.is_subcommand_required_set())
        .version(env!("CARGO_PKG_VERSION"))
        .propagate_version(true);
    if let Some(a) = raiz.get_about() {
        nueva = nueva.about(a.clone());
    }
    nueva
}

/// The layout of every help page; as clap's default, with the usage heading in Spanish.
fn plantilla(cmd: &Command) -> StyledStr {
    let estilo = cmd.get_styles().get_usage();
    StyledStr::from(format!(
        "{{before-help}}{{about-with-newline}}\n{estilo}Uso:{estilo:#} {{usage}}\n\n{{all-args}}{{after-help}}"
    ))
}

fn localizar(cmd: Command, destino: Destino, conexion: &HashSet<String>, raiz: bool) -> Command {
    let plantilla = plantilla(&cmd);
    let mut cmd = cmd
        .help_template(plantilla)
        .subcommand_help_heading("Comandos")
        .subcommand_value_name("COMANDO")
        .mut_args(localizar_arg);
    let ejemplos = cmd.get_after_help().map(|e| e.to_string());
    let mut despues = match (destino, ejemplos) {
        (_, None) => String::new(),
        (Destino::Manual, Some(e)) => e,
        (_, Some(e)) => {
            let titulo = cmd.get_styles().get_header();
            e.replacen(EJEMPLOS, &format!("{titulo}{EJEMPLOS}{titulo:#}"), 1)
        }
    };
    if destino == Destino::Ayuda {
        if raiz {
            let seccion = seccion_conexion(&cmd, conexion).ansi().to_string();
            despues = [seccion.trim_end(), despues.as_str()].join("\n\n");
            cmd = cmd.mut_args(|a| {
                if conexion.contains(a.get_id().as_str()) {
                    a.hide(true)
                } else {
                    a
                }
            });
        } else {
            despues = [despues.as_str(), &puntero_conexion(conexion)].join("\n\n");
        }
    }
    cmd.after_help(StyledStr::from(despues.trim().to_owned()))
        .mut_subcommands(|sc| localizar(sc, destino, conexion, false))
}

/// The connection flags as a help section of their own, laid out by clap.
fn seccion_conexion(raiz: &Command, conexion: &HashSet<String>) -> StyledStr {
    let args = raiz
        .get_arguments()
        .filter(|a| conexion.contains(a.get_id().as_str()))
        .map(|a| a.clone().global(false).help_heading(CONEXION));
    Command::new("eventflow")
        .disable_help_flag(true)
        .disable_version_flag(true)
        .help_template("{all-args}")
        .args(args)
        .render_help()
}

/// One line in each subcommand's help naming the connection flags it hides.
fn puntero_conexion(conexion: &HashSet<String>) -> String {
    let mut grupos: Vec<(String, Vec<String>)> = Vec::new();
    for a in Ajustes::augment_args(Command::new("conexion")).get_arguments() {
        if a.is_hide_set() || !conexion.contains(a.get_id().as_str()) {
            continue;
        }
        let (Some(larga), Some(grupo)) = (a.get_long(), a.get_help_heading()) else {
            continue;
        };
        match grupos.iter_mut().find(|(g, _)| g == grupo) {
            Some((_, v)) => v.push(format!("--{larga}")),
            None => grupos.push((grupo.to_owned(), vec![format!("--{larga}")])),
        }
    }
    // A flag or two per group name the kind; the full list is one `eventflow --help` away.
    let partes: Vec<String> = grupos
        .iter()
        .enumerate()
        .map(|(i, (g, v))| {
            let n = if i == 0 { 2 } else { 1 }.min(v.len());
            let mas = if v.len() > n { ", …" } else { "" };
            format!("de {} ({}{mas})", g.to_lowercase(), v[..n].join(", "))
        })
        .collect();
    format!(
        "Opciones globales {}:\nvea `eventflow --help`.",
        partes.join(" y ")
    )
}

/// Gives every argument a Spanish heading and moves clap's English notes (`[default: …]`,
/// `[possible values: …]`, `[env: …]`) into its help, in Spanish. Environment values are
/// never shown: they may hold passwords.
fn localizar_arg(a: Arg) -> Arg {
    let mut a = a;
    if a.get_help_heading().is_none() {
        let titulo = if a.is_positional() {
            ARGUMENTOS
        } else {
            OPCIONES
        };
        a = a.help_heading(titulo);
    }
    let toma_valores = a.get_action().takes_values();
    let valores: Vec<PossibleValue> = if toma_valores && !a.is_hide_possible_values_set() {
        a.get_value_parser()
            .possible_values()
            .map(|v| v.filter(|p| !p.is_hide_set()).collect())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut otras = Vec::new();
    if toma_valores && !a.is_hide_default_value_set() && !a.get_default_values().is_empty() {
        let d: Vec<String> = a
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        otras.push(format!("[por defecto: {}]", d.join(" ")));
    }
    if !a.is_hide_env_set()
        && let Some(env) = a.get_env()
    {
        otras.push(format!("[entorno: {}]", env.to_string_lossy()));
    }
    if valores.is_empty() && otras.is_empty() {
        return a;
    }
    let mut notas = otras.clone();
    if !valores.is_empty() {
        let nombres: Vec<&str> = valores.iter().map(PossibleValue::get_name).collect();
        notas.insert(0, format!("[valores: {}]", nombres.join(", ")));
    }
    let corta = a.get_help().map(|h| h.to_string()).unwrap_or_default();
    let larga = a.get_long_help().map(|h| h.to_string());
    let explicados = valores.iter().any(|p| p.get_help().is_some());
    a = a
        .help(format!("{corta} {}", notas.join(" ")).trim().to_owned())
        .hide_default_value(true)
        .hide_possible_values(true)
        .hide_env(true);
    if larga.is_some() || explicados {
        // The long form lists the values one per line, with what each does.
        let base = larga.unwrap_or(corta);
        let mut texto = if explicados {
            format!("{} {}", base.trim_end(), otras.join(" "))
        } else {
            format!("{} {}", base.trim_end(), notas.join(" "))
        };
        if explicados {
            texto = texto.trim_end().to_owned() + "\n\nValores posibles:";
            for p in &valores {
                let ayuda = p.get_help().map(|h| format!(": {h}")).unwrap_or_default();
                texto.push_str(&format!("\n- {}{ayuda}", p.get_name()));
            }
        }
        a = a.long_help(texto.trim_end().to_owned());
    }
    a
}

/// Sets every command's usage line to clap's own, in Spanish. A fixed line also keeps
/// flags that came from the environment out of the usage an error prints.
fn fijar_usos(mut cmd: Command) -> Command {
    let uso = cmd.render_usage().ansi().to_string();
    let uso = uso.split_once("Usage:").map_or(uso.as_str(), |(_, u)| u);
    let uso = uso.strip_prefix("\x1b[0m").unwrap_or(uso).trim_start();
    let uso = errores::traducir_uso(uso);
    let mut cmd = cmd.override_usage(StyledStr::from(uso));
    if cmd.get_name() == "help" {
        cmd = cmd.about("Muestra la ayuda de un comando (igual que <COMANDO> --help)");
    }
    cmd.mut_subcommands(fijar_usos)
}

/// A value parser that also tells clap the fixed set of values it accepts, so help lists
/// them and shell completion offers them. Parsing (and its Spanish message) stays the
/// domain's.
#[derive(Clone)]
pub struct ConValores<P> {
    parser: P,
    valores: Vec<&'static str>,
}

impl<P> ConValores<P> {
    pub fn new(parser: P, valores: impl IntoIterator<Item = &'static str>) -> Self {
        Self {
            parser,
            valores: valores.into_iter().collect(),
        }
    }
}

impl<P: TypedValueParser> TypedValueParser for ConValores<P> {
    type Value = P::Value;

    fn parse_ref(
        &self, cmd: &Command, arg: Option<&Arg>, value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        self.parser.parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            self.valores.iter().map(|v| PossibleValue::new(*v)),
        ))
    }
}
