//! The purchase saga end to end: `reservar`, `reservas`, `compensar` and `verificar`
//! through the real binary and in process, with real failures, crashes and races.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use eventflow::compra::{Fallos, PasarelaSimulada, Reservador, Solicitud};
use eventflow::domain::{
    Aforo, Email, Entradas, Estado, EventoId, Fecha, NuevoEvento, NuevoUsuario, Precio, Texto,
    UsuarioId,
};
use eventflow::store::Almacen;
use predicates::prelude::*;
use serde_json::Value;

use crate::eventos::contador;
use crate::helpers::{Entorno, json};

pub async fn evento(alm: &Almacen, aforo: u32, precio: i64) -> EventoId {
    let e = eventflow::casos::eventos::crear(
        alm,
        NuevoEvento {
            nombre: Texto::parse("nombre", "Concierto").unwrap(),
            fecha: Fecha::parse("2025-12-01T21:00:00Z").unwrap(),
            lugar: Texto::parse("lugar", "Estadio").unwrap(),
            aforo: Aforo::new(aforo.into()).unwrap(),
            precio: Precio::new(precio).unwrap(),
        },
    )
    .await
    .unwrap();
    e.id
}

pub async fn usuarios(alm: &Almacen, n: usize) -> Vec<UsuarioId> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let u = alm
            .usuarios
            .crear(NuevoUsuario {
                nombre: Texto::parse("nombre", "Comprador").unwrap(),
                apellido: Texto::parse("apellido", &i.to_string()).unwrap(),
                email: Email::parse(&format!("c{i}@example.com")).unwrap(),
                documento: None,
            })
            .await
            .unwrap();
        ids.push(u.id);
    }
    ids
}

fn reservar(env: &Entorno, e: &EventoId, u: &UsuarioId, n: &str) -> assert_cmd::Command {
    let mut c = env.cmd();
    c.args([
        "-o",
        "json",
        "reservar",
        "--evento",
        e.as_str(),
        "--usuario",
        u.as_str(),
        "--entradas",
        n,
    ]);
    c
}

/// `verificar` finds event `e` consistent, and so does the independent judge reading the
/// raw stores (`crudo`): neither alone decides.
pub async fn verificar_ok(env: &Entorno, e: &EventoId) {
    env.cmd()
        .args(["verificar", "--evento", e.as_str()])
        .assert()
        .success();
    crate::crudo::comprobar_invariantes(env, e.as_str()).await;
}

fn reservas_de(env: &Entorno, e: &EventoId) -> Vec<Value> {
    let out = env
        .cmd()
        .args(["-o", "json", "reservas", "listar", "--evento", e.as_str()])
        .assert()
        .success();
    json(&out.get_output().stdout).as_array().unwrap().clone()
}

async fn reservar_confirma_cobra_y_anota_el_historial(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 10, 2500).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let out = reservar(&env, &e, &u, "3").assert().success();
    let r = json(&out.get_output().stdout);
    assert_eq!(r["estado"], "confirmada");
    assert_eq!(r["entradas"], 3);
    assert_eq!(r["importe"], 7500);
    assert_eq!(r["evento_id"], e.as_str());
    assert_eq!(r["usuario_id"], u.as_str());
    let rid = r["id"].as_str().unwrap();

    assert_eq!(contador(&env, e.as_str()).await, Some(7));
    let ev = alm.eventos.ver(&e).await.unwrap();
    assert_eq!(ev.entradas_disponibles, 7);
    assert_eq!(ev.reservas_activas.len(), 1);
    assert_eq!(ev.reservas_activas[0].as_str(), rid);
    let usuario = alm.usuarios.ver(&u).await.unwrap();
    assert_eq!(usuario.historial_compras.len(), 1);
    assert_eq!(usuario.historial_compras[0].reserva_id.as_str(), rid);
    assert_eq!(usuario.historial_compras[0].entradas.get(), 3);

    let out = env
        .cmd()
        .args(["-o", "json", "reservas", "ver", rid])
        .assert()
        .success();
    assert_eq!(json(&out.get_output().stdout)["estado"], "confirmada");
    verificar_ok(&env, &e).await;
}

async fn entradas_cero_o_negativas_salen_con_2(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 10, 0).await;
    let u = usuarios(&alm, 1).await.remove(0);
    for n in ["0", "-2", "dos"] {
        reservar(&env, &e, &u, n)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(n));
    }
    assert_eq!(contador(&env, e.as_str()).await, Some(10));
}

async fn mas_entradas_de_las_que_quedan_sale_con_5_sin_tomar_nada(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 2, 0).await;
    let u = usuarios(&alm, 1).await.remove(0);
    reservar(&env, &e, &u, "3")
        .assert()
        .code(5)
        .stderr(predicate::str::contains("disponibles 2"));
    assert_eq!(contador(&env, e.as_str()).await, Some(2));
    assert!(reservas_de(&env, &e).is_empty());
    verificar_ok(&env, &e).await;
}

async fn usuario_o_evento_desconocido_sale_con_3_sin_tomar_nada(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 0).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let fantasma = "0123456789abcdef01234567";
    env.cmd()
        .args([
            "reservar",
            "--evento",
            e.as_str(),
            "--usuario",
            fantasma,
            "--entradas",
            "1",
        ])
        .assert()
        .code(3)
        .stderr(predicate::str::contains(fantasma));
    env.cmd()
        .args([
            "reservar",
            "--evento",
            fantasma,
            "--usuario",
            u.as_str(),
            "--entradas",
            "1",
        ])
        .assert()
        .code(3);
    assert_eq!(contador(&env, e.as_str()).await, Some(5));
}

async fn pago_rechazado_sale_con_6_y_devuelve_las_entradas(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 1000).await;
    let u = usuarios(&alm, 1).await.remove(0);
    reservar(&env, &e, &u, "2")
        .env("EVENTFLOW_PAGO_RECHAZO", "1")
        .assert()
        .code(6)
        .stderr(predicate::str::contains("rechazado"));
    assert_eq!(contador(&env, e.as_str()).await, Some(5));
    let rs = reservas_de(&env, &e);
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0]["estado"], "compensada");
    assert!(
        alm.usuarios
            .ver(&u)
            .await
            .unwrap()
            .historial_compras
            .is_empty()
    );
    verificar_ok(&env, &e).await;
    // The lock went with the purchase: the same user can buy again.
    reservar(&env, &e, &u, "2").assert().success();
}

async fn clave_de_idempotencia_repetida_devuelve_la_misma_reserva(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 0).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let a = json(
        &reservar(&env, &e, &u, "1")
            .args(["--clave-idempotencia", "k-1"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    let b = json(
        &reservar(&env, &e, &u, "1")
            .args(["--clave-idempotencia", "k-1"])
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    assert_eq!(a["id"], b["id"]);
    assert_eq!(contador(&env, e.as_str()).await, Some(4));
    reservar(&env, &e, &u, "2")
        .args(["--clave-idempotencia", "k-1"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("k-1"));
    assert_eq!(contador(&env, e.as_str()).await, Some(4));
}

async fn cancelar_una_compra_reembolsa_libera_y_limpia_el_historial(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 100).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let r = json(
        &reservar(&env, &e, &u, "2")
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    let rid = r["id"].as_str().unwrap();
    // Lowering capacity below the seats sold, or deleting with sales, is refused.
    env.cmd()
        .args(["eventos", "actualizar", e.as_str(), "--aforo", "1"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("vendidas"));
    env.cmd()
        .args(["eventos", "eliminar", e.as_str()])
        .assert()
        .code(4);

    let out = env
        .cmd()
        .args(["-o", "json", "reservas", "cancelar", rid])
        .assert()
        .success();
    assert_eq!(json(&out.get_output().stdout)["estado"], "cancelada");
    assert_eq!(contador(&env, e.as_str()).await, Some(5));
    let ev = alm.eventos.ver(&e).await.unwrap();
    assert_eq!(ev.entradas_disponibles, 5);
    assert!(ev.reservas_activas.is_empty());
    assert!(
        alm.usuarios
            .ver(&u)
            .await
            .unwrap()
            .historial_compras
            .is_empty()
    );
    env.cmd()
        .args(["reservas", "cancelar", rid])
        .assert()
        .code(4);
    verificar_ok(&env, &e).await;
}

async fn compensar_no_toca_compras_en_curso_salvo_forzar(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 100).await;
    let u = usuarios(&alm, 1).await.remove(0);
    reservar(&env, &e, &u, "1")
        .env("EVENTFLOW_FAULT", "crash@pago")
        .assert()
        .failure();
    let rid = reservas_de(&env, &e)[0]["id"].as_str().unwrap().to_owned();
    // The hold (900 s) has not expired: nothing happens.
    let out = env
        .cmd()
        .args(["-o", "json", "compensar"])
        .assert()
        .success();
    assert_eq!(json(&out.get_output().stdout), serde_json::json!([]));
    env.cmd()
        .args(["compensar", "--reserva", &rid])
        .assert()
        .code(4);
    env.cmd().args(["compensar", "--forzar"]).assert().code(2);
    let out = env
        .cmd()
        .args([
            "-o",
            "json",
            "compensar",
            "--reserva",
            &rid,
            "--forzar",
            "--dry-run",
        ])
        .assert()
        .success();
    assert_eq!(json(&out.get_output().stdout).as_array().unwrap().len(), 1);
    assert_eq!(contador(&env, e.as_str()).await, Some(4));
    let out = env
        .cmd()
        .args(["-o", "json", "compensar", "--reserva", &rid, "--forzar"])
        .assert()
        .success();
    let c = json(&out.get_output().stdout);
    assert_eq!(c[0]["estado_final"], "compensada");
    assert_eq!(contador(&env, e.as_str()).await, Some(5));
    verificar_ok(&env, &e).await;
}

async fn dos_compensar_a_la_vez_no_liberan_dos_veces(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 10, 100).await;
    let us = usuarios(&alm, 4).await;
    for u in &us {
        reservar(&env, &e, u, "2")
            .env("EVENTFLOW_FAULT", "crash@confirmacion")
            .env("EVENTFLOW_RESERVA_TTL_S", "1")
            .assert()
            .failure();
    }
    assert_eq!(contador(&env, e.as_str()).await, Some(2));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let hijos: Vec<_> = (0..4)
        .map(|_| {
            env.cmd_std()
                .args(["-o", "json", "compensar"])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut total = 0;
    for h in hijos {
        let out = h.wait_with_output().unwrap();
        assert!(out.status.success());
        total += json(&out.stdout).as_array().unwrap().len();
    }
    assert_eq!(total, 4, "cada compra se compensa exactamente una vez");
    assert_eq!(contador(&env, e.as_str()).await, Some(10));
    verificar_ok(&env, &e).await;
}

async fn doscientos_procesos_compiten_por_cincuenta_entradas(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 50, 100).await;
    let us = usuarios(&alm, 200).await;
    let hijos: Vec<_> = us
        .iter()
        .map(|u| {
            env.cmd_std_paciente()
                .args([
                    "-o",
                    "json",
                    "reservar",
                    "--evento",
                    e.as_str(),
                    "--usuario",
                    u.as_str(),
                    "--entradas",
                    "1",
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut confirmadas = 0;
    let mut agotadas = 0;
    for h in hijos {
        let out = h.wait_with_output().unwrap();
        match out.status.code() {
            Some(0) => {
                assert_eq!(json(&out.stdout)["estado"], "confirmada");
                confirmadas += 1;
            }
            Some(5) => agotadas += 1,
            other => panic!(
                "salida inesperada {other:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
    assert_eq!((confirmadas, agotadas), (50, 150));
    assert_eq!(contador(&env, e.as_str()).await, Some(0));
    let mut en_historial = 0;
    for u in &us {
        en_historial += alm.usuarios.ver(u).await.unwrap().historial_compras.len();
    }
    assert_eq!(en_historial, 50);
    assert_eq!(alm.eventos.ver(&e).await.unwrap().entradas_disponibles, 0);
    verificar_ok(&env, &e).await;
}

async fn miles_de_compras_concurrentes_con_rechazos_mantienen_los_invariantes(env: Entorno) {
    let alm = env.almacen().await;
    let compradores = 2000;
    let e = evento(&alm, 1500, 100).await;
    let us = usuarios(&alm, compradores).await;
    let pasarela = Arc::new(
        PasarelaSimulada::new(alm.reservas.clone(), 0.2, Duration::ZERO, Some(7)).unwrap(),
    );
    let r = Arc::new(Reservador {
        almacen: alm.clone(),
        pasarela,
        ttl: Duration::from_secs(900),
        fallos: Fallos::ninguno(),
    });
    let sem = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tareas = Vec::new();
    for u in us.clone() {
        let r = r.clone();
        let e = e.clone();
        let permiso = sem.clone().acquire_owned().await.unwrap();
        tareas.push(tokio::spawn(async move {
            let _p = permiso;
            r.reservar(Solicitud {
                evento: e,
                usuario: u,
                entradas: Entradas::new(1).unwrap(),
                clave: None,
            })
            .await
        }));
    }
    let (mut ok, mut rechazadas, mut agotadas) = (0i64, 0, 0);
    for t in tareas {
        match t.await.unwrap() {
            Ok(res) => {
                assert_eq!(res.estado, Estado::Confirmada);
                ok += 1;
            }
            Err(eventflow::Error::PagoRechazado { .. }) => rechazadas += 1,
            Err(eventflow::Error::SinEntradas { .. }) => agotadas += 1,
            Err(otro) => panic!("error inesperado: {otro}"),
        }
    }
    assert_eq!(ok + rechazadas + agotadas, compradores as i64);
    assert!(
        rechazadas > 200,
        "con 20% de rechazo debería haber cientos: {rechazadas}"
    );
    let c = contador(&env, e.as_str()).await.unwrap();
    assert_eq!(c, 1500 - ok);
    assert!(c >= 0);
    let ev = alm.eventos.ver(&e).await.unwrap();
    assert_eq!(ev.entradas_disponibles, 1500 - ok);
    assert_eq!(ev.reservas_activas.len() as i64, ok);
    let informes = eventflow::compra::verificar(&r, Some(&e), false)
        .await
        .unwrap();
    assert!(informes[0].consistente, "{:?}", informes[0].problemas);
    crate::crudo::comprobar_invariantes(&env, e.as_str()).await;
    assert_eq!(crate::crudo::asientos_vendidos(&env, e.as_str()).await, ok);
}

en_ambos_backends!(
    cluster;
    reservar_confirma_cobra_y_anota_el_historial,
    entradas_cero_o_negativas_salen_con_2,
    mas_entradas_de_las_que_quedan_sale_con_5_sin_tomar_nada,
    usuario_o_evento_desconocido_sale_con_3_sin_tomar_nada,
    pago_rechazado_sale_con_6_y_devuelve_las_entradas,
    clave_de_idempotencia_repetida_devuelve_la_misma_reserva,
    cancelar_una_compra_reembolsa_libera_y_limpia_el_historial,
    compensar_no_toca_compras_en_curso_salvo_forzar,
    dos_compensar_a_la_vez_no_liberan_dos_veces,
    doscientos_procesos_compiten_por_cincuenta_entradas,
    miles_de_compras_concurrentes_con_rechazos_mantienen_los_invariantes,
);
