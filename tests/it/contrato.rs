//! The reservation store's contract: every guarantee the saga relies on, one body each,
//! run on Redis and on SQLite (`en_ambos_backends!`). The state machine is checked as one
//! table (`TRANSICIONES`): from each state a purchase can be in, which operations the store
//! applies and which it refuses (`docs/consistency.md` holds the same table).

use eventflow::Error;
use eventflow::domain::{ClaveIdempotencia, Estado, ReservaId, UsuarioId};
use eventflow::store::{Fase, FiltroReservas, Paso, Reclamo, RegistroSaga, ReservaStore, Toma};

use crate::fixtures::{
    LEASE_MS, aforo, completada, evento_con, reclamada, retencion, tomada, vencida,
};
use crate::helpers::Entorno;

/// The states a purchase can be in, as the store sees them.
#[derive(Debug, Clone, Copy)]
enum Punto {
    /// Pending, hold live.
    Pendiente,
    /// Pending, hold expired, nobody took it over.
    Vencida,
    /// Charged and confirmed, history step not done.
    Confirmada,
    /// Finished sale.
    Completada,
    /// Taken over by a compensator holding a live lease.
    EnCompensacion,
    /// A finished sale taken over by a cancellation.
    EnCancelacion,
    /// Released: `expirada`.
    Terminada,
}

/// The operations, in the column order of `TRANSICIONES`.
#[derive(Debug, Clone, Copy)]
enum Op {
    Marcar,
    /// A new charge: refused, or read back from an existing ledger entry, means false.
    Cobrar,
    Confirmar,
    Completar,
    ReclamarFallo,
    ReclamarVencida,
    ReclamarForzada,
    ReclamarCancelacion,
    Liberar,
}

const OPS: [Op; 9] = [
    Op::Marcar,
    Op::Cobrar,
    Op::Confirmar,
    Op::Completar,
    Op::ReclamarFallo,
    Op::ReclamarVencida,
    Op::ReclamarForzada,
    Op::ReclamarCancelacion,
    Op::Liberar,
];

/// Which operations the store applies from each state (true) and which it refuses.
#[rustfmt::skip]
const TRANSICIONES: [(Punto, [bool; 9]); 7] = [
    //                        marcar cobrar confirmar completar fallo  vencida forzada cancel. liberar
    (Punto::Pendiente,      [true,  true,  true,     false,    true,  false,  true,   false,  false]),
    (Punto::Vencida,        [true,  false, true,     false,    true,  true,   true,   false,  false]),
    (Punto::Confirmada,     [true,  false, false,    true,     true,  false,  true,   false,  false]),
    (Punto::Completada,     [false, false, false,    false,    false, false,  false,  true,   false]),
    (Punto::EnCompensacion, [false, false, false,    false,    false, false,  false,  false,  true ]),
    (Punto::EnCancelacion,  [false, false, false,    false,    false, false,  false,  false,  false]),
    (Punto::Terminada,      [false, false, false,    false,    false, false,  false,  false,  false]),
];

async fn en_punto(s: &dyn ReservaStore, p: Punto) -> RegistroSaga {
    let e = evento_con(s, 10).await;
    match p {
        Punto::Pendiente => tomada(s, &e, 2).await,
        Punto::Vencida => vencida(s, &e, 2).await,
        Punto::Confirmada => {
            let r = tomada(s, &e, 2).await;
            s.registrar_cobro(&r, true).await.unwrap();
            s.confirmar(&r).await.unwrap()
        }
        Punto::Completada => completada(s, &e, 2).await,
        Punto::EnCompensacion => reclamada(s, &tomada(s, &e, 2).await, Reclamo::Forzada).await,
        Punto::EnCancelacion => {
            reclamada(s, &completada(s, &e, 2).await, Reclamo::Cancelacion).await
        }
        Punto::Terminada => {
            let r = reclamada(s, &tomada(s, &e, 2).await, Reclamo::Forzada).await;
            assert!(s.liberar(&r, Estado::Expirada).await.unwrap());
            s.ver(&r.reserva.id).await.unwrap()
        }
    }
}

/// Applies `op`; true when the store applied it.
async fn aplicar(s: &dyn ReservaStore, r: &RegistroSaga, op: Op) -> bool {
    let id = &r.reserva.id;
    let reclamar =
        |m: Reclamo| async move { s.reclamar(id, &m, LEASE_MS).await.unwrap().is_some() };
    match op {
        Op::Marcar => s.marcar(r, Paso::Pago, Fase::Iniciado).await.is_ok(),
        Op::Cobrar => {
            let antes = s.cobro(r).await.unwrap();
            match s.registrar_cobro(r, true).await {
                Ok(c) => match antes {
                    // Read back, never charged again.
                    Some(a) => {
                        assert_eq!(c, a);
                        false
                    }
                    None => true,
                },
                Err(e) => {
                    assert_eq!(e.exit_code(), 4, "{e}");
                    false
                }
            }
        }
        Op::Confirmar => s.confirmar(r).await.is_ok(),
        Op::Completar => s.completar(r).await.unwrap(),
        Op::ReclamarFallo => reclamar(Reclamo::Fallo("pago_rechazado x".into())).await,
        Op::ReclamarVencida => reclamar(Reclamo::Vencida).await,
        Op::ReclamarForzada => reclamar(Reclamo::Forzada).await,
        Op::ReclamarCancelacion => reclamar(Reclamo::Cancelacion).await,
        Op::Liberar => s.liberar(r, Estado::Expirada).await.unwrap_or(false),
    }
}

async fn cada_transicion_que_el_almacen_permite_y_ninguna_mas(env: Entorno) {
    let s = env.almacen().await.reservas;
    let mut fallos = Vec::new();
    for (punto, esperado) in TRANSICIONES {
        for (op, permitida) in OPS.into_iter().zip(esperado) {
            let r = en_punto(s.as_ref(), punto).await;
            let hecha = aplicar(s.as_ref(), &r, op).await;
            if hecha != permitida {
                fallos.push(format!(
                    "{punto:?} + {op:?}: se esperaba {permitida}, fue {hecha}"
                ));
            }
        }
    }
    assert!(fallos.is_empty(), "{}", fallos.join("\n"));
}

async fn un_compensador_caido_se_reemplaza_pero_la_saga_nunca_vuelve(env: Entorno) {
    let s = env.almacen().await.reservas;
    let e = evento_con(s.as_ref(), 10).await;
    let r = tomada(s.as_ref(), &e, 2).await;
    let tomado = s
        .reclamar(&r.reserva.id, &Reclamo::Forzada, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tomado.toma, Some(Toma::Compensacion));
    // The compensator stalls past its lease (by the store's clock).
    let limite = s.reloj().await.unwrap().millis() + 5;
    while s.reloj().await.unwrap().millis() <= limite {
        tokio::task::yield_now().await;
    }
    // The late saga is still fenced out: no charge, no confirmation, no progress.
    let err = s.registrar_cobro(&r, true).await.unwrap_err();
    assert_eq!(err.exit_code(), 4, "{err}");
    assert!(s.cobro(&r).await.unwrap().is_none());
    assert_eq!(s.confirmar(&r).await.unwrap_err().exit_code(), 4);
    assert!(s.marcar(&r, Paso::Pago, Fase::Iniciado).await.is_err());
    assert!(
        s.reclamar(&r.reserva.id, &Reclamo::Fallo("x y".into()), LEASE_MS)
            .await
            .unwrap()
            .is_none()
    );
    // Another compensator takes over and finishes.
    let otro = reclamada(s.as_ref(), &r, Reclamo::Vencida).await;
    assert!(s.liberar(&otro, Estado::Expirada).await.unwrap());
    assert_eq!(s.contador(&e).await.unwrap(), Some(10));
    let fin = s.ver(&r.reserva.id).await.unwrap();
    assert_eq!(fin.reserva.estado, Estado::Expirada);
    assert!(!fin.en_curso());
}

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

async fn ver_y_listar_encuentran_las_reservas_con_sus_filtros(env: Entorno) {
    let s = env.almacen().await.reservas;
    let e1 = evento_con(s.as_ref(), 10).await;
    let e2 = evento_con(s.as_ref(), 10).await;
    let u = UsuarioId::generar();
    let a = s.tomar(&retencion(&e1, &u, 1)).await.unwrap();
    let b = s.tomar(&retencion(&e2, &u, 2)).await.unwrap();
    let c = reclamada(
        s.as_ref(),
        &tomada(s.as_ref(), &e1, 3).await,
        Reclamo::Forzada,
    )
    .await;
    s.liberar(&c, Estado::Expirada).await.unwrap();

    let ids = |v: Vec<RegistroSaga>| v.into_iter().map(|r| r.reserva.id).collect::<Vec<_>>();
    let todas = s.listar(&FiltroReservas::default()).await.unwrap();
    assert_eq!(todas.len(), 3);
    assert!(
        todas
            .windows(2)
            .all(|w| w[0].reserva.creada <= w[1].reserva.creada)
    );
    let del_usuario = s
        .listar(&FiltroReservas {
            usuario: Some(u.clone()),
            ..FiltroReservas::default()
        })
        .await
        .unwrap();
    assert_eq!(
        ids(del_usuario),
        vec![a.reserva.id.clone(), b.reserva.id.clone()]
    );
    let expiradas = s
        .listar(&FiltroReservas {
            evento: Some(e1.clone()),
            estado: Some(Estado::Expirada),
            ..FiltroReservas::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(expiradas), vec![c.reserva.id.clone()]);
    assert_eq!(
        ids(s.de_evento(&e2).await.unwrap()),
        vec![b.reserva.id.clone()]
    );
    assert_eq!(s.ver(&a.reserva.id).await.unwrap(), a);
    assert!(s.en_curso_de_usuario(&u).await.unwrap().is_some());
    let err = s.ver(&ReservaId::generar()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::NoEncontrado {
                entidad: "reserva",
                ..
            }
        ),
        "{err:?}"
    );
    let err = s
        .reclamar(&ReservaId::generar(), &Reclamo::Forzada, LEASE_MS)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoEncontrado { .. }), "{err:?}");
}

async fn restaurar_reescribe_el_registro_y_su_cobro_sin_tocar_el_contador(env: Entorno) {
    let s = env.almacen().await.reservas;
    let e = evento_con(s.as_ref(), 10).await;
    let r = completada(s.as_ref(), &e, 2).await;
    let cobro = s.cobro(&r).await.unwrap().unwrap();
    let mut otra = r.clone();
    otra.reserva.id = ReservaId::generar();
    let mut cobro_otra = cobro.clone();
    cobro_otra.reserva_id = otra.reserva.id.clone();
    s.restaurar(&otra, Some(&cobro_otra)).await.unwrap();
    assert_eq!(s.ver(&otra.reserva.id).await.unwrap(), otra);
    assert_eq!(s.cobro(&otra).await.unwrap(), Some(cobro_otra));
    assert_eq!(s.contador(&e).await.unwrap(), Some(8));
    assert!(s.vencidas().await.unwrap().is_empty());
}

async fn restaurar_nunca_pisa_un_registro_vivo(env: Entorno) {
    let s = env.almacen().await.reservas;
    let e = evento_con(s.as_ref(), 10).await;
    let vivo = tomada(s.as_ref(), &e, 2).await;
    let mut viejo = vivo.clone();
    viejo.reserva.estado = Estado::Confirmada;
    viejo.terminada = true;
    // A repair computed from a snapshot a few ms old must not overwrite a live purchase.
    assert!(!s.restaurar(&viejo, None).await.unwrap());
    assert_eq!(s.ver(&vivo.reserva.id).await.unwrap(), vivo);
    // Taken over for compensation, it may be completed from the history.
    let tomado = reclamada(s.as_ref(), &vivo, Reclamo::Forzada).await;
    assert_eq!(tomado.toma, Some(Toma::Compensacion));
    assert!(s.restaurar(&viejo, None).await.unwrap());
    assert_eq!(s.ver(&vivo.reserva.id).await.unwrap(), viejo);
}

async fn recalcular_el_contador_lo_deduce_de_los_registros_en_un_paso(env: Entorno) {
    let s = env.almacen().await.reservas;
    let e = evento_con(s.as_ref(), 10).await;
    completada(s.as_ref(), &e, 3).await;
    tomada(s.as_ref(), &e, 2).await;
    assert!(s.fijar_contador(&e, Some(5), 9).await.unwrap());
    assert_eq!(
        s.recalcular_contador(&e, aforo(10)).await.unwrap(),
        (Some(9), 5)
    );
    assert_eq!(s.contador(&e).await.unwrap(), Some(5));
    assert_eq!(
        s.recalcular_contador(&e, aforo(10)).await.unwrap(),
        (Some(5), 5)
    );
}

en_ambos_backends!(
    cluster;
    restaurar_nunca_pisa_un_registro_vivo,
    recalcular_el_contador_lo_deduce_de_los_registros_en_un_paso,
    cada_transicion_que_el_almacen_permite_y_ninguna_mas,
    un_compensador_caido_se_reemplaza_pero_la_saga_nunca_vuelve,
    un_cobro_tras_vencer_la_retencion_se_rechaza_y_no_cobra,
    liberar_deja_expirada_solo_si_nunca_se_cobro,
    tomar_descuenta_y_registra_la_reserva_pendiente_con_el_reloj_del_almacen,
    tomar_sin_entradas_en_curso_o_sin_contador_no_toma_nada,
    tomar_libera_antes_las_retenciones_vencidas_cuyo_pago_no_empezo,
    vencidas_usa_el_reloj_del_almacen,
    el_aforo_cambia_por_comparacion_y_nunca_inventa_entradas,
    borrar_un_evento_con_entradas_fuera_se_niega_y_nombra_la_compra,
    el_libro_de_pagos_y_las_claves_guardan_la_primera_decision,
    ver_y_listar_encuentran_las_reservas_con_sus_filtros,
    restaurar_reescribe_el_registro_y_su_cobro_sin_tocar_el_contador,
);
