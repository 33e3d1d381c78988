//! Issue 11: the server's abuse limits, on the embedded backend with the limits turned
//! down so the tests stay fast. Outcomes are asserted with generous bounds (a loaded
//! 2-core machine), never exact timings: the rate limit answers 429 with `Retry-After`,
//! half-sent headers and bodies are cut off while `/health` keeps answering, one
//! connection over the cap gets 503, and shutdown does not wait for a slow client.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::api::{Servidor, cuerpo, es_error};
use crate::helpers::Entorno;
use crate::reservar::{evento, usuarios};

/// Generous: the configured deadlines are about a second.
const PLAZO: Duration = Duration::from_secs(20);

/// Reads until the server closes the socket; returns what it sent. Panics after `PLAZO`.
async fn leer_hasta_cierre(s: &mut TcpStream) -> String {
    let mut todo = Vec::new();
    let mut buf = [0u8; 1024];
    let inicio = Instant::now();
    loop {
        let resto = PLAZO.saturating_sub(inicio.elapsed());
        match tokio::time::timeout(resto, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return String::from_utf8_lossy(&todo).into_owned(),
            Ok(Ok(n)) => todo.extend_from_slice(&buf[..n]),
            Err(_) => panic!("el servidor no cerró la conexión en {PLAZO:?}"),
        }
    }
}

async fn salud_ok(s: &Servidor) {
    let r = s.http.get(s.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pasar_el_limite_de_un_token_o_de_una_direccion_responde_429_con_retry_after() {
    let env = Entorno::embedded();
    let s = Servidor::con(
        &env,
        &[
            ("EVENTFLOW_LIMITE_TOKEN", "1"),
            ("EVENTFLOW_RAFAGA_TOKEN", "3"),
            ("EVENTFLOW_LIMITE_IP", "1"),
            ("EVENTFLOW_RAFAGA_IP", "20"),
        ],
    );
    let mut estados = Vec::new();
    for _ in 0..10 {
        let r = s.get("/api/eventos").send().await.unwrap();
        estados.push(r.status());
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            let espera: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=5).contains(&espera), "Retry-After {espera}");
            let (_, v) = cuerpo(r).await;
            assert!(es_error(&v, "demasiadas_peticiones").contains("token"));
        }
    }
    // The burst passes; past it, the token waits.
    assert_eq!(estados[..3], [StatusCode::OK; 3], "{estados:?}");
    assert!(
        estados.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{estados:?}"
    );
    // The address limit applies with or without a token.
    let mut vistos_429 = 0;
    for _ in 0..40 {
        let r = s.http.get(s.url("/health")).send().await.unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers().contains_key("retry-after"));
            let (_, v) = cuerpo(r).await;
            assert!(es_error(&v, "demasiadas_peticiones").contains("dirección"));
            vistos_429 += 1;
        }
    }
    assert!(
        vistos_429 > 0,
        "40 peticiones con ráfaga 20 y 1/s no vieron un 429"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cabeceras_y_cuerpos_a_medias_se_cortan_tras_el_plazo_y_health_sigue_respondiendo() {
    let env = Entorno::embedded();
    let s = Servidor::con(
        &env,
        &[
            ("EVENTFLOW_PLAZO_CABECERAS_MS", "800"),
            ("EVENTFLOW_PLAZO_CUERPO_MS", "800"),
        ],
    );
    // 40 clients that never finish their headers, 10 that never finish their body.
    let mut lentos = Vec::new();
    for _ in 0..40 {
        let mut c = TcpStream::connect(s.direccion()).await.unwrap();
        c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Lento: ")
            .await
            .unwrap();
        lentos.push(c);
    }
    let mut cuerpos = Vec::new();
    for _ in 0..10 {
        let mut c = TcpStream::connect(s.direccion()).await.unwrap();
        c.write_all(
            b"POST /api/usuarios HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"nombre\":",
        )
        .await
        .unwrap();
        cuerpos.push(c);
    }
    // While they hang on, everyone else is served.
    salud_ok(&s).await;
    for mut c in lentos {
        // Closed, with at most a 408: never a request served from half a header.
        let r = leer_hasta_cierre(&mut c).await;
        assert!(r.is_empty() || r.starts_with("HTTP/1.1 408"), "{r}");
    }
    for mut c in cuerpos {
        let r = leer_hasta_cierre(&mut c).await;
        assert!(r.starts_with("HTTP/1.1 408"), "{r}");
        assert!(r.contains("plazo_vencido"), "{r}");
    }
    salud_ok(&s).await;
    assert_eq!(
        env.almacen()
            .await
            .usuarios
            .listar(10, None)
            .await
            .unwrap()
            .len(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn una_conexion_de_mas_recibe_503_al_momento_y_al_liberarse_se_atiende() {
    let env = Entorno::embedded();
    let s = Servidor::con(
        &env,
        &[
            ("EVENTFLOW_MAX_CONEXIONES", "4"),
            ("EVENTFLOW_PLAZO_CABECERAS_MS", "60000"),
        ],
    );
    let mut ocupadas = Vec::new();
    for _ in 0..4 {
        let mut c = TcpStream::connect(s.direccion()).await.unwrap();
        c.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
        ocupadas.push(c);
    }
    // The fifth is answered and closed, not queued.
    let mut quinta = TcpStream::connect(s.direccion()).await.unwrap();
    let _ = quinta
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let r = leer_hasta_cierre(&mut quinta).await;
    assert!(r.starts_with("HTTP/1.1 503"), "{r}");
    assert!(
        r.contains("sobrecargado") && r.to_lowercase().contains("retry-after"),
        "{r}"
    );
    drop(ocupadas);
    // Once the slots are free, requests are served again.
    let inicio = Instant::now();
    loop {
        let r = s.http.get(s.url("/health")).send().await;
        if matches!(&r, Ok(r) if r.status() == StatusCode::OK) {
            break;
        }
        assert!(inicio.elapsed() < PLAZO, "health no volvió: {r:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pasar_el_tope_de_peticiones_en_curso_responde_503_sin_esperar() {
    let env = Entorno::embedded();
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 0).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let s = Servidor::con(
        &env,
        &[
            ("EVENTFLOW_MAX_EN_CURSO", "1"),
            ("EVENTFLOW_PAGO_LATENCIA_MS", "3000"),
        ],
    );
    let compra = tokio::spawn(
        s.post(
            "/api/reservas",
            json!({"evento_id": e.as_str(), "usuario_id": u.as_str(), "entradas": 1}),
        )
        .send(),
    );
    // Wait until the purchase holds its seat, so it is surely in flight.
    let inicio = Instant::now();
    while env.contador(&e).await != Some(4) {
        assert!(inicio.elapsed() < PLAZO, "la compra no empezó");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (st, v) = cuerpo(s.get("/api/eventos").send().await.unwrap()).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    es_error(&v, "sobrecargado");
    let (st, r) = cuerpo(compra.await.unwrap().unwrap()).await;
    assert_eq!(st, StatusCode::CREATED, "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn el_apagado_no_espera_a_un_cliente_lento_mas_que_su_plazo() {
    let env = Entorno::embedded();
    let mut s = Servidor::con(
        &env,
        &[
            ("EVENTFLOW_PLAZO_APAGADO_MS", "1000"),
            ("EVENTFLOW_PLAZO_CABECERAS_MS", "120000"),
            ("EVENTFLOW_PLAZO_CUERPO_MS", "120000"),
        ],
    );
    let mut cabecera = TcpStream::connect(s.direccion()).await.unwrap();
    cabecera
        .write_all(b"GET /health HTTP/1.1\r\n")
        .await
        .unwrap();
    let mut cuerpo_lento = TcpStream::connect(s.direccion()).await.unwrap();
    cuerpo_lento
        .write_all(b"POST /api/usuarios HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 50\r\n\r\n{")
        .await
        .unwrap();
    salud_ok(&s).await;
    s.sigterm();
    // Without the bound it would wait two minutes for these clients.
    let salida = s.esperar_salida(PLAZO);
    assert_eq!(salida.code(), Some(0), "{}", s.registro());
    assert!(s.registro().contains("tras el plazo"), "{}", s.registro());
    drop((cabecera, cuerpo_lento));
}
