//! What is Redis's own, against a real redis-server: the key layout the contract names,
//! failure when the server is down or mute, durability across a `kill -9`, a flushed
//! script cache, and the deployment's ACL user. The store's guarantees shared with
//! SQLite are in `contrato`.

use std::time::{Duration, Instant};

use eventflow::config::Uri;
use eventflow::domain::{Estado, UsuarioId};
use eventflow::store::redis::RedisStore;
use eventflow::store::{CobroStore, ContadorStore, Reclamo, RegistroStore, ReservaStore};
use redis::AsyncCommands;

use crate::fixtures::{evento_con, reclamada, retencion, tomada};
use crate::helpers::{Entorno, RedisPropio};

async fn almacen(env: &Entorno) -> RedisStore {
    RedisStore::conectar(&Uri::new(env.redis_url.clone()), &env.prefijo)
        .await
        .expect("conectar con redis-server")
}

#[tokio::test]
async fn las_claves_de_un_evento_llevan_su_etiqueta_de_hash() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = evento_con(&s, 10).await;
    let u = UsuarioId::generar();
    let r = s.tomar(&retencion(&e, &u, 2)).await.unwrap();
    let id = &r.reserva.id;
    s.registrar_cobro(&r, true).await.unwrap();

    let mut con = env.redis().await;
    let contador: i64 = con
        .get(env.clave(&format!("evento:{{{e}}}:entradas")))
        .await
        .unwrap();
    assert_eq!(contador, 8);
    let capacidad: i64 = con
        .get(env.clave(&format!("evento:{{{e}}}:aforo")))
        .await
        .unwrap();
    assert_eq!(capacidad, 10);
    let miembros: Vec<String> = con
        .smembers(env.clave(&format!("evento:{{{e}}}:reservas")))
        .await
        .unwrap();
    assert_eq!(miembros, vec![id.to_string()]);
    let retenida: Option<f64> = con
        .zscore(env.clave(&format!("evento:{{{e}}}:retenidas")), id.as_str())
        .await
        .unwrap();
    assert_eq!(retenida, Some(r.expira.millis() as f64));
    let estado: String = con
        .hget(env.clave(&format!("reserva:{{{e}}}:{id}")), "estado")
        .await
        .unwrap();
    assert_eq!(estado, "pendiente");
    let bloqueo = env.clave(&format!("reserva:{u}:{{{e}}}"));
    let titular: String = con.get(&bloqueo).await.unwrap();
    assert_eq!(titular, id.as_str());
    let pttl: i64 = con.pttl(&bloqueo).await.unwrap();
    assert!(pttl > 800_000 && pttl <= 900_000, "{pttl}");
    let aprobado: String = con
        .hget(env.clave(&format!("pago:{{{e}}}:{id}")), "aprobado")
        .await
        .unwrap();
    assert_eq!(aprobado, "1");
    let indice: String = con
        .get(env.clave(&format!("reserva-evento:{id}")))
        .await
        .unwrap();
    assert_eq!(indice, e.as_str());
    // The registry of events is sharded over 16 slots (issue 14): one shard lists it.
    let registro: Vec<String> = con.keys(env.clave("eventos:{eventos-*}")).await.unwrap();
    assert_eq!(registro.len(), 1, "{registro:?}");
    let eventos: Vec<String> = con.smembers(&registro[0]).await.unwrap();
    assert_eq!(eventos, vec![e.to_string()]);

    // Every per-event key carries the tag; only the global indexes do not.
    let etiqueta = format!("{{{e}}}");
    let claves: Vec<String> = con.keys(env.clave("*")).await.unwrap();
    // Ten: `orden` (the listing's id index) sits beside the `reservas` set.
    assert_eq!(claves.len(), 10, "{claves:?}");
    for k in claves {
        let resto = k.strip_prefix(&env.prefijo).unwrap();
        let global = resto.starts_with("eventos:{eventos-") || resto.starts_with("reserva-evento:");
        assert!(global || resto.contains(&etiqueta), "{k}");
    }
}

#[tokio::test]
async fn un_servidor_caido_es_backend_caido_rapido_y_sin_contrasena() {
    let inicio = Instant::now();
    let url = Uri::new("redis://:secreto@127.0.0.1:1/");
    let err = RedisStore::conectar(&url, "").await.unwrap_err();
    // A guard against hanging, not a speed test: a loaded machine may be slow to refuse.
    assert!(
        inicio.elapsed() < Duration::from_secs(20),
        "{:?}",
        inicio.elapsed()
    );
    assert!(err.es_backend_caido(), "{err:?}");
    assert_eq!(err.exit_code(), 7);
    let texto = format!("{err} {err:?}");
    assert!(!texto.contains("secreto"), "{texto}");
    assert!(texto.contains("127.0.0.1:1"), "{texto}");
}

#[tokio::test]
async fn un_servidor_que_no_responde_falla_por_plazo_y_no_cuelga() {
    // Accepts connections (the kernel does, from the backlog) but never answers PING.
    let mudo = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = Uri::new(format!(
        "redis://:secreto@127.0.0.1:{}/",
        mudo.local_addr().unwrap().port()
    ));
    let inicio = Instant::now();
    let err = RedisStore::conectar(&url, "").await.unwrap_err();
    let tardo = inicio.elapsed();
    // The kind of failure is the point: the connection's own deadline ran out. The bound
    // only guards against hanging forever, wide enough for a loaded 2-core machine.
    assert!(err.es_backend_caido(), "{err:?}");
    assert!(err.to_string().contains("no responde a tiempo"), "{err}");
    assert!(tardo < Duration::from_secs(20), "{tardo:?}");
    assert!(!format!("{err} {err:?}").contains("secreto"), "{err}");
}

#[tokio::test]
async fn ping_informa_la_version_del_servidor() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let v = s.ping().await.unwrap();
    assert!(v.starts_with("Redis ") && v.len() > "Redis ".len(), "{v}");
}

/// Waits, by polling INFO, until the AOF holds everything written so far and at least one
/// `everysec` fsync period has passed since the write.
async fn esperar_fsync_aof(url: &str, desde: Instant) {
    let cliente = redis::Client::open(url).unwrap();
    let mut con = cliente.get_multiplexed_async_connection().await.unwrap();
    let plazo = Instant::now() + Duration::from_secs(20);
    loop {
        let info: String = redis::cmd("INFO")
            .arg("persistence")
            .query_async(&mut con)
            .await
            .unwrap();
        let campo = |nombre: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(nombre)?.strip_prefix(':'))
                .map(str::trim)
                .map(str::to_owned)
        };
        let escrito = campo("aof_last_write_status").as_deref() == Some("ok")
            && campo("aof_pending_bio_fsync").as_deref() == Some("0")
            && campo("aof_rewrite_in_progress").as_deref() == Some("0");
        if escrito && desde.elapsed() >= Duration::from_millis(1100) {
            return;
        }
        assert!(Instant::now() < plazo, "el AOF no se sincronizó:\n{info}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn una_reserva_escrita_sobrevive_a_kill_9_con_aof_everysec() {
    let mut servidor = RedisPropio::arrancar();
    let env = Entorno::con_redis(&servidor.url());
    let s = almacen(&env).await;
    let e = evento_con(&s, 10).await;
    let r = tomada(&s, &e, 3).await;
    let escrito = Instant::now();
    esperar_fsync_aof(&servidor.url(), escrito).await;

    servidor.reiniciar();

    let s = almacen(&env).await;
    assert_eq!(s.ver(&r.reserva.id).await.unwrap(), r);
    assert_eq!(s.contador(&e).await.unwrap(), Some(7));
    assert_eq!(s.eventos().await.unwrap(), vec![e.clone()]);
    // The held seats still come back exactly once after the restart.
    let r = reclamada(&s, &r, Reclamo::Forzada).await;
    assert!(s.liberar(&r, Estado::Compensada).await.unwrap());
    assert_eq!(s.contador(&e).await.unwrap(), Some(10));
}

#[tokio::test]
async fn los_scripts_se_recargan_solos_si_el_servidor_los_olvida() {
    // SCRIPT FLUSH empties the cache of the whole server: a private one, so no other
    // test's scripts vanish under it.
    let servidor = RedisPropio::arrancar();
    let env = Entorno::con_redis(&servidor.url());
    let s = almacen(&env).await;
    let e = evento_con(&s, 10).await;
    tomada(&s, &e, 1).await;
    // A restart or SCRIPT FLUSH empties the script cache: EVALSHA answers NOSCRIPT.
    let mut con = env.redis().await;
    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut con)
        .await
        .unwrap();
    let r = reclamada(&s, &tomada(&s, &e, 2).await, Reclamo::Forzada).await;
    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(s.liberar(&r, Estado::Compensada).await.unwrap());
    assert_eq!(s.contador(&e).await.unwrap(), Some(9));
}

#[tokio::test]
async fn con_el_servidor_caido_cada_operacion_es_backend_caido() {
    let mut servidor = RedisPropio::arrancar();
    let s = RedisStore::conectar(&Uri::new(servidor.url()), "p:")
        .await
        .unwrap();
    let e = evento_con(&s, 10).await;
    servidor.matar();
    for _ in 0..3 {
        let inicio = Instant::now();
        let err = s.contador(&e).await.unwrap_err();
        // A guard against hanging on a dead server; the error kind is what is asserted.
        assert!(
            inicio.elapsed() < Duration::from_secs(20),
            "{:?}",
            inicio.elapsed()
        );
        assert!(err.es_backend_caido(), "{err:?}");
        let err = s
            .tomar(&retencion(&e, &UsuarioId::generar(), 1))
            .await
            .unwrap_err();
        assert!(err.es_backend_caido(), "{err:?}");
    }
}

/// The ACL rule of the app's Redis user in `docker-compose.yml`, as redis-server
/// arguments: everything after `--user` up to the end of that shell line.
fn usuario_acl_del_despliegue() -> Vec<String> {
    let compose = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docker-compose.yml"),
    )
    .unwrap();
    let mut lineas = compose
        .lines()
        .skip_while(|l| !l.contains("--user eventflow"));
    let mut regla = String::new();
    for l in lineas.by_ref() {
        regla.push_str(l.trim().trim_end_matches('\\'));
        regla.push(' ');
        if !l.trim_end().ends_with('\\') {
            break;
        }
    }
    let regla = regla
        .split_once("--user")
        .expect("regla ACL en docker-compose.yml")
        .1;
    let mut args = vec!["--user".to_owned()];
    for t in regla.split_whitespace() {
        // The shell's quoting and escapes, as the container's shell would strip them.
        let t = t.replace("\\|", "|").replace('"', "");
        args.push(t.replace(">$$REDIS_APP_PASSWORD", ">clave-de-prueba"));
    }
    args
}

#[test]
fn el_usuario_acl_del_despliegue_basta_para_vender_compensar_y_verificar() {
    let servidor = RedisPropio::arrancar_con(usuario_acl_del_despliegue());
    let url = format!(
        "redis://eventflow:clave-de-prueba@127.0.0.1:{}/",
        servidor.puerto
    );
    let env = Entorno::con_redis(&url);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (e, u) = rt.block_on(async {
        let alm = env.almacen().await;
        let e = crate::reservar::evento(&alm, 5, 100).await;
        (e, crate::reservar::usuarios(&alm, 1).await.remove(0))
    });
    let reservar = |extra: &[(&str, &str)]| {
        let mut c = env.cmd();
        c.args(["-o", "json", "reservar", "--evento", e.as_str()])
            .args(["--usuario", u.as_str(), "--entradas", "1"]);
        for (k, v) in extra {
            c.env(k, v);
        }
        c
    };
    env.cmd().arg("estado").assert().success();
    let ok = reservar(&[]).assert().success();
    let id = crate::helpers::json(&ok.get_output().stdout)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    env.cmd().args(["reservas", "ver", &id]).assert().success();
    // Listings page through the per-event id index (`pagina_reservas.lua`).
    env.cmd()
        .args(["reservas", "listar", "--todos", "--evento", e.as_str()])
        .assert()
        .success();
    env.cmd()
        .args(["reservas", "cancelar", &id])
        .assert()
        .success();
    // A purchase that dies after charging, finished by `compensar` once its hold expires.
    reservar(&[
        ("EVENTFLOW_RESERVA_TTL_S", "1"),
        ("EVENTFLOW_FAULT", "crash@pago"),
    ])
    .assert()
    .failure();
    let inicio = Instant::now();
    loop {
        let out = env
            .cmd()
            .args(["-o", "json", "compensar"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        if crate::helpers::json(&out.stdout)
            .as_array()
            .is_some_and(|v| !v.is_empty())
        {
            break;
        }
        assert!(
            inicio.elapsed() < Duration::from_secs(20),
            "compensar no terminó la compra"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    env.cmd()
        .args(["verificar", "--reparar"])
        .assert()
        .success();
    env.cmd()
        .args(["eventos", "actualizar", e.as_str(), "--aforo", "7"])
        .assert()
        .success();
    // Its purchases were all undone: the in-flight check (one GET per event) lets it go.
    env.cmd()
        .args(["usuarios", "eliminar", u.as_str()])
        .assert()
        .success();
    env.cmd()
        .args(["eventos", "eliminar", e.as_str()])
        .assert()
        .success();
}
