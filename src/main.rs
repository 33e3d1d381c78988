//! `eventflow`: parse, run, map the error to the contract's exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = eventflow::cli::Cli::parse();
    eventflow::cli::iniciar_logs(&cli);
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: no se pudo iniciar el runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(eventflow::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eventflow::cli::output::error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}
