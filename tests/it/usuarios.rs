//! `eventflow usuarios …` through the real binary: output, exit codes, and that bad input
//! writes nothing.

use mongodb::bson::doc;
use predicates::prelude::*;
use serde_json::Value;

use crate::helpers::{Entorno, json};

pub fn crear_usuario(env: &Entorno, email: &str) -> Value {
    let out = env
        .cmd()
        .args([
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
        .assert()
        .success();
    json(&out.get_output().stdout)
}

async fn usuarios_guardados(env: &Entorno) -> usize {
    env.almacen()
        .await
        .usuarios
        .listar(10_000, None)
        .await
        .unwrap()
        .len()
}

async fn crear_usuario_imprime_el_usuario_creado_en_json(env: Entorno) {
    let u = crear_usuario(&env, "juan@example.com");
    let id = u["id"].as_str().unwrap();
    assert_eq!(id.len(), 24);
    assert_eq!(u["nombre"], "Juan");
    assert_eq!(u["apellido"], "Pérez");
    assert_eq!(u["email"], "juan@example.com");
    assert_eq!(u["historial_compras"], serde_json::json!([]));
    assert!(u["tipo_documento"].is_null() && u["nro_documento"].is_null());

    let out = env
        .cmd()
        .args(["-o", "json", "usuarios", "ver", id])
        .assert()
        .success();
    assert_eq!(json(&out.get_output().stdout), u);
}

async fn email_invalido_sale_con_2_y_no_escribe_nada(env: Entorno) {
    env.cmd()
        .args([
            "usuarios",
            "crear",
            "--nombre",
            "Juan",
            "--apellido",
            "P",
            "--email",
            "juan-at-example",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("juan-at-example"))
        .stdout(predicate::str::is_empty());
    assert_eq!(usuarios_guardados(&env).await, 0);
}

async fn falta_un_flag_obligatorio_sale_con_2(env: Entorno) {
    env.cmd()
        .args([
            "usuarios",
            "crear",
            "--nombre",
            "Juan",
            "--email",
            "j@example.com",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--apellido"));
    assert_eq!(usuarios_guardados(&env).await, 0);
}

async fn email_duplicado_sale_con_4_y_nombra_el_choque(env: Entorno) {
    crear_usuario(&env, "ana@example.com");
    env.cmd()
        .args([
            "usuarios",
            "crear",
            "--nombre",
            "Otra",
            "--apellido",
            "Ana",
            "--email",
            "ANA@example.com",
        ])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("ana@example.com"));
    assert_eq!(usuarios_guardados(&env).await, 1);
}

async fn documento_duplicado_sale_con_4_y_sin_documento_no_choca(env: Entorno) {
    let base = [
        "usuarios",
        "crear",
        "--nombre",
        "A",
        "--apellido",
        "B",
        "--tipo-documento",
        "DNI",
        "--nro-documento",
        "12345678",
    ];
    env.cmd()
        .args(base)
        .args(["--email", "a@example.com"])
        .assert()
        .success();
    env.cmd()
        .args(base)
        .args(["--email", "b@example.com"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("DNI 12345678"));
    // Two users without a document are fine.
    crear_usuario(&env, "c@example.com");
    crear_usuario(&env, "d@example.com");
    assert_eq!(usuarios_guardados(&env).await, 3);
}

async fn tipo_de_documento_sin_numero_sale_con_2(env: Entorno) {
    env.cmd()
        .args([
            "usuarios",
            "crear",
            "--nombre",
            "A",
            "--apellido",
            "B",
            "--email",
            "a@example.com",
            "--tipo-documento",
            "DNI",
        ])
        .assert()
        .code(2);
    assert_eq!(usuarios_guardados(&env).await, 0);
}

async fn id_malformado_sale_con_2_y_desconocido_con_3(env: Entorno) {
    env.cmd()
        .args(["usuarios", "ver", "no-es-un-id"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no-es-un-id"));
    env.cmd()
        .args(["usuarios", "ver", "0123456789abcdef01234567"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("0123456789abcdef01234567"));
    env.cmd()
        .args(["usuarios", "eliminar", "0123456789abcdef01234567"])
        .assert()
        .code(3);
}

async fn operadores_de_consulta_se_guardan_como_texto_literal(env: Entorno) {
    let out = env
        .cmd()
        .args([
            "-o",
            "json",
            "usuarios",
            "crear",
            "--nombre",
            r#"{"$gt": ""}"#,
            "--apellido",
            "$where",
            "--email",
            "$where@example.com",
        ])
        .assert()
        .success();
    let u = json(&out.get_output().stdout);
    assert_eq!(u["nombre"], r#"{"$gt": ""}"#);
    assert_eq!(u["apellido"], "$where");
    let id = eventflow::domain::UsuarioId::parse(u["id"].as_str().unwrap()).unwrap();
    let leido = env.almacen().await.usuarios.ver(&id).await.unwrap();
    assert_eq!(leido.nombre.as_str(), r#"{"$gt": ""}"#);
    if env.es_mongo() {
        // The stored document holds the text, not an operator.
        let guardado = env
            .mongo()
            .await
            .collection::<mongodb::bson::Document>("usuarios")
            .find_one(doc! {})
            .await
            .unwrap()
            .unwrap();
        assert_eq!(guardado.get_str("nombre").unwrap(), r#"{"$gt": ""}"#);
        assert_eq!(guardado.get_str("email").unwrap(), "$where@example.com");
    }
    // A second user is not matched by the first one's "operator" name.
    crear_usuario(&env, "otro@example.com");
    assert_eq!(usuarios_guardados(&env).await, 2);
}

async fn listar_actualizar_historial_y_eliminar(env: Entorno) {
    let a = crear_usuario(&env, "a@example.com");
    crear_usuario(&env, "b@example.com");
    let out = env
        .cmd()
        .args(["-o", "json", "usuarios", "listar"])
        .assert()
        .success();
    let l = json(&out.get_output().stdout);
    assert_eq!(l.as_array().unwrap().len(), 2);
    let out = env
        .cmd()
        .args(["-o", "json", "usuarios", "listar", "--limite", "1"])
        .assert()
        .success();
    assert_eq!(json(&out.get_output().stdout).as_array().unwrap().len(), 1);

    let id = a["id"].as_str().unwrap();
    let out = env
        .cmd()
        .args([
            "-o",
            "json",
            "usuarios",
            "actualizar",
            id,
            "--nombre",
            "Juana",
        ])
        .assert()
        .success();
    let u = json(&out.get_output().stdout);
    assert_eq!(u["nombre"], "Juana");
    assert_eq!(u["email"], "a@example.com");
    env.cmd()
        .args(["usuarios", "actualizar", id])
        .assert()
        .code(2);
    env.cmd()
        .args(["usuarios", "actualizar", id, "--email", "b@example.com"])
        .assert()
        .code(4);

    let out = env
        .cmd()
        .args(["-o", "json", "usuarios", "historial", id])
        .assert()
        .success();
    assert_eq!(json(&out.get_output().stdout), serde_json::json!([]));

    let out = env
        .cmd()
        .args(["-o", "csv", "usuarios", "listar"])
        .assert()
        .success();
    let csv = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(
        csv.starts_with(
            "id,tipo_documento,nro_documento,nombre,apellido,email,historial_compras\n"
        ),
        "{csv}"
    );

    env.cmd()
        .args(["usuarios", "eliminar", id])
        .assert()
        .success();
    env.cmd().args(["usuarios", "ver", id]).assert().code(3);
}

#[tokio::test]
async fn mongo_caido_sale_con_7_y_no_muestra_la_contrasena() {
    let env = Entorno::nuevo();
    let inicio = std::time::Instant::now();
    env.cmd()
        .env(
            "EVENTFLOW_MONGO_URI",
            "mongodb://admin:secreto@127.0.0.1:1/?serverSelectionTimeoutMS=2000",
        )
        .args(["usuarios", "listar"])
        .assert()
        .code(7)
        .stderr(predicate::str::contains("127.0.0.1:1"))
        .stderr(predicate::str::contains("secreto").not());
    // Not a timing assertion on speed: a guard against the driver's 30 s default.
    assert!(inicio.elapsed() < std::time::Duration::from_secs(20));
}

#[tokio::test]
async fn redis_caido_sale_con_7_y_no_muestra_la_contrasena() {
    let env = Entorno::nuevo();
    env.cmd()
        .env("EVENTFLOW_REDIS_URL", "redis://:secreto@127.0.0.1:1/")
        .args(["usuarios", "listar"])
        .assert()
        .code(7)
        .stderr(predicate::str::contains("127.0.0.1:1"))
        .stderr(predicate::str::contains("secreto").not());
}

#[tokio::test]
async fn una_uri_sin_la_otra_es_error_de_uso() {
    let env = Entorno::nuevo();
    env.cmd()
        .env_remove("EVENTFLOW_REDIS_URL")
        .args(["usuarios", "listar"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("EVENTFLOW_REDIS_URL"));
}

#[tokio::test]
async fn la_ayuda_no_muestra_la_contrasena_del_entorno() {
    let env = Entorno::nuevo();
    env.cmd()
        .env(
            "EVENTFLOW_MONGO_URI",
            "mongodb://admin:secreto@127.0.0.1:1/",
        )
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("secreto").not());
}

#[tokio::test]
async fn estado_muestra_backend_y_versiones_sin_contrasena() {
    let env = Entorno::nuevo();
    let out = env.cmd().args(["-o", "json", "estado"]).assert().success();
    let e = json(&out.get_output().stdout);
    assert_eq!(e["backend"], "mongo");
    assert_eq!(e["componentes"].as_array().unwrap().len(), 2);
    assert!(
        e["componentes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["conectado"] == true)
    );
    env.cmd()
        .env("EVENTFLOW_REDIS_URL", "redis://:secreto@127.0.0.1:1/")
        .args(["estado"])
        .assert()
        .code(7)
        .stdout(predicate::str::contains("secreto").not())
        .stderr(predicate::str::contains("secreto").not());
}

en_ambos_backends!(
    crear_usuario_imprime_el_usuario_creado_en_json,
    email_invalido_sale_con_2_y_no_escribe_nada,
    falta_un_flag_obligatorio_sale_con_2,
    email_duplicado_sale_con_4_y_nombra_el_choque,
    documento_duplicado_sale_con_4_y_sin_documento_no_choca,
    tipo_de_documento_sin_numero_sale_con_2,
    id_malformado_sale_con_2_y_desconocido_con_3,
    operadores_de_consulta_se_guardan_como_texto_literal,
    listar_actualizar_historial_y_eliminar,
);
