//! Issue 14, scaling out: every Lua script on its event's slot of a real Redis Cluster,
//! a race of separate processes over events on different primaries, a primary killed in
//! the middle of a sale, `WAIT` refusing a write no replica acknowledged, the sharded
//! registry of events and its migration, and `estado` naming the nodes. The booking
//! suites also run whole on the cluster (`en_ambos_backends!(cluster; ...)`).

mod caida;
mod carrera;
mod movido;
mod propio;

use std::collections::BTreeSet;

use eventflow::domain::{ClaveIdempotencia, Estado, EventoId, UsuarioId};
use eventflow::store::{Fase, FiltroReservas, Paso, Reclamo, ReservaStore};
use predicates::prelude::*;

use crate::fixtures::{aforo, reclamada, tomada};
use crate::helpers::{Entorno, RedisPropio, json};

/// The scripts the walk below runs; the test fails when `lua/` holds one it does not.
const RECORRIDOS: &[&str] = &[
    "ajustar_aforo",
    "borrar_evento",
    "completar",
    "confirmar",
    "fijar_contador",
    "liberar",
    "marcar",
    "pagina_reservas",
    "recalcular_contador",
    "reclamar",
    "registrar_cobro",
    "registrar_reembolso",
    "reloj",
    "restaurar",
    "tomar",
    "vincular_clave",
];

/// Every store operation that runs a script, on events spread over the primaries, after
/// flushing every node's script cache (so each first call takes the `NOSCRIPT` → `EVAL`
/// path). A key outside the event's slot would make Redis refuse the script.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cada_script_corre_en_el_slot_de_su_evento() {
    let lua = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store/redis/lua");
    let en_disco: BTreeSet<String> = std::fs::read_dir(lua)
        .unwrap()
        .map(|f| {
            f.unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let recorridos: BTreeSet<String> = RECORRIDOS.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        en_disco, recorridos,
        "un script nuevo necesita su paso en esta prueba"
    );

    let env = Entorno::cluster();
    let mut con = env.redis().await;
    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut con)
        .await
        .unwrap();
    let s = env.almacen().await.reservas;
    for _ in 0..6 {
        recorrer_un_evento(s.as_ref()).await;
    }
}

async fn recorrer_un_evento(s: &dyn ReservaStore) {
    let e = EventoId::generar();
    assert!(s.crear_contador(&e, aforo(10)).await.unwrap());
    s.ajustar_aforo(&e, aforo(10), aforo(12)).await.unwrap();
    let k = ClaveIdempotencia::parse(&format!("k-{e}")).unwrap();
    let vendida = tomada(s, &e, 2).await;
    assert_eq!(
        s.vincular_clave(&k, "huella", &vendida.reserva.id)
            .await
            .unwrap(),
        None
    );
    s.marcar(&vendida, Paso::Pago, Fase::Iniciado)
        .await
        .unwrap();
    assert!(s.registrar_cobro(&vendida, true).await.unwrap().aprobado);
    let vendida = s.confirmar(&vendida).await.unwrap();
    assert!(s.completar(&vendida).await.unwrap());
    let cancelada = reclamada(s, &vendida, Reclamo::Cancelacion).await;
    assert!(s.registrar_reembolso(&cancelada).await.unwrap().is_some());
    assert!(s.liberar(&cancelada, Estado::Cancelada).await.unwrap());

    let otra = tomada(s, &e, 3).await;
    let otra = reclamada(s, &otra, Reclamo::Forzada).await;
    assert!(s.restaurar(&otra, None).await.unwrap());
    assert!(s.liberar(&otra, Estado::Expirada).await.unwrap());

    let n = s.contador(&e).await.unwrap();
    assert_eq!(n, Some(12));
    assert!(s.fijar_contador(&e, n, 12).await.unwrap());
    assert_eq!(
        s.recalcular_contador(&e, aforo(12)).await.unwrap(),
        (Some(12), 12)
    );
    // The reads that span events and slots.
    assert!(s.eventos().await.unwrap().contains(&e));
    assert_eq!(s.de_evento(&e).await.unwrap().len(), 2);
    let del_evento = FiltroReservas {
        evento: Some(e.clone()),
        ..FiltroReservas::default()
    };
    assert_eq!(s.pagina(&del_evento, 10, None).await.unwrap().len(), 2);
    assert!(
        s.vencidas()
            .await
            .unwrap()
            .iter()
            .all(|r| r.reserva.evento_id != e)
    );
    assert_eq!(
        s.en_curso_de_usuario(&UsuarioId::generar()).await.unwrap(),
        None
    );
    s.ajustar_aforo(&e, aforo(12), aforo(10)).await.unwrap();
    s.borrar_evento(&e, aforo(10)).await.unwrap();
    assert!(!s.eventos().await.unwrap().contains(&e));
}

/// CP: a write no replica acknowledges is a backend that is down (exit 7), and the
/// purchase it left is compensated once its hold expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sin_replica_que_confirme_la_compra_sale_con_7_y_se_compensa() {
    let servidor = RedisPropio::arrancar();
    let env = Entorno::con_redis(&servidor.url());
    let alm = env.almacen().await;
    let e = crate::reservar::evento(&alm, 5, 100).await;
    let u = crate::reservar::usuarios(&alm, 1).await.remove(0);
    env.cmd()
        .env("EVENTFLOW_REDIS_REPLICAS_MIN", "1")
        .env("EVENTFLOW_RESERVA_TTL_S", "1")
        .args(["reservar", "--evento", e.as_str(), "--usuario", u.as_str()])
        .args(["--entradas", "2"])
        .assert()
        .code(7)
        .stderr(predicate::str::contains("réplicas exigidas"));
    assert!(
        alm.usuarios
            .ver(&u)
            .await
            .unwrap()
            .historial_compras
            .is_empty()
    );
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let out = env
        .cmd()
        .args(["-o", "json", "compensar"])
        .assert()
        .success();
    let hechas = json(&out.get_output().stdout);
    assert_eq!(hechas.as_array().unwrap().len(), 1, "{hechas}");
    assert_eq!(crate::eventos::contador(&env, e.as_str()).await, Some(5));
    crate::reservar::verificar_ok(&env, &e).await;
}

#[test]
fn las_replicas_exigidas_y_la_lectura_se_validan_nombrando_el_valor() {
    let env = Entorno::nuevo();
    for (var, valor) in [
        ("EVENTFLOW_REDIS_REPLICAS_MIN", "dos"),
        ("EVENTFLOW_REDIS_REPLICAS_MIN", "-1"),
        ("EVENTFLOW_MONGO_LECTURA", "secundario"),
    ] {
        env.cmd()
            .env(var, valor)
            .args(["eventos", "listar"])
            .assert()
            .code(2)
            .stdout("")
            .stderr(predicate::str::contains(var).and(predicate::str::contains(valor)));
    }
}

/// The AP side on purpose: listings and `ver` may read from secondaries; a standalone
/// server (NX-27017 here) serves `secondaryPreferred` reads itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn las_lecturas_ap_pueden_ir_a_secundarios() {
    let env = Entorno::nuevo();
    let alm = env.almacen().await;
    let e = crate::reservar::evento(&alm, 5, 100).await;
    for lectura in ["primario", "secundario_preferido"] {
        let out = env
            .cmd()
            .env("EVENTFLOW_MONGO_LECTURA", lectura)
            .args(["-o", "json", "eventos", "ver", e.as_str()])
            .assert()
            .success();
        assert_eq!(json(&out.get_output().stdout)["id"], e.as_str());
        env.cmd()
            .env("EVENTFLOW_MONGO_LECTURA", lectura)
            .args(["eventos", "listar"])
            .assert()
            .success()
            .stdout(predicate::str::contains(e.as_str()));
    }
    let uri = format!("{}&readPreference=secondaryPreferred", env.mongo_uri);
    env.cmd()
        .env("EVENTFLOW_MONGO_URI", uri)
        .args(["eventos", "ver", e.as_str()])
        .assert()
        .success();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estado_muestra_el_modo_los_nodos_y_cuales_responden() {
    let env = Entorno::cluster();
    let out = env.cmd().args(["-o", "json", "estado"]).assert().success();
    let v = json(&out.get_output().stdout);
    let redis = &v["componentes"][1];
    assert_eq!(redis["topologia"]["modo"], "cluster", "{v}");
    assert_eq!(redis["topologia"]["replicas_min"], 1, "{v}");
    let nodos = redis["topologia"]["nodos"].as_array().unwrap();
    assert_eq!(nodos.len(), 6, "{v}");
    assert!(nodos.iter().all(|n| n["responde"] == true), "{v}");
    assert_eq!(nodos.iter().filter(|n| n["rol"] == "primario").count(), 3);

    let uno = Entorno::nuevo();
    let out = uno.cmd().args(["-o", "json", "estado"]).assert().success();
    let v = json(&out.get_output().stdout);
    assert_eq!(v["componentes"][1]["topologia"]["modo"], "nodo", "{v}");
    assert_eq!(v["componentes"][1]["topologia"]["replicas_min"], 0, "{v}");
}

/// Data written before issue 14 lists its events in one set; they are still found, and
/// moved into the sharded registry the first time the events are listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn los_eventos_del_conjunto_antiguo_se_encuentran_y_se_migran() {
    let env = Entorno::nuevo();
    let s = env.almacen().await.reservas;
    let e = crate::fixtures::evento_con(s.as_ref(), 4).await;
    let r = tomada(s.as_ref(), &e, 1).await;
    let mut con = env.redis().await;
    let fragmentos: Vec<String> = (0..16)
        .map(|n| env.clave(&format!("eventos:{{eventos-{n}}}")))
        .collect();
    let () = redis::cmd("DEL")
        .arg(&fragmentos)
        .query_async(&mut con)
        .await
        .unwrap();
    let () = redis::cmd("SADD")
        .arg(env.clave("eventos"))
        .arg(e.as_str())
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(s.eventos().await.unwrap(), vec![e.clone()]);
    assert_eq!(s.listar(&Default::default()).await.unwrap().len(), 1);
    let antiguo: Vec<String> = redis::cmd("SMEMBERS")
        .arg(env.clave("eventos"))
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(antiguo.is_empty(), "{antiguo:?}");
    let mut en_fragmentos = Vec::new();
    for f in &fragmentos {
        let m: Vec<String> = redis::cmd("SMEMBERS")
            .arg(f)
            .query_async(&mut con)
            .await
            .unwrap();
        en_fragmentos.extend(m);
    }
    assert_eq!(en_fragmentos, vec![e.to_string()]);
    assert_eq!(
        s.ver(&r.reserva.id).await.unwrap().reserva.estado,
        Estado::Pendiente
    );
}
