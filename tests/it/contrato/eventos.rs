//! The event store's contract, on every backend: CRUD, capacity compare-and-set, the
//! idempotent read-model updates the saga makes, and batch import.

use eventflow::Error;
use eventflow::domain::{Aforo, CambiosEvento, Entradas, EventoId, Fecha, Precio, ReservaId};

use crate::crudo;
use crate::fixtures::{evento, texto};
use crate::helpers::Entorno;

async fn crear_ver_y_listar_eventos(env: Entorno) {
    let alm = env.almacen().await;
    let eventos = alm.eventos.as_ref();
    let e = eventos.crear(evento("Concierto Rock", 1000)).await.unwrap();
    assert_eq!(e.entradas_disponibles, 1000);
    assert_eq!(eventos.ver(&e.id).await.unwrap(), e);
    let m = crudo::modelo_crudo(&env, e.id.as_str()).await.unwrap();
    assert_eq!((m.aforo_total, m.entradas_disponibles), (1000, 1000));
    assert!(m.reservas_activas.is_empty());

    let f = eventos.crear(evento("Teatro", 50)).await.unwrap();
    let todos = eventos.listar(10, None).await.unwrap();
    assert_eq!(todos.len(), 2);
    let primero = todos[0].id.clone();
    let despues = eventos.listar(10, Some(&primero)).await.unwrap();
    assert_eq!(despues.len(), 1);
    assert!(despues[0].id == e.id || despues[0].id == f.id);
    assert_ne!(despues[0].id, primero);

    let e2 = eventos.ver(&EventoId::generar()).await.unwrap_err();
    assert!(
        matches!(
            e2,
            Error::NoEncontrado {
                entidad: "evento",
                ..
            }
        ),
        "{e2}"
    );
}

async fn actualizar_evento_con_aforo_mueve_las_disponibles(env: Entorno) {
    let alm = env.almacen().await;
    let eventos = alm.eventos.as_ref();
    let e = eventos.crear(evento("Concierto", 100)).await.unwrap();
    eventos
        .aplicar_venta(&e.id, &ReservaId::generar(), Entradas::new(30).unwrap())
        .await
        .unwrap();
    let cambios = CambiosEvento {
        aforo: Some(Aforo::new(120).unwrap()),
        lugar: Some(texto("lugar", "Otro lugar")),
        ..CambiosEvento::default()
    };
    let nuevo = eventos
        .actualizar(&e.id, cambios, e.aforo_total)
        .await
        .unwrap();
    assert_eq!(nuevo.aforo_total.get(), 120);
    assert_eq!(nuevo.entradas_disponibles, 90);
    assert_eq!(nuevo.lugar.as_str(), "Otro lugar");
    assert_eq!(nuevo.nombre, e.nombre);

    // A stale `aforo_anterior` means someone else moved it: nothing changes.
    let cambios = CambiosEvento {
        aforo: Some(Aforo::new(80).unwrap()),
        ..CambiosEvento::default()
    };
    let err = eventos
        .actualizar(&e.id, cambios.clone(), e.aforo_total)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflicto(_)), "{err}");
    assert!(err.to_string().contains(e.id.as_str()));
    assert_eq!(eventos.ver(&e.id).await.unwrap(), nuevo);

    let err = eventos
        .actualizar(&EventoId::generar(), cambios, e.aforo_total)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoEncontrado { .. }), "{err}");

    let precio = CambiosEvento {
        precio: Some(Precio::new(0).unwrap()),
        fecha: Some(Fecha::parse("2026-01-02T03:04:05-03:00").unwrap()),
        ..CambiosEvento::default()
    };
    let nuevo = eventos
        .actualizar(&e.id, precio, nuevo.aforo_total)
        .await
        .unwrap();
    assert_eq!(nuevo.precio.get(), 0);
    assert_eq!(nuevo.fecha.to_string(), "2026-01-02T06:04:05Z");
    assert_eq!(nuevo.entradas_disponibles, 90);
}

async fn eliminar_evento_lo_borra(env: Entorno) {
    let alm = env.almacen().await;
    let eventos = alm.eventos.as_ref();
    let e = eventos.crear(evento("Concierto", 10)).await.unwrap();
    eventos.eliminar(&e.id).await.unwrap();
    let err = eventos.ver(&e.id).await.unwrap_err();
    assert!(matches!(err, Error::NoEncontrado { .. }));
    let err = eventos.eliminar(&e.id).await.unwrap_err();
    assert!(matches!(err, Error::NoEncontrado { .. }));
}

async fn aplicar_venta_dos_veces_descuenta_una_vez(env: Entorno) {
    let alm = env.almacen().await;
    let eventos = alm.eventos.as_ref();
    let e = eventos.crear(evento("Concierto", 100)).await.unwrap();
    let r = ReservaId::generar();
    let n = Entradas::new(3).unwrap();
    eventos.aplicar_venta(&e.id, &r, n).await.unwrap();
    eventos.aplicar_venta(&e.id, &r, n).await.unwrap();
    let visto = eventos.ver(&e.id).await.unwrap();
    assert_eq!(visto.entradas_disponibles, 97);
    assert_eq!(visto.reservas_activas, vec![r]);
}

async fn aplicar_venta_a_evento_inexistente_da_no_encontrado(env: Entorno) {
    let alm = env.almacen().await;
    let eventos = alm.eventos.as_ref();
    let err = eventos
        .aplicar_venta(
            &EventoId::generar(),
            &ReservaId::generar(),
            Entradas::new(1).unwrap(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NoEncontrado {
                entidad: "evento",
                ..
            }
        ),
        "{err}"
    );
}

async fn revertir_venta_dos_veces_restaura_una_vez(env: Entorno) {
    let alm = env.almacen().await;
    let eventos = alm.eventos.as_ref();
    let e = eventos.crear(evento("Concierto", 100)).await.unwrap();
    let (r1, r2) = (ReservaId::generar(), ReservaId::generar());
    let n = Entradas::new(4).unwrap();
    eventos.aplicar_venta(&e.id, &r1, n).await.unwrap();
    eventos.aplicar_venta(&e.id, &r2, n).await.unwrap();
    eventos.revertir_venta(&e.id, &r1, n).await.unwrap();
    eventos.revertir_venta(&e.id, &r1, n).await.unwrap();
    let visto = eventos.ver(&e.id).await.unwrap();
    assert_eq!(visto.entradas_disponibles, 96);
    assert_eq!(visto.reservas_activas, vec![r2]);
    // Reverting on an event that is gone is a no-op, like any repeat.
    eventos
        .revertir_venta(&EventoId::generar(), &r1, n)
        .await
        .unwrap();
}

async fn fijar_modelo_lectura_sobrescribe_ambos_campos(env: Entorno) {
    let alm = env.almacen().await;
    let eventos = alm.eventos.as_ref();
    let e = eventos.crear(evento("Concierto", 100)).await.unwrap();
    eventos
        .aplicar_venta(&e.id, &ReservaId::generar(), Entradas::new(5).unwrap())
        .await
        .unwrap();
    let activas = vec![ReservaId::generar(), ReservaId::generar()];
    eventos
        .fijar_modelo_lectura(&e.id, 42, &activas)
        .await
        .unwrap();
    let visto = eventos.ver(&e.id).await.unwrap();
    assert_eq!(visto.entradas_disponibles, 42);
    assert_eq!(visto.reservas_activas, activas);
    let err = eventos
        .fijar_modelo_lectura(&EventoId::generar(), 1, &[])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoEncontrado { .. }));
}

en_ambos_backends!(
    crear_ver_y_listar_eventos,
    actualizar_evento_con_aforo_mueve_las_disponibles,
    eliminar_evento_lo_borra,
    aplicar_venta_dos_veces_descuenta_una_vez,
    aplicar_venta_a_evento_inexistente_da_no_encontrado,
    revertir_venta_dos_veces_restaura_una_vez,
    fijar_modelo_lectura_sobrescribe_ambos_campos,
);
