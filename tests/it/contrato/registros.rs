//! Reading saga records back, and the primitives `verificar --reparar` builds on, run on
//! every backend: listing with filters, restoring a record without overwriting a live one,
//! recomputing the counter from the records, and a damaged record read as an inconsistency.

use eventflow::Error;
use eventflow::domain::{Estado, ReservaId, UsuarioId};
use eventflow::store::{FiltroReservas, Reclamo, RegistroSaga, Toma};

use crate::crudo;
use crate::fixtures::{LEASE_MS, aforo, completada, evento_con, reclamada, retencion, tomada};
use crate::helpers::Entorno;

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

async fn un_registro_corrupto_es_una_inconsistencia_que_nombra_donde_y_el_campo(env: Entorno) {
    let s = env.almacen().await.reservas;
    let e = evento_con(s.as_ref(), 10).await;
    let r = tomada(s.as_ref(), &e, 1).await;
    let id = r.reserva.id.as_str();
    let donde = crudo::estropear_registro_crudo(&env, e.as_str(), id, "estado", "pagada").await;
    let err = s.ver(&r.reserva.id).await.unwrap_err();
    assert_eq!(err.exit_code(), 8, "{err}");
    let texto = err.to_string();
    assert!(
        texto.contains(&donde) && texto.contains("estado"),
        "{texto}"
    );
}

en_ambos_backends!(
    cluster;
    ver_y_listar_encuentran_las_reservas_con_sus_filtros,
    restaurar_reescribe_el_registro_y_su_cobro_sin_tocar_el_contador,
    restaurar_nunca_pisa_un_registro_vivo,
    recalcular_el_contador_lo_deduce_de_los_registros_en_un_paso,
    un_registro_corrupto_es_una_inconsistencia_que_nombra_donde_y_el_campo,
);
