//! The Redis reservation store against a real redis-server: atomic takes and releases
//! under concurrency, claims, the payment ledger, the key layout the contract names,
//! failure when the server is down, and durability across a `kill -9`.

use std::time::{Duration, Instant};

use eventflow::Error;
use eventflow::config::Uri;
use eventflow::domain::{
    ClaveIdempotencia, Entradas, Estado, EventoId, Fecha, ReservaId, UsuarioId,
};
use eventflow::store::redis::RedisStore;
use eventflow::store::{Fase, FiltroReservas, Paso, Reclamo, RegistroSaga, ReservaStore};
use redis::AsyncCommands;

use crate::fixtures::{aforo, completada, en, evento_con, retencion, tomada};
use crate::helpers::{Entorno, RedisPropio};

const LEASE_MS: i64 = 60_000;

async fn almacen(env: &Entorno) -> RedisStore {
    RedisStore::conectar(&Uri::new(env.redis_url.clone()), &env.prefijo)
        .await
        .expect("conectar con redis-server")
}

#[tokio::test]
async fn el_contador_se_crea_una_vez_y_nunca_se_sobrescribe() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = EventoId::generar();
    assert_eq!(s.contador(&e).await.unwrap(), None);
    assert!(s.crear_contador(&e, aforo(100)).await.unwrap());
    tomada(&s, &e, 4).await;
    assert!(!s.crear_contador(&e, aforo(500)).await.unwrap());
    assert_eq!(s.contador(&e).await.unwrap(), Some(96));
    assert_eq!(s.eventos().await.unwrap(), vec![e]);
}

#[tokio::test]
async fn tomar_descuenta_y_registra_la_reserva_pendiente() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = evento_con(&s, 10).await;
    let mut ret = retencion(&e, &UsuarioId::generar(), 3);
    ret.clave = Some(ClaveIdempotencia::parse("compra-1").unwrap());
    let r = s.tomar(&ret).await.unwrap();

    assert_eq!(s.contador(&e).await.unwrap(), Some(7));
    assert_eq!(r.reserva.id, ret.reserva);
    assert_eq!(r.reserva.estado, Estado::Pendiente);
    assert_eq!(r.reserva.entradas.get(), 3);
    assert_eq!(r.reserva.importe, 7500);
    assert_eq!(r.reserva.creada.millis(), ret.ahora.millis());
    assert_eq!(r.expira.millis(), ret.expira.millis());
    assert_eq!((r.paso, r.fase), (Paso::Inventario, Fase::Hecho));
    assert_eq!(r.clave, ret.clave);
    assert!(!r.terminada && r.en_curso());
    assert_eq!(r.fecha_compra, None);
    assert_eq!(s.ver(&ret.reserva).await.unwrap(), r);
}

#[tokio::test]
async fn tomar_mas_entradas_de_las_que_quedan_no_toma_nada() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = evento_con(&s, 5).await;
    tomada(&s, &e, 3).await;
    let ret = retencion(&e, &UsuarioId::generar(), 3);
    let err = s.tomar(&ret).await.unwrap_err();
    match &err {
        Error::SinEntradas {
            evento,
            pedidas,
            disponibles,
        } => assert_eq!(
            (evento.as_str(), *pedidas, *disponibles),
            (e.as_str(), 3, 2)
        ),
        otro => panic!("se esperaba SinEntradas, llegó {otro:?}"),
    }
    assert_eq!(err.exit_code(), 5);
    assert_eq!(s.contador(&e).await.unwrap(), Some(2));
    assert!(matches!(
        s.ver(&ret.reserva).await.unwrap_err(),
        Error::NoEncontrado { .. }
    ));
    assert_eq!(s.de_evento(&e).await.unwrap().len(), 1);
    // Nothing of the refused take is left behind, not even its lookup key.
    let mut con = env.redis().await;
    let claves: Vec<String> = con.keys(env.clave("*")).await.unwrap();
    assert!(
        claves.iter().all(|k| !k.contains(ret.reserva.as_str())),
        "{claves:?}"
    );
    // The same user may still buy what is left.
    let mut ret = ret;
    ret.entradas = Entradas::new(2).unwrap();
    s.tomar(&ret).await.unwrap();
    assert_eq!(s.contador(&e).await.unwrap(), Some(0));
}

#[tokio::test]
async fn tomar_con_una_compra_en_curso_del_mismo_usuario_es_conflicto() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = evento_con(&s, 10).await;
    let u = UsuarioId::generar();
    s.tomar(&retencion(&e, &u, 1)).await.unwrap();
    let err = s.tomar(&retencion(&e, &u, 1)).await.unwrap_err();
    assert!(matches!(err, Error::Conflicto(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("el usuario {u} ya tiene una compra en curso para el evento {e}")
    );
    assert_eq!(s.contador(&e).await.unwrap(), Some(9));
    // Another event is another lock.
    let otro = evento_con(&s, 10).await;
    s.tomar(&retencion(&otro, &u, 1)).await.unwrap();
}

#[tokio::test]
async fn tomar_en_un_evento_sin_contador_es_no_encontrado() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = EventoId::generar();
    let err = s
        .tomar(&retencion(&e, &UsuarioId::generar(), 1))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::NoEncontrado { entidad: "evento", id } if id == e.as_str()),
        "{err:?}"
    );
    assert_eq!(s.contador(&e).await.unwrap(), None);
}

#[tokio::test]
async fn las_claves_de_un_evento_llevan_su_etiqueta_de_hash() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = evento_con(&s, 10).await;
    let u = UsuarioId::generar();
    let r = s.tomar(&retencion(&e, &u, 2)).await.unwrap();
    let id = &r.reserva.id;
    s.registrar_cobro(&r, true, Fecha::ahora()).await.unwrap();

    let mut con = env.redis().await;
    let contador: i64 = con
        .get(env.clave(&format!("evento:{{{e}}}:entradas")))
        .await
        .unwrap();
    assert_eq!(contador, 8);
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
    let eventos: Vec<String> = con.smembers(env.clave("eventos")).await.unwrap();
    assert_eq!(eventos, vec![e.to_string()]);

    // Every per-event key carries the tag; only the global indexes do not.
    let etiqueta = format!("{{{e}}}");
    let claves: Vec<String> = con.keys(env.clave("*")).await.unwrap();
    assert_eq!(claves.len(), 8, "{claves:?}");
    for k in claves {
        let resto = k.strip_prefix(&env.prefijo).unwrap();
        let global = resto == "eventos" || resto.starts_with("reserva-evento:");
        assert!(global || resto.contains(&etiqueta), "{k}");
    }
}

#[tokio::test]
async fn liberar_con_un_estado_que_retiene_entradas_es_invalido() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = evento_con(&s, 10).await;
    let r = tomada(&s, &e, 1).await;
    let err = s
        .liberar(&r, Estado::Confirmada, Fecha::ahora())
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    assert_eq!(s.contador(&e).await.unwrap(), Some(9));
}

#[tokio::test]
async fn confirmar_y_completar_cierran_la_compra_y_sueltan_el_bloqueo() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = evento_con(&s, 10).await;
    let r = tomada(&s, &e, 2).await;
    s.marcar(&r, Paso::Pago, Fase::Iniciado).await.unwrap();
    let visto = s.ver(&r.reserva.id).await.unwrap();
    assert_eq!((visto.paso, visto.fase), (Paso::Pago, Fase::Iniciado));

    let fecha = Fecha::from_millis(Fecha::ahora().millis());
    let c = s.confirmar(&r, fecha).await.unwrap();
    assert_eq!(c.reserva.estado, Estado::Confirmada);
    assert_eq!((c.paso, c.fase), (Paso::Confirmacion, Fase::Hecho));
    assert_eq!(c.fecha_compra, Some(fecha));
    assert_eq!(c.compra().unwrap().fecha_compra, fecha);
    assert!(!c.terminada);

    let err = s.confirmar(&r, Fecha::ahora()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "la reserva {} ya no está pendiente (estado confirmada)",
            r.reserva.id
        )
    );

    assert!(s.completar(&c).await.unwrap());
    assert!(!s.completar(&c).await.unwrap());
    let fin = s.ver(&r.reserva.id).await.unwrap();
    assert!(fin.terminada && !fin.en_curso());
    assert_eq!(fin.reserva.estado, Estado::Confirmada);
    assert_eq!((fin.paso, fin.fase), (Paso::Historial, Fase::Hecho));
    // Sold seats stay sold; the lock is gone.
    assert_eq!(s.contador(&e).await.unwrap(), Some(8));
    s.tomar(&retencion(&e, &r.reserva.usuario_id, 1))
        .await
        .unwrap();
}

#[tokio::test]
async fn marcar_una_reserva_inexistente_es_no_encontrado_y_no_la_crea() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = evento_con(&s, 10).await;
    let r = tomada(&s, &e, 1).await;
    let mut fantasma = r.clone();
    fantasma.reserva.id = ReservaId::generar();
    let err = s
        .marcar(&fantasma, Paso::Pago, Fase::Hecho)
        .await
        .unwrap_err();
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
    let mut con = env.redis().await;
    let existe: bool = con
        .exists(env.clave(&format!("reserva:{{{e}}}:{}", fantasma.reserva.id)))
        .await
        .unwrap();
    assert!(!existe);
}

#[tokio::test]
async fn confirmar_una_reserva_reclamada_es_conflicto() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = evento_con(&s, 10).await;
    let r = tomada(&s, &e, 1).await;
    assert!(
        s.reclamar(&r.reserva.id, Reclamo::Forzada, Fecha::ahora(), LEASE_MS)
            .await
            .unwrap()
            .is_some()
    );
    let err = s.confirmar(&r, Fecha::ahora()).await.unwrap_err();
    assert!(matches!(err, Error::Conflicto(_)), "{err:?}");
    assert!(err.to_string().contains("ya no está pendiente"), "{err}");
    assert_eq!(
        s.ver(&r.reserva.id).await.unwrap().reserva.estado,
        Estado::Pendiente
    );
}

#[tokio::test]
async fn completar_una_reserva_reclamada_devuelve_false_y_no_cambia_nada() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = evento_con(&s, 10).await;
    let r = tomada(&s, &e, 1).await;
    let c = s.confirmar(&r, Fecha::ahora()).await.unwrap();
    let reclamado = s
        .reclamar(&r.reserva.id, Reclamo::Forzada, Fecha::ahora(), LEASE_MS)
        .await
        .unwrap()
        .expect("reclamo concedido");
    assert!(reclamado.reclamada_hasta.is_some());
    assert!(!s.completar(&c).await.unwrap());
    let visto = s.ver(&r.reserva.id).await.unwrap();
    assert!(!visto.terminada);
    assert_eq!(visto.paso, Paso::Confirmacion);
    // The compensator owns it now and may release it.
    assert!(
        s.liberar(&visto, Estado::Compensada, Fecha::ahora())
            .await
            .unwrap()
    );
    assert_eq!(s.contador(&e).await.unwrap(), Some(10));
    assert_eq!(s.ver(&r.reserva.id).await.unwrap().reclamada_hasta, None);
}

#[tokio::test]
async fn reclamar_vencida_solo_si_la_retencion_expiro_y_sigue_en_curso() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = evento_con(&s, 10).await;
    let r = tomada(&s, &e, 1).await;
    let id = &r.reserva.id;

    assert!(
        s.reclamar(id, Reclamo::Vencida, Fecha::ahora(), LEASE_MS)
            .await
            .unwrap()
            .is_none()
    );
    let tras_vencer = Fecha::from_millis(r.expira.millis() + 1);
    let reclamado = s
        .reclamar(id, Reclamo::Vencida, tras_vencer, LEASE_MS)
        .await
        .unwrap()
        .expect("una retención vencida se puede reclamar");
    assert_eq!(
        reclamado.reclamada_hasta.map(Fecha::millis),
        Some(tras_vencer.millis() + LEASE_MS)
    );

    // Finished purchases are never claimed as expired.
    let hecha = completada(&s, &e, 1).await;
    let mucho_despues = Fecha::from_millis(hecha.expira.millis() + 1);
    assert!(
        s.reclamar(&hecha.reserva.id, Reclamo::Vencida, mucho_despues, LEASE_MS)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn reclamar_forzada_ignora_el_vencimiento_pero_no_las_compras_terminadas() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = evento_con(&s, 10).await;
    let r = tomada(&s, &e, 1).await;
    assert!(
        s.reclamar(&r.reserva.id, Reclamo::Forzada, Fecha::ahora(), LEASE_MS)
            .await
            .unwrap()
            .is_some()
    );
    let hecha = completada(&s, &e, 1).await;
    assert!(
        s.reclamar(
            &hecha.reserva.id,
            Reclamo::Forzada,
            Fecha::ahora(),
            LEASE_MS
        )
        .await
        .unwrap()
        .is_none()
    );
}

#[tokio::test]
async fn reclamar_cancelacion_solo_compras_confirmadas_y_terminadas() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = evento_con(&s, 10).await;

    let pendiente = tomada(&s, &e, 1).await;
    assert!(
        s.reclamar(
            &pendiente.reserva.id,
            Reclamo::Cancelacion,
            Fecha::ahora(),
            LEASE_MS
        )
        .await
        .unwrap()
        .is_none()
    );
    let confirmada = s.confirmar(&pendiente, Fecha::ahora()).await.unwrap();
    assert!(
        s.reclamar(
            &confirmada.reserva.id,
            Reclamo::Cancelacion,
            Fecha::ahora(),
            LEASE_MS
        )
        .await
        .unwrap()
        .is_none(),
        "confirmada pero sin terminar: la saga sigue en curso"
    );

    let hecha = completada(&s, &e, 2).await;
    let reclamada = s
        .reclamar(
            &hecha.reserva.id,
            Reclamo::Cancelacion,
            Fecha::ahora(),
            LEASE_MS,
        )
        .await
        .unwrap()
        .expect("una compra completada se puede cancelar");
    assert!(
        s.liberar(&reclamada, Estado::Cancelada, Fecha::ahora())
            .await
            .unwrap()
    );
    // Cancelled once: neither a second cancellation nor a second release.
    assert!(
        s.reclamar(
            &hecha.reserva.id,
            Reclamo::Cancelacion,
            en(2 * LEASE_MS),
            LEASE_MS
        )
        .await
        .unwrap()
        .is_none()
    );
    assert!(
        !s.liberar(&reclamada, Estado::Cancelada, Fecha::ahora())
            .await
            .unwrap()
    );
    assert_eq!(s.contador(&e).await.unwrap(), Some(9));
    assert_eq!(
        s.ver(&hecha.reserva.id).await.unwrap().reserva.estado,
        Estado::Cancelada
    );
}

#[tokio::test]
async fn un_reclamo_activo_excluye_a_otro_hasta_que_vence() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = evento_con(&s, 10).await;
    let r = tomada(&s, &e, 1).await;
    let id = &r.reserva.id;
    let t0 = Fecha::ahora();
    assert!(
        s.reclamar(id, Reclamo::Forzada, t0, LEASE_MS)
            .await
            .unwrap()
            .is_some()
    );
    let durante = Fecha::from_millis(t0.millis() + LEASE_MS - 1);
    assert!(
        s.reclamar(id, Reclamo::Forzada, durante, LEASE_MS)
            .await
            .unwrap()
            .is_none()
    );
    let despues = Fecha::from_millis(t0.millis() + LEASE_MS + 1);
    assert!(
        s.reclamar(id, Reclamo::Forzada, despues, LEASE_MS)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn reclamar_una_reserva_inexistente_es_no_encontrado() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let err = s
        .reclamar(
            &ReservaId::generar(),
            Reclamo::Forzada,
            Fecha::ahora(),
            LEASE_MS,
        )
        .await
        .unwrap_err();
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
    assert_eq!(err.exit_code(), 3);
}

#[tokio::test]
async fn vencidas_lista_solo_las_retenciones_expiradas_en_curso() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e1 = evento_con(&s, 10).await;
    let e2 = evento_con(&s, 10).await;

    let mut corta = retencion(&e1, &UsuarioId::generar(), 1);
    corta.expira = en(10_000);
    let corta = s.tomar(&corta).await.unwrap();
    let mut otra_corta = retencion(&e2, &UsuarioId::generar(), 1);
    otra_corta.expira = en(20_000);
    let otra_corta = s.tomar(&otra_corta).await.unwrap();
    let larga = tomada(&s, &e1, 1).await;
    let mut terminada = retencion(&e2, &UsuarioId::generar(), 1);
    terminada.expira = en(10_000);
    let terminada = s.tomar(&terminada).await.unwrap();
    s.liberar(&terminada, Estado::Compensada, Fecha::ahora())
        .await
        .unwrap();

    assert!(s.vencidas(Fecha::ahora()).await.unwrap().is_empty());
    let ids: Vec<ReservaId> = s
        .vencidas(en(60_000))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.reserva.id)
        .collect();
    assert_eq!(ids, vec![corta.reserva.id.clone(), otra_corta.reserva.id]);
    assert_eq!(s.vencidas(en(10_000_000)).await.unwrap().len(), 3);
    let _ = larga;
}

#[tokio::test]
async fn ver_y_listar_encuentran_las_reservas_con_sus_filtros() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e1 = evento_con(&s, 10).await;
    let e2 = evento_con(&s, 10).await;
    let u = UsuarioId::generar();
    let a = s.tomar(&retencion(&e1, &u, 1)).await.unwrap();
    let b = s.tomar(&retencion(&e2, &u, 2)).await.unwrap();
    let c = tomada(&s, &e1, 3).await;
    s.liberar(&c, Estado::Expirada, Fecha::ahora())
        .await
        .unwrap();

    let ids = |v: Vec<RegistroSaga>| v.into_iter().map(|r| r.reserva.id).collect::<Vec<_>>();
    let todas = s.listar(&FiltroReservas::default()).await.unwrap();
    assert_eq!(ids(todas.clone()).len(), 3);
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
}

#[tokio::test]
async fn un_registro_corrupto_es_una_inconsistencia_que_nombra_clave_y_campo() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = evento_con(&s, 10).await;
    let r = tomada(&s, &e, 1).await;
    let clave = env.clave(&format!("reserva:{{{e}}}:{}", r.reserva.id));
    let mut con = env.redis().await;
    let () = con.hset(&clave, "estado", "pagada").await.unwrap();
    let err = s.ver(&r.reserva.id).await.unwrap_err();
    assert_eq!(err.exit_code(), 8, "{err}");
    let texto = err.to_string();
    assert!(
        texto.contains(&clave) && texto.contains("estado"),
        "{texto}"
    );
}

#[tokio::test]
async fn restaurar_reescribe_el_registro_sin_tocar_el_contador() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = evento_con(&s, 10).await;
    let r = tomada(&s, &e, 2).await;
    let mut con = env.redis().await;
    let () = con
        .del(&[
            env.clave(&format!("reserva:{{{e}}}:{}", r.reserva.id)),
            env.clave(&format!("reserva-evento:{}", r.reserva.id)),
        ])
        .await
        .unwrap();
    assert!(s.ver(&r.reserva.id).await.is_err());

    s.restaurar(&r).await.unwrap();
    assert_eq!(s.ver(&r.reserva.id).await.unwrap(), r);
    assert_eq!(s.contador(&e).await.unwrap(), Some(8));
    assert_eq!(s.vencidas(en(10_000_000)).await.unwrap().len(), 1);

    let mut terminado = r.clone();
    terminado.terminada = true;
    terminado.reserva.estado = Estado::Compensada;
    s.restaurar(&terminado).await.unwrap();
    assert_eq!(s.ver(&r.reserva.id).await.unwrap(), terminado);
    assert!(s.vencidas(en(10_000_000)).await.unwrap().is_empty());
}

#[tokio::test]
async fn el_cobro_registrado_dos_veces_conserva_la_primera_decision() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = evento_con(&s, 10).await;
    let r = tomada(&s, &e, 2).await;
    assert_eq!(s.cobro(&r).await.unwrap(), None);

    let t1 = Fecha::from_millis(Fecha::ahora().millis());
    let primero = s.registrar_cobro(&r, false, t1).await.unwrap();
    assert_eq!(
        (primero.aprobado, primero.importe, primero.cobrado),
        (false, 5000, t1)
    );
    assert_eq!(&primero.reserva_id, &r.reserva.id);
    let segundo = s.registrar_cobro(&r, true, en(5_000)).await.unwrap();
    assert_eq!(segundo, primero);
    assert_eq!(s.cobro(&r).await.unwrap(), Some(primero));
    // A declined charge has nothing to refund.
    assert_eq!(
        s.registrar_reembolso(&r, Fecha::ahora()).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn el_reembolso_pedido_dos_veces_reembolsa_una_sola_vez() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = evento_con(&s, 10).await;
    let r = tomada(&s, &e, 1).await;
    assert_eq!(
        s.registrar_reembolso(&r, Fecha::ahora()).await.unwrap(),
        None
    );

    s.registrar_cobro(&r, true, Fecha::ahora()).await.unwrap();
    let t = Fecha::from_millis(Fecha::ahora().millis());
    let primero = s.registrar_reembolso(&r, t).await.unwrap().unwrap();
    assert_eq!(primero.reembolsado, Some(t));
    let segundo = s.registrar_reembolso(&r, en(5_000)).await.unwrap().unwrap();
    assert_eq!(segundo, primero);
    assert_eq!(s.cobro(&r).await.unwrap(), Some(primero));
}

#[tokio::test]
async fn vincular_clave_devuelve_el_primer_vinculo() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let k = ClaveIdempotencia::parse("pedido-42").unwrap();
    let (r1, r2) = (ReservaId::generar(), ReservaId::generar());
    assert_eq!(s.vincular_clave(&k, "huella-a", &r1).await.unwrap(), None);
    assert_eq!(
        s.vincular_clave(&k, "huella-b", &r2).await.unwrap(),
        Some(("huella-a".to_owned(), r1.clone()))
    );
    assert_eq!(
        s.vincular_clave(&k, "huella-a", &r1).await.unwrap(),
        Some(("huella-a".to_owned(), r1))
    );
    let mut con = env.redis().await;
    let ttl: i64 = con.ttl(env.clave("idempotencia:pedido-42")).await.unwrap();
    assert!(ttl > 0, "la clave de idempotencia debe caducar: {ttl}");
}

#[tokio::test]
async fn subir_el_aforo_siempre_funciona_y_bajarlo_solo_sin_entradas_fuera() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = evento_con(&s, 100).await;
    s.ajustar_aforo(&e, aforo(100), aforo(80)).await.unwrap();
    assert_eq!(s.contador(&e).await.unwrap(), Some(80));

    tomada(&s, &e, 5).await;
    s.ajustar_aforo(&e, aforo(80), aforo(120)).await.unwrap();
    assert_eq!(s.contador(&e).await.unwrap(), Some(115));

    let err = s
        .ajustar_aforo(&e, aforo(120), aforo(110))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflicto(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "el evento {e} tiene 5 entradas vendidas o retenidas; no se puede bajar el aforo de 120 a 110"
        )
    );
    assert_eq!(s.contador(&e).await.unwrap(), Some(115));

    let sin_contador = EventoId::generar();
    let err = s
        .ajustar_aforo(&sin_contador, aforo(10), aforo(20))
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 8);
    assert!(err.to_string().contains("eventflow verificar"), "{err}");
}

#[tokio::test]
async fn borrar_un_evento_con_entradas_fuera_se_rechaza() {
    let env = Entorno::nuevo();
    let s = almacen(&env).await;
    let e = evento_con(&s, 10).await;
    let r = tomada(&s, &e, 3).await;
    let err = s.borrar_evento(&e, aforo(10)).await.unwrap_err();
    assert!(matches!(err, Error::Conflicto(_)), "{err:?}");
    assert!(err.to_string().contains("tiene 3 entradas"), "{err}");
    assert_eq!(s.contador(&e).await.unwrap(), Some(7));

    // Counter back at capacity but a record still holding seats: still refused.
    assert!(s.fijar_contador(&e, Some(7), 10).await.unwrap());
    let err = s.borrar_evento(&e, aforo(10)).await.unwrap_err();
    assert!(err.to_string().contains("tiene 3 entradas"), "{err}");
    assert!(!s.fijar_contador(&e, Some(3), 7).await.unwrap());
    assert!(s.fijar_contador(&e, Some(10), 7).await.unwrap());

    s.liberar(&r, Estado::Compensada, Fecha::ahora())
        .await
        .unwrap();
    s.registrar_cobro(&r, false, Fecha::ahora()).await.unwrap();
    s.borrar_evento(&e, aforo(10)).await.unwrap();
    assert_eq!(s.contador(&e).await.unwrap(), None);
    assert!(s.eventos().await.unwrap().is_empty());
    let mut con = env.redis().await;
    let claves: Vec<String> = con.keys(env.clave("*")).await.unwrap();
    assert!(claves.is_empty(), "{claves:?}");
}

#[tokio::test]
async fn un_servidor_caido_es_backend_caido_rapido_y_sin_contrasena() {
    let inicio = Instant::now();
    let url = Uri::new("redis://:secreto@127.0.0.1:1/");
    let err = RedisStore::conectar(&url, "").await.unwrap_err();
    assert!(
        inicio.elapsed() < Duration::from_secs(3),
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
async fn un_servidor_que_no_responde_falla_en_unos_dos_segundos() {
    // Accepts connections (the kernel does, from the backlog) but never answers PING.
    let mudo = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = Uri::new(format!(
        "redis://:secreto@127.0.0.1:{}/",
        mudo.local_addr().unwrap().port()
    ));
    let inicio = Instant::now();
    let err = RedisStore::conectar(&url, "").await.unwrap_err();
    let tardo = inicio.elapsed();
    assert!(tardo < Duration::from_secs(4), "{tardo:?}");
    assert!(err.es_backend_caido(), "{err:?}");
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
    assert!(
        s.liberar(&r, Estado::Compensada, Fecha::ahora())
            .await
            .unwrap()
    );
    assert_eq!(s.contador(&e).await.unwrap(), Some(10));
}

#[tokio::test]
async fn los_scripts_se_recargan_solos_si_el_servidor_los_olvida() {
    let env = Entorno::nuevo();
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
    let r = tomada(&s, &e, 2).await;
    let () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(
        s.liberar(&r, Estado::Compensada, Fecha::ahora())
            .await
            .unwrap()
    );
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
        assert!(
            inicio.elapsed() < Duration::from_secs(3),
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
