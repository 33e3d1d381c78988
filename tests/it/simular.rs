//! `eventflow simular` through the real binary, on every backend: a small flash sale keeps
//! every invariant (judged from the raw stores too), a seed makes it reproducible,
//! nonsense arguments exit 2, real data (a user, an event, a foreign seat counter) is
//! never mixed with simulated buyers, and `--limpiar` leaves nothing behind.

use std::collections::BTreeMap;

use eventflow::domain::{Aforo, EventoId};
use predicates::prelude::*;
use serde_json::Value;

use crate::crudo;
use crate::helpers::{Entorno, json};

fn simular(env: &Entorno, args: &[&str]) -> assert_cmd::Command {
    let mut c = env.cmd();
    c.args(["-o", "json", "simular"]).args(args);
    c
}

fn informe(env: &Entorno, args: &[&str]) -> Value {
    let out = simular(env, args).assert().success();
    json(&out.get_output().stdout)
}

/// A fresh namespace on the same backend as `env`.
fn otro_como(env: &Entorno) -> Entorno {
    if env.es_mongo() {
        Entorno::nuevo()
    } else {
        Entorno::embedded()
    }
}

fn n(v: &Value, campo: &str) -> i64 {
    v[campo]
        .as_i64()
        .unwrap_or_else(|| panic!("falta {campo} en el informe: {v}"))
}

async fn simular_una_venta_pequena_no_sobrevende_y_verificar_la_da_por_buena(env: Entorno) {
    let i = informe(
        &env,
        &[
            "--aforo",
            "50",
            "--compradores",
            "200",
            "--concurrencia",
            "16",
            "--semilla",
            "1",
        ],
    );
    let confirmadas = n(&i, "confirmadas");
    assert!((1..=50).contains(&confirmadas), "{i}");
    assert_eq!(n(&i, "entradas_vendidas"), n(&i, "entradas_confirmadas"));
    assert_eq!(
        n(&i, "entradas_confirmadas"),
        confirmadas,
        "1 entrada por compra"
    );
    assert!(n(&i, "entradas_vendidas") <= 50);
    assert_eq!(
        confirmadas + n(&i, "agotadas") + n(&i, "rechazadas") + n(&i, "otros_errores"),
        200
    );
    assert_eq!(n(&i, "otros_errores"), 0, "{i}");
    assert!(
        n(&i, "agotadas") > 0,
        "200 compradores para 50 entradas: {i}"
    );
    assert_eq!(i["reservas"]["confirmada"].as_i64(), Some(confirmadas));
    assert!(n(&i, "compensadas") >= n(&i, "rechazadas"));
    assert_eq!(i["verificar"]["consistente"], true, "{i}");
    assert_eq!(i["invariantes_ok"], true, "{i}");
    assert_eq!(i["semilla"], 1);
    for p in ["p50", "p95", "p99"] {
        assert!(i["latencia_ms"][p].as_f64().unwrap() > 0.0, "{i}");
    }
    assert!(i["latencia_ms"]["p50"].as_f64() <= i["latencia_ms"]["p99"].as_f64());
    assert!(i["compras_por_segundo"].as_f64().unwrap() > 0.0);

    // The stores agree with the report, and everything created is marked as simulated.
    let e = i["evento_id"].as_str().unwrap();
    assert_eq!(crudo::contador_crudo(&env, e).await, Some(50 - confirmadas));
    crudo::comprobar_invariantes(&env, e).await;
    assert_eq!(crudo::asientos_vendidos(&env, e).await, confirmadas);
    let eventos = crudo::eventos_crudos(&env).await;
    assert_eq!(eventos.len(), 1);
    let (id, nombre, lugar) = &eventos[0];
    assert_eq!((id.as_str(), lugar.as_str()), (e, "simulación"));
    assert!(nombre.starts_with("SIMULACIÓN "), "{nombre}");
    let usuarios = crudo::usuarios_crudos(&env).await;
    assert_eq!(usuarios.len(), 200);
    assert!(
        usuarios
            .iter()
            .all(|(email, _)| email.ends_with("@simulacion.eventflow.invalid"))
    );
    env.cmd()
        .args(["verificar", "--evento", e])
        .assert()
        .success();
}

async fn la_misma_semilla_repite_los_rechazos_de_pago(env: Entorno) {
    let args = [
        "--aforo",
        "50",
        "--compradores",
        "200",
        "--concurrencia",
        "16",
        "--semilla",
        "7",
        "--rechazo-pago",
        "0.3",
    ];
    let b = otro_como(&env);
    let a = env;
    let (ia, ib) = (informe(&a, &args), informe(&b, &args));
    // The k-th charge gets the k-th draw, and the sale ends at the 50th approval, so
    // the declines do not depend on how the purchases interleave.
    assert_eq!(n(&ia, "rechazadas"), n(&ib, "rechazadas"), "{ia}\n{ib}");
    assert!(n(&ia, "rechazadas") > 0, "{ia}");
    assert_eq!(n(&ia, "confirmadas"), n(&ib, "confirmadas"));
}

/// Buyer number → tickets bought, read from the users' raw histories.
async fn entradas_por_comprador(env: &Entorno) -> BTreeMap<u64, i64> {
    let emails = crudo::emails_crudos(env).await;
    crudo::historiales_crudos(env)
        .await
        .iter()
        .map(|c| {
            let email = &emails[&c.usuario];
            let numero = email
                .split('@')
                .next()
                .and_then(|local| local.rsplit('-').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("email de comprador inesperado: {email}"));
            (numero, c.entradas)
        })
        .collect()
}

async fn la_misma_semilla_da_a_cada_comprador_las_mismas_entradas(env: Entorno) {
    let args = |semilla: &'static str| {
        [
            "--aforo",
            "1000",
            "--compradores",
            "60",
            "--entradas-por-compra",
            "1-4",
            "--rechazo-pago",
            "0",
            "--semilla",
            semilla,
        ]
    };
    let (b, c) = (otro_como(&env), otro_como(&env));
    let a = env;
    informe(&a, &args("42"));
    informe(&b, &args("42"));
    informe(&c, &args("43"));
    let (ea, eb, ec) = (
        entradas_por_comprador(&a).await,
        entradas_por_comprador(&b).await,
        entradas_por_comprador(&c).await,
    );
    assert_eq!(ea.len(), 60, "todos compran: sobra aforo y no hay rechazos");
    assert!(ea.values().all(|n| (1..=4).contains(n)));
    assert!(
        ea.values().any(|n| *n != ea[&0]),
        "un rango reparte cantidades distintas"
    );
    assert_eq!(ea, eb);
    assert_ne!(ea, ec);
}

async fn argumentos_sin_sentido_salen_con_2_sin_escribir_nada(env: Entorno) {
    for (flag, valor) in [
        ("--aforo", "0"),
        ("--compradores", "0"),
        ("--concurrencia", "0"),
        ("--rechazo-pago", "1.5"),
        ("--rechazo-pago", "-0.1"),
        ("--entradas-por-compra", "4-1"),
        ("--entradas-por-compra", "0"),
        ("--precio", "-1"),
    ] {
        simular(&env, &[flag, valor])
            .assert()
            .code(2)
            .stdout(crate::helpers::solo_error())
            .stderr(predicate::str::contains(valor));
    }
}

async fn se_niega_a_mezclarse_con_datos_reales_salvo_con_permiso(env: Entorno) {
    let out = env
        .cmd()
        .args([
            "-o",
            "json",
            "usuarios",
            "crear",
            "--nombre",
            "Ana",
            "--apellido",
            "Real",
            "--email",
            "ana@example.com",
        ])
        .assert()
        .success();
    let real = json(&out.get_output().stdout)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let args = ["--aforo", "5", "--compradores", "10", "--semilla", "3"];
    simular(&env, &args)
        .assert()
        .code(4)
        .stdout(crate::helpers::solo_error())
        .stderr(predicate::str::contains(real.as_str()))
        .stderr(predicate::str::contains("--permitir-datos-existentes"));
    assert!(crudo::eventos_crudos(&env).await.is_empty());
    assert_eq!(crudo::usuarios_guardados(&env).await, 1);

    let mut con_permiso = args.to_vec();
    con_permiso.push("--permitir-datos-existentes");
    let i = informe(&env, &con_permiso);
    assert_eq!(i["invariantes_ok"], true, "{i}");
    assert_eq!(crudo::usuarios_guardados(&env).await, 11);
    // The real user never takes part.
    let ana = env
        .cmd()
        .args(["-o", "json", "usuarios", "ver", &real])
        .assert()
        .success();
    let ana = json(&ana.get_output().stdout);
    assert_eq!(ana["historial_compras"], serde_json::json!([]));
}

async fn se_niega_si_ya_hay_un_evento_real(env: Entorno) {
    let e = crate::eventos::crear_evento(&env, 100, 0);
    let id = e["id"].as_str().unwrap();
    simular(&env, &["--aforo", "5", "--compradores", "10"])
        .assert()
        .code(4)
        .stdout(crate::helpers::solo_error())
        .stderr(predicate::str::contains(format!("ya tiene el evento {id}")));
    assert_eq!(crudo::eventos_crudos(&env).await.len(), 1);
    assert_eq!(crudo::usuarios_guardados(&env).await, 0);
    assert_eq!(crudo::contador_crudo(&env, id).await, Some(100));
}

async fn se_niega_si_el_almacen_de_reservas_tiene_un_contador_ajeno(env: Entorno) {
    // Another database sharing this reservation store (the same Redis prefix) left a
    // counter whose event is not here.
    let ajeno = EventoId::generar();
    let alm = env.almacen().await;
    assert!(
        alm.reservas
            .crear_contador(&ajeno, Aforo::new(10).unwrap())
            .await
            .unwrap()
    );
    simular(&env, &["--aforo", "5", "--compradores", "10"])
        .assert()
        .code(4)
        .stdout(crate::helpers::solo_error())
        .stderr(predicate::str::contains(format!(
            "el almacén de reservas ya tiene el evento {ajeno}"
        )));
    assert!(crudo::eventos_crudos(&env).await.is_empty());
    assert_eq!(crudo::usuarios_guardados(&env).await, 0);
    assert_eq!(crudo::contador_crudo(&env, ajeno.as_str()).await, Some(10));
}

async fn limpiar_borra_todo_lo_que_creo_la_simulacion(env: Entorno) {
    let out = env
        .cmd()
        .args([
            "simular",
            "--aforo",
            "20",
            "--compradores",
            "40",
            "--entradas-por-compra",
            "1-3",
            "--semilla",
            "5",
            "--limpiar",
        ])
        .assert()
        .success();
    // The default output is the table.
    let tabla = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    for fila in ["confirmadas", "p50", "consistente", "limpieza"] {
        assert!(tabla.contains(fila), "falta {fila}:\n{tabla}");
    }
    assert!(crudo::eventos_crudos(&env).await.is_empty());
    assert_eq!(crudo::usuarios_guardados(&env).await, 0);
    let restos = crudo::restos_crudos(&env).await;
    assert!(restos.is_empty(), "quedan datos de reservas: {restos:?}");
}

#[test]
fn simular_funciona_igual_con_el_backend_embebido() {
    let env = Entorno::nuevo();
    let datos = env.dir.path().join("embebido");
    let out = env
        .cmd()
        .env_remove("EVENTFLOW_MONGO_URI")
        .env_remove("EVENTFLOW_REDIS_URL")
        .arg("--backend")
        .arg("embedded")
        .arg("--data-dir")
        .arg(&datos)
        .args([
            "-o",
            "json",
            "simular",
            "--aforo",
            "50",
            "--compradores",
            "200",
            "--concurrencia",
            "16",
            "--semilla",
            "1",
        ])
        .assert()
        .success();
    let i = json(&out.get_output().stdout);
    assert!(n(&i, "confirmadas") <= 50, "{i}");
    assert_eq!(n(&i, "entradas_vendidas"), n(&i, "entradas_confirmadas"));
    assert_eq!(n(&i, "otros_errores"), 0, "{i}");
    assert_eq!(i["verificar"]["consistente"], true, "{i}");
    assert_eq!(i["invariantes_ok"], true, "{i}");
}

en_ambos_backends!(
    simular_una_venta_pequena_no_sobrevende_y_verificar_la_da_por_buena,
    la_misma_semilla_repite_los_rechazos_de_pago,
    la_misma_semilla_da_a_cada_comprador_las_mismas_entradas,
    argumentos_sin_sentido_salen_con_2_sin_escribir_nada,
    se_niega_a_mezclarse_con_datos_reales_salvo_con_permiso,
    se_niega_si_ya_hay_un_evento_real,
    se_niega_si_el_almacen_de_reservas_tiene_un_contador_ajeno,
    limpiar_borra_todo_lo_que_creo_la_simulacion,
);
