//! `eventflow`: parse, run, map the error to the contract's exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(eventflow::cli::informar_panico));
    match std::panic::catch_unwind(principal) {
        Ok(codigo) => codigo,
        // The hook has already said what happened.
        Err(_) => ExitCode::from(1),
    }
}

fn principal() -> ExitCode {
    let (cli, origenes) = eventflow::cli::ayuda::parsear();
    eventflow::cli::iniciar_logs(&cli);
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eventflow::cli::output::a_stderr(&format!("error: no se pudo iniciar el runtime: {e}"));
            return ExitCode::from(1);
        }
    };
    match rt.block_on(eventflow::cli::run(cli, &origenes)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eventflow::cli::output::error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}
