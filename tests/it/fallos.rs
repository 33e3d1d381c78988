//! Real faults: a redis-server killed and restarted in the middle of a sale, and a
//! MongoDB that dies during the history step.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use eventflow::compra::{Fallos, PasarelaSimulada, Reservador, Solicitud};
use eventflow::domain::{Entradas, Estado};
use eventflow::store::{FiltroReservas, Paso};
use predicates::prelude::*;

use crate::crudo;
use crate::helpers::{Entorno, NxPropio, RedisPropio};
use crate::reservar::{evento, usuarios};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn un_reinicio_de_redis_a_mitad_de_venta_no_pierde_compras_confirmadas() {
    let mut redis = RedisPropio::arrancar();
    let env = Entorno::con_redis(&redis.url());
    let alm = env.almacen().await;
    let e = evento(&alm, 150, 100).await;
    let us = usuarios(&alm, 200).await;
    let pasarela = Arc::new(
        PasarelaSimulada::new(alm.reservas.clone(), 0.0, Duration::from_millis(5), Some(3))
            .unwrap(),
    );
    let r = Arc::new(Reservador {
        almacen: alm.clone(),
        pasarela,
        ttl: Duration::from_secs(1),
        fallos: Fallos::ninguno(),
    });
    let hechas = Arc::new(AtomicUsize::new(0));
    let venta = {
        let (r, e, hechas) = (r.clone(), e.clone(), hechas.clone());
        tokio::spawn(async move {
            let sem = Arc::new(tokio::sync::Semaphore::new(16));
            let mut tareas = Vec::new();
            for u in us {
                let (r, e, hechas) = (r.clone(), e.clone(), hechas.clone());
                let permiso = sem.clone().acquire_owned().await.unwrap();
                tareas.push(tokio::spawn(async move {
                    let _p = permiso;
                    let res = r
                        .reservar(Solicitud {
                            evento: e,
                            usuario: u,
                            entradas: Entradas::new(1).unwrap(),
                            clave: None,
                        })
                        .await;
                    hechas.fetch_add(1, Ordering::SeqCst);
                    res
                }));
            }
            let mut confirmadas = Vec::new();
            for t in tareas {
                match t.await.unwrap() {
                    Ok(res) => confirmadas.push(res.id),
                    // During the restart a purchase may fail; it must not be lost if confirmed.
                    Err(
                        eventflow::Error::BackendCaido { .. }
                        | eventflow::Error::HistorialFallido { .. }
                        | eventflow::Error::SinEntradas { .. }
                        | eventflow::Error::Conflicto(_),
                    ) => {}
                    Err(otro) => panic!("error inesperado: {otro}"),
                }
            }
            confirmadas
        })
    };
    // Kill redis -9 in the middle of the sale, then bring it back on the same AOF.
    let inicio = Instant::now();
    while hechas.load(Ordering::SeqCst) < 60 {
        assert!(
            inicio.elapsed() < Duration::from_secs(60),
            "la venta no avanza"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    redis.reiniciar();
    let confirmadas = venta.await.unwrap();
    assert!(!confirmadas.is_empty());

    // Holds of purchases cut by the restart expire after 1 s; then the model says a
    // repair brings everything back into agreement.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let informes = eventflow::compra::verificar(&r, Some(&e), true)
        .await
        .unwrap();
    assert!(informes[0].consistente, "{:?}", informes[0]);
    for id in &confirmadas {
        let reg = alm.reservas.ver(id).await.unwrap();
        assert_eq!(
            reg.reserva.estado,
            Estado::Confirmada,
            "compra {id} perdida"
        );
    }
    let vendidas = informes[0].vendidas;
    assert!(vendidas >= confirmadas.len() as i64);
    assert_eq!(informes[0].contador, Some(150 - vendidas));
    let informes = eventflow::compra::verificar(&r, Some(&e), false)
        .await
        .unwrap();
    assert!(informes[0].consistente, "{:?}", informes[0].problemas);
    // The raw stores agree, judged without the store code: every confirmed purchase is
    // there, and the seats and money add up.
    crudo::comprobar_invariantes(&env, e.as_str()).await;
    let registros = crudo::registros_crudos(&env, e.as_str()).await;
    for id in &confirmadas {
        assert!(
            registros
                .iter()
                .any(|x| x.id == id.as_str() && x.estado == "confirmada"),
            "compra {id} perdida en el almacén crudo"
        );
    }
    assert_eq!(crudo::asientos_vendidos(&env, e.as_str()).await, vendidas);
}

#[tokio::test]
async fn mongo_caido_durante_el_historial_reembolsa_y_libera() {
    let mut nx = NxPropio::arrancar();
    let env = Entorno::con_mongo(&nx.uri());
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 1000).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let hijo = env
        .cmd_std()
        .args([
            "reservar",
            "--evento",
            e.as_str(),
            "--usuario",
            u.as_str(),
            "--entradas",
            "2",
        ])
        .env("EVENTFLOW_PAGO_LATENCIA_MS", "1500")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the purchase is paying, then kill MongoDB under it.
    let inicio = Instant::now();
    loop {
        let rs = alm
            .reservas
            .listar(&FiltroReservas::default())
            .await
            .unwrap();
        if rs.first().is_some_and(|r| r.paso == Paso::Pago) {
            break;
        }
        assert!(
            inicio.elapsed() < Duration::from_secs(30),
            "la compra no llega al pago"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    nx.matar();
    let out = hijo.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(
        predicate::str::contains("reembols").eval(&stderr),
        "{stderr}"
    );
    assert!(
        predicate::str::contains("liberaron").eval(&stderr),
        "{stderr}"
    );
    assert_eq!(alm.reservas.contador(&e).await.unwrap(), Some(5));
    let reg = alm
        .reservas
        .listar(&FiltroReservas::default())
        .await
        .unwrap()
        .remove(0);
    assert_eq!(reg.reserva.estado, Estado::Compensada);
    let cobro = alm.reservas.cobro(&reg).await.unwrap().unwrap();
    assert!(cobro.aprobado && cobro.reembolsado.is_some());
    // The same, read raw from Redis (MongoDB is down).
    let id = reg.reserva.id.as_str();
    let crudo_ = crudo::registro_crudo(&env, e.as_str(), id).await.unwrap();
    assert_eq!(
        (crudo_.estado.as_str(), crudo_.terminada),
        ("compensada", true)
    );
    let c = crudo::cobro_crudo(&env, e.as_str(), id).await.unwrap();
    assert!(c.aprobado && c.reembolsado, "{c:?}");
    assert_eq!(crudo::contador_crudo(&env, e.as_str()).await, Some(5));
}
