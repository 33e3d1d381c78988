//! Failures on the way out: the stderr lines of an error (with a hint where one helps),
//! the JSON error object `-o json|jsonl` prints on stdout, clap's refusals, and the one
//! line a panic prints.

use std::io::Write;
use std::sync::atomic::Ordering;

use serde_json::Value;

use super::{EMPEZADA, OutputFormat, a_stderr, json, opciones};
use crate::error::Error;

/// The one line a panic prints (see `main.rs`): where, and a request for a bug report.
/// `donde` is the source location, when known.
pub fn linea_de_panico(donde: Option<(&str, u32)>) -> String {
    let donde = donde
        .map(|(archivo, linea)| format!(" en {archivo}:{linea}"))
        .unwrap_or_default();
    format!(
        "error interno de eventflow{donde}: es un fallo del programa; infórmelo con el comando \
         que lo produjo (RUST_BACKTRACE=1 añade la traza)"
    )
}

/// A failure: one line for people on stderr (a second with a hint when one helps), and,
/// with `-o json|jsonl`, the error object on stdout, `{"error": {"codigo", "mensaje",
/// …}}`, the API's shape. A JSON array already under way is left as it is (the exit code
/// tells): stdout never holds two JSON values. JSON Lines gets the object as its last line.
pub fn error(e: &Error) {
    let o = opciones();
    for l in lineas_de_error(e, o.en_estado) {
        a_stderr(&l);
    }
    let libre = !EMPEZADA.load(Ordering::Relaxed) || o.formato == OutputFormat::Jsonl;
    if o.formato.es_json() && libre {
        let _ = json(o.formato, &objeto_de_error(e));
    }
}

/// A command line clap refused (exit 2, nothing was run). Its text goes to stderr as clap
/// wrote it; when the line asked for `-o json|jsonl`, stdout gets the error object too,
/// `{"error": {"codigo": "invalido", "mensaje"}}`. `args` is the raw command line.
pub fn error_de_uso(texto: &str, args: &[String]) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(texto.as_bytes());
    let formato = formato_pedido(args);
    if let Some(f) = formato.filter(|f| f.es_json()) {
        // The error and what it lists (the missing arguments), up to the blank line
        // before the usage.
        let cuerpo: Vec<&str> = texto
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect();
        let junto = cuerpo.join(" ");
        let mensaje = junto.strip_prefix("error: ").unwrap_or(&junto).trim();
        let d = crate::api::error::DetalleError {
            codigo: "invalido".into(),
            mensaje: mensaje.to_owned(),
            datos: serde_json::Map::new(),
        };
        let _ = json(f, &serde_json::json!({ "error": d }));
    }
}

/// The `-o` a raw command line asks for, if it names a valid one.
fn formato_pedido(args: &[String]) -> Option<OutputFormat> {
    use clap::ValueEnum;
    let mut pedido = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let valor = match a.as_str() {
            "-o" | "--output" => it.next().map(String::as_str),
            _ => a.strip_prefix("--output=").or_else(|| {
                a.strip_prefix("-o")
                    .filter(|v| !v.is_empty() && !a.starts_with("--"))
            }),
        };
        if let Some(v) =
            valor.and_then(|v| OutputFormat::from_str(v.trim_start_matches('='), true).ok())
        {
            pedido = Some(v);
        }
    }
    pedido
}

/// `{"error": {...}}` for a core error, the same object the API answers with.
pub fn objeto_de_error(e: &Error) -> Value {
    let d = crate::api::error::DetalleError::de(e, e.to_string());
    serde_json::json!({ "error": d })
}

/// The stderr lines of a failure. A backend that cannot be reached is one line, whose
/// hint does not send `estado` to itself.
pub fn lineas_de_error(e: &Error, en_estado: bool) -> Vec<String> {
    if let Error::BackendCaido { backend, .. } = e {
        let mut l = format!("error: {e}");
        if *backend == "SQLite" {
            l.push_str("; compruebe que el directorio de datos se puede escribir");
        } else {
            if !en_estado {
                l.push_str("; `eventflow estado` muestra a dónde se conecta");
            }
            l.push_str(" (detalle: EVENTFLOW_LOG=debug)");
        }
        return vec![l];
    }
    let mut v = vec![format!("error: {e}")];
    if let Some(pista) = pista(e) {
        v.push(format!("  sugerencia: {pista}"));
    }
    v
}

fn pista(e: &Error) -> Option<&'static str> {
    match e {
        Error::SinEntradas { .. } => Some("pida menos entradas o elija otro evento"),
        // A damaged row says itself how to fix it: `--reparar` cannot rebuild it.
        Error::Inconsistencia(m) if !m.contains("dañad") && !m.contains("corrupto") => {
            Some("eventflow verificar --reparar pone de acuerdo los almacenes")
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn un_panico_se_informa_en_una_sola_linea_que_pide_un_informe() {
        for donde in [Some(("src/x.rs", 7)), None] {
            let l = linea_de_panico(donde);
            assert!(!l.contains('\n'), "{l}");
            assert!(l.contains("infórmelo"), "{l}");
        }
        assert!(linea_de_panico(Some(("src/x.rs", 7))).contains("src/x.rs:7"));
    }

    #[test]
    fn un_backend_caido_es_una_linea_que_no_manda_a_estado_desde_estado() {
        let e = Error::BackendCaido {
            backend: "Redis",
            direccion: "redis://127.0.0.1:1".into(),
            detalle: "conexión rechazada".into(),
        };
        let fuera = lineas_de_error(&e, false);
        assert_eq!(fuera.len(), 1, "{fuera:?}");
        assert!(fuera[0].contains("conexión rechazada"), "{fuera:?}");
        assert!(fuera[0].contains("eventflow estado"), "{fuera:?}");
        let dentro = lineas_de_error(&e, true);
        assert_eq!(dentro.len(), 1);
        assert!(!dentro[0].contains("estado`"), "{dentro:?}");
    }
}
