//! Regression tests for issue #9, one per interleaving it reproduced, through the real
//! binary on both backends: admin changes racing each other, a charge after the hold
//! expired, a user deleted mid-purchase, idempotent retries, a nonsensical TTL, an
//! abandoned hold keeping seats from buyers, and the money `verificar` now audits.
//! Judged on the raw stores and on what each command prints, not on `verificar` alone.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use eventflow::domain::{Aforo, EventoId, UsuarioId};
use predicates::prelude::*;
use serde_json::Value;

use crate::helpers::{Entorno, json};
use crate::reservar::{evento, usuarios, verificar_ok};

fn reservar(env: &Entorno, e: &EventoId, u: &UsuarioId, n: &str) -> Command {
    let mut c = env.cmd_std();
    c.args(["-o", "json", "reservar", "--evento", e.as_str()])
        .args(["--usuario", u.as_str(), "--entradas", n])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn salida(c: &mut Command) -> Output {
    c.output().expect("ejecutar eventflow")
}

fn ver(env: &Entorno, id: &str) -> Value {
    json(
        &env.cmd()
            .args(["-o", "json", "reservas", "ver", id])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
}

fn esperar(hijo: Child) -> Output {
    hijo.wait_with_output().expect("esperar a eventflow")
}

/// Polls `cond` until it holds, for at most `plazo` (readiness of another process's work,
/// never a fixed sleep).
fn hasta(plazo: Duration, que: &str, mut cond: impl FnMut() -> bool) {
    let inicio = Instant::now();
    while !cond() {
        assert!(inicio.elapsed() < plazo, "no ocurrió en {plazo:?}: {que}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The pending purchases of `u`, from `reservas listar`.
fn pendientes(env: &Entorno, u: &UsuarioId) -> Vec<Value> {
    let out = env
        .cmd()
        .args(["-o", "json", "reservas", "listar", "--usuario", u.as_str()])
        .args(["--estado", "pendiente"])
        .assert()
        .success();
    json(&out.get_output().stdout).as_array().unwrap().clone()
}

/// Starts `reservar` (a configured command) in the background and waits until its
/// purchase holds its seats; returns the process and the reservation id.
fn en_curso(env: &Entorno, u: &UsuarioId, c: &mut Command) -> (Child, String) {
    let hijo = c.spawn().expect("lanzar eventflow reservar");
    hasta(Duration::from_secs(20), "la compra retiene", || {
        !pendientes(env, u).is_empty()
    });
    let id = pendientes(env, u)[0]["id"].as_str().unwrap().to_owned();
    (hijo, id)
}

async fn dos_subidas_de_aforo_a_la_vez_no_inventan_entradas(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 10, 100).await;
    let mut aforo = 10;
    for _ in 0..5 {
        aforo += 10;
        let lanzar = || {
            env.cmd_std()
                .args([
                    "eventos",
                    "actualizar",
                    e.as_str(),
                    "--aforo",
                    &aforo.to_string(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (lanzar(), lanzar());
        let codigos = [esperar(a), esperar(b)].map(|o| o.status.code().unwrap());
        // One wins; a loser is told to retry (4), never left with a silent failed undo.
        assert!(codigos.contains(&0), "{codigos:?}");
        assert!(codigos.iter().all(|c| *c == 0 || *c == 4), "{codigos:?}");
    }
    let ev = alm.eventos.ver(&e).await.unwrap();
    assert_eq!(i64::from(ev.aforo_total.get()), aforo);
    assert_eq!(alm.reservas.contador(&e).await.unwrap(), Some(aforo));
    assert_eq!(alm.reservas.aforo(&e).await.unwrap(), Some(ev.aforo_total));
    verificar_ok(&env, &e).await;
    // Exactly the capacity can be bought, not a seat more.
    let u = usuarios(&alm, 2).await;
    let mas = salida(&mut reservar(&env, &e, &u[0], &(aforo + 1).to_string()));
    assert_eq!(mas.status.code(), Some(5));
    let todo = salida(&mut reservar(&env, &e, &u[1], &aforo.to_string()));
    assert_eq!(todo.status.code(), Some(0));
    assert_eq!(alm.reservas.contador(&e).await.unwrap(), Some(0));
}

async fn un_cobro_tras_vencer_la_retencion_no_se_registra_y_nada_queda_sin_reembolsar(
    env: Entorno,
) {
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 1000).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let (compra, id) = en_curso(
        &env,
        &u,
        reservar(&env, &e, &u, "2")
            .env("EVENTFLOW_RESERVA_TTL_S", "1")
            .env("EVENTFLOW_PAGO_LATENCIA_MS", "3000")
            .env("EVENTFLOW_FAULT", "crash@pago"),
    );
    // `compensar` takes the purchase over as soon as its hold expires, while the
    // payment is still on its way.
    hasta(Duration::from_secs(20), "compensar la termina", || {
        let out = env
            .cmd()
            .args(["-o", "json", "compensar"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        ver(&env, &id)["estado"] != "pendiente"
    });
    let fin = esperar(compra);
    // The late charge was refused: no crash after `pago`, a conflict instead.
    assert_eq!(fin.status.code(), Some(4), "{fin:?}");
    assert!(
        String::from_utf8_lossy(&fin.stderr).contains("no admite cobros"),
        "{}",
        String::from_utf8_lossy(&fin.stderr)
    );
    let r = ver(&env, &id);
    assert_eq!(r["estado"], "expirada");
    assert_eq!(
        r["pago"],
        serde_json::json!({"estado": "ninguno", "importe": 0})
    );
    let otra = env
        .cmd()
        .args(["-o", "json", "compensar"])
        .assert()
        .success();
    assert_eq!(json(&otra.get_output().stdout), serde_json::json!([]));
    verificar_ok(&env, &e).await;
    assert_eq!(alm.reservas.contador(&e).await.unwrap(), Some(5));
}

async fn no_se_elimina_un_usuario_con_una_compra_en_curso(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 100).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let (compra, id) = en_curso(
        &env,
        &u,
        reservar(&env, &e, &u, "2").env("EVENTFLOW_PAGO_LATENCIA_MS", "2500"),
    );
    env.cmd()
        .args(["usuarios", "eliminar", u.as_str()])
        .assert()
        .code(4)
        .stderr(predicate::str::contains(id.as_str()));
    let fin = esperar(compra);
    assert_eq!(fin.status.code(), Some(0), "{fin:?}");
    verificar_ok(&env, &e).await;
}

async fn un_usuario_borrado_a_mitad_de_compra_deja_todo_deshecho_y_sale_con_3(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 100).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let (compra, id) = en_curso(
        &env,
        &u,
        reservar(&env, &e, &u, "2").env("EVENTFLOW_PAGO_LATENCIA_MS", "2500"),
    );
    // The race the refusal cannot close: the user vanishes after the check.
    alm.usuarios.eliminar(&u).await.unwrap();
    let fin = esperar(compra);
    assert_eq!(fin.status.code(), Some(3), "{fin:?}");
    let r = ver(&env, &id);
    assert_eq!(r["estado"], "compensada");
    assert_eq!(r["pago"]["estado"], "reembolsado");
    let ev = alm.eventos.ver(&e).await.unwrap();
    assert!(ev.reservas_activas.is_empty(), "{:?}", ev.reservas_activas);
    assert_eq!(ev.entradas_disponibles, 5);
    assert_eq!(alm.reservas.contador(&e).await.unwrap(), Some(5));
    verificar_ok(&env, &e).await;
}

async fn un_reintento_repite_el_resultado_del_primer_intento(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 10, 100).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let con_clave = |k: &str| {
        let mut c = reservar(&env, &e, &u, "1");
        c.args(["--clave-idempotencia", k]);
        c
    };
    // Declined, then declined again: the same exit and message, not `compensada` with 0.
    let primero = salida(con_clave("k1").env("EVENTFLOW_PAGO_RECHAZO", "1"));
    assert_eq!(primero.status.code(), Some(6));
    let otra_vez = salida(&mut con_clave("k1"));
    assert_eq!(otra_vez.status.code(), Some(6), "{otra_vez:?}");
    assert_eq!(primero.stderr, otra_vez.stderr);
    assert_eq!(primero.stdout, otra_vez.stdout, "the same error object");
    assert!(crate::helpers::es_solo_error(&otra_vez.stdout));
    // Confirmed, then the same reservation.
    let ok = salida(&mut con_clave("k2"));
    assert_eq!(ok.status.code(), Some(0));
    let ok2 = salida(&mut con_clave("k2"));
    assert_eq!(ok2.status.code(), Some(0));
    assert_eq!(json(&ok.stdout)["id"], json(&ok2.stdout)["id"]);
    // A retry while the first attempt runs waits for it and reports the same sale.
    let lento = con_clave("k3")
        .env("EVENTFLOW_PAGO_LATENCIA_MS", "1500")
        .spawn()
        .unwrap();
    hasta(Duration::from_secs(20), "la compra retiene", || {
        !pendientes(&env, &u).is_empty()
    });
    let durante = salida(&mut con_clave("k3"));
    let antes = esperar(lento);
    assert_eq!(antes.status.code(), Some(0), "{antes:?}");
    assert_eq!(durante.status.code(), Some(0), "{durante:?}");
    assert_eq!(json(&antes.stdout)["id"], json(&durante.stdout)["id"]);
    assert_eq!(json(&durante.stdout)["estado"], "confirmada");
    // A cancelled sale is no longer a success to replay.
    let id = json(&ok.stdout)["id"].as_str().unwrap().to_owned();
    env.cmd()
        .args(["reservas", "cancelar", &id])
        .assert()
        .success();
    let tras = salida(&mut con_clave("k2"));
    assert_eq!(tras.status.code(), Some(4), "{tras:?}");
    assert!(String::from_utf8_lossy(&tras.stderr).contains("cancel"));
}

fn un_ttl_sin_sentido_sale_con_2_y_lo_nombra(env: &Entorno, e: &EventoId, u: &UsuarioId) {
    for malo in ["99999999999999", "0", "abc", "604801", "-5"] {
        let out = salida(reservar(env, e, u, "1").env("EVENTFLOW_RESERVA_TTL_S", malo));
        assert_eq!(out.status.code(), Some(2), "{malo}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("EVENTFLOW_RESERVA_TTL_S") && err.contains(malo),
            "{err}"
        );
    }
    let bien = salida(reservar(env, e, u, "1").env("EVENTFLOW_RESERVA_TTL_S", "604800"));
    assert_eq!(bien.status.code(), Some(0), "{bien:?}");
}

async fn un_ttl_fuera_de_1_s_a_7_dias_se_rechaza(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 10, 100).await;
    let u = usuarios(&alm, 1).await.remove(0);
    un_ttl_sin_sentido_sale_con_2_y_lo_nombra(&env, &e, &u);
    assert_eq!(alm.reservas.contador(&e).await.unwrap(), Some(9));
}

async fn una_retencion_abandonada_no_deja_sin_entradas_al_siguiente(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 2, 100).await;
    let u = usuarios(&alm, 2).await;
    let caida = salida(
        reservar(&env, &e, &u[0], "2")
            .env("EVENTFLOW_RESERVA_TTL_S", "1")
            .env("EVENTFLOW_FAULT", "crash@inventario"),
    );
    assert!(!caida.status.success());
    let id = pendientes(&env, &u[0])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Nobody runs `compensar`; once the hold expires the next buyer gets the seats.
    hasta(
        Duration::from_secs(20),
        "la retención vence y se libera",
        || salida(&mut reservar(&env, &e, &u[1], "2")).status.code() == Some(0),
    );
    assert_eq!(ver(&env, &id)["estado"], "expirada");
    verificar_ok(&env, &e).await;
}

async fn reservas_ver_muestra_el_pago_de_cada_compra(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 10, 1250).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let rechazada = salida(reservar(&env, &e, &u, "1").env("EVENTFLOW_PAGO_RECHAZO", "1"));
    assert_eq!(rechazada.status.code(), Some(6));
    let todas = env
        .cmd()
        .args(["-o", "json", "reservas", "listar", "--usuario", u.as_str()])
        .assert()
        .success();
    let id = json(&todas.get_output().stdout)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        ver(&env, &id)["pago"],
        serde_json::json!({"estado": "rechazado", "importe": 0})
    );
    let ok = json(&salida(&mut reservar(&env, &e, &u, "2")).stdout);
    let id = ok["id"].as_str().unwrap();
    assert_eq!(
        ver(&env, id)["pago"],
        serde_json::json!({"estado": "aprobado", "importe": 2500})
    );
    env.cmd()
        .args(["reservas", "cancelar", id])
        .assert()
        .success();
    assert_eq!(
        ver(&env, id)["pago"],
        serde_json::json!({"estado": "reembolsado", "importe": 2500})
    );
    // The table shows it too.
    env.cmd()
        .args(["reservas", "ver", id])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("pago.estado").and(predicate::str::contains("reembolsado")),
        );
}

/// Writes an approved, unrefunded charge for `reserva` straight into the raw ledger.
async fn cobro_crudo(env: &Entorno, e: &EventoId, reserva: &str, importe: i64) {
    if env.es_mongo() {
        let mut con = env.redis().await;
        let () = redis::cmd("HSET")
            .arg(env.clave(&format!("pago:{{{e}}}:{reserva}")))
            .arg(
                &[
                    "importe",
                    &importe.to_string(),
                    "aprobado",
                    "1",
                    "cobrado",
                    "1",
                ][..],
            )
            .query_async(&mut con)
            .await
            .unwrap();
    } else {
        env.sqlite()
            .execute(
                "INSERT INTO pagos (reserva_id, evento_id, importe, aprobado, cobrado) \
                 VALUES (?1, ?2, ?3, 1, 1)",
                rusqlite::params![reserva, e.as_str(), importe],
            )
            .unwrap();
    }
}

async fn verificar_encuentra_y_reembolsa_un_cobro_huerfano(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 10, 100).await;
    let u = usuarios(&alm, 1).await.remove(0);
    // A refund that "got lost" after a cancellation.
    let otra = json(&salida(&mut reservar(&env, &e, &u, "2")).stdout);
    let otra_id = otra["id"].as_str().unwrap().to_owned();
    env.cmd()
        .args(["reservas", "cancelar", &otra_id])
        .assert()
        .success();
    if env.es_mongo() {
        let mut con = env.redis().await;
        let () = redis::cmd("HDEL")
            .arg(env.clave(&format!("pago:{{{e}}}:{otra_id}")))
            .arg("reembolsado")
            .query_async(&mut con)
            .await
            .unwrap();
    } else {
        env.sqlite()
            .execute(
                "UPDATE pagos SET reembolsado = NULL WHERE reserva_id = ?1",
                [otra_id.as_str()],
            )
            .unwrap();
    }
    // A charge that landed on a purchase that had already expired.
    let caida = salida(
        reservar(&env, &e, &u, "1")
            .env("EVENTFLOW_RESERVA_TTL_S", "1")
            .env("EVENTFLOW_FAULT", "crash@inventario"),
    );
    assert!(!caida.status.success());
    let expirada = pendientes(&env, &u)[0]["id"].as_str().unwrap().to_owned();
    hasta(Duration::from_secs(20), "compensar la termina", || {
        env.cmd().args(["compensar"]).output().unwrap();
        ver(&env, &expirada)["estado"] == "expirada"
    });
    cobro_crudo(&env, &e, &expirada, 100).await;

    let diagnostico = env
        .cmd()
        .args(["verificar", "--evento", e.as_str()])
        .assert()
        .code(8);
    let texto = String::from_utf8_lossy(&diagnostico.get_output().stderr).into_owned();
    assert!(
        texto.contains(&otra_id) && texto.contains(&expirada),
        "{texto}"
    );
    env.cmd()
        .args(["verificar", "--evento", e.as_str(), "--reparar"])
        .assert()
        .success()
        .stderr(predicate::str::contains("reembolsado el cobro"));
    assert_eq!(ver(&env, &otra_id)["pago"]["estado"], "reembolsado");
    assert_eq!(ver(&env, &expirada)["pago"]["estado"], "reembolsado");
    verificar_ok(&env, &e).await;
}

async fn verificar_completa_un_cambio_de_aforo_que_quedo_a_medias(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 10, 100).await;
    // The reservation store moved to 20 and the process died before the event did.
    alm.reservas
        .ajustar_aforo(&e, Aforo::new(10).unwrap(), Aforo::new(20).unwrap())
        .await
        .unwrap();
    env.cmd()
        .args(["eventos", "actualizar", e.as_str(), "--aforo", "30"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("verificar"));
    env.cmd()
        .args(["verificar", "--evento", e.as_str()])
        .assert()
        .code(8)
        .stderr(predicate::str::contains("a medias"));
    env.cmd()
        .args(["verificar", "--evento", e.as_str(), "--reparar"])
        .assert()
        .success();
    let ev = alm.eventos.ver(&e).await.unwrap();
    assert_eq!(ev.aforo_total.get(), 20);
    assert_eq!(ev.entradas_disponibles, 20);
    let m = crate::crudo::modelo_crudo(&env, e.as_str()).await.unwrap();
    assert_eq!((m.aforo_total, m.entradas_disponibles), (20, 20));
    assert_eq!(crate::crudo::aforo_crudo(&env, e.as_str()).await, Some(20));
    crate::crudo::comprobar_invariantes(&env, e.as_str()).await;
    env.cmd()
        .args(["eventos", "actualizar", e.as_str(), "--aforo", "30"])
        .assert()
        .success();
    assert_eq!(alm.reservas.contador(&e).await.unwrap(), Some(30));
}

en_ambos_backends!(
    cluster;
    dos_subidas_de_aforo_a_la_vez_no_inventan_entradas,
    un_cobro_tras_vencer_la_retencion_no_se_registra_y_nada_queda_sin_reembolsar,
    no_se_elimina_un_usuario_con_una_compra_en_curso,
    un_usuario_borrado_a_mitad_de_compra_deja_todo_deshecho_y_sale_con_3,
    un_reintento_repite_el_resultado_del_primer_intento,
    un_ttl_fuera_de_1_s_a_7_dias_se_rechaza,
    una_retencion_abandonada_no_deja_sin_entradas_al_siguiente,
    reservas_ver_muestra_el_pago_de_cada_compra,
    verificar_encuentra_y_reembolsa_un_cobro_huerfano,
    verificar_completa_un_cambio_de_aforo_que_quedo_a_medias,
);
