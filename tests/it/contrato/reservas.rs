//! The reservation store's guarantees beyond the state machine, one body each, run on
//! every backend: taking seats by the store's clock, releasing once, capacity
//! compare-and-set, the payment ledger and idempotency keys.

use eventflow::Error;
use eventflow::domain::{ClaveIdempotencia, Estado, ReservaId, UsuarioId};
use eventflow::store::{Fase, Paso, Reclamo};

use crate::fixtures::{aforo, completada, evento_con, reclamada, retencion, tomada, vencida};
use crate::helpers::Entorno;

async fn un_cobro_tras_vencer_la_retencion_se_rechaza_y_no_cobra(env: Entorno) {
    let s = env.almacen().await.reservas;
    let e = evento_con(s.as_ref(), 10).await;
    let r = vencida(s.as_ref(), &e, 2).await;
    s.marcar(&r, Paso::Pago, Fase::Iniciado).await.unwrap();
    let err = s.registrar_cobro(&r, true).await.unwrap_err();
    assert!(err.to_string().contains("venció"), "{err}");
    assert!(s.cobro(&r).await.unwrap().is_none());
}

async fn liberar_deja_expirada_solo_si_nunca_se_cobro(env: Entorno) {
    let s = env.almacen().await.reservas;
    let e = evento_con(s.as_ref(), 10).await;
    // Charged, then refunded: it ends `compensada` even when asked for `expirada`.
    let cobrada = tomada(s.as_ref(), &e, 2).await;
    s.registrar_cobro(&cobrada, true).await.unwrap();
    let cobrada = reclamada(s.as_ref(), &cobrada, Reclamo::Forzada).await;
    // An approved charge standing keeps the seats out until it is refunded.
    let err = s.liberar(&cobrada, Estado::Expirada).await.unwrap_err();
    assert_eq!(err.exit_code(), 4, "{err}");
    assert_eq!(s.contador(&e).await.unwrap(), Some(8));
    s.registrar_reembolso(&cobrada).await.unwrap();
    assert!(s.liberar(&cobrada, Estado::Expirada).await.unwrap());
    let fin = s.ver(&cobrada.reserva.id).await.unwrap();
    assert_eq!(fin.reserva.estado, Estado::Compensada);
    // Never charged: `expirada`.
    let libre = reclamada(
        s.as_ref(),
        &tomada(s.as_ref(), &e, 1).await,
        Reclamo::Forzada,
    )
    .await;
    assert!(s.liberar(&libre, Estado::Expirada).await.unwrap());
    assert_eq!(
        s.ver(&libre.reserva.id).await.unwrap().reserva.estado,
        Estado::Expirada
    );
    // A second release adds nothing.
    assert!(!s.liberar(&libre, Estado::Expirada).await.unwrap());
    assert_eq!(s.contador(&e).await.unwrap(), Some(10));
    // A state that keeps seats is not a final state.
    let otra = tomada(s.as_ref(), &e, 1).await;
    assert_eq!(
        s.liberar(&otra, Estado::Confirmada)
            .await
            .unwrap_err()
            .exit_code(),
        2
    );
}

async fn tomar_descuenta_y_registra_la_reserva_pendiente_con_el_reloj_del_almacen(env: Entorno) {
    let s = env.almacen().await.reservas;
    let e = evento_con(s.as_ref(), 10).await;
    let mut ret = retencion(&e, &UsuarioId::generar(), 3);
    ret.clave = Some(ClaveIdempotencia::parse("compra-1").unwrap());
    let antes = s.reloj().await.unwrap();
    let r = s.tomar(&ret).await.unwrap();
    let despues = s.reloj().await.unwrap();
    assert_eq!(s.contador(&e).await.unwrap(), Some(7));
    assert_eq!(r.reserva.id, ret.reserva);
    assert_eq!(r.reserva.estado, Estado::Pendiente);
    assert_eq!(r.reserva.importe, 7500);
    assert!(antes <= r.reserva.creada && r.reserva.creada <= despues);
    assert_eq!(r.expira.millis(), r.reserva.creada.millis() + 900_000);
    assert_eq!(r.clave, ret.clave);
    assert!(r.en_curso() && r.fecha_compra.is_none() && r.toma.is_none());
    assert_eq!(s.ver(&ret.reserva).await.unwrap(), r);
    assert_eq!(s.eventos().await.unwrap(), vec![e.clone()]);
    assert!(!s.crear_contador(&e, aforo(500)).await.unwrap());
    assert_eq!(s.contador(&e).await.unwrap(), Some(7));
}

async fn tomar_sin_entradas_en_curso_o_sin_contador_no_toma_nada(env: Entorno) {
    let s = env.almacen().await.reservas;
    let e = evento_con(s.as_ref(), 5).await;
    let u = UsuarioId::generar();
    s.tomar(&retencion(&e, &u, 3)).await.unwrap();
    let ret = retencion(&e, &UsuarioId::generar(), 3);
    match s.tomar(&ret).await.unwrap_err() {
        Error::SinEntradas {
            pedidas,
            disponibles,
            ..
        } => assert_eq!((pedidas, disponibles), (3, 2)),
        otro => panic!("se esperaba SinEntradas, llegó {otro:?}"),
    }
    assert!(matches!(
        s.ver(&ret.reserva).await.unwrap_err(),
        Error::NoEncontrado { .. }
    ));
    let err = s.tomar(&retencion(&e, &u, 1)).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("el usuario {u} ya tiene una compra en curso para el evento {e}")
    );
    assert_eq!(err.exit_code(), 4);
    let sin = eventflow::domain::EventoId::generar();
    let err = s.tomar(&retencion(&sin, &u, 1)).await.unwrap_err();
    assert!(
        matches!(&err, Error::NoEncontrado { entidad: "evento", id } if id == sin.as_str()),
        "{err:?}"
    );
    assert_eq!(s.contador(&e).await.unwrap(), Some(2));
}

async fn tomar_libera_antes_las_retenciones_vencidas_cuyo_pago_no_empezo(env: Entorno) {
    let s = env.almacen().await.reservas;
    let e = evento_con(s.as_ref(), 4).await;
    let abandonada = vencida(s.as_ref(), &e, 2).await;
    let pagando = vencida(s.as_ref(), &e, 2).await;
    s.marcar(&pagando, Paso::Pago, Fase::Iniciado)
        .await
        .unwrap();
    assert_eq!(s.contador(&e).await.unwrap(), Some(0));
    // Two seats come back from the abandoned hold; the one whose payment may have
    // started is left to `compensar`.
    let r = tomada(s.as_ref(), &e, 2).await;
    assert_eq!(r.reserva.estado, Estado::Pendiente);
    let a = s.ver(&abandonada.reserva.id).await.unwrap();
    assert_eq!(a.reserva.estado, Estado::Expirada);
    assert!(!a.en_curso());
    assert!(s.ver(&pagando.reserva.id).await.unwrap().en_curso());
    assert_eq!(s.contador(&e).await.unwrap(), Some(0));
    let err = s
        .tomar(&retencion(&e, &UsuarioId::generar(), 1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::SinEntradas { disponibles: 0, .. }),
        "{err:?}"
    );
    // The abandoned buyer's lock went with it.
    s.tomar(&retencion(&e, &abandonada.reserva.usuario_id, 1))
        .await
        .unwrap_err();
    assert_eq!(
        s.en_curso_de_usuario(&abandonada.reserva.usuario_id)
            .await
            .unwrap(),
        None
    );
}

async fn vencidas_usa_el_reloj_del_almacen(env: Entorno) {
    let s = env.almacen().await.reservas;
    let e = evento_con(s.as_ref(), 10).await;
    let v = vencida(s.as_ref(), &e, 1).await;
    tomada(s.as_ref(), &e, 1).await;
    let fuera = reclamada(
        s.as_ref(),
        &vencida(s.as_ref(), &e, 1).await,
        Reclamo::Forzada,
    )
    .await;
    s.liberar(&fuera, Estado::Expirada).await.unwrap();
    let ids: Vec<ReservaId> = s
        .vencidas()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.reserva.id)
        .collect();
    assert_eq!(ids, vec![v.reserva.id]);
}

async fn el_aforo_cambia_por_comparacion_y_nunca_inventa_entradas(env: Entorno) {
    let s = env.almacen().await.reservas;
    let e = evento_con(s.as_ref(), 10).await;
    completada(s.as_ref(), &e, 3).await;
    assert_eq!(s.aforo(&e).await.unwrap(), Some(aforo(10)));
    // Two admins raise 10 → 20 at once: one wins, the other is told to retry.
    let (a, b) = tokio::join!(
        s.ajustar_aforo(&e, aforo(10), aforo(20)),
        s.ajustar_aforo(&e, aforo(10), aforo(20))
    );
    assert!(a.is_ok() != b.is_ok(), "{a:?} {b:?}");
    let perdedor = a.err().or(b.err()).unwrap();
    assert_eq!(perdedor.exit_code(), 4, "{perdedor}");
    assert!(perdedor.to_string().contains("cambió"), "{perdedor}");
    assert_eq!(s.aforo(&e).await.unwrap(), Some(aforo(20)));
    assert_eq!(s.contador(&e).await.unwrap(), Some(17));
    // Lowering stops at the seats out.
    let err = s.ajustar_aforo(&e, aforo(20), aforo(2)).await.unwrap_err();
    assert_eq!(err.exit_code(), 4);
    assert!(err.to_string().contains("como mínimo debe ser 3"), "{err}");
    s.ajustar_aforo(&e, aforo(20), aforo(3)).await.unwrap();
    assert_eq!(s.contador(&e).await.unwrap(), Some(0));
    // A stale capacity is refused even when the change would fit.
    let err = s.ajustar_aforo(&e, aforo(20), aforo(30)).await.unwrap_err();
    assert_eq!(err.exit_code(), 4);
    assert_eq!(s.aforo(&e).await.unwrap(), Some(aforo(3)));
}

async fn borrar_un_evento_con_entradas_fuera_se_niega_y_nombra_la_compra(env: Entorno) {
    let s = env.almacen().await.reservas;
    let e = evento_con(s.as_ref(), 10).await;
    let r = tomada(s.as_ref(), &e, 2).await;
    let err = s.borrar_evento(&e, aforo(10)).await.unwrap_err();
    assert_eq!(err.exit_code(), 4);
    assert!(err.to_string().contains(r.reserva.id.as_str()), "{err}");
    let r = reclamada(s.as_ref(), &r, Reclamo::Forzada).await;
    s.liberar(&r, Estado::Expirada).await.unwrap();
    // A capacity that moved since it was read is refused too.
    assert_eq!(
        s.borrar_evento(&e, aforo(11))
            .await
            .unwrap_err()
            .exit_code(),
        4
    );
    s.borrar_evento(&e, aforo(10)).await.unwrap();
    assert_eq!(s.contador(&e).await.unwrap(), None);
    assert!(s.de_evento(&e).await.unwrap().is_empty());
    assert!(s.eventos().await.unwrap().is_empty());
}

async fn el_libro_de_pagos_y_las_claves_guardan_la_primera_decision(env: Entorno) {
    let s = env.almacen().await.reservas;
    let e = evento_con(s.as_ref(), 10).await;
    let r = tomada(s.as_ref(), &e, 2).await;
    let primero = s.registrar_cobro(&r, false).await.unwrap();
    assert!(!primero.aprobado);
    assert_eq!(s.registrar_cobro(&r, true).await.unwrap(), primero);
    // Nothing approved: nothing to refund.
    assert!(s.registrar_reembolso(&r).await.unwrap().is_none());
    let c = completada(s.as_ref(), &e, 1).await;
    let reembolso = s.registrar_reembolso(&c).await.unwrap().unwrap();
    assert!(reembolso.reembolsado.is_some());
    assert_eq!(s.registrar_reembolso(&c).await.unwrap().unwrap(), reembolso);
    let cobros = s.cobros_de_evento(&e).await.unwrap();
    assert_eq!(cobros.len(), 2);

    let k = ClaveIdempotencia::parse("clave-1").unwrap();
    let (a, b) = (ReservaId::generar(), ReservaId::generar());
    assert_eq!(s.vincular_clave(&k, "h1", &a).await.unwrap(), None);
    assert_eq!(
        s.vincular_clave(&k, "h2", &b).await.unwrap(),
        Some(("h1".to_owned(), a))
    );
}

en_ambos_backends!(
    cluster;
    un_cobro_tras_vencer_la_retencion_se_rechaza_y_no_cobra,
    liberar_deja_expirada_solo_si_nunca_se_cobro,
    tomar_descuenta_y_registra_la_reserva_pendiente_con_el_reloj_del_almacen,
    tomar_sin_entradas_en_curso_o_sin_contador_no_toma_nada,
    tomar_libera_antes_las_retenciones_vencidas_cuyo_pago_no_empezo,
    vencidas_usa_el_reloj_del_almacen,
    el_aforo_cambia_por_comparacion_y_nunca_inventa_entradas,
    borrar_un_evento_con_entradas_fuera_se_niega_y_nombra_la_compra,
    el_libro_de_pagos_y_las_claves_guardan_la_primera_decision,
);
