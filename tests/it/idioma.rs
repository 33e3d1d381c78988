//! Issue 12, "one language": every help page and the common usage errors, through the
//! real binary, hold no English from clap or chrono, and field messages agree in gender
//! and number. The command tree is walked, so a new command or flag is scanned too.

use std::process::Output;

use eventflow::cli::ayuda::{Destino, comando};

use crate::helpers::Entorno;

/// Whole words (compared case-insensitively) that only English text holds.
const PALABRAS_INGLESAS: &[&str] = &[
    "usage",
    "options",
    "arguments",
    "commands",
    "subcommand",
    "subcommands",
    "print",
    "tip",
    "invalid",
    "unexpected",
    "unrecognized",
    "information",
    "default",
    "possible",
    "values",
    "value",
    "premature",
    "input",
    "required",
    "provided",
    "found",
    "exists",
    "similar",
    "argument",
    "the",
    "for",
    "with",
    "was",
    "were",
    "try",
];

/// Fragments of clap's English layout.
const FRAGMENTOS_INGLESES: &[&str] = &["help:", "[env:", "(see more", "For more", "tip:"];

/// The English words and fragments in `texto`, to fail with.
fn ingles(texto: &str) -> Vec<String> {
    let mut hallado: Vec<String> = texto
        .split(|c: char| !c.is_alphanumeric())
        .filter(|p| PALABRAS_INGLESAS.contains(&p.to_lowercase().as_str()))
        .map(str::to_owned)
        .collect();
    hallado.extend(
        FRAGMENTOS_INGLESES
            .iter()
            .filter(|f| texto.contains(**f))
            .map(|f| (*f).to_owned()),
    );
    hallado
}

#[test]
fn el_detector_reconoce_el_ingles_de_clap_y_de_chrono() {
    let clap = "Usage: eventflow [OPTIONS]\n\nFor more information, try '--help'.";
    assert!(ingles(clap).len() >= 4, "{:?}", ingles(clap));
    assert!(!ingles("no es RFC 3339 (premature end of input)").is_empty());
    assert!(!ingles("  tip: a similar argument exists: '--email'").is_empty());
    let castellano = "Uso: eventflow usuarios ver [OPCIONES] <ID>\n\nArgumentos:\n  <ID>  Id del \
                      usuario [por defecto: 100] [entorno: EVENTFLOW_DATA_DIR]";
    assert!(ingles(castellano).is_empty(), "{:?}", ingles(castellano));
}

fn texto(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every command path in the tree, hidden ones included (`man`), without clap's `help`.
pub fn rutas() -> Vec<Vec<String>> {
    fn bajar(cmd: &clap::Command, ruta: &[String], todas: &mut Vec<Vec<String>>) {
        for sc in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let mut r = ruta.to_vec();
            r.push(sc.get_name().to_owned());
            todas.push(r.clone());
            bajar(sc, &r, todas);
        }
    }
    let mut todas = vec![Vec::new()];
    bajar(&comando(Destino::Ayuda), &[], &mut todas);
    todas
}

fn correr(env: &Entorno, args: &[&str]) -> Output {
    env.cmd_std()
        .args(args)
        .output()
        .expect("ejecutar eventflow")
}

#[test]
fn toda_la_ayuda_esta_en_castellano() {
    let env = Entorno::embedded();
    let rutas = rutas();
    assert!(
        rutas.len() > 25,
        "el árbol de comandos parece incompleto: {rutas:?}"
    );
    for ruta in &rutas {
        for bandera in ["--help", "-h"] {
            let mut args: Vec<&str> = ruta.iter().map(String::as_str).collect();
            args.push(bandera);
            let s = correr(&env, &args);
            let out = texto(&s.stdout);
            assert_eq!(s.status.code(), Some(0), "{args:?}: {}", texto(&s.stderr));
            assert!(
                out.starts_with(|c: char| c.is_uppercase()),
                "{args:?}:\n{out}"
            );
            assert!(out.contains("\nUso: eventflow"), "{args:?}:\n{out}");
            let malas = ingles(&out);
            assert!(malas.is_empty(), "{args:?} tiene inglés {malas:?}:\n{out}");
        }
    }
}

#[test]
fn eventflow_solo_muestra_la_ayuda_y_sale_con_0() {
    let env = Entorno::embedded();
    let s = correr(&env, &[]);
    assert_eq!(s.status.code(), Some(0), "{}", texto(&s.stderr));
    let out = texto(&s.stdout);
    assert!(out.contains("Uso: eventflow [OPCIONES] <COMANDO>"), "{out}");
    assert!(
        out.contains("Comandos:") && out.contains("Ejemplos:"),
        "{out}"
    );
    assert!(ingles(&out).is_empty(), "{:?}", ingles(&out));
}

const ID: &str = "65f1c2a4e1b2c3d4e5f6a7b8";

/// The common ways to get a command line wrong (words split at spaces; `ID` is a valid
/// id), with a fragment each message must hold.
const ERRORES_DE_USO: &[(&str, &str)] = &[
    ("-o xml usuarios listar", "valores posibles"),
    (
        "usuarios crear --nombre Ana --apellido Gil --email ana@",
        "email inválido \"ana@\"",
    ),
    ("usuarios crear --foo", "opción desconocida '--foo'"),
    ("usuaros", "comando desconocido 'usuaros'"),
    (
        "usuarios crear --nombre Ana",
        "faltan argumentos obligatorios",
    ),
    ("usuarios ver", "falta un argumento obligatorio"),
    ("usuarios ver ID otro", "argumento de más 'otro'"),
    (
        "eventos crear --nombre G --fecha 2025-12 --lugar T --aforo 5",
        "fecha inválida \"2025-12\"",
    ),
    (
        "eventos crear --nombre G --fecha 2025-12-01T21:00:00Z --lugar T --aforo diez",
        "aforo_total inválido \"diez\"",
    ),
    ("eventos crear --aforo", "falta el valor de '--aforo"),
    (
        "reservar --evento ID --usuario ID --entradas 0",
        "entradas inválidas \"0\"",
    ),
    ("usuarios listar --limite 0", "entre 1 y"),
    ("usuarios listar --limite muchos", "no es un número entero"),
    ("usuarios listar --limite -3", "opción desconocida '-3'"),
    ("simular --compradores 0", "entre 1 y"),
    ("serve --limite-ip x", "no es un número entero"),
    (
        "reservas listar --estado pagada",
        "estado inválido \"pagada\"",
    ),
    (
        "-o json reservas listar --estado x",
        "pruebe 'eventflow reservas listar --help'",
    ),
    (
        "tokens crear --nombre t --permisos todo",
        "permiso inválido",
    ),
    ("completions tcsh", "valores posibles"),
    ("compensar --forzar", "--reserva"),
    (
        "usuarios crear --nombre A --apellido B --email a@b.co --tipo-documento DNI",
        "--nro-documento",
    ),
    ("usuarios ver ID -o json -o csv", "más de una vez"),
    ("--vers", "existe una opción parecida: '--version'"),
];

#[test]
fn los_errores_de_uso_estan_en_castellano_y_salen_con_2() {
    let env = Entorno::embedded();
    for (linea, fragmento) in ERRORES_DE_USO {
        let args: Vec<&str> = linea
            .split_whitespace()
            .map(|p| if p == "ID" { ID } else { p })
            .collect();
        let s = correr(&env, &args);
        let err = texto(&s.stderr);
        assert_eq!(s.status.code(), Some(2), "{args:?}: {err}");
        // With `-o json` stdout holds the error object, and nothing else (issue 12).
        assert!(
            crate::helpers::es_solo_error(&s.stdout),
            "{args:?}: stdout {:?}",
            texto(&s.stdout)
        );
        assert!(err.starts_with("error: "), "{args:?}:\n{err}");
        assert!(
            err.contains(fragmento),
            "{args:?} sin {fragmento:?}:\n{err}"
        );
        assert!(
            err.contains("\nUso: eventflow ")
                && err.contains("Para más información, pruebe 'eventflow "),
            "{args:?}:\n{err}"
        );
        let malas = ingles(&err);
        assert!(malas.is_empty(), "{args:?} tiene inglés {malas:?}:\n{err}");
    }
}

#[test]
fn un_grupo_sin_accion_muestra_su_ayuda_en_castellano() {
    let env = Entorno::embedded();
    let s = correr(&env, &["usuarios"]);
    assert_eq!(s.status.code(), Some(2));
    let err = texto(&s.stderr);
    assert!(
        err.contains("Uso: eventflow usuarios [OPCIONES] <COMANDO>"),
        "{err}"
    );
    assert!(ingles(&err).is_empty(), "{:?}:\n{err}", ingles(&err));
}

#[test]
fn el_uso_no_muestra_como_obligatorias_las_opciones_del_entorno() {
    // Issue 12: `Usage: eventflow usuarios ver --data-dir <DATA_DIR> <ID>`.
    let env = Entorno::embedded();
    let s = correr(&env, &["usuarios", "historial"]);
    let err = texto(&s.stderr);
    assert!(
        err.contains("Uso: eventflow usuarios historial [OPCIONES] <ID>"),
        "{err}"
    );
    assert!(!err.contains("--data-dir"), "{err}");
}

#[test]
fn la_ayuda_no_muestra_valores_del_entorno() {
    let env = Entorno::embedded();
    let s = env
        .cmd_std()
        .env(
            "EVENTFLOW_MONGO_URI",
            "mongodb://admin:secreto@127.0.0.1:1/",
        )
        .env("EVENTFLOW_MONGO_DB", "base_secreta")
        .arg("--help")
        .output()
        .unwrap();
    let out = texto(&s.stdout);
    assert!(out.contains("EVENTFLOW_MONGO_URI]"), "{out}");
    assert!(
        !out.contains("secreto") && !out.contains("base_secreta"),
        "{out}"
    );
}
