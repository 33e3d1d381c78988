//! Settings, layered as the contract says: flag > environment > config file > default.
//! Every setting is declared once, in [`Ajustes`]: clap reads its flag and environment
//! variable, serde its TOML key. This module adds the defaults, validates, remembers where
//! each value came from (for `estado` and for error messages), and wires the stores' users:
//! the payment simulator, the fault injector and the [`Reservador`]. Secrets stay redacted:
//! `Uri` never prints its password.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::compra::{Fallos, PasarelaSimulada, Reservador};
use crate::error::{Error, Result};
use crate::store::{Almacen, CobroStore};

mod ajustes;
mod archivo;
mod escala;
mod uri;
pub use ajustes::{Ajustes, Capas, Nombres, Origen, nombres};
pub use archivo::ruta_config_por_defecto;
pub use escala::{LecturaMongo, REPLICAS_MAX};
pub use uri::{Uri, redactar, redactar_texto, validar_redis, validar_uri};

/// Which backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TipoBackend {
    Mongo,
    Embedded,
}

/// The settings a backend needs, once resolved.
#[derive(Debug, Clone)]
pub enum Backend {
    Mongo {
        mongo_uri: Uri,
        mongo_db: String,
        redis_url: Uri,
        redis_prefix: String,
        /// Replicas each seat-changing script waits for; `None`: 1 on a cluster, 0 else.
        redis_replicas_min: Option<u32>,
        /// Where AP reads go; `None`: as the URI's `readPreference` says (primary).
        mongo_lectura: Option<LecturaMongo>,
    },
    Embedded {
        data_dir: PathBuf,
    },
}

/// Fully resolved settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub backend: Backend,
    /// The layers it was resolved from. The payment and fault settings are parsed from here
    /// only by the commands that use them, so a bad `EVENTFLOW_PAGO_RECHAZO` never breaks
    /// a listing or a read-only `verificar`.
    pub capas: Capas,
}

/// `EVENTFLOW_RESERVA_TTL_S` when nobody sets it: 15 minutes.
pub const TTL_POR_DEFECTO_S: u64 = 900;
/// The hold must outlast a payment round trip (1 s) and not keep seats from buyers for
/// longer than a week (issue #9): 1 s to 7 days.
pub const TTL_RANGO_S: std::ops::RangeInclusive<u64> = 1..=7 * 24 * 3600;
/// `EVENTFLOW_MONGO_DB` when nobody sets it.
pub const MONGO_DB_POR_DEFECTO: &str = "eventflow";

impl Config {
    /// Settings for `backend` with every other setting at its default (tests, benchmarks).
    pub fn con_backend(backend: Backend) -> Config {
        Config {
            backend,
            capas: Capas {
                valores: Ajustes::default(),
                origenes: BTreeMap::new(),
                archivo: None,
            },
        }
    }

    /// Resolves the command line (`cli`, with clap's origin of each key) over the config
    /// file (`--config`, `EVENTFLOW_CONFIG`, else the platform's `eventflow.toml` if it
    /// exists) and the defaults. Errors are usage errors naming the setting's source.
    pub fn resolver(cli: Ajustes, origenes: &BTreeMap<String, Origen>) -> Result<Config> {
        let (archivo, ruta) = archivo::leer(cli.config.as_deref())?;
        Self::desde_capas(ajustes::combinar(cli, origenes, archivo, ruta)?)
    }

    /// Applies defaults and validation to already layered settings.
    pub fn desde_capas(capas: Capas) -> Result<Config> {
        let v = &capas.valores;
        let backend = match elegir_backend(&capas)? {
            TipoBackend::Mongo => {
                let (Some(m), Some(r)) = (&v.mongo_uri, &v.redis_url) else {
                    return Err(Error::Invalido(format!(
                        "el backend mongo ({}) necesita la URI de MongoDB y la URL de Redis: \
                         indique {} y {}",
                        capas.describir("backend"),
                        capas.describir("mongo_uri"),
                        capas.describir("redis_url")
                    )));
                };
                let mongo_db = v
                    .mongo_db
                    .clone()
                    .unwrap_or_else(|| MONGO_DB_POR_DEFECTO.into());
                validar_nombre_db(&mongo_db, &capas.describir("mongo_db"))?;
                let (mongo_uri, redis_url) = (Uri::new(m.as_str()), Uri::new(r.as_str()));
                validar_uri(&capas.describir("mongo_uri"), &mongo_uri)?;
                validar_redis(&capas.describir("redis_url"), &redis_url)?;
                let redis_replicas_min = v
                    .redis_replicas_min
                    .as_deref()
                    .map(|raw| escala::replicas_min(raw, &capas.describir("redis_replicas_min")))
                    .transpose()?;
                let mongo_lectura = v
                    .mongo_lectura
                    .as_deref()
                    .map(|raw| LecturaMongo::parse(raw, &capas.describir("mongo_lectura")))
                    .transpose()?;
                Backend::Mongo {
                    mongo_uri,
                    mongo_db,
                    redis_url,
                    redis_prefix: v.redis_prefix.clone().unwrap_or_default(),
                    redis_replicas_min,
                    mongo_lectura,
                }
            }
            TipoBackend::Embedded => Backend::Embedded {
                data_dir: match &v.data_dir {
                    Some(d) => d.clone(),
                    None => archivo::directorio_datos_por_defecto()?,
                },
            },
        };
        Ok(Config { backend, capas })
    }

    /// How long a purchase holds its seats before `compensar` may finish it
    /// (`EVENTFLOW_RESERVA_TTL_S`, default 900 s), parsed on demand like every setting
    /// only some commands use. Error: `Invalido` (exit 2) naming the value's source.
    pub fn reserva_ttl(&self) -> Result<Duration> {
        match &self.capas.valores.reserva_ttl_s {
            Some(raw) => ttl(raw, &self.capas.describir("reserva_ttl_s")),
            None => Ok(Duration::from_secs(TTL_POR_DEFECTO_S)),
        }
    }

    /// The fault to inject (`EVENTFLOW_FAULT`), parsed on demand.
    pub fn fallos(&self) -> Result<Fallos> {
        match &self.capas.valores.fault {
            Some(raw) => Fallos::parse(raw, &self.capas.describir("fault")),
            None => Ok(Fallos::ninguno()),
        }
    }

    /// The simulated payment gateway over `libro`: `EVENTFLOW_PAGO_RECHAZO` (0..1,
    /// default 0) and `EVENTFLOW_PAGO_LATENCIA_MS` (default 0).
    pub fn pasarela(&self, libro: Arc<dyn CobroStore>) -> Result<PasarelaSimulada> {
        let v = &self.capas.valores;
        let rechazo = match &v.pago_rechazo {
            Some(raw) => raw
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|p| (0.0..=1.0).contains(p))
                .ok_or_else(|| {
                    Error::Invalido(format!(
                        "{} inválido {raw:?}: debe ser un número entre 0 y 1, por ejemplo 0.1",
                        self.capas.describir("pago_rechazo")
                    ))
                })?,
            None => 0.0,
        };
        let latencia = match &v.pago_latencia_ms {
            Some(raw) => Duration::from_millis(raw.trim().parse::<u64>().map_err(|_| {
                Error::Invalido(format!(
                    "{} inválido {raw:?}: debe ser un número entero de milisegundos, por ejemplo 200",
                    self.capas.describir("pago_latencia_ms")
                ))
            })?),
            None => Duration::ZERO,
        };
        PasarelaSimulada::new(libro, rechazo, latencia, None)
    }

    /// The saga wired to `almacen` with these settings: the one production wiring that
    /// `reservar`, `compensar`, `cancelar`, `verificar --reparar` and `serve` share.
    pub fn reservador(&self, almacen: Almacen) -> Result<Reservador> {
        let fallos = self.fallos()?;
        let pasarela = Arc::new(self.pasarela(almacen.reservas.clone())?);
        Ok(Reservador::new(
            almacen,
            pasarela,
            self.reserva_ttl()?,
            fallos,
        ))
    }

    /// The saga for commands that never charge or refund (a read-only `verificar`): it
    /// does not read the payment, fault or hold settings, so a bad one cannot break them.
    pub fn reservador_sin_pagos(&self, almacen: Almacen) -> Result<Reservador> {
        let libro = almacen.reservas.clone();
        let pasarela = Arc::new(PasarelaSimulada::new(libro, 0.0, Duration::ZERO, None)?);
        // It takes no seats, so the hold's length never matters here.
        let ttl = Duration::from_secs(TTL_POR_DEFECTO_S);
        Ok(Reservador::new(almacen, pasarela, ttl, Fallos::ninguno()))
    }

    /// Every setting with its effective value (secrets redacted, `None` when unset and
    /// without a default) and where it came from, in declaration order.
    pub fn vista(&self) -> Vec<AjusteVisible> {
        let mapa = match serde_json::to_value(&self.capas.valores) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        nombres()
            .into_iter()
            .map(|n| {
                let dado = mapa.get(&n.clave).map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    otro => otro.to_string(),
                });
                let origen = self.capas.origen(&n.clave);
                let valor = match (dado, n.clave.as_str()) {
                    (Some(s), _) if n.secreto => Some(redactar(&s)),
                    (Some(s), _) => Some(s),
                    (None, "config") => {
                        self.capas.archivo.as_ref().map(|p| p.display().to_string())
                    }
                    (None, clave) => self.por_defecto(clave),
                };
                AjusteVisible {
                    clave: n.clave,
                    env: n.env,
                    valor,
                    origen,
                }
            })
            .collect()
    }

    fn por_defecto(&self, clave: &str) -> Option<String> {
        let mongo = matches!(self.backend, Backend::Mongo { .. });
        match (clave, &self.backend) {
            ("backend", _) => Some(if mongo { "mongo" } else { "embedded" }.into()),
            ("mongo_db", _) if mongo => Some(MONGO_DB_POR_DEFECTO.into()),
            ("redis_prefix", _) if mongo => Some(String::new()),
            ("data_dir", Backend::Embedded { data_dir }) => Some(data_dir.display().to_string()),
            ("redis_replicas_min", Backend::Mongo { redis_url, .. }) => {
                // A list of nodes is a cluster: writes wait for one replica there.
                Some(
                    if redis_url.expose().contains(',') {
                        "1"
                    } else {
                        "0"
                    }
                    .into(),
                )
            }
            ("mongo_lectura", _) if mongo => Some("primario".into()),
            ("reserva_ttl_s", _) => Some(TTL_POR_DEFECTO_S.to_string()),
            ("pago_rechazo" | "pago_latencia_ms", _) => Some("0".into()),
            _ => None,
        }
    }
}

/// One row of `estado`'s configuration section.
#[derive(Debug, Clone, Serialize)]
pub struct AjusteVisible {
    /// The TOML key, e.g. `redis_url`.
    pub clave: String,
    /// Its environment variable, e.g. `EVENTFLOW_REDIS_URL`.
    pub env: String,
    /// The effective value, redacted if secret.
    pub valor: Option<String>,
    pub origen: Origen,
}

/// Picks the backend: forced by `backend`, else mongo with both addresses, embedded with
/// neither; one address without the other is a usage error naming where it came from.
fn elegir_backend(capas: &Capas) -> Result<TipoBackend> {
    let v = &capas.valores;
    let hay = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
    match (v.backend, hay(&v.mongo_uri), hay(&v.redis_url)) {
        (Some(t), _, _) => Ok(t),
        (None, true, true) => Ok(TipoBackend::Mongo),
        (None, false, false) => Ok(TipoBackend::Embedded),
        (None, true, false) => Err(falta_la_otra(capas, "mongo_uri", "redis_url")),
        (None, false, true) => Err(falta_la_otra(capas, "redis_url", "mongo_uri")),
    }
}

fn falta_la_otra(capas: &Capas, dada: &str, falta: &str) -> Error {
    let donde = match (capas.origen(dada), &capas.archivo) {
        (Origen::Archivo, Some(p)) => format!(
            "el archivo de configuración {} tiene {dada} pero le falta {falta}",
            p.display()
        ),
        _ => format!("{} está definida pero falta {falta}", capas.describir(dada)),
    };
    let n = nombres().into_iter().find(|n| n.clave == falta);
    let como = n
        .map(|n| format!(" (o {} / {})", n.flag, n.env))
        .unwrap_or_default();
    Error::Invalido(format!(
        "{donde}{como}: el backend MongoDB + Redis necesita ambas direcciones; \
         para el backend embebido no indique ninguna"
    ))
}

/// Parses and range-checks a hold duration in seconds; `origen` names where it came from.
fn ttl(raw: &str, origen: &str) -> Result<Duration> {
    let fuera = || {
        Error::Invalido(format!(
            "{origen} inválido {raw:?}: debe ser un número entero de segundos entre {} y {} \
             (7 días), por ejemplo 900",
            TTL_RANGO_S.start(),
            TTL_RANGO_S.end()
        ))
    };
    let s: u64 = raw.trim().parse().map_err(|_| fuera())?;
    if !TTL_RANGO_S.contains(&s) {
        return Err(fuera());
    }
    Ok(Duration::from_secs(s))
}

fn validar_nombre_db(db: &str, origen: &str) -> Result<()> {
    if db.is_empty() || db.len() > 63 || db.chars().any(|c| "/\\. \"$*<>:|?".contains(c)) {
        return Err(Error::Invalido(format!(
            "nombre de base de datos inválido {db:?} en {origen}: use letras, dígitos, - o _ (máximo 63)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn combinar(cli: Ajustes, archivo: Ajustes) -> Result<Config> {
        let ruta = Some(PathBuf::from("/etc/eventflow.toml"));
        Config::desde_capas(ajustes::combinar(cli, &BTreeMap::new(), archivo, ruta)?)
    }

    #[test]
    fn una_contrasena_con_barra_sin_codificar_es_un_error_de_uso_sin_secreto() {
        let capa = Ajustes {
            mongo_uri: Some("mongodb://raiz:S3cr/tPw@m:1/".into()),
            redis_url: Some("redis://localhost".into()),
            ..Ajustes::default()
        };
        let e = combinar(capa, Ajustes::default()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let m = e.to_string();
        assert!(
            m.contains("%2F") && !m.contains("S3cr") && !m.contains("tPw"),
            "{m}"
        );
        let u = Uri::new("redis://:S3cr%2FtPw@h");
        assert!(validar_uri("x", &u).is_ok());
        let t = redactar_texto(
            "invalid server address raiz:S3cr: port",
            &[&Uri::new("mongodb://raiz:S3cr/tPw@m")],
        );
        assert!(!t.contains("S3cr"), "{t}");
    }

    #[test]
    fn una_uri_sin_la_otra_es_error_de_uso() {
        let capa = Ajustes {
            mongo_uri: Some("mongodb://x".into()),
            ..Ajustes::default()
        };
        let e = combinar(capa, Ajustes::default()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn la_capa_gana_al_archivo() {
        let capa = Ajustes {
            mongo_uri: Some("mongodb://flag".into()),
            redis_url: Some("redis://flag".into()),
            ..Ajustes::default()
        };
        let archivo = Ajustes {
            mongo_uri: Some("mongodb://file".into()),
            mongo_db: Some("desde_archivo".into()),
            ..Ajustes::default()
        };
        let c = combinar(capa, archivo).unwrap();
        let Backend::Mongo {
            mongo_uri,
            mongo_db,
            ..
        } = c.backend
        else {
            panic!()
        };
        assert_eq!(mongo_uri.expose(), "mongodb://flag");
        assert_eq!(mongo_db, "desde_archivo");
    }

    #[test]
    fn sin_uris_es_embebido() {
        let capa = Ajustes {
            data_dir: Some("/tmp/x".into()),
            ..Ajustes::default()
        };
        let c = combinar(capa, Ajustes::default()).unwrap();
        assert!(matches!(c.backend, Backend::Embedded { .. }));
    }

    #[test]
    fn un_archivo_con_solo_mongo_uri_dice_que_le_falta_redis_url() {
        let archivo = Ajustes {
            mongo_uri: Some("mongodb://m".into()),
            ..Ajustes::default()
        };
        let m = combinar(Ajustes::default(), archivo)
            .unwrap_err()
            .to_string();
        assert!(
            m.contains("/etc/eventflow.toml tiene mongo_uri pero le falta redis_url"),
            "{m}"
        );
    }

    #[test]
    fn los_nombres_salen_de_la_declaracion() {
        let n = nombres();
        let r = n.iter().find(|n| n.clave == "redis_url").unwrap();
        assert_eq!(
            (r.flag.as_str(), r.env.as_str(), r.secreto),
            ("--redis-url", "EVENTFLOW_REDIS_URL", true)
        );
        assert!(
            n.iter()
                .any(|n| n.clave == "fault" && n.env == "EVENTFLOW_FAULT")
        );
    }

    #[test]
    fn el_archivo_acepta_numeros_y_texto() {
        let a: Ajustes = toml::from_str("reserva_ttl_s = 30\npago_rechazo = 0.5").unwrap();
        assert_eq!(a.reserva_ttl_s.as_deref(), Some("30"));
        assert_eq!(a.pago_rechazo.as_deref(), Some("0.5"));
        assert!(toml::from_str::<Ajustes>("config = \"x\"").is_err());
    }
}
