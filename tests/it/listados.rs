//! Listings that never stop silently (issue 12, item 2), through the real binary on both
//! backends: the same paging flags on every listing, a notice on stderr with the
//! `--despues-de` that continues a cut listing, `--todos` streaming every page, and
//! `-o jsonl`. The memory test walks tens of thousands of rows on the embedded backend.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

use eventflow::domain::{EventoId, UsuarioId};
use serde_json::Value;

use crate::helpers::{Entorno, json};
use crate::reservar::{evento, usuarios};

/// Runs `args` and returns (stdout lines, stderr).
fn correr(env: &Entorno, args: &[&str]) -> (Vec<String>, String) {
    let out = env.cmd().args(args).assert().success();
    let o = out.get_output();
    (
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_owned)
            .collect(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The `--despues-de` value a notice names.
fn continuacion(stderr: &str) -> Option<String> {
    let i = stderr.find("--despues-de ")?;
    Some(stderr[i + 13..].split([',', ' ', '\n']).next()?.to_owned())
}

/// Walks `listado` two rows at a time by following the notices, and checks that the walk
/// and `--todos -o jsonl` give the same rows, each once, and `-o json` the same array.
fn recorrer(env: &Entorno, listado: &[&str], esperadas: usize) -> Vec<String> {
    let mut vistas = Vec::new();
    let mut despues: Option<String> = None;
    loop {
        let mut args = listado.to_vec();
        args.extend(["-o", "id", "--limite", "2"]);
        if let Some(d) = &despues {
            args.extend(["--despues-de", d.as_str()]);
        }
        let (ids, err) = correr(env, &args);
        vistas.extend(ids.iter().cloned());
        match continuacion(&err) {
            Some(d) => {
                assert_eq!(ids.len(), 2, "{err}");
                assert_eq!(
                    Some(&d),
                    ids.last(),
                    "el aviso nombra la última fila: {err}"
                );
                despues = Some(d);
            }
            None => {
                assert!(err.is_empty(), "sin más filas no hay aviso: {err}");
                break;
            }
        }
    }
    assert_eq!(vistas.len(), esperadas, "{vistas:?}");
    assert_eq!(
        vistas.iter().collect::<BTreeSet<_>>().len(),
        esperadas,
        "cada fila una vez: {vistas:?}"
    );
    let mut args = listado.to_vec();
    args.extend(["-o", "jsonl", "--todos"]);
    let (lineas, err) = correr(env, &args);
    assert!(err.is_empty(), "{err}");
    let todas: Vec<String> = lineas
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("una línea, un objeto JSON");
            v.as_object().expect("objeto");
            v
        })
        .map(|v| {
            v.get("id")
                .or(v.get("reserva_id"))
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        todas, vistas,
        "--todos sigue el mismo orden que las páginas"
    );
    let mut args = listado.to_vec();
    args.extend(["-o", "json", "--todos"]);
    let out = env.cmd().args(&args).assert().success();
    assert_eq!(
        json(&out.get_output().stdout).as_array().unwrap().len(),
        esperadas
    );
    vistas
}

async fn cada_listado_pagina_avisa_y_recorre_todo(env: Entorno) {
    let alm = env.almacen().await;
    let us = usuarios(&alm, 5).await;
    let e1 = evento(&alm, 50, 100).await;
    let e2 = evento(&alm, 50, 100).await;
    for (i, u) in us.iter().enumerate() {
        for e in [&e1, &e2] {
            comprar(&env, e, u, if i == 0 { 2 } else { 1 });
        }
    }
    for t in ["uno", "dos", "tres"] {
        env.cmd()
            .args([
                "tokens",
                "crear",
                "--nombre",
                t,
                "--permisos",
                "eventos:leer",
            ])
            .assert()
            .success();
    }
    recorrer(&env, &["usuarios", "listar"], 5);
    recorrer(&env, &["eventos", "listar"], 2);
    recorrer(&env, &["tokens", "listar"], 3);
    let reservas = recorrer(&env, &["reservas", "listar"], 10);
    // By event, then by id: the first five belong to the lower event id.
    let (menor, mayor) = if e1 < e2 { (&e1, &e2) } else { (&e2, &e1) };
    let de = |e: &EventoId| recorrer(&env, &["reservas", "listar", "--evento", e.as_str()], 5);
    assert_eq!(reservas[..5], de(menor)[..]);
    assert_eq!(reservas[5..], de(mayor)[..]);
    recorrer(
        &env,
        &["reservas", "listar", "--usuario", us[0].as_str()],
        2,
    );
    recorrer(&env, &["usuarios", "historial", us[0].as_str()], 2);
    // The default page is 100 and a full page with nothing after it has no notice.
    let (ids, err) = correr(&env, &["usuarios", "listar", "-o", "id", "--limite", "5"]);
    assert_eq!(ids.len(), 5);
    assert!(err.is_empty(), "{err}");
    // --todos and --limite exclude each other; a malformed cursor is a usage error.
    env.cmd()
        .args(["usuarios", "listar", "--todos", "--limite", "3"])
        .assert()
        .code(2);
    env.cmd()
        .args(["reservas", "listar", "--despues-de", "xyz"])
        .assert()
        .code(2);
    // A cursor that names no reservation is a not-found, not an empty page.
    env.cmd()
        .args(["reservas", "listar", "--despues-de", &"a".repeat(24)])
        .assert()
        .code(3);
}

fn comprar(env: &Entorno, e: &EventoId, u: &UsuarioId, n: u32) {
    env.cmd()
        .args(["-o", "id", "reservar", "--evento", e.as_str()])
        .args(["--usuario", u.as_str(), "--entradas", &n.to_string()])
        .assert()
        .success();
}

en_ambos_backends!(cada_listado_pagina_avisa_y_recorre_todo);

/// Peak resident memory (kB) of a listing of every row, read while the process is
/// blocked writing its last rows into the pipe, and the number of lines it wrote.
fn pico_de_memoria(env: &Entorno, args: &[&str], esperadas: usize) -> u64 {
    let mut hijo = env
        .cmd_std()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = hijo.id();
    let mut lector = BufReader::new(hijo.stdout.take().unwrap());
    let mut linea = String::new();
    let mut n = 0;
    let mut pico = 0;
    while lector.read_line(&mut linea).unwrap() > 0 {
        n += 1;
        linea.clear();
        if n == esperadas - 2_000 {
            // The child still has rows to write and the pipe holds only 64 KiB: it is
            // alive, and its peak so far covers almost the whole walk.
            std::thread::sleep(std::time::Duration::from_millis(200));
            let estado = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
            pico = estado
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap();
        }
    }
    assert!(hijo.wait().unwrap().success());
    assert_eq!(n, esperadas);
    pico
}

/// `--todos` holds one page at a time: its peak memory over 40,000 users is about that of
/// a listing of 3,000 (the 1,000,000-row case differs only in the number of pages).
#[test]
fn todos_recorre_decenas_de_miles_de_filas_con_memoria_constante() {
    const N: usize = 40_000;
    let env = Entorno::embedded();
    let csv = env.dir.path().join("u.csv");
    let mut datos = String::from("nombre,apellido,email\n");
    for i in 0..N {
        datos.push_str(&format!("Nombre {i},Apellido,u{i}@example.com\n"));
    }
    std::fs::write(&csv, datos).unwrap();
    env.cmd()
        .args(["usuarios", "importar", csv.to_str().unwrap()])
        .assert()
        .success();
    let poco = pico_de_memoria(
        &env,
        &["usuarios", "listar", "-o", "jsonl", "--limite", "3000"],
        3_000,
    );
    let todo = pico_de_memoria(&env, &["usuarios", "listar", "-o", "jsonl", "--todos"], N);
    // Holding 40,000 users would take tens of MB more than one page does.
    assert!(
        todo < poco + 8 * 1024,
        "--todos sobre {N} filas: {todo} kB; 3.000 filas: {poco} kB"
    );
    // Every listing streams the same way: the JSON array too.
    let json = pico_de_memoria(&env, &["usuarios", "listar", "-o", "csv", "--todos"], N + 1);
    assert!(json < poco + 8 * 1024, "{json} kB frente a {poco} kB");
}
