//! The embedded (SQLite) backend, with no server at all: the real binary with `--data-dir`
//! and no MongoDB/Redis settings, many processes sharing one file, damaged and unwritable
//! data directories, a crash mid-purchase. The store's guarantees shared with Redis are in
//! `contrato`; here only what is SQLite's own (its file, its rows, its locks).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use eventflow::domain::{Estado, EventoId, Fecha, UsuarioId};
use eventflow::store::embedded::{ARCHIVO, SqliteStore};
use eventflow::store::{ContadorStore, FiltroReservas, Paso, ReservaStore};
use predicates::prelude::*;
use serde_json::Value;

use crate::helpers::{Entorno, json};
use crate::reservar::{evento, usuarios};

/// The schema version this build writes (`store/embedded/migraciones.rs`).
const VERSION_DE_ESQUEMA: i64 = 4;

fn archivo(env: &Entorno) -> PathBuf {
    env.datos().join(ARCHIVO)
}

async fn store(env: &Entorno) -> SqliteStore {
    SqliteStore::abrir(&env.datos()).await.unwrap()
}

fn crear_usuario(env: &Entorno, email: &str, documento: &[&str]) -> assert_cmd::Command {
    let mut c = env.cmd();
    c.args([
        "-o",
        "json",
        "usuarios",
        "crear",
        "--nombre",
        "Juan",
        "--apellido",
        "Pérez",
        "--email",
        email,
    ])
    .args(documento);
    c
}

fn reservar(env: &Entorno, e: &str, u: &str, n: &str) -> assert_cmd::Command {
    let mut c = env.cmd();
    c.args([
        "-o",
        "json",
        "reservar",
        "--evento",
        e,
        "--usuario",
        u,
        "--entradas",
        n,
    ]);
    c
}

fn salida_json(c: &mut assert_cmd::Command) -> Value {
    let out = c.assert().success();
    json(&out.get_output().stdout)
}

fn reservas_de(env: &Entorno, e: &str) -> Vec<Value> {
    salida_json(
        env.cmd()
            .args(["-o", "json", "reservas", "listar", "--evento", e]),
    )
    .as_array()
    .unwrap()
    .clone()
}

/// `verificar` over every event, and the raw-store judge (`crudo`) on event `e`.
async fn verificar_ok(env: &Entorno, e: &str) {
    env.cmd().arg("verificar").assert().success();
    crate::crudo::comprobar_invariantes(env, e).await;
}

// ---------------------------------------------------------------------------------------
// The binary, with no server.
// ---------------------------------------------------------------------------------------

#[test]
fn usuarios_se_crean_se_ven_y_no_se_duplican_sin_servidores() {
    let env = Entorno::embedded();
    let u = salida_json(&mut crear_usuario(&env, "juan@example.com", &[]));
    let id = u["id"].as_str().unwrap();
    assert!(
        id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    assert_eq!(u["email"], "juan@example.com");
    assert_eq!(u["historial_compras"], serde_json::json!([]));
    assert!(u["tipo_documento"].is_null() && u["nro_documento"].is_null());
    let visto = salida_json(env.cmd().args(["-o", "json", "usuarios", "ver", id]));
    assert_eq!(visto, u);
    assert!(archivo(&env).is_file(), "{}", archivo(&env).display());

    crear_usuario(&env, "Juan@Example.com", &[])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(
            "ya existe un usuario con el email juan@example.com",
        ))
        .stdout(crate::helpers::solo_error());

    let con_dni = ["--tipo-documento", "DNI", "--nro-documento", "123"];
    let d = salida_json(&mut crear_usuario(&env, "ana@example.com", &con_dni));
    assert_eq!(
        (d["tipo_documento"].as_str(), d["nro_documento"].as_str()),
        (Some("DNI"), Some("123"))
    );
    crear_usuario(
        &env,
        "otra@example.com",
        &["--tipo-documento", "dni", "--nro-documento", "123"],
    )
    .assert()
    .code(4)
    .stderr(predicate::str::contains(
        "ya existe un usuario con el documento DNI 123",
    ));
    // Same number, another type: another document. No document at all never clashes.
    crear_usuario(
        &env,
        "tres@example.com",
        &["--tipo-documento", "CI", "--nro-documento", "123"],
    )
    .assert()
    .success();
    crear_usuario(&env, "cuatro@example.com", &[])
        .assert()
        .success();

    let todos = salida_json(env.cmd().args(["-o", "json", "usuarios", "listar"]));
    assert_eq!(todos.as_array().unwrap().len(), 4);
    env.cmd()
        .args(["usuarios", "ver", &UsuarioId::generar().to_string()])
        .assert()
        .code(3);
}

#[tokio::test]
async fn eventos_crear_pone_el_contador_en_el_aforo_y_reservar_lo_agota() {
    let env = Entorno::embedded();
    let e = salida_json(env.cmd().args([
        "-o",
        "json",
        "eventos",
        "crear",
        "--nombre",
        "Rock",
        "--fecha",
        "2025-12-01T21:00:00Z",
        "--lugar",
        "Estadio",
        "--aforo",
        "3",
        "--precio",
        "1000",
    ]));
    let eid = e["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (
            e["aforo_total"].as_i64(),
            e["entradas_disponibles"].as_i64()
        ),
        (Some(3), Some(3))
    );
    let s = store(&env).await;
    let id = EventoId::parse(&eid).unwrap();
    assert_eq!(s.contador(&id).await.unwrap(), Some(3));

    let u1 = salida_json(&mut crear_usuario(&env, "a@example.com", &[]))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let u2 = salida_json(&mut crear_usuario(&env, "b@example.com", &[]))["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let r = salida_json(&mut reservar(&env, &eid, &u1, "2"));
    assert_eq!(r["estado"], "confirmada");
    assert_eq!(r["importe"], 2000);
    reservar(&env, &eid, &u2, "2")
        .assert()
        .code(5)
        .stderr(predicate::str::contains("disponibles 1"));
    salida_json(&mut reservar(&env, &eid, &u2, "1"));
    reservar(&env, &eid, &u1, "1")
        .assert()
        .code(5)
        .stderr(predicate::str::contains("disponibles 0"));

    assert_eq!(s.contador(&id).await.unwrap(), Some(0));
    let visto = salida_json(env.cmd().args(["-o", "json", "eventos", "ver", &eid]));
    assert_eq!(visto["entradas_disponibles"], 0);
    assert_eq!(visto["reservas_activas"].as_array().unwrap().len(), 2);
    let historial = salida_json(env.cmd().args(["-o", "json", "usuarios", "ver", &u1]));
    assert_eq!(historial["historial_compras"][0]["entradas"], 2);
    verificar_ok(&env, &eid).await;
}

#[tokio::test]
async fn reservar_rechazado_o_desconocido_sale_con_6_y_3_sin_dejar_entradas_fuera() {
    let env = Entorno::embedded();
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 100).await;
    let u = usuarios(&alm, 1).await.remove(0);

    reservar(&env, e.as_str(), u.as_str(), "2")
        .env("EVENTFLOW_PAGO_RECHAZO", "1")
        .assert()
        .code(6)
        .stderr(predicate::str::contains("rechazado"));
    assert_eq!(alm.reservas.contador(&e).await.unwrap(), Some(5));
    let rs = reservas_de(&env, e.as_str());
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0]["estado"], "compensada");

    reservar(&env, EventoId::generar().as_str(), u.as_str(), "1")
        .assert()
        .code(3);
    reservar(&env, e.as_str(), UsuarioId::generar().as_str(), "1")
        .assert()
        .code(3);
    assert_eq!(alm.reservas.contador(&e).await.unwrap(), Some(5));

    // The lock went with the declined purchase; a key makes a retry return the same one.
    let con_clave = |c: &mut assert_cmd::Command| {
        c.args(["--clave-idempotencia", "pedido-1"]);
        salida_json(c)
    };
    let primera = con_clave(&mut reservar(&env, e.as_str(), u.as_str(), "2"));
    let segunda = con_clave(&mut reservar(&env, e.as_str(), u.as_str(), "2"));
    assert_eq!(primera["id"], segunda["id"]);
    assert_eq!(alm.reservas.contador(&e).await.unwrap(), Some(3));
    reservar(&env, e.as_str(), u.as_str(), "1")
        .args(["--clave-idempotencia", "pedido-1"])
        .assert()
        .code(4);
    verificar_ok(&env, e.as_str()).await;
}

#[tokio::test]
async fn cien_procesos_compiten_por_veinte_entradas_en_un_mismo_archivo() {
    let env = Entorno::embedded();
    let alm = env.almacen().await;
    let e = evento(&alm, 20, 100).await;
    let us = usuarios(&alm, 100).await;
    let hijos: Vec<_> = us
        .iter()
        .map(|u| {
            reservar_std(&env, &e, u)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let (mut confirmadas, mut agotadas) = (0, 0);
    for h in hijos {
        let out = h.wait_with_output().unwrap();
        match out.status.code() {
            Some(0) => {
                assert_eq!(json(&out.stdout)["estado"], "confirmada");
                confirmadas += 1;
            }
            Some(5) => agotadas += 1,
            otro => panic!(
                "salida inesperada {otro:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
    assert_eq!((confirmadas, agotadas), (20, 80));
    assert_eq!(alm.reservas.contador(&e).await.unwrap(), Some(0));
    let ev = alm.eventos.ver(&e).await.unwrap();
    assert_eq!(ev.entradas_disponibles, 0);
    assert_eq!(ev.reservas_activas.len(), 20);
    assert_eq!(alm.usuarios.compras_de_evento(&e).await.unwrap().len(), 20);
    verificar_ok(&env, e.as_str()).await;
}

fn reservar_std(env: &Entorno, e: &EventoId, u: &UsuarioId) -> Command {
    let mut c = env.cmd_std();
    c.args([
        "-o",
        "json",
        "reservar",
        "--evento",
        e.as_str(),
        "--usuario",
        u.as_str(),
        "--entradas",
        "1",
    ]);
    c
}

#[test]
fn dos_procesos_que_migran_el_mismo_archivo_nuevo_tienen_exito() {
    for _ in 0..5 {
        let env = Entorno::embedded();
        let hijos: Vec<_> = (0..2)
            .map(|_| {
                env.cmd_std()
                    .args(["-o", "json", "usuarios", "listar"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for h in hijos {
            let out = h.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{:?}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(json(&out.stdout), serde_json::json!([]));
        }
        assert_eq!(version_de_esquema(&archivo(&env)), VERSION_DE_ESQUEMA);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ocho_aperturas_simultaneas_de_un_archivo_nuevo_lo_migran_una_vez() {
    let env = Entorno::embedded();
    let tareas: Vec<_> = (0..8)
        .map(|_| {
            let d = env.datos();
            tokio::spawn(async move { SqliteStore::abrir(&d).await })
        })
        .collect();
    for t in tareas {
        t.await.unwrap().unwrap();
    }
    assert_eq!(version_de_esquema(&archivo(&env)), VERSION_DE_ESQUEMA);
    let s = store(&env).await;
    assert_eq!(s.ping().await.unwrap().split(' ').next(), Some("SQLite"));
}

fn version_de_esquema(archivo: &Path) -> i64 {
    rusqlite::Connection::open(archivo)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn un_archivo_danado_sale_con_7_y_nombra_la_ruta() {
    let env = Entorno::embedded();
    std::fs::create_dir_all(env.datos()).unwrap();
    let basura: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 13) as u8).collect();
    std::fs::write(archivo(&env), basura).unwrap();
    let ruta = archivo(&env).display().to_string();
    env.cmd()
        .args(["usuarios", "listar"])
        .assert()
        .code(7)
        .stderr(predicate::str::contains(&ruta))
        .stderr(predicate::str::contains("dañado"))
        .stdout(predicate::str::is_empty());
    // `estado` reports it too, and exits 7 like a server that is down.
    let out = env.cmd().args(["-o", "json", "estado"]).assert().code(7);
    let informe = json(&out.get_output().stdout);
    let error = informe["componentes"][0]["error"].as_str().unwrap();
    assert!(error.contains(&ruta) && error.contains("dañado"), "{error}");
}

#[test]
fn un_archivo_bloqueado_mas_alla_del_plazo_sale_con_7_sin_escribir_nada() {
    let env = Entorno::embedded();
    env.cmd().args(["usuarios", "listar"]).assert().success();
    // Another process holding the write lock and never letting go.
    let bloqueo = rusqlite::Connection::open(archivo(&env)).unwrap();
    bloqueo.execute_batch("BEGIN IMMEDIATE").unwrap();
    let inicio = std::time::Instant::now();
    crear_usuario(&env, "juan@example.com", &[])
        .assert()
        .code(7)
        .stderr(predicate::str::contains(
            archivo(&env).display().to_string(),
        ))
        .stderr(predicate::str::contains("bloqueada"));
    let tardo = inicio.elapsed();
    // It waited out the 5 s lock deadline (never sooner); the upper bound only guards
    // against waiting forever, wide enough for a loaded 2-core machine.
    assert!(
        tardo >= Duration::from_secs(4) && tardo < Duration::from_secs(60),
        "{tardo:?}"
    );
    // Readers are never blocked by a writer in WAL mode.
    env.cmd().args(["usuarios", "listar"]).assert().success();
    bloqueo.execute_batch("ROLLBACK").unwrap();
    let todos = salida_json(env.cmd().args(["-o", "json", "usuarios", "listar"]));
    assert_eq!(todos, serde_json::json!([]));
}

#[test]
fn un_directorio_de_datos_que_no_se_puede_crear_sale_con_7_y_nombra_la_ruta() {
    // Under a regular file: refused even to root, unlike permission bits.
    let env = Entorno::embedded();
    let archivo = env.dir.path().join("archivo");
    std::fs::write(&archivo, "no soy un directorio").unwrap();
    let datos = archivo.join("sub");
    let out = env
        .cmd_std()
        .arg("--data-dir")
        .arg(&datos)
        .args(["usuarios", "listar"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{err}");
    assert!(err.contains(&datos.display().to_string()), "{err}");
    assert!(out.stdout.is_empty());
}

#[tokio::test]
async fn un_proceso_muerto_en_pleno_pago_se_compensa_y_verifica() {
    let env = Entorno::embedded();
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 100).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let out = reservar(&env, e.as_str(), u.as_str(), "2")
        .env("EVENTFLOW_FAULT", "crash@pago")
        .env("EVENTFLOW_RESERVA_TTL_S", "1")
        .assert()
        .failure()
        .get_output()
        .clone();
    assert_eq!(out.status.code(), None, "crash@pago no abortó el proceso");
    assert_eq!(alm.reservas.contador(&e).await.unwrap(), Some(3));
    // Wait for the hold to expire: the expiry is the point of the test, not readiness.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    env.cmd().arg("compensar").assert().success();
    verificar_ok(&env, e.as_str()).await;

    let rs = reservas_de(&env, e.as_str());
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0]["estado"], "compensada");
    assert_eq!(alm.reservas.contador(&e).await.unwrap(), Some(5));
    let reg = alm
        .reservas
        .listar(&FiltroReservas::default())
        .await
        .unwrap();
    let cobro = alm.reservas.cobro(&reg[0]).await.unwrap().unwrap();
    assert!(cobro.aprobado && cobro.reembolsado.is_some(), "{cobro:?}");
    // Nothing left to do: a second run finds nothing, and the user may buy again.
    env.cmd().arg("compensar").assert().success();
    salida_json(&mut reservar(&env, e.as_str(), u.as_str(), "1"));
}

#[tokio::test]
async fn kill_9_mientras_se_cobra_deja_una_retencion_que_compensar_libera() {
    let env = Entorno::embedded();
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 100).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let mut hijo = reservar_std(&env, &e, &u)
        .env("EVENTFLOW_PAGO_LATENCIA_MS", "30000")
        .env("EVENTFLOW_RESERVA_TTL_S", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once the charge has begun: poll the record, not the clock.
    let inicio = std::time::Instant::now();
    let registro = loop {
        let rs = alm.reservas.de_evento(&e).await.unwrap();
        if let Some(r) = rs.into_iter().find(|r| r.paso == Paso::Pago) {
            break r;
        }
        assert!(
            inicio.elapsed() < Duration::from_secs(20),
            "la compra no llegó al pago"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    hijo.kill().unwrap();
    hijo.wait().unwrap();
    assert_eq!(alm.reservas.contador(&e).await.unwrap(), Some(4));

    // The hold's expiry is the point of the test: `compensar` leaves it alone until then.
    let falta = registro.expira.millis() - Fecha::ahora().millis() + 100;
    tokio::time::sleep(Duration::from_millis(falta.max(0) as u64)).await;
    env.cmd().arg("compensar").assert().success();
    let final_ = alm.reservas.ver(&registro.reserva.id).await.unwrap();
    assert_eq!(final_.reserva.estado, Estado::Expirada);
    assert_eq!(alm.reservas.contador(&e).await.unwrap(), Some(5));
    assert_eq!(alm.reservas.cobro(&final_).await.unwrap(), None);
    verificar_ok(&env, e.as_str()).await;
}

#[test]
fn estado_dice_embedded_y_la_ruta_de_los_datos() {
    let env = Entorno::embedded();
    let informe = salida_json(env.cmd().args(["-o", "json", "estado"]));
    assert_eq!(informe["backend"], "embedded");
    let c = &informe["componentes"][0];
    assert_eq!(c["nombre"], "SQLite");
    assert_eq!(c["conectado"], true);
    assert_eq!(c["direccion"], archivo(&env).display().to_string());
    assert!(c["version"].as_str().unwrap().starts_with("SQLite 3."));
    assert!(archivo(&env).is_file());
}

#[test]
fn sin_data_dir_los_datos_van_al_directorio_de_datos_de_la_plataforma() {
    let env = Entorno::embedded();
    let out = env
        .cmd_std()
        .env_remove("EVENTFLOW_DATA_DIR")
        .args(["-o", "json", "estado"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let esperado = env.dir.path().join("data").join("eventflow");
    assert_eq!(
        json(&out.stdout)["componentes"][0]["direccion"],
        esperado.join(ARCHIVO).display().to_string()
    );
    assert!(esperado.join(ARCHIVO).is_file());
}
