//! `eventflow completions <SHELL>`: prints the shell's completion script, generated from
//! the same command tree as the help (hidden commands left out).

use clap::Args;

use crate::cli::{ayuda, output};
use crate::error::Result;

pub const EJEMPLOS: &str = "\
Ejemplos:
  # bash: cargar en la sesión actual (añada la línea a ~/.bashrc para siempre)
  source <(eventflow completions bash)
  # zsh: guardar en un directorio de $fpath y abrir una sesión nueva
  eventflow completions zsh > ~/.zfunc/_eventflow
  # fish
  eventflow completions fish > ~/.config/fish/completions/eventflow.fish
  # PowerShell: cargar en la sesión actual (añada la línea a $PROFILE para siempre)
  eventflow completions powershell | Out-String | Invoke-Expression";

#[derive(Debug, Args)]
pub struct ArgsCompletions {
    /// Shell para el que generar el script.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

pub fn run(a: ArgsCompletions) -> Result<()> {
    let mut cmd = ayuda::comando(ayuda::Destino::Completado);
    let mut guion = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "eventflow", &mut guion);
    output::escribir(&guion)
}
