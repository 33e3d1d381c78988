//! `eventflow man <DIRECTORIO>` (hidden): writes one roff manual page per command,
//! `eventflow.1`, `eventflow-usuarios.1`, `eventflow-usuarios-crear.1`, …, from the same
//! command tree as the help, with Spanish section titles.

use std::path::{Path, PathBuf};

use clap::{Args, Command};
use clap_mangen::Man;

use crate::cli::{ayuda, output};
use crate::error::{Error, Result};

pub const EJEMPLOS: &str = "\
Ejemplos:
  eventflow man /usr/local/share/man/man1
  eventflow man ./man && man ./man/eventflow-reservar.1";

#[derive(Debug, Args)]
pub struct ArgsMan {
    /// Directorio donde escribir las páginas (se crea si no existe).
    pub directorio: PathBuf,
}

pub fn run(a: ArgsMan) -> Result<()> {
    std::fs::create_dir_all(&a.directorio).map_err(|e| {
        Error::Invalido(format!(
            "no se pudo crear el directorio {}: {e}",
            a.directorio.display()
        ))
    })?;
    let raiz = ayuda::comando(ayuda::Destino::Manual);
    let escritas = escribir(&raiz, &a.directorio)?;
    output::aviso(&format!(
        "{escritas} páginas de manual escritas en {}",
        a.directorio.display()
    ));
    Ok(())
}

/// Writes `cmd`'s page and those of its visible subcommands; returns how many.
fn escribir(cmd: &Command, dir: &Path) -> Result<usize> {
    let mut n = 0;
    for sc in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        n += escribir(sc, dir)?;
    }
    let nombre = cmd.get_display_name().unwrap_or(cmd.get_name()).to_owned();
    let ruta = dir.join(format!("{nombre}.1"));
    std::fs::write(&ruta, pagina(cmd)?)
        .map_err(|e| Error::Invalido(format!("no se pudo escribir {}: {e}", ruta.display())))?;
    Ok(n + 1)
}

/// One page: clap_mangen's sections with Spanish titles, and the examples as a
/// preformatted block (mangen would run their lines together).
fn pagina(cmd: &Command) -> Result<Vec<u8>> {
    let version = env!("CARGO_PKG_VERSION");
    let man = Man::new(cmd.clone())
        .manual("Manual de EventFlow")
        .source(format!("eventflow {version}"));
    let mut roff = Vec::new();
    let e = |e: std::io::Error| Error::Interno(e.into());
    man.render_title(&mut roff).map_err(e)?;
    man.render_name_section(&mut roff).map_err(e)?;
    man.render_synopsis_section(&mut roff).map_err(e)?;
    man.render_description_section(&mut roff).map_err(e)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut roff).map_err(e)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut roff).map_err(e)?;
    }
    let mut texto = String::from_utf8_lossy(&roff).into_owned();
    if let Some(ejemplos) = cmd.get_after_help() {
        texto.push_str(".SH EJEMPLOS\n.nf\n");
        for linea in ejemplos
            .to_string()
            .lines()
            .skip_while(|l| l.trim() == ayuda::EJEMPLOS)
        {
            texto.push_str(&escapar(linea));
            texto.push('\n');
        }
        texto.push_str(".fi\n");
    }
    Ok(traducir_titulos(&texto).into_bytes())
}

fn traducir_titulos(roff: &str) -> String {
    roff.lines()
        .map(|l| match l {
            ".SH NAME" => ".SH NOMBRE",
            ".SH SYNOPSIS" => ".SH SINOPSIS",
            ".SH DESCRIPTION" => ".SH DESCRIPCIÓN",
            ".SH OPTIONS" => ".SH OPCIONES",
            ".SH SUBCOMMANDS" => ".SH COMANDOS",
            otra => otra,
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// A line of text as roff shows it verbatim.
fn escapar(linea: &str) -> String {
    let l = linea.replace('\\', "\\e").replace('-', "\\-");
    if l.starts_with('.') || l.starts_with('\'') {
        format!("\\&{l}")
    } else {
        l
    }
}
