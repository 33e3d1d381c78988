//! Test harness: every test gets its own MongoDB database and Redis key prefix on the
//! servers `scripts/test` starts (or the ones `EVENTFLOW_TEST_MONGO_URI` /
//! `EVENTFLOW_TEST_REDIS_URL` name), and drops them afterwards. A missing server is a
//! failure, never a skip. `Entorno::embebido()` gives the same namespace on the
//! embedded SQLite backend in a temporary data directory, and `en_ambos_backends!` runs
//! one test body on both; `en_ambos_backends!(cluster; ...)` adds a third run on the
//! Redis Cluster `scripts/test` starts (`EVENTFLOW_TEST_REDIS_CLUSTER_URL`).
//! `RedisPropio`, `ClusterPropio` and `NxPropio` run private servers that a test can kill.

/// Generates, for each named `async fn cuerpo(env: Entorno)`, one test per backend:
/// `mongo::cuerpo` (MongoDB + Redis) and `embebido::cuerpo` (SQLite); with a leading
/// `cluster;` also `cluster::cuerpo` (MongoDB + Redis Cluster).
macro_rules! en_ambos_backends {
    (cluster; $($nombre:ident),* $(,)?) => {
        en_ambos_backends!($($nombre),*);
        mod cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $nombre() {
                    super::$nombre(crate::helpers::Entorno::cluster()).await
                }
            )*
        }
    };
    ($($nombre:ident),* $(,)?) => {
        mod mongo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $nombre() {
                    super::$nombre(crate::helpers::Entorno::nuevo()).await
                }
            )*
        }
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $nombre() {
                    super::$nombre(crate::helpers::Entorno::embedded()).await
                }
            )*
        }
    };
}

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use eventflow::config::{Backend, Config, Uri};
use eventflow::store::Almacen;
use eventflow::store::redis::{Conexion, Plazos};

static CONTADOR: AtomicU32 = AtomicU32::new(0);

fn var_obligatoria(nombre: &str) -> String {
    std::env::var(nombre).unwrap_or_else(|_| {
        panic!(
            "{nombre} no está definida: ejecute las pruebas con scripts/test, que arranca \
             redis-server y NX-27017, o defina {nombre} apuntando a un servidor real"
        )
    })
}

/// Which backend an `Entorno` drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TipoEntorno {
    Mongo,
    Embedded,
}

/// A fresh, isolated namespace on the shared test servers, or in a private SQLite file.
pub struct Entorno {
    pub tipo: TipoEntorno,
    pub mongo_uri: String,
    pub redis_url: String,
    pub db: String,
    pub prefijo: String,
    /// Private XDG dirs so no developer config file leaks into the CLI under test.
    pub dir: tempfile::TempDir,
}

impl Entorno {
    pub fn nuevo() -> Self {
        Self::con_servidores(
            var_obligatoria("EVENTFLOW_TEST_MONGO_URI"),
            var_obligatoria("EVENTFLOW_TEST_REDIS_URL"),
        )
    }

    /// Like `nuevo`, against a given Redis (e.g. a `RedisPropio`).
    pub fn con_redis(redis_url: &str) -> Self {
        Self::con_servidores(
            var_obligatoria("EVENTFLOW_TEST_MONGO_URI"),
            redis_url.to_owned(),
        )
    }

    /// Like `nuevo`, against a given MongoDB (e.g. a `NxPropio`).
    pub fn con_mongo(mongo_uri: &str) -> Self {
        Self::con_servidores(
            mongo_uri.to_owned(),
            var_obligatoria("EVENTFLOW_TEST_REDIS_URL"),
        )
    }

    /// MongoDB + the shared test Redis Cluster (`EVENTFLOW_TEST_REDIS_CLUSTER_URL`).
    pub fn cluster() -> Self {
        Self::con_redis(&var_obligatoria("EVENTFLOW_TEST_REDIS_CLUSTER_URL"))
    }

    /// The embedded backend, in a data directory of its own.
    pub fn embedded() -> Self {
        let mut env = Self::con_servidores(String::new(), String::new());
        env.tipo = TipoEntorno::Embedded;
        env
    }

    pub fn es_mongo(&self) -> bool {
        self.tipo == TipoEntorno::Mongo
    }

    pub fn datos(&self) -> PathBuf {
        self.dir.path().join("datos")
    }

    fn con_servidores(mongo_uri: String, redis_url: String) -> Self {
        let n = CONTADOR.fetch_add(1, Ordering::Relaxed);
        let sufijo = format!("{}_{}_{}", std::process::id(), n, rand_suffix());
        Self {
            tipo: TipoEntorno::Mongo,
            mongo_uri,
            redis_url,
            db: format!("ef_test_{sufijo}"),
            prefijo: format!("ef_test_{sufijo}:"),
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn config(&self) -> Config {
        if !self.es_mongo() {
            return Config::con_backend(Backend::Embedded {
                data_dir: self.datos(),
            });
        }
        Config::con_backend(Backend::Mongo {
            mongo_uri: Uri::new(self.mongo_uri.clone()),
            mongo_db: self.db.clone(),
            redis_url: Uri::new(self.redis_url.clone()),
            redis_prefix: self.prefijo.clone(),
            redis_replicas_min: None,
            mongo_lectura: None,
        })
    }

    /// The stores, connected as the CLI would connect them.
    pub async fn almacen(&self) -> Almacen {
        eventflow::store::conectar(&self.config())
            .await
            .expect("conectar con los servidores de prueba")
    }

    /// The real `eventflow` binary, pointed at this namespace.
    pub fn cmd(&self) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.cmd_std())
    }

    /// Like `cmd_std`, but patient with a MongoDB that is up yet slow to accept: NX-27017
    /// handles one handshake at a time, so hundreds of processes starting at once queue
    /// for longer than the 2 s that tell a server that is down.
    pub fn cmd_std_paciente(&self) -> Command {
        let mut c = self.cmd_std();
        if self.es_mongo() {
            let uri = self.mongo_uri.replace(
                "serverSelectionTimeoutMS=2000",
                "serverSelectionTimeoutMS=60000",
            );
            let sep = if uri.contains('?') { '&' } else { '?' };
            c.env(
                "EVENTFLOW_MONGO_URI",
                format!("{uri}{sep}connectTimeoutMS=60000"),
            );
        }
        c
    }

    /// The same as `cmd`, as a plain std command (for spawning many at once).
    pub fn cmd_std(&self) -> Command {
        let mut c = Command::new(binario());
        self.configurar(&mut c);
        c
    }

    fn configurar(&self, c: &mut Command) {
        for (k, _) in std::env::vars() {
            if k.starts_with("EVENTFLOW_") && !k.starts_with("EVENTFLOW_TEST_") {
                c.env_remove(k);
            }
        }
        if self.es_mongo() {
            c.env("EVENTFLOW_MONGO_URI", &self.mongo_uri)
                .env("EVENTFLOW_REDIS_URL", &self.redis_url)
                .env("EVENTFLOW_MONGO_DB", &self.db)
                .env("EVENTFLOW_REDIS_PREFIX", &self.prefijo);
        } else {
            c.env("EVENTFLOW_DATA_DIR", self.datos());
        }
        c.env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("NO_COLOR", "1");
    }

    /// A raw connection to this test's SQLite file, to read or damage rows by hand.
    pub fn sqlite(&self) -> rusqlite::Connection {
        assert!(!self.es_mongo(), "sqlite() en un entorno mongo");
        rusqlite::Connection::open(self.datos().join("eventflow.sqlite3")).expect("abrir SQLite")
    }

    /// The live seat counter, read through the backend's own store.
    pub async fn contador(&self, evento: &eventflow::domain::EventoId) -> Option<i64> {
        self.almacen()
            .await
            .reservas
            .contador(evento)
            .await
            .expect("leer el contador")
    }

    pub async fn mongo(&self) -> mongodb::Database {
        assert!(self.es_mongo(), "mongo() en un entorno embebido");
        mongodb::Client::with_uri_str(&self.mongo_uri)
            .await
            .expect("cliente mongo")
            .database(&self.db)
    }

    /// A raw connection to this test's Redis, one node or cluster alike (on a cluster it
    /// routes each command to its key's node; `KEYS` asks every primary).
    pub async fn redis(&self) -> Conexion {
        assert!(self.es_mongo(), "redis() en un entorno embebido");
        conexion_cruda(&self.redis_url)
            .await
            .expect("conexión redis")
    }

    /// The full Redis key for `resto` under this test's prefix.
    pub fn clave(&self, resto: &str) -> String {
        format!("{}{resto}", self.prefijo)
    }
}

impl Drop for Entorno {
    fn drop(&mut self) {
        if !self.es_mongo() {
            // The temporary directory takes the SQLite file with it.
            return;
        }
        let mongo_uri = self.mongo_uri.clone();
        let redis_url = self.redis_url.clone();
        let db = self.db.clone();
        let prefijo = self.prefijo.clone();
        // Drop runs inside and outside runtimes alike: clean up on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(c) = mongodb::Client::with_uri_str(&mongo_uri).await {
                    let _ = c.database(&db).drop().await;
                }
                if let Ok(mut con) = conexion_cruda(&redis_url).await {
                    let claves: Vec<String> = redis::cmd("KEYS")
                        .arg(format!("{prefijo}*"))
                        .query_async(&mut con)
                        .await
                        .unwrap_or_default();
                    for lote in claves.chunks(500) {
                        let _: redis::RedisResult<()> =
                            redis::cmd("DEL").arg(lote).query_async(&mut con).await;
                    }
                }
            });
        })
        .join();
    }
}

/// A raw connection to a Redis node or cluster, through the store's own connection type.
pub async fn conexion_cruda(url: &str) -> redis::RedisResult<Conexion> {
    Conexion::abrir(
        &Uri::new(url.to_owned()),
        Plazos {
            conexion: Duration::from_secs(5),
            respuesta: Duration::from_secs(10),
            reintentos: 3,
        },
    )
    .await
}

fn rand_suffix() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish() as u32
}

/// A free TCP port on loopback (bind port 0, read it, release it).
pub fn puerto_libre() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind 0")
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts connections on `puerto`, by connecting (never sleeping blind).
pub fn esperar_puerto(puerto: u16, plazo: Duration) {
    let inicio = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", puerto)).is_err() {
        assert!(
            inicio.elapsed() < plazo,
            "nada escucha en 127.0.0.1:{puerto} tras {plazo:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A private redis-server with AOF, on a free port, that a test can kill and restart.
pub struct RedisPropio {
    pub puerto: u16,
    dir: tempfile::TempDir,
    hijo: Option<Child>,
    /// More `redis-server` arguments (an ACL user, say).
    extra: Vec<String>,
}

impl RedisPropio {
    pub fn arrancar() -> Self {
        Self::arrancar_con(Vec::new())
    }

    /// Like `arrancar`, with more server arguments.
    pub fn arrancar_con(extra: Vec<String>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut r = Self {
            puerto: puerto_libre(),
            dir,
            hijo: None,
            extra,
        };
        r.iniciar();
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.puerto)
    }

    fn iniciar(&mut self) {
        let hijo = Command::new("redis-server")
            .args(["--port", &self.puerto.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server no está instalado: scripts/test lo instala con apt");
        self.hijo = Some(hijo);
        esperar_puerto(self.puerto, Duration::from_secs(20));
        // The port accepts before the AOF is loaded; PING answers only once it is.
        let inicio = Instant::now();
        loop {
            let ok = redis::Client::open(self.url().as_str())
                .and_then(|c| c.get_connection())
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                .is_ok();
            if ok {
                break;
            }
            assert!(
                inicio.elapsed() < Duration::from_secs(20),
                "redis-server no responde"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `kill -9`: no shutdown, no final fsync.
    pub fn matar(&mut self) {
        if let Some(mut h) = self.hijo.take() {
            let _ = h.kill();
            let _ = h.wait();
        }
    }

    pub fn reiniciar(&mut self) {
        self.matar();
        self.iniciar();
    }
}

impl Drop for RedisPropio {
    fn drop(&mut self) {
        self.matar();
    }
}

/// Parses a command's stdout as exactly one JSON value.
/// Whether a failing command's stdout carries no data: nothing, or (with `-o json|jsonl`)
/// only the error object `{"error": {...}}`.
pub fn es_solo_error(salida: &[u8]) -> bool {
    let s = String::from_utf8_lossy(salida);
    s.trim().is_empty()
        || serde_json::from_str::<serde_json::Value>(&s).is_ok_and(|v| {
            v.as_object().is_some_and(|o| o.len() == 1) && v["error"]["codigo"].is_string()
        })
}

/// [`es_solo_error`] as a predicate on stdout.
pub fn solo_error() -> impl predicates::Predicate<[u8]> {
    predicates::function::function(|s: &[u8]| es_solo_error(s))
}

pub fn json(salida: &[u8]) -> serde_json::Value {
    serde_json::from_slice(salida).unwrap_or_else(|e| {
        panic!(
            "stdout no es un único valor JSON ({e}):\n{}",
            String::from_utf8_lossy(salida)
        )
    })
}

/// The `eventflow` binary path, for tests that spawn processes directly.
pub fn binario() -> PathBuf {
    assert_cmd::cargo::cargo_bin("eventflow")
}

/// A private NX-27017 (the MongoDB-protocol test server) that a test can kill.
pub struct NxPropio {
    pub puerto: u16,
    _dir: tempfile::TempDir,
    hijo: Option<Child>,
}

impl NxPropio {
    pub fn arrancar() -> Self {
        let bin = std::env::var("EVENTFLOW_TEST_NX_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/nx-27017")
            });
        assert!(
            bin.exists(),
            "no se encuentra {}: scripts/test instala nx-27017 en .venv",
            bin.display()
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let puerto = puerto_libre();
        let hijo = Command::new(&bin)
            .args([
                "--db",
                "memory",
                "--host",
                "127.0.0.1",
                "-p",
                &puerto.to_string(),
            ])
            .arg("--log-file")
            .arg(dir.path().join("nx.log"))
            .arg("--pid-file")
            .arg(dir.path().join("nx.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("arrancar nx-27017");
        esperar_puerto(puerto, Duration::from_secs(20));
        Self {
            puerto,
            _dir: dir,
            hijo: Some(hijo),
        }
    }

    pub fn uri(&self) -> String {
        format!(
            "mongodb://127.0.0.1:{}/?serverSelectionTimeoutMS=2000",
            self.puerto
        )
    }

    /// `kill -9`.
    pub fn matar(&mut self) {
        if let Some(mut h) = self.hijo.take() {
            let _ = h.kill();
            let _ = h.wait();
        }
    }
}

impl Drop for NxPropio {
    fn drop(&mut self) {
        self.matar();
    }
}
