//! The purchase flow over HTTP, on every backend: buy and cancel, idempotency keys, a
//! declined payment, a race for the last seats, and shutdown in the middle of a purchase.

use std::time::{Duration, Instant};

use eventflow::domain::Estado;
use eventflow::store::FiltroReservas;
use reqwest::StatusCode;
use serde_json::json;

use super::{Servidor, cuerpo, es_error, juan, verificar_ok};
use crate::eventos::contador;
use crate::helpers::Entorno;
use crate::reservar::{evento, usuarios};

async fn crear_evento_comprar_y_cancelar_devuelve_las_entradas(env: Entorno) {
    let s = Servidor::arrancar(&env);

    let (st, e) = cuerpo(
        s.post(
            "/api/eventos",
            json!({"nombre":"Concierto Rock","fecha":"2025-12-01T18:00:00-03:00",
                   "lugar":"Estadio Centenario","aforo_total":10,"precio":2500}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::CREATED, "{e}");
    let eid = e["id"].as_str().unwrap().to_owned();
    assert_eq!(e["fecha"], "2025-12-01T21:00:00Z");
    assert_eq!(e["entradas_disponibles"], 10);
    // Created through the service: the seat counter exists.
    assert_eq!(contador(&env, &eid).await, Some(10));

    let (_, lista) = cuerpo(s.get("/api/eventos").send().await.unwrap()).await;
    assert_eq!(lista.as_array().unwrap().len(), 1);

    let (_, u) = cuerpo(s.post("/api/usuarios", juan()).send().await.unwrap()).await;
    let uid = u["id"].as_str().unwrap().to_owned();

    let r = s
        .post(
            "/api/reservas",
            json!({"evento_id": eid, "usuario_id": uid, "entradas": 3}),
        )
        .send()
        .await
        .unwrap();
    let (st, reserva) = cuerpo(r).await;
    assert_eq!(st, StatusCode::CREATED, "{reserva}");
    assert_eq!(reserva["estado"], "confirmada");
    assert_eq!(reserva["entradas"], 3);
    assert_eq!(reserva["importe"], 7500);
    let rid = reserva["id"].as_str().unwrap().to_owned();
    assert_eq!(contador(&env, &eid).await, Some(7));

    let (st, leida) = cuerpo(s.get(&format!("/api/reservas/{rid}")).send().await.unwrap()).await;
    assert_eq!(st, StatusCode::OK);
    // What the purchase answered is what is stored, `actualizada` included, plus the
    // payment the ledger recorded.
    let mut sin_pago = leida.clone();
    let pago = sin_pago.as_object_mut().unwrap().remove("pago").unwrap();
    assert_eq!(sin_pago, reserva);
    assert_eq!(
        pago,
        serde_json::json!({"estado": "aprobado", "importe": 7500})
    );
    let (_, h) = cuerpo(
        s.get(&format!("/api/usuarios/{uid}/historial"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(h[0]["reserva_id"], rid.as_str());
    let (_, ev) = cuerpo(s.get(&format!("/api/eventos/{eid}")).send().await.unwrap()).await;
    assert_eq!(ev["entradas_disponibles"], 7);
    assert_eq!(ev["reservas_activas"], json!([rid]));

    // Asking for more than is left: 409, nothing taken.
    let (_, otro) = cuerpo(
        s.post(
            "/api/usuarios",
            json!({"nombre":"Ana","apellido":"Gómez","email":"ana@example.com"}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let (st, err) = cuerpo(
        s.post(
            "/api/reservas",
            json!({"evento_id": eid, "usuario_id": otro["id"], "entradas": 8}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert!(es_error(&err, "sin_entradas").contains("disponibles 7"));
    // The same fields as the CLI's error object (issue 12).
    assert_eq!(err["error"]["disponibles"], 7, "{err}");
    assert_eq!(err["error"]["evento_id"], eid, "{err}");
    assert_eq!(contador(&env, &eid).await, Some(7));

    let (st, cancelada) = cuerpo(
        s.delete(&format!("/api/reservas/{rid}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{cancelada}");
    assert_eq!(cancelada["estado"], "cancelada");
    assert_eq!(contador(&env, &eid).await, Some(10));
    let (_, h) = cuerpo(
        s.get(&format!("/api/usuarios/{uid}/historial"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(h, json!([]));

    // Cancelling twice is a conflict, not a second refund.
    let (st, err) = cuerpo(
        s.delete(&format!("/api/reservas/{rid}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    es_error(&err, "conflicto");
    assert_eq!(contador(&env, &eid).await, Some(10));
    verificar_ok(&env, &eid).await;
}

async fn la_misma_clave_de_idempotencia_devuelve_la_misma_reserva_y_con_otro_cuerpo_es_409(
    env: Entorno,
) {
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 100).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let s = Servidor::arrancar(&env);
    let pedir = |n: i64, clave: &str| {
        s.post(
            "/api/reservas",
            json!({"evento_id": e.as_str(), "usuario_id": u.as_str(), "entradas": n}),
        )
        .header("Idempotency-Key", clave)
        .send()
    };
    let (st, a) = cuerpo(pedir(2, "compra-1").await.unwrap()).await;
    assert_eq!(st, StatusCode::CREATED, "{a}");
    let (st, b) = cuerpo(pedir(2, "compra-1").await.unwrap()).await;
    assert_eq!(st, StatusCode::CREATED, "{b}");
    assert_eq!(a["id"], b["id"]);
    assert_eq!(contador(&env, e.as_str()).await, Some(3));

    let (st, v) = cuerpo(pedir(1, "compra-1").await.unwrap()).await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert!(es_error(&v, "conflicto").contains("compra-1"));
    assert_eq!(contador(&env, e.as_str()).await, Some(3));

    // A key that cannot be a key is a bad request.
    let (st, v) = cuerpo(pedir(1, &"k".repeat(200)).await.unwrap()).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    es_error(&v, "invalido");
    assert_eq!(
        alm.reservas
            .listar(&Default::default())
            .await
            .unwrap()
            .len(),
        1
    );
    verificar_ok(&env, e.as_str()).await;
}

async fn un_pago_rechazado_responde_402_devuelve_las_entradas_y_su_reintento_repite_el_402(
    env: Entorno,
) {
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 1000).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let s = Servidor::con(&env, &[("EVENTFLOW_PAGO_RECHAZO", "1")]);
    let pedir = || {
        s.post(
            "/api/reservas",
            json!({"evento_id": e.as_str(), "usuario_id": u.as_str(), "entradas": 2}),
        )
        .header("Idempotency-Key", "rechazo-1")
        .send()
    };
    let (st, v) = cuerpo(pedir().await.unwrap()).await;
    assert_eq!(st, StatusCode::PAYMENT_REQUIRED, "{v}");
    assert!(es_error(&v, "pago_rechazado").contains("liberaron"));
    // The retry replays the decline, never a 201 for a compensated purchase (issue 9).
    let (st, otra_vez) = cuerpo(pedir().await.unwrap()).await;
    assert_eq!(st, StatusCode::PAYMENT_REQUIRED, "{otra_vez}");
    assert_eq!(otra_vez, v);
    assert_eq!(contador(&env, e.as_str()).await, Some(5));
    let rs = alm.reservas.listar(&Default::default()).await.unwrap();
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].reserva.estado, Estado::Compensada);
    verificar_ok(&env, e.as_str()).await;
}

async fn doscientas_compras_concurrentes_sobre_50_entradas_venden_exactamente_50(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 50, 100).await;
    let compradores = usuarios(&alm, 200).await;
    let s = Servidor::arrancar(&env);
    let peticiones = compradores.iter().map(|u| {
        s.post(
            "/api/reservas",
            json!({"evento_id": e.as_str(), "usuario_id": u.as_str(), "entradas": 1}),
        )
        .send()
    });
    let respuestas = futures::future::join_all(peticiones).await;
    let (mut vendidas, mut agotadas) = (0, 0);
    for r in respuestas {
        let (st, v) = cuerpo(r.unwrap()).await;
        match st {
            StatusCode::CREATED => {
                assert_eq!(v["estado"], "confirmada");
                vendidas += 1;
            }
            StatusCode::CONFLICT => {
                es_error(&v, "sin_entradas");
                agotadas += 1;
            }
            otro => panic!("respuesta inesperada {otro}: {v}"),
        }
    }
    assert_eq!((vendidas, agotadas), (50, 150));
    assert_eq!(contador(&env, e.as_str()).await, Some(0));
    let ev = alm.eventos.ver(&e).await.unwrap();
    assert_eq!(ev.entradas_disponibles, 0);
    assert_eq!(ev.reservas_activas.len(), 50);
    verificar_ok(&env, e.as_str()).await;
}

async fn sigterm_durante_una_compra_lenta_la_termina_y_sale_con_0(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 100).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let mut s = Servidor::con(&env, &[("EVENTFLOW_PAGO_LATENCIA_MS", "1500")]);
    let compra = tokio::spawn(
        s.post(
            "/api/reservas",
            json!({"evento_id": e.as_str(), "usuario_id": u.as_str(), "entradas": 2}),
        )
        .send(),
    );
    // In flight = its seats are held and the payment is pending.
    let pendientes = FiltroReservas {
        estado: Some(Estado::Pendiente),
        ..Default::default()
    };
    let inicio = Instant::now();
    while alm.reservas.listar(&pendientes).await.unwrap().is_empty() {
        assert!(
            inicio.elapsed() < Duration::from_secs(30),
            "la compra no empezó:\n{}",
            s.registro()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    s.sigterm();

    let (st, r) = cuerpo(compra.await.unwrap().unwrap()).await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
    assert_eq!(r["estado"], "confirmada");
    let salida = s.esperar_salida(Duration::from_secs(20));
    assert_eq!(salida.code(), Some(0), "{}", s.registro());
    assert!(s.registro().contains("SIGTERM"), "{}", s.registro());
    assert_eq!(contador(&env, e.as_str()).await, Some(3));
    verificar_ok(&env, e.as_str()).await;
}

async fn un_cliente_que_cuelga_a_media_compra_no_la_deja_a_medias_aunque_el_servidor_se_apague(
    env: Entorno,
) {
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 100).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let mut s = Servidor::con(&env, &[("EVENTFLOW_PAGO_LATENCIA_MS", "1500")]);
    let compra = tokio::spawn(
        s.post(
            "/api/reservas",
            json!({"evento_id": e.as_str(), "usuario_id": u.as_str(), "entradas": 2}),
        )
        .send(),
    );
    let pendientes = FiltroReservas {
        estado: Some(Estado::Pendiente),
        ..Default::default()
    };
    let inicio = Instant::now();
    while alm.reservas.listar(&pendientes).await.unwrap().is_empty() {
        assert!(
            inicio.elapsed() < Duration::from_secs(30),
            "la compra no empezó"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Dropping the request closes its connection: the client hangs up mid-payment.
    compra.abort();
    assert!(compra.await.unwrap_err().is_cancelled());
    // The client is gone and the payment still pending; shut down at once.
    s.sigterm();
    let salida = s.esperar_salida(Duration::from_secs(20));
    assert_eq!(salida.code(), Some(0), "{}", s.registro());
    let rs = alm.reservas.listar(&Default::default()).await.unwrap();
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].reserva.estado, Estado::Confirmada, "{}", s.registro());
    assert!(!rs[0].en_curso());
    assert_eq!(contador(&env, e.as_str()).await, Some(3));
    verificar_ok(&env, e.as_str()).await;
}

en_ambos_backends!(
    crear_evento_comprar_y_cancelar_devuelve_las_entradas,
    la_misma_clave_de_idempotencia_devuelve_la_misma_reserva_y_con_otro_cuerpo_es_409,
    un_pago_rechazado_responde_402_devuelve_las_entradas_y_su_reintento_repite_el_402,
    doscientas_compras_concurrentes_sobre_50_entradas_venden_exactamente_50,
    sigterm_durante_una_compra_lenta_la_termina_y_sale_con_0,
    un_cliente_que_cuelga_a_media_compra_no_la_deja_a_medias_aunque_el_servidor_se_apague,
);
