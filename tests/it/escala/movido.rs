//! A slot that changes owner under a client whose slot map is stale: the old owner
//! answers the store's pipelines (a write with its `WAIT`, a script with its `WAIT`) with
//! `MOVED`, and the cluster client follows it and refreshes its map by itself (checked
//! here, since the store relies on it and sends pipelines rather than single commands).

use std::time::Duration;

use eventflow::config::Uri;
use eventflow::domain::{EventoId, UsuarioId};
use eventflow::store::redis::RedisStore;
use eventflow::store::{ContadorStore, RegistroStore};

use super::propio::ClusterPropio;
use crate::fixtures::{aforo, retencion};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn un_slot_que_cambia_de_primario_sigue_vendiendo_con_el_mapa_viejo() {
    let cluster = ClusterPropio::arrancar();
    let s = RedisStore::conectar(&Uri::new(cluster.url()), "movido:")
        .await
        .unwrap();
    let e = EventoId::generar();
    let clave = format!("movido:evento:{{{e}}}:entradas");
    let antes = cluster.primario_de(&clave).unwrap();
    let vivo = cluster.vivos().next().unwrap();
    let slot = cluster.cli(vivo, &["cluster", "keyslot", &clave]).unwrap();
    let otro = cluster
        .vivos()
        .find(|p| {
            *p != antes
                && cluster
                    .cli(*p, &["role"])
                    .is_some_and(|r| r.starts_with("master"))
        })
        .unwrap();
    let id = cluster.cli(otro, &["cluster", "myid"]).unwrap();
    // The slot holds no key yet, so it can change owner without migrating anything.
    for p in cluster.vivos().collect::<Vec<_>>() {
        cluster
            .cli(p, &["cluster", "setslot", slot.trim(), "node", id.trim()])
            .unwrap();
    }
    let plazo = std::time::Instant::now();
    while cluster.primario_de(&clave) != Some(otro) {
        assert!(
            plazo.elapsed() < Duration::from_secs(10),
            "el slot no cambió"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The store still maps the slot to `antes`: a plain pipeline and a script both land
    // there first and get MOVED.
    assert!(s.crear_contador(&e, aforo(3)).await.unwrap());
    let r = s
        .tomar(&retencion(&e, &UsuarioId::generar(), 2))
        .await
        .unwrap();
    assert_eq!(s.contador(&e).await.unwrap(), Some(1));
    assert_eq!(s.ver(&r.reserva.id).await.unwrap(), r);
}
