//! The SQLite schema and its migrations, versioned with `PRAGMA user_version`. Migrating
//! runs inside `BEGIN IMMEDIATE` and re-reads the version once it holds the write lock, so
//! two processes opening the same new file at once both succeed and migrate it once.

use rusqlite::{Connection, TransactionBehavior};

use super::Fallo;

/// Migration `i` takes the schema from version `i` to `i + 1`. Append only: a released
/// migration is never edited, since files already at its version would not run it again.
const MIGRACIONES: &[&str] = &[
    // 0 → 1: everything the two stores of the production backend hold.
    r#"
    -- MongoDB's `usuarios`. The history is its own table, one row per purchase, and the
    -- document pair is unique only when present (SQLite never counts NULLs as equal).
    CREATE TABLE usuarios (
        id              TEXT PRIMARY KEY NOT NULL,
        tipo_documento  TEXT,
        nro_documento   TEXT,
        nombre          TEXT NOT NULL,
        apellido        TEXT NOT NULL,
        email           TEXT NOT NULL,
        CHECK ((tipo_documento IS NULL) = (nro_documento IS NULL))
    );
    CREATE UNIQUE INDEX usuarios_email ON usuarios (email);
    CREATE UNIQUE INDEX usuarios_documento ON usuarios (tipo_documento, nro_documento);

    -- `historial_compras`; the rowid keeps the order purchases were added in.
    CREATE TABLE historial (
        usuario_id    TEXT NOT NULL REFERENCES usuarios (id),
        reserva_id    TEXT NOT NULL,
        evento_id     TEXT NOT NULL,
        fecha_compra  TEXT NOT NULL,
        entradas      INTEGER NOT NULL,
        PRIMARY KEY (usuario_id, reserva_id)
    );
    CREATE INDEX historial_evento ON historial (evento_id);

    -- MongoDB's `eventos` with its read model.
    CREATE TABLE eventos (
        id                    TEXT PRIMARY KEY NOT NULL,
        nombre                TEXT NOT NULL,
        fecha                 TEXT NOT NULL,
        lugar                 TEXT NOT NULL,
        aforo_total           INTEGER NOT NULL,
        entradas_disponibles  INTEGER NOT NULL,
        precio                INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX eventos_nombre_fecha ON eventos (nombre, fecha);

    CREATE TABLE reservas_activas (
        evento_id   TEXT NOT NULL REFERENCES eventos (id) ON DELETE CASCADE,
        reserva_id  TEXT NOT NULL,
        PRIMARY KEY (evento_id, reserva_id)
    );

    -- What Redis holds. None of it references `eventos`: on the production backend the
    -- two stores are independent, and the core keeps them in step the same way here.
    -- The live seat counter (`evento:{E}:entradas`).
    CREATE TABLE contadores (
        evento_id  TEXT PRIMARY KEY NOT NULL,
        entradas   INTEGER NOT NULL
    );

    -- The saga records. Instants are epoch milliseconds, as on Redis.
    CREATE TABLE reservas (
        id               TEXT PRIMARY KEY NOT NULL,
        evento_id        TEXT NOT NULL,
        usuario_id       TEXT NOT NULL,
        entradas         INTEGER NOT NULL,
        estado           TEXT NOT NULL,
        importe          INTEGER NOT NULL,
        creada           INTEGER NOT NULL,
        actualizada      INTEGER NOT NULL,
        paso             TEXT NOT NULL,
        fase             TEXT NOT NULL,
        expira           INTEGER NOT NULL,
        clave            TEXT,
        fecha_compra     INTEGER,
        terminada        INTEGER NOT NULL,
        reclamada_hasta  INTEGER
    );
    CREATE INDEX reservas_evento ON reservas (evento_id, creada);
    -- Redis's `retenidas` zset: the holds still in flight, by expiry.
    CREATE INDEX reservas_retenidas ON reservas (expira) WHERE terminada = 0;

    -- One purchase in flight per user and event, until `expira` (epoch ms).
    CREATE TABLE bloqueos (
        usuario_id  TEXT NOT NULL,
        evento_id   TEXT NOT NULL,
        reserva_id  TEXT NOT NULL,
        expira      INTEGER NOT NULL,
        PRIMARY KEY (usuario_id, evento_id)
    );

    -- The simulated gateway's ledger.
    CREATE TABLE pagos (
        reserva_id   TEXT PRIMARY KEY NOT NULL,
        evento_id    TEXT NOT NULL,
        importe      INTEGER NOT NULL,
        aprobado     INTEGER NOT NULL,
        cobrado      INTEGER NOT NULL,
        reembolsado  INTEGER
    );
    CREATE INDEX pagos_evento ON pagos (evento_id);

    -- Idempotency keys; `caduca` (epoch ms) plays the part of the Redis TTL.
    CREATE TABLE idempotencia (
        clave       TEXT PRIMARY KEY NOT NULL,
        huella      TEXT NOT NULL,
        reserva_id  TEXT NOT NULL,
        caduca      INTEGER NOT NULL
    );
    "#,
    // 1 → 2: API tokens (issue 11). MongoDB's `tokens`; `huella` is the SHA-256 of the
    // secret, never the secret. Lists are comma-separated; an empty `eventos` is all.
    // Instants are epoch milliseconds.
    r#"
    CREATE TABLE tokens (
        id        TEXT PRIMARY KEY NOT NULL,
        nombre    TEXT NOT NULL,
        permisos  TEXT NOT NULL,
        eventos   TEXT NOT NULL,
        creado    INTEGER NOT NULL,
        expira    INTEGER,
        revocado  INTEGER,
        huella    TEXT NOT NULL
    );
    "#,
    // 2 → 3: fencing and capacity compare-and-set (issue #9). The counter keeps the
    // capacity it is accounted against, so a capacity change is one compare-and-set on
    // both; a purchase records who took it over (`toma`, a state that fences the saga
    // out) and why its saga rolled back (`fallo`, replayed to idempotent retries).
    r#"
    ALTER TABLE contadores ADD COLUMN aforo INTEGER;
    UPDATE contadores SET aforo =
        (SELECT aforo_total FROM eventos WHERE eventos.id = contadores.evento_id);
    ALTER TABLE reservas ADD COLUMN toma TEXT;
    ALTER TABLE reservas ADD COLUMN fallo TEXT;
    "#,
    // 3 → 4: the order `reservas listar` pages in (issue 12): by event, then by id.
    r#"
    CREATE INDEX reservas_orden ON reservas (evento_id, id);
    "#,
];

/// The schema version this build writes.
pub(super) const VERSION: i64 = MIGRACIONES.len() as i64;

fn version(con: &Connection) -> Result<i64, rusqlite::Error> {
    con.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Brings the file up to [`VERSION`]. A no-op read when it already is, so every process
/// can call it at start-up. A file from a newer `eventflow` is refused rather than touched.
pub(super) fn migrar(con: &mut Connection) -> Result<(), Fallo> {
    if version(con)? == VERSION {
        return Ok(());
    }
    let tx = con.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Another process may have migrated while this one waited for the lock.
    let actual = version(&tx)?;
    if actual > VERSION {
        return Err(Fallo::Caido(format!(
            "la base de datos tiene la versión de esquema {actual} y esta versión de eventflow \
             solo entiende hasta la {VERSION}; actualice eventflow"
        )));
    }
    for (i, sql) in MIGRACIONES.iter().enumerate().skip(actual.max(0) as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    tx.commit()?;
    Ok(())
}
