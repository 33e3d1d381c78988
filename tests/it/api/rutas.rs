//! Users, events, error shapes, route ids and health over HTTP, on every backend.

use eventflow::store::FiltroReservas;
use reqwest::StatusCode;
use serde_json::json;

use super::{Servidor, cuerpo, es_error, juan};
use crate::crudo;
use crate::eventos::contador;
use crate::helpers::{Entorno, RedisPropio};
use crate::reservar::{evento, usuarios};

async fn la_llamada_del_diseno_crea_un_usuario_que_se_lee_lista_y_tiene_historial(env: Entorno) {
    let s = Servidor::arrancar(&env);

    let r = s.post("/api/usuarios", juan()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let ubicacion = r.headers()["location"].to_str().unwrap().to_owned();
    let (_, u) = cuerpo(r).await;
    let id = u["id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 24);
    assert_eq!(ubicacion, format!("/api/usuarios/{id}"));
    assert_eq!(u["nombre"], "Juan");
    assert_eq!(u["apellido"], "Pérez");
    assert_eq!(u["email"], "juan@example.com");
    assert_eq!(u["historial_compras"], json!([]));
    assert!(u["tipo_documento"].is_null() && u["nro_documento"].is_null());

    let (st, leido) = cuerpo(s.get(&ubicacion).send().await.unwrap()).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(leido, u);

    // The same email again is a duplicate.
    let (st, e) = cuerpo(s.post("/api/usuarios", juan()).send().await.unwrap()).await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert!(es_error(&e, "duplicado").contains("juan@example.com"));

    let ana = json!({"nombre":"Ana","apellido":"Gómez","email":"ana@example.com",
                     "tipo_documento":"dni","nro_documento":"12345678"});
    let (st, a) = cuerpo(s.post("/api/usuarios", ana).send().await.unwrap()).await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(a["tipo_documento"], "DNI");

    let (st, todos) = cuerpo(s.get("/api/usuarios").send().await.unwrap()).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(todos.as_array().unwrap().len(), 2);

    // Pages of one: the first page links to the second, which holds the other user.
    let r = s.get("/api/usuarios?limite=1").send().await.unwrap();
    let link = r.headers()["link"].to_str().unwrap().to_owned();
    let (_, p1) = cuerpo(r).await;
    assert_eq!(p1.as_array().unwrap().len(), 1);
    let primero = p1[0]["id"].as_str().unwrap();
    assert!(link.contains(&format!("despues_de={primero}")), "{link}");
    let (_, p2) = cuerpo(
        s.get(&format!("/api/usuarios?limite=1&despues_de={primero}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(p2.as_array().unwrap().len(), 1);
    assert_ne!(p2[0]["id"], p1[0]["id"]);

    let (st, h) = cuerpo(
        s.get(&format!("/api/usuarios/{id}/historial"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h, json!([]));
}

async fn cuerpos_malformados_responden_4xx_con_la_forma_de_error_y_no_escriben_nada(env: Entorno) {
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 0).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let s = Servidor::arrancar(&env);
    let antes = crudo::usuarios_guardados(&env).await;

    // Broken JSON: 400.
    let r = s
        .http
        .post(s.url("/api/usuarios"))
        .header("content-type", "application/json")
        .body(r#"{"nombre":"Juan","apellido":"#)
        .send()
        .await
        .unwrap();
    let (st, v) = cuerpo(r).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(es_error(&v, "invalido").contains("JSON"), "{v}");

    // Not declared as JSON: 400.
    let r = s
        .http
        .post(s.url("/api/usuarios"))
        .header("content-type", "text/plain")
        .body(juan().to_string())
        .send()
        .await
        .unwrap();
    let (st, v) = cuerpo(r).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(es_error(&v, "invalido").contains("application/json"), "{v}");

    // Over the 1 MiB limit: 413.
    let enorme = json!({"nombre": "x".repeat(1024 * 1024 + 1), "apellido": "P", "email": "a@b.co"});
    let (st, v) = cuerpo(s.post("/api/usuarios", enorme).send().await.unwrap()).await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(es_error(&v, "demasiado_grande").contains("1 MiB"));

    // A field the DTO does not know: 422 naming it.
    let mut con_rol = juan();
    con_rol["rol"] = json!("admin");
    let (st, v) = cuerpo(s.post("/api/usuarios", con_rol).send().await.unwrap()).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(es_error(&v, "invalido").contains("\"rol\""), "{v}");

    // A field that is missing, or that the domain refuses: 422 naming it.
    let (st, v) = cuerpo(
        s.post("/api/usuarios", json!({"nombre":"Juan","apellido":"Pérez"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(es_error(&v, "invalido").contains("\"email\""), "{v}");
    let (st, v) = cuerpo(
        s.post(
            "/api/usuarios",
            json!({"nombre":"Juan","apellido":"Pérez","email":"juan"}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(es_error(&v, "invalido").contains("email"), "{v}");
    assert_eq!(crudo::usuarios_guardados(&env).await, antes);

    // `entradas` of the wrong type, or out of range: 422, no seat taken.
    for entradas in [json!("dos"), json!(1.5), json!(0), json!(-2), json!(null)] {
        let (st, v) = cuerpo(
            s.post(
                "/api/reservas",
                json!({"evento_id": e.as_str(), "usuario_id": u.as_str(), "entradas": entradas}),
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(
            st,
            StatusCode::UNPROCESSABLE_ENTITY,
            "entradas {entradas}: {v}"
        );
        assert!(es_error(&v, "invalido").contains("entradas"), "{v}");
    }
    // An event whose capacity is not a number.
    let (st, v) = cuerpo(
        s.post(
            "/api/eventos",
            json!({"nombre":"X","fecha":"2025-12-01T21:00:00Z","lugar":"Y","aforo_total":"mil"}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(es_error(&v, "invalido").contains("aforo_total"), "{v}");

    assert_eq!(contador(&env, e.as_str()).await, Some(5));
    assert!(
        alm.reservas
            .listar(&FiltroReservas::default())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(alm.eventos.listar(10, None).await.unwrap().len(), 1);
}

async fn un_id_de_ruta_malo_es_400_y_uno_desconocido_404_nunca_500(env: Entorno) {
    let s = Servidor::arrancar(&env);
    for ruta in [
        "/api/usuarios/abc",
        "/api/usuarios/abc/historial",
        "/api/eventos/%7B%22%24gt%22%3A%22%22%7D",
        "/api/reservas/123",
        "/api/usuarios?limite=abc",
        "/api/eventos?limite=0",
        "/api/usuarios?despues_de=zzz",
    ] {
        let (st, v) = cuerpo(s.get(ruta).send().await.unwrap()).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{ruta}: {v}");
        es_error(&v, "invalido");
    }
    let (st, v) = cuerpo(s.delete("/api/reservas/no-es-un-id").send().await.unwrap()).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(es_error(&v, "invalido").contains("no-es-un-id"));

    let fantasma = "0123456789abcdef01234567";
    for ruta in [
        format!("/api/usuarios/{fantasma}"),
        format!("/api/usuarios/{fantasma}/historial"),
        format!("/api/eventos/{fantasma}"),
        format!("/api/reservas/{fantasma}"),
    ] {
        let (st, v) = cuerpo(s.get(&ruta).send().await.unwrap()).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{ruta}: {v}");
        assert!(es_error(&v, "no_encontrado").contains(fantasma));
    }
    let (st, v) = cuerpo(
        s.delete(&format!("/api/reservas/{fantasma}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");

    // Routes and methods that do not exist answer in the same shape.
    let (st, v) = cuerpo(s.get("/api/nada").send().await.unwrap()).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    es_error(&v, "ruta_desconocida");
    let (st, v) = cuerpo(
        s.http
            .put(s.url("/api/usuarios"))
            .json(&juan())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
    es_error(&v, "metodo_no_permitido");
}

async fn health_responde_200_y_openapi_describe_las_rutas(env: Entorno) {
    let s = Servidor::arrancar(&env);
    let (st, h) = cuerpo(s.get("/health").send().await.unwrap()).await;
    assert_eq!(st, StatusCode::OK, "{h}");
    assert_eq!(h["estado"], "ok");
    assert_eq!(h["documentos"]["conectado"], true);
    assert_eq!(h["reservas"]["conectado"], true);
    // Anonymous: only ok/caido per role, no versions or addresses.
    let (st, h) = cuerpo(s.http.get(s.url("/health")).send().await.unwrap()).await;
    assert_eq!(st, StatusCode::OK, "{h}");
    assert_eq!(
        h,
        json!({"estado": "ok", "documentos": "ok", "reservas": "ok"})
    );

    let r = s.get("/api/openapi.json").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (_, doc) = cuerpo(r).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/api/reservas"]["post"].is_object());
    assert!(doc["paths"]["/api/usuarios/{id}/historial"].is_object());
}

#[tokio::test]
async fn health_responde_503_cuando_redis_no_contesta() {
    let mut redis = RedisPropio::arrancar();
    let env = Entorno::con_redis(&redis.url());
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 0).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let s = Servidor::arrancar(&env);
    let (st, _) = cuerpo(s.get("/health").send().await.unwrap()).await;
    assert_eq!(st, StatusCode::OK);
    redis.matar();
    let (st, h) = cuerpo(s.get("/health").send().await.unwrap()).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{h}");
    assert_eq!(h["reservas"]["conectado"], false);
    assert_eq!(h["documentos"]["conectado"], true);
    assert_eq!(h["error"]["codigo"], "backend_caido");
    let (st, h) = cuerpo(s.http.get(s.url("/health")).send().await.unwrap()).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{h}");
    assert_eq!(
        h,
        json!({"estado": "degradado", "documentos": "ok", "reservas": "caido"})
    );
    assert!(s.registro().contains("sin conexión"), "{}", s.registro());
    // A purchase while Redis is down is a 503 in the same error shape.
    let (st, v) = cuerpo(
        s.post(
            "/api/reservas",
            json!({"evento_id": e.as_str(), "usuario_id": u.as_str(), "entradas": 1}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    es_error(&v, "backend_caido");
}

/// Issue 10: an event whose UTC form leaves the year 9999 is refused (it used to be stored
/// and then fail its own parser), and a stored event that does not read back never turns
/// a listing into a 500: it is left out.
async fn una_fecha_del_ano_10000_es_422_y_un_evento_danado_no_da_500(env: Entorno) {
    let alm = env.almacen().await;
    let s = Servidor::arrancar(&env);
    let r = s
        .post(
            "/api/eventos",
            json!({"nombre":"Fin","fecha":"9999-12-31T23:59:59-01:00","lugar":"Sala","aforo_total":10}),
        )
        .send()
        .await
        .unwrap();
    let (st, v) = cuerpo(r).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        es_error(&v, "invalido").contains("9999-12-31T23:59:59Z"),
        "{v}"
    );

    let bueno = evento(&alm, 5, 0).await;
    let malo = evento(&alm, 5, 0).await;
    crudo::estropear_evento_crudo(&env, malo.as_str(), "fecha", "10000-01-01T00:00:00Z").await;
    let (st, v) = cuerpo(s.get("/api/eventos").send().await.unwrap()).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let ids: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [bueno.as_str()]);
}

en_ambos_backends!(
    la_llamada_del_diseno_crea_un_usuario_que_se_lee_lista_y_tiene_historial,
    cuerpos_malformados_responden_4xx_con_la_forma_de_error_y_no_escriben_nada,
    un_id_de_ruta_malo_es_400_y_uno_desconocido_404_nunca_500,
    health_responde_200_y_openapi_describe_las_rutas,
    una_fecha_del_ano_10000_es_422_y_un_evento_danado_no_da_500,
);
