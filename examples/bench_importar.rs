//! Issue #4's speed goal: how much of the server's bulk-insert speed `importar` keeps.
//! It generates N users as JSON Lines and as CSV, then, on the same server in the same
//! run and each on a fresh database with the same indexes, measures rows/s of:
//! a bare `insert_many` loop (unordered, same batch size, documents built beforehand),
//! `importar` in insert mode from each file, `importar` in upsert mode from each file
//! into an empty collection, and an upsert re-run over the stored rows. It prints the
//! median of the rounds and the ratios to the bare loop (targets: insert ≥ 90 %,
//! upsert ≥ 70 %).
//!
//! ```text
//! cargo run --release --example bench_importar -- <mongo-uri> <redis-url> [--filas 100000] [--rondas 3] [--sin-reejecucion]
//! cargo run --release --example bench_importar -- --generar DIR --filas 1000000   # files only
//! ```
//! Everything it stores goes under `bench_importar_<ms>_*` and is dropped as it goes.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{Document, doc};

use eventflow::config::{Backend, Config, Uri};
use eventflow::domain::Fecha;
use eventflow::import::{
    self, Entidad, FileFormat, ImportOptions, ModoImport, NoImportProgress, SinDestino,
};

#[derive(Parser)]
#[command(about = "Filas/s de importar frente a insert_many directo")]
struct Args {
    /// URI de MongoDB (o NX-27017).
    mongo_uri: Option<String>,
    /// URL de Redis.
    redis_url: Option<String>,
    /// Usuarios generados.
    #[arg(long, default_value_t = 100_000)]
    filas: usize,
    /// Rondas; el orden de los casos se invierte en cada una para que la deriva del
    /// servidor no favorezca a ninguno.
    #[arg(long, default_value_t = 3)]
    rondas: usize,
    /// Filas por lote (las mismas para importar y para insert_many).
    #[arg(long, default_value_t = 1000)]
    lote: usize,
    /// Omite la reejecución en modo upsert sobre filas ya guardadas.
    #[arg(long)]
    sin_reejecucion: bool,
    /// Solo escribe usuarios.jsonl y usuarios.csv en DIR (para medir memoria con el binario).
    #[arg(long, value_name = "DIR")]
    generar: Option<PathBuf>,
}

/// The i-th generated user; every third one has an identity document.
fn usuario(i: usize) -> (Option<(String, String)>, String, String, String) {
    let doc = i
        .is_multiple_of(3)
        .then(|| ("DNI".to_owned(), format!("{}", 10_000_000 + i)));
    (
        doc,
        format!("Nombre{i}"),
        format!("Apellido {}", i % 997),
        format!("usuario{i}@example.com"),
    )
}

fn generar(dir: &Path, filas: usize) -> Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir)?;
    let jsonl = dir.join("usuarios.jsonl");
    let csv = dir.join("usuarios.csv");
    let mut j = BufWriter::new(File::create(&jsonl)?);
    let mut c = BufWriter::new(File::create(&csv)?);
    writeln!(c, "tipo_documento,nro_documento,nombre,apellido,email")?;
    for i in 0..filas {
        let (d, nombre, apellido, email) = usuario(i);
        let mut o = serde_json::json!({"nombre": nombre, "apellido": apellido, "email": email});
        if let Some((t, n)) = &d {
            o["tipo_documento"] = t.as_str().into();
            o["nro_documento"] = n.as_str().into();
        }
        serde_json::to_writer(&mut j, &o)?;
        j.write_all(b"\n")?;
        let (t, n) = d.unwrap_or_default();
        writeln!(c, "{t},{n},{nombre},{apellido},{email}")?;
    }
    j.flush()?;
    c.flush()?;
    Ok((jsonl, csv))
}

/// The documents `UsuarioStore::importar` would store, built before the clock starts.
fn documentos(filas: usize) -> Vec<Document> {
    (0..filas)
        .map(|i| {
            let (d, nombre, apellido, email) = usuario(i);
            let mut doc = doc! { "_id": ObjectId::new() };
            if let Some((t, n)) = d {
                doc.insert("tipo_documento", t);
                doc.insert("nro_documento", n);
            }
            doc.insert("nombre", nombre);
            doc.insert("apellido", apellido);
            doc.insert("email", email);
            doc.insert("historial_compras", Vec::<String>::new());
            doc
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Caso {
    Directo,
    JsonlInsertar,
    CsvInsertar,
    JsonlUpsert,
    CsvUpsert,
    /// Upsert of the JSONL file over the rows the previous case stored: all updates.
    JsonlUpsertExistentes,
}

impl Caso {
    fn nombre(self) -> &'static str {
        match self {
            Caso::Directo => "insert_many directo",
            Caso::JsonlInsertar => "importar jsonl --modo insertar",
            Caso::CsvInsertar => "importar csv --modo insertar",
            Caso::JsonlUpsert => "importar jsonl --modo upsert (colección vacía)",
            Caso::CsvUpsert => "importar csv --modo upsert (colección vacía)",
            Caso::JsonlUpsertExistentes => "importar jsonl --modo upsert (filas ya guardadas)",
        }
    }
}

struct Banco {
    mongo_uri: String,
    redis_url: String,
    base: String,
    lote: usize,
    filas: usize,
    reejecucion: bool,
    jsonl: PathBuf,
    csv: PathBuf,
}

impl Banco {
    fn config(&self, db: &str) -> Config {
        Config::con_backend(Backend::Mongo {
            mongo_uri: Uri::new(&self.mongo_uri),
            mongo_db: db.to_owned(),
            redis_url: Uri::new(&self.redis_url),
            redis_prefix: format!("{db}:"),
            redis_replicas_min: None,
            mongo_lectura: None,
        })
    }

    async fn borrar(&self, db: &str) -> Result<()> {
        mongodb::Client::with_uri_str(&self.mongo_uri)
            .await?
            .database(db)
            .drop()
            .await?;
        Ok(())
    }

    async fn importar(
        &self, alm: &eventflow::store::Almacen, formato: FileFormat, modo: ModoImport,
    ) -> Result<Duration> {
        let ruta = match formato {
            FileFormat::Csv => &self.csv,
            _ => &self.jsonl,
        };
        let f = File::open(ruta)?;
        let opciones = ImportOptions {
            formato,
            modo,
            dry_run: false,
            lote: self.lote,
        };
        let t = Instant::now();
        let r = import::importar(
            Entidad::Usuarios,
            Some(alm),
            f,
            &opciones,
            &NoImportProgress,
            &mut SinDestino,
        )
        .await?;
        let t = t.elapsed();
        if r.rechazadas != 0 || r.insertadas + r.actualizadas != self.filas as u64 {
            bail!("importación incompleta: {r:?}");
        }
        Ok(t)
    }

    /// Runs one case on a fresh database; returns the timings it produced.
    async fn medir(&self, caso: Caso, ronda: usize) -> Result<Vec<(Caso, Duration)>> {
        let db = format!("{}_{ronda}_{}", self.base, caso as u8);
        // Connecting creates the same indexes for every case, the bare loop included.
        let alm = eventflow::store::conectar(&self.config(&db)).await?;
        let salida = match caso {
            Caso::Directo => {
                let docs = documentos(self.filas);
                let col = mongodb::Client::with_uri_str(&self.mongo_uri)
                    .await?
                    .database(&db)
                    .collection::<Document>("usuarios");
                let t = Instant::now();
                for trozo in docs.chunks(self.lote) {
                    col.insert_many(trozo).ordered(false).await?;
                }
                vec![(caso, t.elapsed())]
            }
            Caso::JsonlInsertar => vec![(
                caso,
                self.importar(&alm, FileFormat::Jsonl, ModoImport::Insertar)
                    .await?,
            )],
            Caso::CsvInsertar => vec![(
                caso,
                self.importar(&alm, FileFormat::Csv, ModoImport::Insertar)
                    .await?,
            )],
            Caso::JsonlUpsert => {
                let vacia = self
                    .importar(&alm, FileFormat::Jsonl, ModoImport::Upsert)
                    .await?;
                let mut v = vec![(caso, vacia)];
                if self.reejecucion {
                    let llena = self
                        .importar(&alm, FileFormat::Jsonl, ModoImport::Upsert)
                        .await?;
                    v.push((Caso::JsonlUpsertExistentes, llena));
                }
                v
            }
            Caso::CsvUpsert => vec![(
                caso,
                self.importar(&alm, FileFormat::Csv, ModoImport::Upsert)
                    .await?,
            )],
            Caso::JsonlUpsertExistentes => Vec::new(),
        };
        self.borrar(&db).await?;
        Ok(salida)
    }
}

fn mediana(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> Result<()> {
    let a = Args::parse();
    if let Some(dir) = &a.generar {
        let (j, c) = generar(dir, a.filas)?;
        println!("{}\n{}", j.display(), c.display());
        return Ok(());
    }
    let (Some(mongo_uri), Some(redis_url)) = (a.mongo_uri.clone(), a.redis_url.clone()) else {
        bail!("indique <mongo-uri> <redis-url>, o --generar DIR");
    };
    let dir = tempfile::tempdir()?;
    let (jsonl, csv) = generar(dir.path(), a.filas).context("generar los archivos")?;
    let banco = Banco {
        mongo_uri,
        redis_url,
        base: format!("bench_importar_{}", Fecha::ahora().millis()),
        lote: a.lote,
        filas: a.filas,
        reejecucion: !a.sin_reejecucion,
        jsonl,
        csv,
    };
    let mut casos = vec![
        Caso::Directo,
        Caso::JsonlInsertar,
        Caso::CsvInsertar,
        Caso::JsonlUpsert,
        Caso::CsvUpsert,
    ];
    let mut tiempos: BTreeMap<Caso, Vec<Duration>> = BTreeMap::new();
    for ronda in 0..a.rondas.max(1) {
        for &caso in &casos {
            for (c, t) in banco.medir(caso, ronda).await? {
                eprintln!(
                    "ronda {}: {:<50} {:>8.0} filas/s",
                    ronda + 1,
                    c.nombre(),
                    a.filas as f64 / t.as_secs_f64()
                );
                tiempos.entry(c).or_default().push(t);
            }
        }
        casos.reverse();
    }
    let ritmo = |c: Caso, t: &mut BTreeMap<Caso, Vec<Duration>>| {
        a.filas as f64 / mediana(t.get_mut(&c).expect("medido")).as_secs_f64()
    };
    let directo = ritmo(Caso::Directo, &mut tiempos);
    println!(
        "{} usuarios, lotes de {}, mediana de {} rondas",
        a.filas,
        a.lote,
        a.rondas.max(1)
    );
    println!("{:<50} {:>10} {:>8}", "caso", "filas/s", "ratio");
    for c in tiempos.keys().copied().collect::<Vec<_>>() {
        let r = ritmo(c, &mut tiempos);
        println!(
            "{:<50} {:>10.0} {:>7.1}%",
            c.nombre(),
            r,
            100.0 * r / directo
        );
    }
    Ok(())
}
