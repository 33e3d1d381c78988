//! `eventflow simular` through the real binary: a small flash sale keeps every invariant,
//! a seed makes it reproducible, nonsense arguments exit 2, real data is never mixed
//! with simulated buyers, and `--limpiar` leaves nothing behind.

use std::collections::BTreeMap;

use mongodb::bson::{Document, doc};
use predicates::prelude::*;
use serde_json::Value;

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

fn n(v: &Value, campo: &str) -> i64 {
    v[campo]
        .as_i64()
        .unwrap_or_else(|| panic!("falta {campo} en el informe: {v}"))
}

async fn contador(env: &Entorno, evento: &str) -> Option<i64> {
    redis::cmd("GET")
        .arg(env.clave(&format!("evento:{{{evento}}}:entradas")))
        .query_async(&mut env.redis().await)
        .await
        .unwrap()
}

async fn documentos(env: &Entorno, coleccion: &str) -> Vec<Document> {
    use futures::TryStreamExt;
    env.mongo()
        .await
        .collection::<Document>(coleccion)
        .find(doc! {})
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn simular_una_venta_pequena_no_sobrevende_y_verificar_la_da_por_buena() {
    let env = Entorno::nuevo();
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
    assert_eq!(contador(&env, e).await, Some(50 - confirmadas));
    let eventos = documentos(&env, "eventos").await;
    assert_eq!(eventos.len(), 1);
    assert_eq!(eventos[0].get_str("lugar").unwrap(), "simulación");
    assert!(
        eventos[0]
            .get_str("nombre")
            .unwrap()
            .starts_with("SIMULACIÓN ")
    );
    let usuarios = documentos(&env, "usuarios").await;
    assert_eq!(usuarios.len(), 200);
    assert!(usuarios.iter().all(|u| {
        u.get_str("email")
            .unwrap()
            .ends_with("@simulacion.eventflow.invalid")
    }));
    env.cmd()
        .args(["verificar", "--evento", e])
        .assert()
        .success();
}

#[tokio::test]
async fn la_misma_semilla_repite_los_rechazos_de_pago() {
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
    let (a, b) = (Entorno::nuevo(), Entorno::nuevo());
    let (ia, ib) = (informe(&a, &args), informe(&b, &args));
    // The k-th charge gets the k-th draw, and the sale ends at the 50th approval, so
    // the declines do not depend on how the purchases interleave.
    assert_eq!(n(&ia, "rechazadas"), n(&ib, "rechazadas"), "{ia}\n{ib}");
    assert!(n(&ia, "rechazadas") > 0, "{ia}");
    assert_eq!(n(&ia, "confirmadas"), n(&ib, "confirmadas"));
}

/// Buyer number → tickets bought, read from the users' histories.
async fn entradas_por_comprador(env: &Entorno) -> BTreeMap<u64, i64> {
    documentos(env, "usuarios")
        .await
        .iter()
        .filter_map(|u| {
            let email = u.get_str("email").unwrap();
            let numero = email.split('@').next()?.rsplit('-').next()?.parse().ok()?;
            let compra = u
                .get_array("historial_compras")
                .ok()?
                .first()?
                .as_document()?;
            let entradas = match compra.get("entradas")? {
                mongodb::bson::Bson::Int32(x) => i64::from(*x),
                mongodb::bson::Bson::Int64(x) => *x,
                _ => return None,
            };
            Some((numero, entradas))
        })
        .collect()
}

#[tokio::test]
async fn la_misma_semilla_da_a_cada_comprador_las_mismas_entradas() {
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
    let (a, b, c) = (Entorno::nuevo(), Entorno::nuevo(), Entorno::nuevo());
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

#[test]
fn argumentos_sin_sentido_salen_con_2_sin_escribir_nada() {
    let env = Entorno::nuevo();
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

#[tokio::test]
async fn se_niega_a_mezclarse_con_datos_reales_salvo_con_permiso() {
    let env = Entorno::nuevo();
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
    assert!(documentos(&env, "eventos").await.is_empty());
    assert_eq!(documentos(&env, "usuarios").await.len(), 1);

    let mut con_permiso = args.to_vec();
    con_permiso.push("--permitir-datos-existentes");
    let i = informe(&env, &con_permiso);
    assert_eq!(i["invariantes_ok"], true, "{i}");
    assert_eq!(documentos(&env, "usuarios").await.len(), 11);
    // The real user never takes part.
    let ana = env
        .cmd()
        .args(["-o", "json", "usuarios", "ver", &real])
        .assert()
        .success();
    let ana = json(&ana.get_output().stdout);
    assert_eq!(ana["historial_compras"], serde_json::json!([]));
}

#[tokio::test]
async fn limpiar_borra_todo_lo_que_creo_la_simulacion() {
    let env = Entorno::nuevo();
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
    assert!(documentos(&env, "eventos").await.is_empty());
    assert!(documentos(&env, "usuarios").await.is_empty());
    let claves: Vec<String> = redis::cmd("KEYS")
        .arg(env.clave("*"))
        .query_async(&mut env.redis().await)
        .await
        .unwrap();
    assert!(claves.is_empty(), "quedan claves en Redis: {claves:?}");
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
