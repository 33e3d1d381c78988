//! The reservation store's guarantees that every backend must keep, one body each, run
//! on Redis and on SQLite: no oversell under a race, and a release that adds seats once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use eventflow::Error;
use eventflow::domain::{Estado, UsuarioId};
use eventflow::store::Reclamo;

use crate::fixtures::{evento_con, reclamada, retencion, tomada};
use crate::helpers::Entorno;

async fn quinientas_compras_concurrentes_venden_exactamente_cincuenta_entradas(env: Entorno) {
    let s = env.almacen().await.reservas;
    let e = evento_con(s.as_ref(), 50).await;

    // A watcher samples the counter the whole time: it must never be seen below zero.
    let fin = Arc::new(AtomicBool::new(false));
    let minimo = Arc::new(AtomicI64::new(i64::MAX));
    let vigia = {
        let (s, e, fin, minimo) = (s.clone(), e.clone(), fin.clone(), minimo.clone());
        tokio::spawn(async move {
            while !fin.load(Ordering::Relaxed) {
                let c = s.contador(&e).await.unwrap().unwrap();
                minimo.fetch_min(c, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        })
    };

    let tareas: Vec<_> = (0..500)
        .map(|_| {
            let (s, e) = (s.clone(), e.clone());
            tokio::spawn(async move { s.tomar(&retencion(&e, &UsuarioId::generar(), 1)).await })
        })
        .collect();
    let (mut vendidas, mut agotadas) = (0, 0);
    for t in tareas {
        match t.await.unwrap() {
            Ok(_) => vendidas += 1,
            Err(Error::SinEntradas { disponibles, .. }) => {
                assert_eq!(disponibles, 0);
                agotadas += 1;
            }
            Err(otro) => panic!("error inesperado: {otro:?}"),
        }
    }
    fin.store(true, Ordering::Relaxed);
    vigia.await.unwrap();

    assert_eq!((vendidas, agotadas), (50, 450));
    assert_eq!(s.contador(&e).await.unwrap(), Some(0));
    assert!(minimo.load(Ordering::Relaxed) >= 0);
    let registros = s.de_evento(&e).await.unwrap();
    assert_eq!(registros.len(), 50);
    assert!(
        registros
            .iter()
            .all(|r| r.reserva.estado == Estado::Pendiente)
    );
}

async fn liberar_dos_veces_devuelve_las_entradas_una_sola_vez(env: Entorno) {
    let s = env.almacen().await.reservas;
    let e = evento_con(s.as_ref(), 10).await;
    let r = tomada(s.as_ref(), &e, 4).await;
    assert_eq!(s.contador(&e).await.unwrap(), Some(6));
    let r = reclamada(s.as_ref(), &r, Reclamo::Forzada).await;

    assert!(s.liberar(&r, Estado::Compensada).await.unwrap());
    assert_eq!(s.contador(&e).await.unwrap(), Some(10));
    assert!(!s.liberar(&r, Estado::Expirada).await.unwrap());
    assert_eq!(s.contador(&e).await.unwrap(), Some(10));

    let final_ = s.ver(&r.reserva.id).await.unwrap();
    assert_eq!(final_.reserva.estado, Estado::Compensada);
    assert!(final_.terminada);
    assert!(s.vencidas().await.unwrap().is_empty());
    // The lock went with the hold: the same user may buy again at once.
    s.tomar(&retencion(&e, &r.reserva.usuario_id, 1))
        .await
        .unwrap();
}

async fn veinte_liberaciones_concurrentes_devuelven_las_entradas_una_vez(env: Entorno) {
    let s = env.almacen().await.reservas;
    let e = evento_con(s.as_ref(), 10).await;
    let r = reclamada(
        s.as_ref(),
        &tomada(s.as_ref(), &e, 3).await,
        Reclamo::Forzada,
    )
    .await;
    let tareas: Vec<_> = (0..20)
        .map(|_| {
            let (s, r) = (s.clone(), r.clone());
            tokio::spawn(async move { s.liberar(&r, Estado::Compensada).await })
        })
        .collect();
    let mut liberadas = 0;
    for t in tareas {
        if t.await.unwrap().unwrap() {
            liberadas += 1;
        }
    }
    assert_eq!(liberadas, 1);
    assert_eq!(s.contador(&e).await.unwrap(), Some(10));
}

en_ambos_backends!(
    cluster;
    quinientas_compras_concurrentes_venden_exactamente_cincuenta_entradas,
    liberar_dos_veces_devuelve_las_entradas_una_sola_vez,
    veinte_liberaciones_concurrentes_devuelven_las_entradas_una_vez,
);
