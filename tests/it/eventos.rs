//! `eventflow eventos …` through the real binary, including the seat counter in Redis.

use predicates::prelude::*;
use redis::AsyncCommands;
use serde_json::Value;

use crate::helpers::{Entorno, json};

pub fn crear_evento(env: &Entorno, aforo: u32, precio: i64) -> Value {
    let out = env
        .cmd()
        .args([
            "-o",
            "json",
            "eventos",
            "crear",
            "--nombre",
            "Concierto Rock",
            "--fecha",
            "2025-12-01T21:00:00Z",
        ])
        .args([
            "--lugar",
            "Estadio Centenario",
            "--aforo",
            &aforo.to_string(),
            "--precio",
            &precio.to_string(),
        ])
        .assert()
        .success();
    json(&out.get_output().stdout)
}

/// The live seat counter, through the backend's store.
pub async fn contador(env: &Entorno, evento: &str) -> Option<i64> {
    env.contador(&eventflow::domain::EventoId::parse(evento).unwrap())
        .await
}

async fn eventos_guardados(env: &Entorno) -> usize {
    env.almacen()
        .await
        .eventos
        .listar(10_000, None)
        .await
        .unwrap()
        .len()
}

async fn crear_evento_crea_su_contador(env: Entorno) {
    let e = crear_evento(&env, 1000, 0);
    assert_eq!(e["nombre"], "Concierto Rock");
    assert_eq!(e["fecha"], "2025-12-01T21:00:00Z");
    assert_eq!(e["lugar"], "Estadio Centenario");
    assert_eq!(e["aforo_total"], 1000);
    assert_eq!(e["entradas_disponibles"], 1000);
    assert_eq!(e["reservas_activas"], serde_json::json!([]));
    assert_eq!(e["precio"], 0);
    let id = e["id"].as_str().unwrap();
    assert_eq!(contador(&env, id).await, Some(1000));
}

async fn aforo_cero_o_negativo_y_fecha_invalida_salen_con_2_sin_escribir(env: Entorno) {
    for (aforo, fecha) in [
        ("0", "2025-12-01T21:00:00Z"),
        ("-5", "2025-12-01T21:00:00Z"),
        ("10", "1 de diciembre"),
    ] {
        env.cmd()
            .args([
                "eventos", "crear", "--nombre", "X", "--fecha", fecha, "--lugar", "Y", "--aforo",
                aforo,
            ])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(if aforo == "10" {
                fecha
            } else {
                aforo
            }));
    }
    env.cmd()
        .args([
            "eventos",
            "crear",
            "--nombre",
            "X",
            "--fecha",
            "2025-12-01T21:00:00Z",
            "--lugar",
            "Y",
            "--aforo",
            "10",
            "--precio",
            "-1",
        ])
        .assert()
        .code(2);
    assert_eq!(eventos_guardados(&env).await, 0);
}

async fn subir_el_aforo_suma_la_diferencia_al_contador(env: Entorno) {
    let e = crear_evento(&env, 100, 0);
    let id = e["id"].as_str().unwrap();
    let out = env
        .cmd()
        .args([
            "-o",
            "json",
            "eventos",
            "actualizar",
            id,
            "--aforo",
            "150",
            "--lugar",
            "Otro",
        ])
        .assert()
        .success();
    let e = json(&out.get_output().stdout);
    assert_eq!(e["aforo_total"], 150);
    assert_eq!(e["entradas_disponibles"], 150);
    assert_eq!(e["lugar"], "Otro");
    assert_eq!(contador(&env, id).await, Some(150));
    // Lowering without sales is allowed.
    env.cmd()
        .args(["eventos", "actualizar", id, "--aforo", "120"])
        .assert()
        .success();
    assert_eq!(contador(&env, id).await, Some(120));
}

async fn ver_listar_y_eliminar_eventos(env: Entorno) {
    let e = crear_evento(&env, 10, 2500);
    crear_evento(&env, 20, 0);
    let id = e["id"].as_str().unwrap();
    let out = env
        .cmd()
        .args(["-o", "json", "eventos", "ver", id])
        .assert()
        .success();
    assert_eq!(json(&out.get_output().stdout), e);
    let out = env
        .cmd()
        .args(["-o", "json", "eventos", "listar"])
        .assert()
        .success();
    assert_eq!(json(&out.get_output().stdout).as_array().unwrap().len(), 2);
    env.cmd().args(["eventos", "ver", "xyz"]).assert().code(2);
    env.cmd()
        .args(["eventos", "ver", "0123456789abcdef01234567"])
        .assert()
        .code(3);
    env.cmd()
        .args(["eventos", "eliminar", id])
        .assert()
        .success();
    env.cmd().args(["eventos", "ver", id]).assert().code(3);
    assert_eq!(contador(&env, id).await, None);
}

async fn la_salida_en_tabla_es_legible(env: Entorno) {
    crear_evento(&env, 10, 0);
    env.cmd()
        .args(["eventos", "listar"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Concierto Rock"))
        .stdout(predicate::str::contains("entradas_disponibles"));
}

/// The contract names the Redis key of the counter: `<prefix>evento:{<id>}:entradas`.
#[tokio::test]
async fn el_contador_vive_en_la_clave_redis_del_contrato() {
    let env = Entorno::nuevo();
    let e = crear_evento(&env, 1000, 0);
    let id = e["id"].as_str().unwrap();
    let valor: Option<i64> = env
        .redis()
        .await
        .get(env.clave(&format!("evento:{{{id}}}:entradas")))
        .await
        .unwrap();
    assert_eq!(valor, Some(1000));
}

en_ambos_backends!(
    crear_evento_crea_su_contador,
    aforo_cero_o_negativo_y_fecha_invalida_salen_con_2_sin_escribir,
    subir_el_aforo_suma_la_diferencia_al_contador,
    ver_listar_y_eliminar_eventos,
    la_salida_en_tabla_es_legible,
);
