//! `eventflow`: parse, run, map the error to the contract's exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(informar_panico));
    match std::panic::catch_unwind(principal) {
        Ok(codigo) => codigo,
        // The hook has already said what happened.
        Err(_) => ExitCode::from(1),
    }
}

/// One line on stderr asking for a bug report; the backtrace only when the user asked for
/// it with `RUST_BACKTRACE`. A closed stderr is ignored.
fn informar_panico(info: &std::panic::PanicHookInfo<'_>) {
    use std::io::Write;
    let linea =
        eventflow::cli::output::linea_de_panico(info.location().map(|l| (l.file(), l.line())));
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{linea}");
    if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
        let _ = writeln!(err, "{}", std::backtrace::Backtrace::force_capture());
    }
}

fn principal() -> ExitCode {
    let cli = match eventflow::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            let args: Vec<String> = std::env::args().collect();
            eventflow::cli::output::error_de_uso(&e.render().to_string(), &args);
            return ExitCode::from(2);
        }
        // --help and --version: clap prints them and exits 0.
        Err(e) => e.exit(),
    };
    eventflow::cli::iniciar_logs(&cli);
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eventflow::cli::output::a_stderr(&format!("error: no se pudo iniciar el runtime: {e}"));
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
