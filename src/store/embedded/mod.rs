//! The embedded backend: users, events, seats, purchase records, locks, idempotency keys
//! and the payment ledger in one SQLite file, `<data_dir>/eventflow.sqlite3`, so the CLI
//! works with no server at all. It implements the same traits as MongoDB + Redis.
//!
//! Every change that Redis makes with one Lua script is one `BEGIN IMMEDIATE` transaction
//! here, so it is atomic across every process that opens the file (WAL lets them share it).
//! rusqlite is synchronous: each operation runs on tokio's blocking pool, on one of a few
//! pooled connections. `esquema` holds the migrations, `filas` the row readers.

mod contadores;
mod eventos;
mod filas;
mod migraciones;
mod pagos;
mod registros;
mod reservas;
mod tokens;
mod usuarios;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};
use tokio::sync::Semaphore;

use crate::error::{Error, Result};
use crate::store::StoreHealth;

/// The database file inside the data directory.
pub const ARCHIVO: &str = "eventflow.sqlite3";

/// How long a statement waits for another process's write lock before giving up with
/// `BackendCaido`. Write transactions here last well under a millisecond, so reaching it
/// means a process is stuck holding the lock, not ordinary contention.
const PLAZO_BLOQUEO: Duration = Duration::from_secs(5);

/// Operations of one process that may run at once. Writers serialize on the file lock
/// anyway; a few connections let reads proceed beside a write without piling up threads.
const CONEXIONES: usize = 4;

/// Why an operation on a connection failed: a driver error (mapped with the file's path
/// once it leaves the blocking thread), a domain outcome the operation decided, or a
/// reason the file cannot be used.
pub(super) enum Fallo {
    Sql(rusqlite::Error),
    Dominio(Error),
    Caido(String),
}

impl From<rusqlite::Error> for Fallo {
    fn from(e: rusqlite::Error) -> Self {
        Fallo::Sql(e)
    }
}

impl From<Error> for Fallo {
    fn from(e: Error) -> Self {
        Fallo::Dominio(e)
    }
}

/// What the operations inside a blocking closure return.
pub(super) type R<T> = std::result::Result<T, Fallo>;

/// The SQLite store. Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub struct SqliteStore {
    compartido: Arc<Compartido>,
}

struct Compartido {
    ruta: PathBuf,
    libres: Mutex<Vec<Connection>>,
    turnos: Arc<Semaphore>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("ruta", &self.compartido.ruta)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating it and the directory if missing) `<data_dir>/eventflow.sqlite3` and
    /// migrates it. A directory that cannot be created, or a file that is not a readable
    /// SQLite database, is `BackendCaido` (exit 7) naming the path.
    pub async fn abrir(data_dir: &Path) -> Result<Self> {
        let dir = data_dir.to_path_buf();
        tokio::task::spawn_blocking(move || Self::abrir_bloqueante(&dir))
            .await
            .map_err(|e| Error::Interno(anyhow::anyhow!("la apertura de SQLite falló: {e}")))?
    }

    fn abrir_bloqueante(dir: &Path) -> Result<Self> {
        let ruta = dir.join(ARCHIVO);
        std::fs::create_dir_all(dir).map_err(|e| {
            caido(
                &ruta,
                format!(
                    "no se puede crear el directorio de datos {} ({e}); indique otro con --data-dir o EVENTFLOW_DATA_DIR",
                    dir.display()
                ),
            )
        })?;
        let mut con = conexion(&ruta)?;
        migraciones::migrar(&mut con).map_err(|f| mapear(&ruta, f))?;
        Ok(Self {
            compartido: Arc::new(Compartido {
                ruta,
                libres: Mutex::new(vec![con]),
                turnos: Arc::new(Semaphore::new(CONEXIONES)),
            }),
        })
    }

    /// The database file.
    pub fn ruta(&self) -> &Path {
        &self.compartido.ruta
    }

    /// Runs `f` on a pooled connection on the blocking pool.
    async fn con<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> R<T> + Send + 'static,
    {
        let c = self.compartido.clone();
        let turno = c
            .turnos
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| Error::Interno(anyhow::anyhow!("pool de SQLite cerrado: {e}")))?;
        tokio::task::spawn_blocking(move || {
            let _turno = turno;
            let libre = c.libres.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let mut con = match libre {
                Some(con) => con,
                None => conexion(&c.ruta)?,
            };
            let r = f(&mut con);
            // A connection left inside a transaction (a panic mid-way) is not reused.
            if con.is_autocommit() {
                c.libres.lock().unwrap_or_else(|p| p.into_inner()).push(con);
            }
            r.map_err(|f| mapear(&c.ruta, f))
        })
        .await
        .map_err(|e| Error::Interno(anyhow::anyhow!("una operación de SQLite falló: {e}")))?
    }

    /// Runs `f` in one `BEGIN IMMEDIATE` transaction: it holds the file's write lock from
    /// the start, so what it reads cannot change before it writes (the Lua scripts'
    /// guarantee on Redis). Any error rolls everything back.
    async fn escribir<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> R<T> + Send + 'static,
    {
        self.con(move |con| {
            let tx = con.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let v = f(&tx)?;
            tx.commit()?;
            Ok(v)
        })
        .await
    }

    /// Runs `f` in one read transaction, so reads spanning several statements see one
    /// snapshot.
    async fn leer<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> R<T> + Send + 'static,
    {
        self.con(move |con| {
            let tx = con.transaction_with_behavior(TransactionBehavior::Deferred)?;
            let v = f(&tx)?;
            tx.commit()?;
            Ok(v)
        })
        .await
    }

    /// `SQLite <version>`, read through a connection so it also checks the file.
    async fn version(&self) -> Result<String> {
        self.con(|con| {
            let v: String = con.query_row("SELECT sqlite_version()", [], |r| r.get(0))?;
            Ok(format!("SQLite {v}"))
        })
        .await
    }
}

/// Opens one connection with the settings every connection needs.
fn conexion(ruta: &Path) -> Result<Connection> {
    let con = Connection::open_with_flags(
        ruta,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| de_sqlite(ruta, e))?;
    let preparar = || -> std::result::Result<(), rusqlite::Error> {
        con.busy_timeout(PLAZO_BLOQUEO)?;
        modo_wal(&con)?;
        // Per connection, not stored in the file. NORMAL in WAL mode never corrupts the
        // file; a power cut may lose the last commits, a crashed process loses nothing.
        con.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
    };
    preparar().map_err(|e| de_sqlite(ruta, e))?;
    Ok(con)
}

/// Switches the file to WAL. On a new file several processes may race to do it, and that
/// switch can report SQLITE_BUSY without consulting the busy handler, so it is retried.
fn modo_wal(con: &Connection) -> std::result::Result<(), rusqlite::Error> {
    let inicio = Instant::now();
    let mut espera = Duration::from_millis(1);
    loop {
        match con.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(modo) => {
                if !modo.eq_ignore_ascii_case("wal") {
                    tracing::warn!(
                        modo,
                        "SQLite no pudo activar WAL; se usa el modo {modo} (más lento con varios procesos)"
                    );
                }
                return Ok(());
            }
            Err(e) if ocupada(&e) && inicio.elapsed() < PLAZO_BLOQUEO => {
                std::thread::sleep(espera);
                espera = (espera * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
}

fn ocupada(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

fn caido(ruta: &Path, detalle: String) -> Error {
    Error::BackendCaido {
        backend: "SQLite",
        direccion: ruta.display().to_string(),
        detalle,
    }
}

fn mapear(ruta: &Path, f: Fallo) -> Error {
    match f {
        Fallo::Sql(e) => de_sqlite(ruta, e),
        Fallo::Dominio(e) => e,
        Fallo::Caido(detalle) => caido(ruta, detalle),
    }
}

/// Maps a driver error with no domain meaning at the call site: a file that cannot be
/// opened, read or written, or stays locked, is `BackendCaido`; anything else `Interno`.
fn de_sqlite(ruta: &Path, e: rusqlite::Error) -> Error {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => caido(
            ruta,
            format!(
                "la base de datos siguió bloqueada por otro proceso más de {} s ({e})",
                PLAZO_BLOQUEO.as_secs()
            ),
        ),
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => caido(
            ruta,
            format!(
                "el archivo está dañado o no es una base de datos SQLite ({e}); restáurelo desde una copia o muévalo a otro sitio para empezar de cero"
            ),
        ),
        Some(
            ErrorCode::CannotOpen
            | ErrorCode::PermissionDenied
            | ErrorCode::ReadOnly
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::FileLockingProtocolFailed
            | ErrorCode::NoLargeFileSupport,
        ) => caido(
            ruta,
            format!("no se puede leer o escribir el archivo ({e})"),
        ),
        _ => Error::Interno(anyhow::anyhow!(
            "error de SQLite en {}: {e}",
            ruta.display()
        )),
    }
}

#[async_trait]
impl StoreHealth for SqliteStore {
    async fn ping(&self) -> Result<String> {
        self.version().await
    }
}
