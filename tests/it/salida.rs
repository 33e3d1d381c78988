//! Output for people and for pipes, and errors scripts can read (issue 12, items 1, 5
//! and 6), through the real binary: tables under a pseudo-terminal (`script`) at 60, 80
//! and 120 columns, tab-separated rows through real pipes, `-o id|jsonl|csv|wide`,
//! `--no-encabezado`, and the JSON error object.

use std::process::Command;

use eventflow::domain::{EventoId, UsuarioId};
use predicates::prelude::*;
use serde_json::Value;
use unicode_width::UnicodeWidthStr;

use crate::helpers::{Entorno, binario, json};
use crate::reservar::{evento, usuarios};

const NOMBRE_LARGO: &str = "Concierto de la orquesta sinfónica nacional de España";

/// An event with a long name and place, a user, and a confirmed purchase.
async fn datos(env: &Entorno) -> (EventoId, UsuarioId, String) {
    let out = env
        .cmd()
        .args(["-o", "id", "eventos", "crear", "--nombre", NOMBRE_LARGO])
        .args([
            "--fecha",
            "2025-12-01T21:00:00Z",
            "--aforo",
            "10",
            "--precio",
            "2500",
        ])
        .args([
            "--lugar",
            "Auditorio Nacional de Música, sala sinfónica, Madrid",
        ])
        .assert()
        .success();
    let e = EventoId::parse(String::from_utf8_lossy(&out.get_output().stdout).trim()).unwrap();
    let u = usuarios(&env.almacen().await, 1).await.remove(0);
    let out = env
        .cmd()
        .args(["-o", "id", "reservar", "--evento", e.as_str()])
        .args(["--usuario", u.as_str(), "--entradas", "2"])
        .assert()
        .success();
    let r = String::from_utf8_lossy(&out.get_output().stdout)
        .trim()
        .to_owned();
    (e, u, r)
}

/// Runs the binary under a pseudo-terminal `ancho` columns wide (util-linux `script`)
/// and returns what the terminal showed, without carriage returns.
fn en_terminal(env: &Entorno, ancho: u16, args: &[&str]) -> String {
    let mut linea = format!("stty cols {ancho} rows 50; exec {}", binario().display());
    for a in args {
        linea.push_str(&format!(" '{a}'"));
    }
    let mut c = Command::new("script");
    c.args(["-qec", &linea, "/dev/null"]);
    con_entorno(env, &mut c);
    let out = c
        .output()
        .expect("script (util-linux) ejecuta el binario en una pty");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).replace('\r', "")
}

/// Every line fits, and each value in `enteros` appears whole on one line.
fn cabe_y_no_parte(t: &str, ancho: usize, enteros: &[&str]) {
    for l in t.lines() {
        assert!(l.width() <= ancho, "línea de {} > {ancho}:\n{t}", l.width());
    }
    for v in enteros {
        assert!(
            t.lines().any(|l| l.contains(v)),
            "{v} partido o ausente:\n{t}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn las_tablas_caben_sin_partir_ids_fechas_ni_estados() {
    let env = Entorno::embedded();
    let (e, u, r) = datos(&env).await;
    for ancho in [60usize, 80, 120] {
        let t = en_terminal(&env, ancho as u16, &["eventos", "listar"]);
        cabe_y_no_parte(&t, ancho, &[e.as_str(), "2025-12-01T21:00:00Z"]);
        assert!(t.contains('…'), "el nombre largo se acorta con …:\n{t}");
        let t = en_terminal(&env, ancho as u16, &["reservas", "listar"]);
        cabe_y_no_parte(&t, ancho, &[&r, "confirmada"]);
        let t = en_terminal(&env, ancho as u16, &["usuarios", "listar"]);
        cabe_y_no_parte(&t, ancho, &[u.as_str(), "c0@example.com"]);
    }
    // Narrow drops low-value columns; 120 has room for more of them.
    let estrecha = en_terminal(&env, 60, &["eventos", "listar"]);
    let ancha = en_terminal(&env, 120, &["eventos", "listar"]);
    assert!(!estrecha.contains("precio") && ancha.contains("precio"));
    assert!(ancha.contains("lugar"), "{ancha}");
    // -o wide shows every column, whole, at any width.
    let wide = en_terminal(&env, 60, &["-o", "wide", "eventos", "listar"]);
    for c in ["lugar", "aforo", "reservas", "precio", NOMBRE_LARGO] {
        assert!(wide.contains(c), "{c}:\n{wide}");
    }
    assert!(!wide.contains('…'), "{wide}");
    // One entity on a terminal is a campo/valor table.
    let ver = en_terminal(&env, 80, &["reservas", "ver", &r]);
    assert!(
        ver.contains("pago.estado") && ver.contains("aprobado"),
        "{ver}"
    );
}

/// Runs a shell pipeline with `$EF` set to the binary, in this test's environment.
fn tuberia(env: &Entorno, guion: &str) -> String {
    let mut c = Command::new("sh");
    c.args(["-c", guion]).env("EF", binario());
    con_entorno(env, &mut c);
    let out = c.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Gives `c` the environment the harness gives the binary.
fn con_entorno(env: &Entorno, c: &mut Command) {
    for (k, v) in env.cmd_std().get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn en_una_tuberia_hay_filas_con_tabuladores_y_una_cabecera() {
    let env = Entorno::embedded();
    let (e, u, r) = datos(&env).await;
    // The example: `eventos listar | head -3` gave only borders.
    let cabeza = tuberia(&env, "$EF eventos listar | head -3");
    let lineas: Vec<&str> = cabeza.lines().collect();
    assert_eq!(
        lineas[0],
        "id\tnombre\tfecha\tlugar\taforo_total\tentradas_disponibles\treservas_activas\tprecio"
    );
    let fila: Vec<&str> = lineas[1].split('\t').collect();
    assert_eq!(fila[0], e.as_str());
    assert_eq!(fila[1], NOMBRE_LARGO, "el texto llega entero");
    assert_eq!(fila[6], format!("[\"{r}\"]"), "los mismos valores que JSON");
    assert!(!cabeza.contains('│') && !cabeza.contains('─'), "{cabeza}");
    let sin = tuberia(&env, "$EF --no-encabezado reservas listar | cut -f1,5");
    assert_eq!(sin, format!("{r}\tconfirmada\n"));
    // -o id: one id per line, ready for xargs.
    let ids = tuberia(
        &env,
        "$EF -o id usuarios listar | xargs -n1 $EF -o id usuarios ver",
    );
    assert_eq!(ids, format!("{u}\n"));
    // One entity in a pipe: campo<TAB>valor.
    let ver = tuberia(&env, &format!("$EF reservas ver {r} | grep '^pago'"));
    assert_eq!(ver, "pago.estado\taprobado\npago.importe\t5000\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_y_jsonl_llevan_los_campos_y_valores_de_json() {
    let env = Entorno::embedded();
    let (e, _, r) = datos(&env).await;
    let json_ev = json(
        &env.cmd()
            .args(["-o", "json", "eventos", "ver", e.as_str()])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    let out = env
        .cmd()
        .args(["-o", "csv", "eventos", "listar"])
        .assert()
        .success();
    let mut lector = csv::Reader::from_reader(&out.get_output().stdout[..]);
    let cab: Vec<String> = lector
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let claves: Vec<&String> = json_ev.as_object().unwrap().keys().collect();
    assert_eq!(
        cab.iter().collect::<Vec<_>>(),
        claves,
        "mismos nombres, mismo orden"
    );
    let fila = lector.records().next().unwrap().unwrap();
    for (c, v) in cab.iter().zip(fila.iter()) {
        let esperado = match &json_ev[c] {
            Value::String(s) => s.clone(),
            otro => otro.to_string(),
        };
        assert_eq!(v, esperado, "{c}");
    }
    // Empty fields: null in JSON, empty in CSV, the same for every entity.
    let u = json(
        &env.cmd()
            .args(["-o", "json", "usuarios", "listar"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert!(
        u[0]["tipo_documento"].is_null() && u[0]["nro_documento"].is_null(),
        "{u}"
    );
    let t = json(
        &env.cmd()
            .args([
                "-o",
                "json",
                "tokens",
                "crear",
                "--nombre",
                "t",
                "--permisos",
                "admin",
            ])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert!(t["expira"].is_null() && t["revocado"].is_null(), "{t}");
    // verificar's CSV: true, not "sí".
    let v = env
        .cmd()
        .args(["-o", "csv", "verificar"])
        .assert()
        .success();
    let v = String::from_utf8_lossy(&v.get_output().stdout).into_owned();
    assert!(v.contains(",true,") && !v.contains("sí"), "{v}");
    // jsonl: one object per line; an informe is one line too.
    let l = env
        .cmd()
        .args(["-o", "jsonl", "reservas", "listar"])
        .assert()
        .success();
    let l = String::from_utf8_lossy(&l.get_output().stdout).into_owned();
    assert_eq!(l.lines().count(), 1);
    let v: Value = serde_json::from_str(l.trim()).unwrap();
    assert_eq!(v["id"], r.as_str());
}

/// `-o json` on stdout of a failing command: exactly one value, the error object.
fn error_json(c: &mut assert_cmd::Command, codigo: i32) -> Value {
    let out = c.assert().code(codigo);
    let v = json(&out.get_output().stdout);
    assert!(v["error"]["mensaje"].is_string(), "{v}");
    v["error"].clone()
}

async fn los_errores_en_json_llevan_lo_que_un_script_necesita(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 1000).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let crear = |email: &str, doc: &str| {
        let mut c = env.cmd();
        c.args([
            "-o",
            "json",
            "usuarios",
            "crear",
            "--nombre",
            "A",
            "--apellido",
            "B",
        ])
        .args([
            "--email",
            email,
            "--tipo-documento",
            "DNI",
            "--nro-documento",
            doc,
        ]);
        c
    };
    let primero = json(
        &crear("doc@example.com", "111")
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    // A conflict carries the id that already holds the email, or the document.
    let err = error_json(&mut crear("c0@example.com", "222"), 4);
    assert_eq!(err["codigo"], "duplicado");
    assert_eq!(err["campo"], "email");
    assert_eq!(err["existente_id"], u.as_str());
    let err = error_json(&mut crear("otro@example.com", "111"), 4);
    assert_eq!(err["campo"], "documento");
    assert_eq!(err["existente_id"], primero["id"]);
    // A declined purchase carries its reservation and final state; a retry replays both.
    let mut compra = env.cmd();
    compra
        .env("EVENTFLOW_FAULT", "error@pago")
        .args([
            "-o",
            "json",
            "reservar",
            "--evento",
            e.as_str(),
            "--usuario",
            u.as_str(),
        ])
        .args(["--entradas", "1", "--clave-idempotencia", "k-12"]);
    let err = error_json(&mut compra, 6);
    assert_eq!(err["codigo"], "pago_rechazado");
    let reserva = err["reserva_id"].as_str().unwrap().to_owned();
    let estado = err["estado"].as_str().unwrap().to_owned();
    assert!(
        ["compensada", "expirada"].contains(&estado.as_str()),
        "{err}"
    );
    let visto = json(
        &env.cmd()
            .args(["-o", "json", "reservas", "ver", &reserva])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert_eq!(visto["estado"], estado.as_str());
    let otra = error_json(compra.env_remove("EVENTFLOW_FAULT"), 6);
    assert_eq!(
        (&otra["reserva_id"], &otra["estado"]),
        (&err["reserva_id"], &err["estado"])
    );
    // Not found names what; jsonl prints the object as one line.
    let out = env
        .cmd()
        .args([
            "-o",
            "jsonl",
            "usuarios",
            "ver",
            "--email",
            "nadie@example.com",
        ])
        .assert()
        .code(3);
    let s = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert_eq!(s.lines().count(), 1, "{s}");
    let v: Value = serde_json::from_str(&s).unwrap();
    assert_eq!(v["error"]["codigo"], "no_encontrado");
    // A usage error, too.
    let err = error_json(
        env.cmd()
            .args(["-o", "json", "reservar", "--entradas", "x"]),
        2,
    );
    assert_eq!(err["codigo"], "invalido");
    // Tables keep errors on stderr only.
    env.cmd()
        .args(["usuarios", "ver", "--email", "nadie@example.com"])
        .assert()
        .code(3)
        .stdout("")
        .stderr(predicate::str::contains("nadie@example.com"));
}

async fn ver_por_email_encuentra_al_usuario(env: Entorno) {
    let u = usuarios(&env.almacen().await, 2).await;
    let out = env
        .cmd()
        .args(["-o", "id", "usuarios", "ver", "--email", "c1@example.com"])
        .assert()
        .success();
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout).trim(),
        u[1].as_str()
    );
    env.cmd()
        .args([
            "usuarios",
            "ver",
            u[0].as_str(),
            "--email",
            "c1@example.com",
        ])
        .assert()
        .code(2);
    env.cmd().args(["usuarios", "ver"]).assert().code(2);
}

en_ambos_backends!(
    los_errores_en_json_llevan_lo_que_un_script_necesita,
    ver_por_email_encuentra_al_usuario
);

#[test]
fn un_backend_caido_es_una_linea_con_detalle_en_el_registro_de_depuracion() {
    let env = Entorno::embedded();
    let caido = [
        "--mongo-uri",
        "mongodb://127.0.0.1:1/",
        "--redis-url",
        "redis://127.0.0.1:1",
    ];
    for cmd in [&["eventos", "listar"][..], &["estado"][..]] {
        let out = env.cmd().args(caido).args(cmd).assert().code(7);
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("EVENTFLOW_LOG=debug"), "{err}");
        assert!(!err.contains("Kind") && !err.contains("os error"), "{err}");
        // `estado` does not send the user to `estado`.
        assert_eq!(
            cmd == ["estado"],
            !err.contains("eventflow estado"),
            "{err}"
        );
    }
    let out = env
        .cmd()
        .env("EVENTFLOW_LOG", "debug")
        .args(caido)
        .args(["-o", "json", "eventos", "listar"])
        .assert()
        .code(7);
    let v = json(&out.get_output().stdout);
    assert_eq!(v["error"]["codigo"], "backend_caido");
    assert!(v["error"]["backend"].is_string(), "{v}");
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("refused") || err.contains("rechaz"), "{err}");
}
