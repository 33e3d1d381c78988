//! Issue #3's speed goal: how much of the stores' speed the purchase saga keeps. On a
//! fresh database and Redis prefix it measures purchases/s of `Reservador::reservar`
//! (payment latency 0, no declines) against the same store calls issued directly,
//! without the chain and saga logic, at the same concurrency, and prints the ratio
//! (target: at least 80 %). A short counting phase then runs purchases through counting
//! proxies in front of both servers, to count the commands and round trips of one
//! purchase instead of taking them on trust.
//!
//! ```text
//! cargo run --release --example bench_reservas -- <mongo-uri> <redis-url> \
//!     [--compras 2000] [--concurrencias 1,16,64] [--rondas 2] [--compras-conteo 200]
//! cargo run --release --example bench_reservas -- --embebido <dir>   # SQLite backend
//! ```
//! On the embedded backend the "direct" side is the same store calls, i.e. the bare
//! SQLite transactions a purchase needs; the counting phase needs servers and is skipped.
//! Everything it creates goes under `bench_reservas_<ms>` and is dropped at the end.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use eventflow::compra::{Fallos, PasarelaSimulada, Reservador, Solicitud};
use eventflow::config::{Backend, Config, Uri};
use eventflow::domain::{
    Aforo, Email, Entradas, Estado, EventoId, Fecha, NuevoEvento, NuevoUsuario, Precio, ReservaId,
    Texto, UsuarioId,
};
use eventflow::store::{Almacen, Fase, ModoImport, Paso, Retencion};

#[derive(Parser)]
#[command(about = "Compras/s de la saga frente a las operaciones de almacén que la componen")]
struct Args {
    /// URI de MongoDB (o NX-27017).
    #[arg(required_unless_present = "embebido")]
    mongo_uri: Option<String>,
    /// URL de Redis.
    #[arg(required_unless_present = "embebido")]
    redis_url: Option<String>,
    /// Mide el backend embebido (SQLite) en este directorio, en vez de MongoDB + Redis.
    #[arg(long, conflicts_with_all = ["mongo_uri", "redis_url"])]
    embebido: Option<std::path::PathBuf>,
    /// Compras por medición.
    #[arg(long, default_value_t = 2000)]
    compras: usize,
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    concurrencias: Vec<usize>,
    /// Rondas por concurrencia; el orden saga/directas se alterna en cada una (ABBA) para
    /// que la deriva del servidor no favorezca a ninguna.
    #[arg(long, default_value_t = 2)]
    rondas: usize,
    /// Compras de la fase de conteo de viajes de ida y vuelta (0 la omite).
    #[arg(long, default_value_t = 200)]
    compras_conteo: usize,
}

const TTL: Duration = Duration::from_secs(900);

#[tokio::main]
async fn main() -> Result<()> {
    let a = Args::parse();
    ensure!(
        a.compras > 0 && a.rondas > 0 && a.concurrencias.iter().all(|c| *c > 0),
        "--compras, --rondas y cada concurrencia deben ser al menos 1"
    );
    let sufijo = Fecha::ahora().millis();
    let db = format!("bench_reservas_{sufijo}");
    let prefijo = format!("{db}:");
    let resultado = medir_todo(&a, &db, &prefijo).await;
    if let Err(e) = limpiar(&a, &db, &prefijo).await {
        eprintln!("aviso: no se pudo borrar {db} / {prefijo}*: {e:#}");
    }
    resultado
}

fn config(mongo_uri: &str, db: &str, redis_url: &str, prefijo: &str) -> Config {
    // The default hold (`TTL`, 900 s).
    Config::con_backend(Backend::Mongo {
        mongo_uri: Uri::new(mongo_uri),
        mongo_db: db.to_owned(),
        redis_url: Uri::new(redis_url),
        redis_prefix: prefijo.to_owned(),
        redis_replicas_min: None,
        mongo_lectura: None,
    })
}

async fn conectar(mongo_uri: &str, db: &str, redis_url: &str, prefijo: &str) -> Result<Almacen> {
    Ok(eventflow::store::conectar(&config(mongo_uri, db, redis_url, prefijo)).await?)
}

async fn medir_todo(a: &Args, db: &str, prefijo: &str) -> Result<()> {
    let alm = match (&a.embebido, &a.mongo_uri, &a.redis_url) {
        (Some(dir), _, _) => {
            eventflow::store::conectar(&Config::con_backend(Backend::Embedded {
                data_dir: dir.join(db),
            }))
            .await?
        }
        (None, Some(m), Some(r)) => conectar(m, db, r, prefijo).await?,
        _ => bail!("indique <mongo-uri> <redis-url> o --embebido DIR"),
    };
    let compras_conteo = if a.embebido.is_some() {
        0
    } else {
        a.compras_conteo
    };
    let mediciones = a.concurrencias.len() * a.rondas * 2;
    let total = a.compras * mediciones + 2 * compras_conteo;
    eprintln!("creando {total} usuarios en {db} ...");
    let mut usuarios = crear_usuarios(&alm, total).await?.into_iter();
    let mut lote = |n: usize| -> Vec<UsuarioId> { usuarios.by_ref().take(n).collect() };

    let r = Arc::new(Reservador {
        almacen: alm.clone(),
        pasarela: Arc::new(PasarelaSimulada::new(
            alm.reservas.clone(),
            0.0,
            Duration::ZERO,
            Some(1),
        )?),
        ttl: TTL,
        fallos: Fallos::ninguno(),
    });

    println!(
        "compras por medición: {}, rondas: {} (orden ABBA)",
        a.compras, a.rondas
    );
    println!(
        "{:>12} {:>14} {:>14} {:>8} {:>22}",
        "concurrencia", "saga c/s", "directas c/s", "saga %", "CPU µs/compra s / d"
    );
    for &c in &a.concurrencias {
        let (mut t_saga, mut t_directas) = (Duration::ZERO, Duration::ZERO);
        let (mut cpu_saga, mut cpu_directas) = (Duration::ZERO, Duration::ZERO);
        for ronda in 0..a.rondas {
            let e_saga = evento(&alm, a.compras).await?;
            let e_dir = evento(&alm, a.compras).await?;
            let (u_saga, u_dir) = (lote(a.compras), lote(a.compras));
            let saga = || medir(c, &u_saga, |u| por_saga(r.clone(), e_saga.clone(), u));
            let directas = || medir(c, &u_dir, |u| directa(alm.clone(), e_dir.clone(), u));
            for primero in [ronda % 2 == 0, ronda % 2 != 0] {
                let cpu = cpu_proceso();
                if primero {
                    t_saga += saga().await?;
                    cpu_saga += cpu_proceso().saturating_sub(cpu);
                } else {
                    t_directas += directas().await?;
                    cpu_directas += cpu_proceso().saturating_sub(cpu);
                }
            }
            comprobar(&r, &e_saga, a.compras).await?;
            comprobar(&r, &e_dir, a.compras).await?;
        }
        let n = (a.compras * a.rondas) as f64;
        let (saga, directas) = (n / t_saga.as_secs_f64(), n / t_directas.as_secs_f64());
        let por = |cpu: Duration| cpu.as_micros() as f64 / n;
        println!(
            "{c:>12} {saga:>14.1} {directas:>14.1} {:>7.1}% {:>10.0} / {:<10.0}",
            100.0 * saga / directas,
            por(cpu_saga),
            por(cpu_directas)
        );
    }

    if compras_conteo > 0 {
        contar(a, db, prefijo, (lote(compras_conteo), lote(compras_conteo))).await?;
    }
    Ok(())
}

/// CPU time of this whole process so far (user + system, every thread), from
/// `/proc/self/stat` in USER_HZ ticks (100 per second on Linux). Zero elsewhere.
fn cpu_proceso() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // The command name may hold spaces; the fields after its closing parenthesis do not.
    let campos: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of the line: 0-based 11 and 12 after the name.
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| campos.get(*i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Every purchase of a measured event must have been confirmed, and `verificar` must
/// agree: a fast run that loses sales would prove nothing.
async fn comprobar(r: &Reservador, e: &EventoId, compras: usize) -> Result<()> {
    let informe = eventflow::compra::verificar(r, Some(e), false)
        .await?
        .pop()
        .context("verificar no devolvió informe")?;
    ensure!(
        informe.consistente && informe.vendidas == compras as i64,
        "el evento {e} no quedó consistente: {informe:?}"
    );
    Ok(())
}

async fn evento(alm: &Almacen, aforo: usize) -> Result<EventoId> {
    let e = eventflow::casos::eventos::crear(
        alm,
        NuevoEvento {
            nombre: Texto::parse("nombre", "bench_reservas")?,
            fecha: Fecha::ahora(),
            lugar: Texto::parse("lugar", "bench")?,
            aforo: Aforo::new(aforo as i64)?,
            precio: Precio::new(100)?,
        },
    )
    .await?;
    Ok(e.id)
}

/// Inserts `n` users in bulk and reads their ids back (the database is fresh, so every
/// user in it is one of these).
async fn crear_usuarios(alm: &Almacen, n: usize) -> Result<Vec<UsuarioId>> {
    let nombre = Texto::parse("nombre", "Bench")?;
    for desde in (0..n).step_by(1000) {
        let lote = (desde..(desde + 1000).min(n))
            .map(|k| {
                Ok(NuevoUsuario {
                    nombre: nombre.clone(),
                    apellido: Texto::parse("apellido", &k.to_string())?,
                    email: Email::parse(&format!("u{k}@bench.eventflow.invalid"))?,
                    documento: None,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let r = alm.usuarios.importar(lote, ModoImport::Insertar).await?;
        ensure!(
            r.rechazados.is_empty(),
            "filas rechazadas: {:?}",
            r.rechazados
        );
    }
    let mut ids = Vec::with_capacity(n);
    let mut despues: Option<UsuarioId> = None;
    loop {
        let pagina = alm.usuarios.listar(1000, despues.as_ref()).await?;
        let Some(ultimo) = pagina.last() else { break };
        despues = Some(ultimo.id.clone());
        ids.extend(pagina.into_iter().map(|u| u.id));
    }
    ensure!(
        ids.len() == n,
        "se esperaban {n} usuarios y hay {}",
        ids.len()
    );
    Ok(ids)
}

/// Runs one purchase per user, `c` in flight at once, each as its own task (as `simular`
/// does), and returns the wall time.
async fn medir<F, Fut>(c: usize, usuarios: &[UsuarioId], f: F) -> Result<Duration>
where
    F: Fn(UsuarioId) -> Fut,
    Fut: Future<Output = Result<()>> + Send + 'static,
{
    let mut tareas = JoinSet::new();
    let inicio = Instant::now();
    for u in usuarios {
        while tareas.len() >= c {
            if let Some(j) = tareas.join_next().await {
                j??;
            }
        }
        tareas.spawn(f(u.clone()));
    }
    while let Some(j) = tareas.join_next().await {
        j??;
    }
    Ok(inicio.elapsed())
}

async fn por_saga(r: Arc<Reservador>, evento: EventoId, usuario: UsuarioId) -> Result<()> {
    let reserva = r
        .reservar(Solicitud {
            evento,
            usuario,
            entradas: Entradas::new(1)?,
            clave: None,
        })
        .await?;
    ensure!(reserva.estado == Estado::Confirmada, "{reserva:?}");
    Ok(())
}

/// The store calls one purchase is made of, in the saga's order and with the saga's
/// concurrency (the two reads at once, the two history writes at once), but none of
/// its logic: no chain, no step bookkeeping, no gateway, no compensation path.
async fn directa(alm: Almacen, e: EventoId, u: UsuarioId) -> Result<()> {
    let (usuario, precio) = tokio::join!(alm.usuarios.ver(&u), alm.eventos.precio(&e));
    usuario?;
    let precio = precio?;
    let entradas = Entradas::new(1)?;
    let reg = alm
        .reservas
        .tomar(&Retencion {
            reserva: ReservaId::generar(),
            evento: e.clone(),
            usuario: u.clone(),
            entradas,
            importe: precio.importe(entradas),
            ttl_ms: TTL.as_millis() as i64,
            clave: None,
        })
        .await?;
    alm.reservas
        .marcar(&reg, Paso::Pago, Fase::Iniciado)
        .await?;
    let cobro = alm.reservas.registrar_cobro(&reg, true).await?;
    ensure!(cobro.aprobado);
    let reg = alm.reservas.confirmar(&reg).await?;
    let compra = reg.compra().context("confirmada sin fecha_compra")?;
    let (h, v) = tokio::join!(
        alm.usuarios.registrar_compra(&u, &compra),
        alm.eventos.aplicar_venta(&e, &compra.reserva_id, entradas)
    );
    h?;
    v?;
    ensure!(alm.reservas.completar(&reg).await?, "completar rechazado");
    Ok(())
}

/// Counts what one purchase sends to each server, at concurrency 1 so nothing overlaps
/// but a purchase's own concurrent calls. Both servers are reached through counting
/// proxies: server-side statistics cannot tell the client's commands from the ones Lua
/// scripts run, nor a pipeline from separate round trips.
async fn contar(
    a: &Args, db: &str, prefijo: &str, (u_saga, u_dir): (Vec<UsuarioId>, Vec<UsuarioId>),
) -> Result<()> {
    let (Some((uri_mongo, mongo)), Some((url_redis, redis))) = (
        proxy(
            a.mongo_uri.as_deref().unwrap_or_default(),
            "mongodb",
            27017,
            Protocolo::Mongo,
        )
        .await?,
        proxy(
            a.redis_url.as_deref().unwrap_or_default(),
            "redis",
            6379,
            Protocolo::Redis,
        )
        .await?,
    ) else {
        println!("conteo omitido: las direcciones no son un único host:puerto sin TLS");
        return Ok(());
    };
    let alm = conectar(&uri_mongo, db, &url_redis, prefijo).await?;
    let r = Arc::new(Reservador {
        almacen: alm.clone(),
        pasarela: Arc::new(PasarelaSimulada::new(
            alm.reservas.clone(),
            0.0,
            Duration::ZERO,
            Some(1),
        )?),
        ttl: TTL,
        fallos: Fallos::ninguno(),
    });
    let n = u_saga.len();
    let e_saga = evento(&alm, n).await?;
    let e_dir = evento(&alm, n).await?;
    println!("\nviajes de ida y vuelta por compra ({n} compras, concurrencia 1):");
    for (nombre, es_saga) in [("saga", true), ("directas", false)] {
        mongo.lock().unwrap().reiniciar();
        redis.lock().unwrap().reiniciar();
        if es_saga {
            medir(1, &u_saga, |u| por_saga(r.clone(), e_saga.clone(), u)).await?;
        } else {
            medir(1, &u_dir, |u| directa(alm.clone(), e_dir.clone(), u)).await?;
        }
        for (servidor, cuenta) in [("Redis", &redis), ("MongoDB", &mongo)] {
            let c = cuenta.lock().unwrap().clone();
            let por = |v: u64| v as f64 / n as f64;
            let ordenes: Vec<String> = c
                .por_comando
                .iter()
                .map(|(k, v)| format!("{k} {:.2}", por(*v)))
                .collect();
            println!(
                "  {nombre:>8} {servidor:>7}: {:.2} órdenes [{}] en {:.2} viajes; máx. en vuelo a la vez {}",
                por(c.por_comando.values().sum()),
                ordenes.join(", "),
                por(c.viajes),
                c.max_en_vuelo
            );
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Protocolo {
    Mongo,
    Redis,
}

/// Requests seen by a proxy, by command; round trips (a connection going from idle to
/// waiting for a reply, so a pipeline is one); and the most requests in flight at once
/// over all connections. Server monitoring (`hello`, …) is left out: it is not the
/// purchase's.
#[derive(Debug, Clone, Default)]
struct Cuenta {
    por_comando: BTreeMap<String, u64>,
    viajes: u64,
    en_vuelo: usize,
    max_en_vuelo: usize,
}

impl Cuenta {
    fn reiniciar(&mut self) {
        *self = Cuenta::default();
    }
}

/// Redis command names are lowercased before they are compared.
const MONITOREO: [&str; 6] = [
    "hello",
    "ismaster",
    "isMaster",
    "ping",
    "buildInfo",
    "endSessions",
];

/// Starts a counting TCP proxy in front of the server `direccion` names and returns an
/// address that goes through it. `None` when the address names no single plain host
/// (SRV, seed lists, TLS).
async fn proxy(
    direccion: &str, esquema: &str, puerto_por_defecto: u16, protocolo: Protocolo,
) -> Result<Option<(String, Arc<Mutex<Cuenta>>)>> {
    let mut url = url::Url::parse(direccion).context("dirección del servidor")?;
    if url.scheme() != esquema || url.host_str().is_none_or(|h| h.contains(',')) {
        return Ok(None);
    }
    let destino = format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(puerto_por_defecto)
    );
    let escucha = TcpListener::bind("127.0.0.1:0").await?;
    let puerto = escucha.local_addr()?.port();
    let cuenta = Arc::new(Mutex::new(Cuenta::default()));
    let c = cuenta.clone();
    tokio::spawn(async move {
        while let Ok((cliente, _)) = escucha.accept().await {
            let Ok(servidor) = TcpStream::connect(&destino).await else {
                continue;
            };
            let (cr, cw) = cliente.into_split();
            let (sr, sw) = servidor.into_split();
            // Requests in flight on this connection: they decide when a round trip starts.
            let pendientes = Arc::new(Mutex::new(0usize));
            for (de, a, peticiones) in [(cr, sw, true), (sr, cw, false)] {
                tokio::spawn(reenviar(
                    de,
                    a,
                    c.clone(),
                    pendientes.clone(),
                    protocolo,
                    peticiones,
                ));
            }
        }
    });
    url.set_host(Some("127.0.0.1"))?;
    if url.set_port(Some(puerto)).is_err() {
        bail!("no se pudo reescribir el puerto de {direccion}");
    }
    if let Protocolo::Mongo = protocolo {
        // Without it the driver would discover the real address and go around the proxy.
        url.query_pairs_mut()
            .append_pair("directConnection", "true");
    }
    Ok(Some((url.to_string(), cuenta)))
}

/// Copies bytes as they come, accounting for every complete message first, so a
/// request is counted before the server can possibly answer it.
async fn reenviar(
    mut de: impl AsyncRead + Unpin, mut a: tokio::net::tcp::OwnedWriteHalf,
    cuenta: Arc<Mutex<Cuenta>>, pendientes: Arc<Mutex<usize>>, protocolo: Protocolo,
    peticiones: bool,
) {
    let mut acumulado: Vec<u8> = Vec::new();
    let mut trozo = vec![0u8; 64 * 1024];
    loop {
        let n = match de.read(&mut trozo).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        acumulado.extend_from_slice(&trozo[..n]);
        let mut nombres = Vec::new();
        let mut pos = 0;
        while let Some(largo) = match protocolo {
            Protocolo::Mongo => mensaje_mongo(&acumulado[pos..]),
            Protocolo::Redis => valor_resp(&acumulado[pos..]),
        } {
            let m = &acumulado[pos..pos + largo];
            nombres.push(match protocolo {
                Protocolo::Mongo => nombre_mongo(m),
                Protocolo::Redis => nombre_resp(m),
            });
            pos += largo;
        }
        acumulado.drain(..pos);
        {
            let mut c = cuenta.lock().unwrap();
            let mut p = pendientes.lock().unwrap();
            for nombre in nombres {
                let propio = !MONITOREO.contains(&nombre.as_str());
                if peticiones {
                    if *p == 0 && propio {
                        c.viajes += 1;
                    }
                    *p += 1;
                    if propio {
                        *c.por_comando.entry(nombre).or_default() += 1;
                        c.en_vuelo += 1;
                        c.max_en_vuelo = c.max_en_vuelo.max(c.en_vuelo);
                    }
                } else {
                    // Replies come in request order on one connection (Redis) or
                    // one at a time (MongoDB), so any reply closes one request.
                    *p = p.saturating_sub(1);
                    c.en_vuelo = c.en_vuelo.saturating_sub(1);
                }
            }
        }
        if a.write_all(&trozo[..n]).await.is_err() {
            return;
        }
    }
}

/// The length of the MongoDB wire message at the start of `b`, once complete.
fn mensaje_mongo(b: &[u8]) -> Option<usize> {
    let largo = usize::try_from(i32::from_le_bytes(b.get(..4)?.try_into().ok()?)).ok()?;
    (largo >= 16 && b.len() >= largo).then_some(largo)
}

/// The command of an OP_MSG request: the first key of its body document.
fn nombre_mongo(m: &[u8]) -> String {
    const OP_MSG: i32 = 2013;
    if m.len() < 26 || i32::from_le_bytes(m[12..16].try_into().unwrap()) != OP_MSG || m[20] != 0 {
        return "(otro)".to_owned();
    }
    // header (16) · flagBits (4) · section kind 0 (1) · document length (4) · type (1) · key
    let clave = &m[26..];
    let fin = clave.iter().position(|b| *b == 0).unwrap_or(0);
    String::from_utf8_lossy(&clave[..fin]).into_owned()
}

/// The length of the RESP value at the start of `b`, once complete (RESP2 and RESP3).
fn valor_resp(b: &[u8]) -> Option<usize> {
    let fin = b.windows(2).position(|w| w == b"\r\n")?;
    let n = || std::str::from_utf8(&b[1..fin]).ok()?.parse::<i64>().ok();
    let mut pos = fin + 2;
    match b.first()? {
        b'$' | b'=' | b'!' => {
            if let Some(l) = n().filter(|l| *l >= 0) {
                pos += l as usize + 2;
            }
        }
        t @ (b'*' | b'~' | b'>' | b'%' | b'|') => {
            let elementos = n()?.max(0) * if matches!(t, b'%' | b'|') { 2 } else { 1 };
            for _ in 0..elementos {
                pos += valor_resp(b.get(pos..)?)?;
            }
        }
        _ => {}
    }
    (b.len() >= pos).then_some(pos)
}

/// The command of a RESP request: its first bulk string.
fn nombre_resp(m: &[u8]) -> String {
    let partes: Vec<&[u8]> = m.split(|c| *c == b'\n').collect();
    partes
        .get(2)
        .map(|p| String::from_utf8_lossy(p.strip_suffix(b"\r").unwrap_or(p)).to_lowercase())
        .unwrap_or_else(|| "(otro)".to_owned())
}

async fn limpiar(a: &Args, db: &str, prefijo: &str) -> Result<()> {
    let (Some(mongo_uri), Some(redis_url)) = (&a.mongo_uri, &a.redis_url) else {
        // The embedded database lives in a directory the caller owns.
        return Ok(());
    };
    mongodb::Client::with_uri_str(mongo_uri)
        .await?
        .database(db)
        .drop()
        .await?;
    let mut con = redis::Client::open(redis_url.as_str())?
        .get_multiplexed_async_connection()
        .await?;
    let claves: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefijo}*"))
        .query_async(&mut con)
        .await?;
    for lote in claves.chunks(500) {
        let _: () = redis::cmd("DEL").arg(lote).query_async(&mut con).await?;
    }
    Ok(())
}
