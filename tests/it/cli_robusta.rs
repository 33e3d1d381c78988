//! Issue 10, "a CLI that never panics" and "messages that tell the truth", through the
//! real binary and real pipes: a closed stdout or stderr is a normal end with the
//! contract's exit code, many short-lived processes never print a driver panic, range
//! errors name the range, and no URI secret reaches any output.

use std::io::Read;
use std::process::{Command, Stdio};

use crate::helpers::{Entorno, puerto_libre};

/// A pipe whose reading end is already closed, as in `eventflow ... | true`.
fn tuberia_cerrada() -> std::io::PipeWriter {
    let (lector, escritor) = std::io::pipe().unwrap();
    drop(lector);
    escritor
}

fn texto(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn ver_un_id_inexistente_con_salidas_cerradas_sale_con_3(env: Entorno) {
    // `eventflow usuarios ver 000000000000000000000000 2>&1 | true`
    let escritor = tuberia_cerrada();
    let estado = env
        .cmd_std()
        .args(["usuarios", "ver", "000000000000000000000000"])
        .stdout(escritor.try_clone().unwrap())
        .stderr(escritor)
        .status()
        .unwrap();
    assert_eq!(estado.code(), Some(3));
}

async fn un_listado_con_stdout_cerrado_termina_en_silencio(env: Entorno) {
    for i in 0..3 {
        env.cmd()
            .args([
                "usuarios",
                "crear",
                "--nombre",
                "A",
                "--apellido",
                "B",
                "--email",
            ])
            .arg(format!("u{i}@example.com"))
            .assert()
            .success();
    }
    let salida = env
        .cmd_std()
        .args(["-o", "json", "usuarios", "listar"])
        .stdout(tuberia_cerrada())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(salida.status.code(), Some(0));
    assert_eq!(texto(&salida.stderr), "");
}

async fn importar_con_stderr_cerrado_conserva_el_codigo_8(env: Entorno) {
    let ruta = env.dir.path().join("u.jsonl");
    std::fs::write(
        &ruta,
        "{\"nombre\":\"A\",\"apellido\":\"B\",\"email\":\"a@x.com\"}\n{\"nombre\":\"roto\"\n",
    )
    .unwrap();
    let salida = env
        .cmd_std()
        .args(["-o", "json", "usuarios", "importar"])
        .arg(&ruta)
        .stdout(Stdio::piped())
        .stderr(tuberia_cerrada())
        .output()
        .unwrap();
    assert_eq!(salida.status.code(), Some(8));
    let resumen: serde_json::Value = serde_json::from_slice(&salida.stdout).unwrap();
    assert_eq!(resumen["insertadas"], 1);
}

async fn los_mensajes_de_rango_dicen_la_verdad(env: Entorno) {
    env.cmd()
        .args([
            "eventos",
            "crear",
            "--nombre",
            "X",
            "--fecha",
            "2030-01-01T00:00:00Z",
            "--lugar",
            "Y",
            "--aforo",
            "10",
            "--precio",
            "100000000001",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "debe estar entre 0 y 100000000000",
        ));
    env.cmd()
        .args([
            "reservar",
            "--evento",
            "aaaaaaaaaaaaaaaaaaaaaaaa",
            "--usuario",
            "bbbbbbbbbbbbbbbbbbbbbbbb",
            "--entradas",
            "99999999999999999999",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("debe estar entre 1 y 100000"));
}

en_ambos_backends!(
    ver_un_id_inexistente_con_salidas_cerradas_sale_con_3,
    un_listado_con_stdout_cerrado_termina_en_silencio,
    importar_con_stderr_cerrado_conserva_el_codigo_8,
    los_mensajes_de_rango_dicen_la_verdad,
);

/// Forty short-lived processes on MongoDB + Redis: none prints a panic on its way out.
#[test]
fn muchos_procesos_cortos_nunca_imprimen_un_panico_del_driver() {
    let env = Entorno::nuevo();
    let hijos: Vec<_> = (0..40)
        .map(|i| {
            let mut c = env.cmd_std_paciente();
            if i % 2 == 0 {
                c.args(["eventos", "listar"]);
            } else {
                c.args(["usuarios", "ver", "000000000000000000000000"]);
            }
            c.stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, mut h) in hijos.into_iter().enumerate() {
        let mut err = String::new();
        h.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        let estado = h.wait().unwrap();
        assert_eq!(estado.code(), Some(if i % 2 == 0 { 0 } else { 3 }), "{err}");
        assert!(!err.contains("panic"), "proceso {i}: {err}");
    }
}

/// `estado` and its errors never print a password, however it is written.
#[test]
fn estado_no_imprime_contrasenas_con_barra_ni_interrogacion() {
    let cerrado = puerto_libre();
    // (mongo, redis, exit code): an unencoded `/` or `?` in a password is a usage error
    // that says how to encode it; an encoded one reaches the (closed) server: exit 7.
    for (mongo, redis, codigo) in [
        (
            format!("mongodb://raiz:S3cr/tPw?x@127.0.0.1:{cerrado}/?serverSelectionTimeoutMS=300"),
            format!("redis://127.0.0.1:{cerrado}/0"),
            2,
        ),
        (
            format!("mongodb://127.0.0.1:{cerrado}/?serverSelectionTimeoutMS=300"),
            format!("redis://:S3cr/tPw@127.0.0.1:{cerrado}/0"),
            2,
        ),
        (
            format!(
                "mongodb://raiz:S3cr%2FtPw@127.0.0.1:{cerrado}/?serverSelectionTimeoutMS=300&authMechanismProperties=AWS_SESSION_TOKEN:S3cr/tPw"
            ),
            format!("redis://usuario:S3cr%2FtPw@127.0.0.1:{cerrado}"),
            7,
        ),
    ] {
        for formato in ["table", "json"] {
            let salida = Command::new(crate::helpers::binario())
                .args(["-o", formato, "estado"])
                .env("EVENTFLOW_MONGO_URI", &mongo)
                .env("EVENTFLOW_REDIS_URL", &redis)
                .env("EVENTFLOW_LOG", "debug")
                .env_remove("EVENTFLOW_BACKEND")
                .env_remove("EVENTFLOW_CONFIG")
                .output()
                .unwrap();
            let todo = texto(&salida.stdout) + &texto(&salida.stderr);
            assert_eq!(salida.status.code(), Some(codigo), "{todo}");
            assert!(todo.contains("***"), "{todo}");
            for secreto in ["S3cr", "tPw"] {
                assert!(!todo.contains(secreto), "{secreto} en:\n{todo}");
            }
        }
    }
}
