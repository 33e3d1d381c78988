//! Issue 14's benchmark (not a test): what Redis Cluster buys, in the same run as one
//! Redis node. It measures purchases/s of the reservation store's side of a purchase —
//! `tomar`, `marcar`, `registrar_cobro`, `confirmar`, `completar`, the five Redis round
//! trips of a sale — for one hot event and for 30 events spread over the primaries, on:
//! one node (no `WAIT`), the cluster as shipped (`WAIT 1` after every write), and the
//! cluster without `WAIT`. MongoDB is left out on purpose: the test server (NX-27017)
//! serves ~200 purchases/s and would hide Redis entirely. It then measures the latency
//! one `tomar` pays for `WAIT 1` (p50/p99, concurrency 1, HdrHistogram).
//!
//! ```text
//! cargo run --release --example bench_cluster -- <redis-url> <redis-cluster-urls> \
//!     [--compras 3000] [--concurrencia 32] [--eventos 30] [--muestras 2000]
//! ```
//! Every measured event must end with counter + seats sold = capacity, or the run fails.
//! Everything it creates goes under `bench_cluster_<ms>:` and is deleted at the end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use clap::Parser;
use hdrhistogram::Histogram;
use tokio::task::JoinSet;

use eventflow::config::Uri;
use eventflow::domain::{Aforo, Entradas, EventoId, Fecha, ReservaId, UsuarioId};
use eventflow::store::redis::{Conexion, Plazos, RedisStore};
use eventflow::store::{ContadorStore, Fase, Paso, RegistroStore, ReservaStore, Retencion};

#[derive(Parser)]
#[command(about = "Compras/s en Redis Cluster frente a un nodo, y lo que cuesta WAIT")]
struct Args {
    /// URL de un Redis de un solo nodo.
    redis_url: String,
    /// URLs de los nodos del cluster, separadas por comas.
    cluster_url: String,
    /// Compras por medición.
    #[arg(long, default_value_t = 3000)]
    compras: usize,
    #[arg(long, default_value_t = 32)]
    concurrencia: usize,
    /// Eventos del caso repartido.
    #[arg(long, default_value_t = 30)]
    eventos: usize,
    /// Tomas medidas una a una para la latencia de WAIT.
    #[arg(long, default_value_t = 2000)]
    muestras: usize,
}

/// One configuration measured: a name, where, and how many replicas each write waits for.
struct Modo {
    nombre: &'static str,
    url: String,
    replicas: u32,
}

#[tokio::main]
async fn main() -> Result<()> {
    let a = Args::parse();
    ensure!(
        a.compras > 0 && a.concurrencia > 0 && a.eventos > 0,
        "--compras, --concurrencia y --eventos deben ser al menos 1"
    );
    let prefijo = format!("bench_cluster_{}:", Fecha::ahora().millis());
    let modos = [
        Modo {
            nombre: "un nodo",
            url: a.redis_url.clone(),
            replicas: 0,
        },
        Modo {
            nombre: "cluster, WAIT 1",
            url: a.cluster_url.clone(),
            replicas: 1,
        },
        Modo {
            nombre: "cluster, sin WAIT",
            url: a.cluster_url.clone(),
            replicas: 0,
        },
    ];
    let resultado = medir_todo(&a, &modos, &prefijo).await;
    for url in [&a.redis_url, &a.cluster_url] {
        if let Err(e) = limpiar(url, &prefijo).await {
            eprintln!("aviso: no se pudo borrar {prefijo}*: {e:#}");
        }
    }
    resultado
}

async fn medir_todo(a: &Args, modos: &[Modo], prefijo: &str) -> Result<()> {
    println!(
        "{} compras por medición, concurrencia {}; la parte de Redis de cada compra",
        a.compras, a.concurrencia
    );
    println!(
        "{:>20} {:>10} {:>12} {:>10} {:>10}",
        "modo", "eventos", "compras/s", "p50 ms", "p99 ms"
    );
    let mut tasas = Vec::new();
    for m in modos {
        let s: Arc<dyn ReservaStore> = Arc::new(
            RedisStore::conectar_con(&Uri::new(m.url.clone()), prefijo, Some(m.replicas)).await?,
        );
        for n_eventos in [1, a.eventos] {
            let (tasa, h) = medir(s.clone(), a.compras, a.concurrencia, n_eventos).await?;
            println!(
                "{:>20} {:>10} {:>12.0} {:>10.2} {:>10.2}",
                m.nombre,
                n_eventos,
                tasa,
                ms(h.value_at_quantile(0.5)),
                ms(h.value_at_quantile(0.99))
            );
            tasas.push(tasa);
        }
    }
    if let [uno_c, uno_r, wait_c, wait_r, sin_c, sin_r] = tasas[..] {
        println!("\nrazones (compras/s):");
        println!(
            "  cluster WAIT 1 / un nodo: evento caliente {:.2}, {} eventos {:.2}",
            wait_c / uno_c,
            a.eventos,
            wait_r / uno_r
        );
        println!(
            "  cluster sin WAIT / un nodo: evento caliente {:.2}, {} eventos {:.2}",
            sin_c / uno_c,
            a.eventos,
            sin_r / uno_r
        );
        println!(
            "  {} eventos / evento caliente: un nodo {:.2}, cluster WAIT 1 {:.2}, sin WAIT {:.2}",
            a.eventos,
            uno_r / uno_c,
            wait_r / wait_c,
            sin_r / sin_c
        );
    }
    let cluster = Uri::new(a.cluster_url.clone());
    let con = RedisStore::conectar_con(&cluster, prefijo, Some(1)).await?;
    let sin = RedisStore::conectar_con(&cluster, prefijo, Some(0)).await?;
    let (h_con, h_sin) = latencia_toma(&con, &sin, a.muestras).await?;
    println!(
        "\nlatencia de una toma en el cluster, concurrencia 1 ({} muestras, alternadas):",
        a.muestras
    );
    for (q, nombre) in [(0.5, "p50"), (0.99, "p99")] {
        let (c, s) = (h_con.value_at_quantile(q), h_sin.value_at_quantile(q));
        println!(
            "  {nombre}: con WAIT 1 {:.3} ms, sin WAIT {:.3} ms, WAIT añade {:.3} ms",
            ms(c),
            ms(s),
            ms(c) - ms(s)
        );
    }
    Ok(())
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// `compras` purchases, `c` in flight, over `n_eventos` fresh events (round robin);
/// returns purchases/s and the latency histogram (µs). Checks every event afterwards.
async fn medir(
    s: Arc<dyn ReservaStore>, compras: usize, c: usize, n_eventos: usize,
) -> Result<(f64, Histogram<u64>)> {
    let por_evento = compras.div_ceil(n_eventos);
    let mut eventos = Vec::new();
    for _ in 0..n_eventos {
        let e = EventoId::generar();
        s.crear_contador(&e, Aforo::new(por_evento as i64)?).await?;
        eventos.push(e);
    }
    let mut h = Histogram::<u64>::new(3)?;
    let mut tareas = JoinSet::new();
    let inicio = Instant::now();
    for i in 0..compras {
        while tareas.len() >= c {
            if let Some(j) = tareas.join_next().await {
                h.record(j??)?;
            }
        }
        tareas.spawn(compra(s.clone(), eventos[i % n_eventos].clone()));
    }
    while let Some(j) = tareas.join_next().await {
        h.record(j??)?;
    }
    let tiempo = inicio.elapsed();
    for e in &eventos {
        let vendidas: i64 = s
            .de_evento(e)
            .await?
            .iter()
            .map(|r| i64::from(r.reserva.entradas.get()))
            .sum();
        ensure!(
            s.contador(e).await? == Some(por_evento as i64 - vendidas),
            "el evento {e} no cuadra"
        );
    }
    Ok((compras as f64 / tiempo.as_secs_f64(), h))
}

/// The Redis side of one sale; returns its latency in µs.
async fn compra(s: Arc<dyn ReservaStore>, e: EventoId) -> Result<u64> {
    let inicio = Instant::now();
    let reg = s.tomar(&retencion(e)).await?;
    s.marcar(&reg, Paso::Pago, Fase::Iniciado).await?;
    ensure!(s.registrar_cobro(&reg, true).await?.aprobado);
    let reg = s.confirmar(&reg).await?;
    ensure!(s.completar(&reg).await?, "completar rechazado");
    Ok(inicio.elapsed().as_micros() as u64)
}

fn retencion(evento: EventoId) -> Retencion {
    Retencion {
        reserva: ReservaId::generar(),
        evento,
        usuario: UsuarioId::generar(),
        entradas: Entradas::new(1).expect("1"),
        importe: 100,
        ttl_ms: 900_000,
        clave: None,
    }
}

/// Latency of one `tomar` with and without `WAIT 1`, alternating so drift hits both.
async fn latencia_toma(
    con: &RedisStore, sin: &RedisStore, muestras: usize,
) -> Result<(Histogram<u64>, Histogram<u64>)> {
    let e = EventoId::generar();
    con.crear_contador(&e, Aforo::new(2 * muestras as i64 + 1)?)
        .await?;
    let (mut h_con, mut h_sin) = (Histogram::<u64>::new(3)?, Histogram::<u64>::new(3)?);
    for i in 0..2 * muestras {
        let (s, h) = if i % 2 == 0 {
            (con, &mut h_con)
        } else {
            (sin, &mut h_sin)
        };
        let inicio = Instant::now();
        s.tomar(&retencion(e.clone())).await?;
        h.record(inicio.elapsed().as_micros() as u64)?;
    }
    Ok((h_con, h_sin))
}

async fn limpiar(url: &str, prefijo: &str) -> Result<()> {
    let plazos = Plazos {
        conexion: Duration::from_secs(5),
        respuesta: Duration::from_secs(30),
        reintentos: 2,
    };
    let mut con = Conexion::abrir(&Uri::new(url), plazos).await?;
    let claves: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefijo}*"))
        .query_async(&mut con)
        .await?;
    for clave in claves.chunks(500) {
        let () = redis::cmd("DEL").arg(clave).query_async(&mut con).await?;
    }
    Ok(())
}
