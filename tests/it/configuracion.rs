//! Where settings come from, through the real binary and only what it shows: the backend
//! and data file `estado -o json` reports, and where data lands. Precedence is flag >
//! environment > config file (`--config`, then `EVENTFLOW_CONFIG`, then `eventflow.toml`
//! in the platform's config directory) > default; `--backend` forces one. Also
//! `completions`, for every shell.

use std::path::{Path, PathBuf};

use predicates::prelude::*;
use serde_json::Value;

use crate::crudo;
use crate::helpers::{Entorno, json};

/// The binary with no `EVENTFLOW_*` setting at all (only this test's private XDG dirs).
fn sin_ajustes(env: &Entorno) -> assert_cmd::Command {
    let mut c = env.cmd();
    for v in [
        "EVENTFLOW_DATA_DIR",
        "EVENTFLOW_MONGO_URI",
        "EVENTFLOW_REDIS_URL",
        "EVENTFLOW_MONGO_DB",
        "EVENTFLOW_REDIS_PREFIX",
    ] {
        c.env_remove(v);
    }
    c
}

fn estado(c: &mut assert_cmd::Command) -> Value {
    let out = c.args(["-o", "json", "estado"]).assert().success();
    json(&out.get_output().stdout)
}

/// The SQLite file `estado` reports.
fn archivo_de(c: &mut assert_cmd::Command) -> PathBuf {
    let e = estado(c);
    assert_eq!(e["backend"], "embedded", "{e}");
    PathBuf::from(e["componentes"][0]["direccion"].as_str().unwrap())
}

fn en(dir: &Path) -> PathBuf {
    dir.join("eventflow.sqlite3")
}

/// Writes a config file setting `data_dir` (plus `extra` lines); returns its path.
fn archivo_config(ruta: &Path, data_dir: &Path, extra: &str) -> PathBuf {
    std::fs::create_dir_all(ruta.parent().unwrap()).unwrap();
    std::fs::write(
        ruta,
        format!("data_dir = {:?}\n{extra}", data_dir.display().to_string()),
    )
    .unwrap();
    ruta.to_owned()
}

#[test]
fn el_archivo_del_directorio_de_configuracion_se_lee_sin_que_nadie_lo_nombre() {
    let env = Entorno::embedded();
    let datos = env.dir.path().join("del-archivo");
    // $XDG_CONFIG_HOME/eventflow/eventflow.toml
    let defecto = env.dir.path().join("config/eventflow/eventflow.toml");
    archivo_config(&defecto, &datos, "");
    assert_eq!(archivo_de(&mut sin_ajustes(&env)), en(&datos));
    assert!(
        en(&datos).is_file(),
        "los datos no están en {}",
        datos.display()
    );
}

#[test]
fn config_gana_a_eventflow_config_que_gana_al_archivo_por_defecto() {
    let env = Entorno::embedded();
    let d = |n: &str| env.dir.path().join(n);
    archivo_config(&d("config/eventflow/eventflow.toml"), &d("defecto"), "");
    let uno = archivo_config(&d("uno.toml"), &d("uno"), "");
    let dos = archivo_config(&d("dos.toml"), &d("dos"), "");
    assert_eq!(
        archivo_de(sin_ajustes(&env).env("EVENTFLOW_CONFIG", &uno)),
        en(&d("uno"))
    );
    assert_eq!(
        archivo_de(
            sin_ajustes(&env)
                .env("EVENTFLOW_CONFIG", &uno)
                .arg("--config")
                .arg(&dos)
        ),
        en(&d("dos"))
    );
}

#[test]
fn un_flag_gana_al_entorno_que_gana_al_archivo() {
    let env = Entorno::embedded();
    let d = |n: &str| env.dir.path().join(n);
    let archivo = archivo_config(&d("a.toml"), &d("archivo"), "");
    let base = || {
        let mut c = sin_ajustes(&env);
        c.arg("--config").arg(&archivo);
        c
    };
    assert_eq!(archivo_de(&mut base()), en(&d("archivo")));
    assert_eq!(
        archivo_de(base().env("EVENTFLOW_DATA_DIR", d("entorno"))),
        en(&d("entorno"))
    );
    assert_eq!(
        archivo_de(
            base()
                .env("EVENTFLOW_DATA_DIR", d("entorno"))
                .arg("--data-dir")
                .arg(d("flag"))
        ),
        en(&d("flag"))
    );
}

#[test]
fn un_archivo_nombrado_que_falta_o_no_se_entiende_sale_con_2_y_lo_nombra() {
    let env = Entorno::embedded();
    let falta = env.dir.path().join("no-existe.toml");
    sin_ajustes(&env)
        .arg("--config")
        .arg(&falta)
        .arg("estado")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(falta.display().to_string()))
        .stderr(predicate::str::contains("no existe"));
    let malo = env.dir.path().join("malo.toml");
    std::fs::write(&malo, "clave_que_no_existe = 1\n").unwrap();
    sin_ajustes(&env)
        .env("EVENTFLOW_CONFIG", &malo)
        .arg("estado")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(malo.display().to_string()))
        .stderr(predicate::str::contains("clave_que_no_existe"))
        // In Spanish, with the line, and the keys that are valid.
        .stderr(predicate::str::contains("(línea 1): clave desconocida"))
        .stderr(predicate::str::contains(
            "las claves válidas son: backend, mongo_uri",
        ));
    std::fs::write(&malo, "data_dir = \"/tmp/x\"\nbackend = \"foo\"\n").unwrap();
    sin_ajustes(&env)
        .env("EVENTFLOW_CONFIG", &malo)
        .arg("estado")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "(línea 2): valor desconocido \"foo\"; los valores válidos son: mongo, embedded",
        ));
}

/// The MongoDB + Redis settings of `env` as config-file lines.
fn servidores_en_toml(env: &Entorno) -> String {
    format!(
        "mongo_uri = {:?}\nredis_url = {:?}\nmongo_db = {:?}\nredis_prefix = {:?}\n",
        env.mongo_uri, env.redis_url, env.db, env.prefijo
    )
}

#[tokio::test]
async fn las_uris_del_archivo_eligen_mongo_y_los_datos_van_a_esa_base() {
    let env = Entorno::nuevo();
    let archivo = env.dir.path().join("config/eventflow/eventflow.toml");
    std::fs::create_dir_all(archivo.parent().unwrap()).unwrap();
    std::fs::write(&archivo, servidores_en_toml(&env)).unwrap();
    let e = estado(&mut sin_ajustes(&env));
    assert_eq!(e["backend"], "mongo", "{e}");
    sin_ajustes(&env)
        .args(["usuarios", "crear", "--nombre", "Ana", "--apellido", "B"])
        .args(["--email", "ana@example.com"])
        .assert()
        .success();
    assert_eq!(
        crudo::usuarios_crudos(&env).await,
        vec![("ana@example.com".to_owned(), "Ana".to_owned())]
    );
}

#[tokio::test]
async fn backend_fuerza_el_embebido_aunque_haya_uris() {
    let env = Entorno::nuevo();
    let datos = env.dir.path().join("embebido");
    let archivo = archivo_config(
        &env.dir.path().join("config/eventflow/eventflow.toml"),
        &datos,
        &servidores_en_toml(&env),
    );
    // URIs in the file and in the environment; the flag and the variable force SQLite.
    assert_eq!(
        archivo_de(env.cmd().arg("--backend").arg("embedded")),
        en(&datos)
    );
    assert_eq!(
        archivo_de(env.cmd().env("EVENTFLOW_BACKEND", "embedded")),
        en(&datos)
    );
    // The same in the file: a file `backend` is still below an environment variable.
    std::fs::write(
        &archivo,
        format!(
            "backend = \"embedded\"\n{}",
            std::fs::read_to_string(&archivo).unwrap()
        ),
    )
    .unwrap();
    assert_eq!(archivo_de(&mut sin_ajustes(&env)), en(&datos));
    let e = estado(env.cmd().env("EVENTFLOW_BACKEND", "mongo"));
    assert_eq!(e["backend"], "mongo", "{e}");
    assert_eq!(crudo::usuarios_guardados(&env).await, 0);
}

#[test]
fn una_uri_sin_la_otra_es_un_error_de_uso() {
    let env = Entorno::nuevo();
    sin_ajustes(&env)
        .env("EVENTFLOW_MONGO_URI", &env.mongo_uri)
        .arg("estado")
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty());
    sin_ajustes(&env)
        .arg("--redis-url")
        .arg(&env.redis_url)
        .arg("estado")
        .assert()
        .code(2);
}

#[test]
fn completions_genera_un_script_para_cada_shell_que_nombra_los_subcomandos() {
    let env = Entorno::embedded();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = env.cmd().args(["completions", shell]).assert().success();
        let script = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
        assert!(script.len() > 1000, "{shell}: {script}");
        for sub in [
            "usuarios",
            "eventos",
            "reservar",
            "reservas",
            "compensar",
            "verificar",
            "simular",
            "serve",
        ] {
            assert!(script.contains(sub), "{shell} no menciona {sub}");
        }
        assert!(script.contains("eventflow"), "{shell}");
    }
    env.cmd()
        .args(["completions", "cmd.exe"])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty())
        .stderr(predicate::str::contains("cmd.exe"));
    // No store is opened to print a script.
    assert!(!env.datos().exists());
}

/// `estado`'s configuration section: the file read, and each setting's value and source.
#[test]
fn estado_dice_de_donde_viene_cada_ajuste_sin_mostrar_secretos() {
    let env = Entorno::embedded();
    let datos = env.dir.path().join("datos");
    let ruta = archivo_config(
        &env.dir.path().join("cfg/eventflow.toml"),
        &env.dir.path().join("ignorado"),
        "reserva_ttl_s = 600\n",
    );
    let e = estado(
        sin_ajustes(&env)
            .env("EVENTFLOW_PAGO_RECHAZO", "0.25")
            .env("EVENTFLOW_MONGO_URI", "mongodb://app:S3creto@db:27017/")
            .args(["--backend", "embedded", "--config"])
            .arg(&ruta)
            .arg("--data-dir")
            .arg(&datos),
    );
    let c = &e["configuracion"];
    assert_eq!(c["archivo"], ruta.display().to_string(), "{c}");
    let ajuste = |clave: &str| -> (Value, Value) {
        let a = c["ajustes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["clave"] == clave)
            .unwrap_or_else(|| panic!("falta {clave}: {c}"))
            .clone();
        (a["valor"].clone(), a["origen"].clone())
    };
    assert_eq!(
        ajuste("data_dir"),
        (datos.display().to_string().into(), "flag".into())
    );
    assert_eq!(ajuste("backend"), ("embedded".into(), "flag".into()));
    assert_eq!(
        ajuste("config"),
        (ruta.display().to_string().into(), "flag".into())
    );
    assert_eq!(ajuste("reserva_ttl_s"), ("600".into(), "archivo".into()));
    assert_eq!(ajuste("pago_rechazo"), ("0.25".into(), "entorno".into()));
    assert_eq!(ajuste("pago_latencia_ms"), ("0".into(), "defecto".into()));
    let (uri, origen) = ajuste("mongo_uri");
    assert_eq!(origen, "entorno");
    assert!(uri.as_str().unwrap().contains("***"), "{uri}");
    assert!(!e.to_string().contains("S3creto"), "{e}");
}

/// Issue 12: an error about a setting names the source it came from.
#[test]
fn un_archivo_con_solo_mongo_uri_dice_que_al_archivo_le_falta_redis_url() {
    let env = Entorno::embedded();
    let ruta = env.dir.path().join("solo-mongo.toml");
    std::fs::write(&ruta, "mongo_uri = \"mongodb://app:S3creto@db:27017/\"\n").unwrap();
    let out = sin_ajustes(&env)
        .arg("--config")
        .arg(&ruta)
        .args(["usuarios", "listar"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains(&format!(
            "el archivo de configuración {} tiene mongo_uri pero le falta redis_url",
            ruta.display()
        )),
        "{err}"
    );
    assert!(!err.contains("S3creto"), "{err}");
    // A bad value from a flag is named by its flag, by the commands that use it; the
    // others do not read it.
    let id = "65f1c2a4e1b2c3d4e5f6a7b8";
    sin_ajustes(&env)
        .args([
            "--reserva-ttl-s",
            "0",
            "reservar",
            "--evento",
            id,
            "--usuario",
            id,
        ])
        .args(["--entradas", "1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--reserva-ttl-s inválido \"0\""));
    sin_ajustes(&env)
        .args(["--reserva-ttl-s", "0", "usuarios", "listar"])
        .assert()
        .success();
}

/// Issue 13: payment settings are read only by the commands that charge or refund.
#[test]
fn un_pago_rechazo_invalido_no_rompe_listados_ni_un_verificar_de_lectura() {
    let env = Entorno::embedded();
    let con = |args: &[&str]| {
        let mut c = env.cmd();
        c.env("EVENTFLOW_PAGO_RECHAZO", "2").args(args);
        c
    };
    con(&["usuarios", "listar"]).assert().success();
    con(&["verificar"]).assert().success();
    let id = "65f1c2a4e1b2c3d4e5f6a7b8";
    con(&[
        "reservar",
        "--evento",
        id,
        "--usuario",
        id,
        "--entradas",
        "1",
    ])
    .assert()
    .code(2)
    .stderr(predicate::str::contains(
        "EVENTFLOW_PAGO_RECHAZO inválido \"2\"",
    ));
    con(&["verificar", "--reparar"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("EVENTFLOW_PAGO_RECHAZO"));
}
