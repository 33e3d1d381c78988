//! Purchases per second over HTTP against a running `eventflow serve`.
//!
//! Creates one event and N users through the API, then fires N one-ticket purchases with
//! a fixed number in flight, and prints throughput and latency percentiles.
//!
//! ```text
//! eventflow serve --addr 127.0.0.1:8000 &
//! cargo run --release --example bench_http -- http://127.0.0.1:8000 2000 64
//! ```
//! Arguments: base URL, purchases (= users = seats), concurrency. The API needs a token
//! with `eventos:escribir`, `eventos:leer` and `reservas:crear` (or `admin`) in
//! `EVENTFLOW_API_TOKEN`, and limits above the benchmark's rate:
//!
//! ```text
//! export EVENTFLOW_API_TOKEN=$(eventflow -o json tokens crear --nombre bench --permisos admin | jq -r .secreto)
//! eventflow serve --addr 127.0.0.1:8000 --limite-ip 100000 --rafaga-ip 100000 \
//!     --limite-token 100000 --rafaga-token 100000 &
//! ```

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8000".into());
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2000);
    let concurrencia: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(64);
    let mut cabeceras = reqwest::header::HeaderMap::new();
    if let Ok(t) = std::env::var("EVENTFLOW_API_TOKEN") {
        let mut v = reqwest::header::HeaderValue::from_str(&format!("Bearer {t}"))?;
        v.set_sensitive(true);
        cabeceras.insert(reqwest::header::AUTHORIZATION, v);
    }
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrencia)
        .default_headers(cabeceras)
        .build()?;
    let sello = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();

    let evento: Value = http
        .post(format!("{base}/api/eventos"))
        .json(
            &json!({"nombre": format!("bench {sello}"), "fecha": "2030-01-01T21:00:00Z",
                      "lugar": "Estadio", "aforo_total": n, "precio": 1000}),
        )
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let evento_id = evento["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("el evento creado no tiene id"))?
        .to_owned();

    let inicio = Instant::now();
    let usuarios: Vec<String> = futures::stream::iter(0..n)
        .map(|i| {
            let http = &http;
            let base = &base;
            async move {
                let u: Value = http
                    .post(format!("{base}/api/usuarios"))
                    .json(&json!({"nombre": "Bench", "apellido": i.to_string(),
                                  "email": format!("bench{sello}.{i}@example.com")}))
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                Ok::<_, reqwest::Error>(u["id"].as_str().unwrap_or_default().to_owned())
            }
        })
        .buffer_unordered(concurrencia)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let alta = inicio.elapsed();

    let inicio = Instant::now();
    let resultados: Vec<(u16, Duration)> = futures::stream::iter(usuarios)
        .map(|u| {
            let http = &http;
            let base = &base;
            let evento_id = &evento_id;
            async move {
                let t = Instant::now();
                let r = http
                    .post(format!("{base}/api/reservas"))
                    .json(&json!({"evento_id": evento_id, "usuario_id": u, "entradas": 1}))
                    .send()
                    .await;
                let estado = match r {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        let _ = r.bytes().await;
                        s
                    }
                    Err(_) => 0,
                };
                (estado, t.elapsed())
            }
        })
        .buffer_unordered(concurrencia)
        .collect()
        .await;
    let total = inicio.elapsed();

    let ok = resultados.iter().filter(|(s, _)| *s == 201).count();
    let mut lat: Vec<Duration> = resultados.iter().map(|(_, d)| *d).collect();
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    println!(
        "usuarios creados: {n} en {:.2} s ({:.0}/s)",
        alta.as_secs_f64(),
        n as f64 / alta.as_secs_f64()
    );
    println!(
        "compras: {} en {:.2} s con concurrencia {concurrencia}: {:.0} compras/s ({} × 201, {} otras)",
        resultados.len(),
        total.as_secs_f64(),
        ok as f64 / total.as_secs_f64(),
        ok,
        resultados.len() - ok
    );
    println!(
        "latencia: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, máx {:.1} ms",
        p(0.50).as_secs_f64() * 1e3,
        p(0.95).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3,
        lat.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
    );
    let final_: Value = http
        .get(format!("{base}/api/eventos/{evento_id}"))
        .send()
        .await?
        .json()
        .await?;
    println!(
        "evento {evento_id}: entradas_disponibles {}",
        final_["entradas_disponibles"]
    );
    Ok(())
}
