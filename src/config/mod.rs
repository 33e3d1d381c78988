//! Settings, layered as the contract says: flag > environment > config file > default.
//! clap already merges flags and environment; this module adds the file and the defaults
//! and decides the backend. Secrets stay redacted: `Uri` never prints its password.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

mod escala;
mod uri;
pub use escala::{LecturaMongo, REPLICAS_MAX};
pub use uri::{Uri, redactar, redactar_texto, validar_redis, validar_uri};

/// Which backend to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
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
    /// How long a purchase holds its seats before `compensar` may finish it.
    pub reserva_ttl: Duration,
}

/// The raw layer from flags and environment (clap fills it).
#[derive(Debug, Clone, Default)]
pub struct Capa {
    pub backend: Option<TipoBackend>,
    pub mongo_uri: Option<String>,
    pub mongo_db: Option<String>,
    pub redis_url: Option<String>,
    pub redis_prefix: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub config: Option<PathBuf>,
    /// `EVENTFLOW_RESERVA_TTL_S` as given; validated by [`Config::combinar`].
    pub reserva_ttl_s: Option<String>,
    /// `EVENTFLOW_REDIS_REPLICAS_MIN` as given; validated by [`Config::combinar`].
    pub redis_replicas_min: Option<String>,
    /// `EVENTFLOW_MONGO_LECTURA` as given; validated by [`Config::combinar`].
    pub mongo_lectura: Option<String>,
}

/// The optional `eventflow.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Archivo {
    pub backend: Option<TipoBackend>,
    pub mongo_uri: Option<String>,
    pub mongo_db: Option<String>,
    pub redis_url: Option<String>,
    pub redis_prefix: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub reserva_ttl_s: Option<u64>,
    pub redis_replicas_min: Option<u32>,
    pub mongo_lectura: Option<String>,
}

pub const TTL_POR_DEFECTO_S: u64 = 900;
/// The hold must outlast a payment round trip (1 s) and not keep seats from buyers for
/// longer than a week (issue #9): 1 s to 7 days.
pub const TTL_RANGO_S: std::ops::RangeInclusive<u64> = 1..=7 * 24 * 3600;

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

impl Config {
    /// Resolves `capa` (flags + environment) over the config file and the defaults.
    pub fn resolver(capa: Capa) -> Result<Config> {
        let archivo = match &capa.config {
            Some(p) => leer_archivo(p, true)?,
            None => match ruta_config_por_defecto() {
                Some(p) => leer_archivo(&p, false)?,
                None => Archivo::default(),
            },
        };
        Self::combinar(capa, archivo)
    }

    pub fn combinar(capa: Capa, archivo: Archivo) -> Result<Config> {
        let mongo_uri = capa
            .mongo_uri
            .or(archivo.mongo_uri)
            .filter(|s| !s.is_empty());
        let redis_url = capa
            .redis_url
            .or(archivo.redis_url)
            .filter(|s| !s.is_empty());
        let backend = capa.backend.or(archivo.backend);
        let reserva_ttl = match (&capa.reserva_ttl_s, archivo.reserva_ttl_s) {
            (Some(raw), _) => ttl(raw, "EVENTFLOW_RESERVA_TTL_S")?,
            (None, Some(s)) => ttl(&s.to_string(), "reserva_ttl_s (archivo de configuración)")?,
            (None, None) => Duration::from_secs(TTL_POR_DEFECTO_S),
        };
        let tipo = match (backend, &mongo_uri, &redis_url) {
            (Some(t), _, _) => t,
            (None, Some(_), Some(_)) => TipoBackend::Mongo,
            (None, None, None) => TipoBackend::Embedded,
            (None, Some(_), None) => {
                return Err(Error::Invalido(
                    "falta EVENTFLOW_REDIS_URL (o --redis-url): el backend MongoDB + Redis necesita ambas direcciones".into(),
                ));
            }
            (None, None, Some(_)) => {
                return Err(Error::Invalido(
                    "falta EVENTFLOW_MONGO_URI (o --mongo-uri): el backend MongoDB + Redis necesita ambas direcciones".into(),
                ));
            }
        };
        let backend = match tipo {
            TipoBackend::Mongo => {
                let (Some(m), Some(r)) = (mongo_uri, redis_url) else {
                    return Err(Error::Invalido(
                        "--backend mongo necesita --mongo-uri y --redis-url (o EVENTFLOW_MONGO_URI y EVENTFLOW_REDIS_URL)".into(),
                    ));
                };
                let mongo_db = capa
                    .mongo_db
                    .or(archivo.mongo_db)
                    .unwrap_or_else(|| "eventflow".into());
                validar_nombre_db(&mongo_db)?;
                let (mongo_uri, redis_url) = (Uri::new(m), Uri::new(r));
                validar_uri("EVENTFLOW_MONGO_URI", &mongo_uri)?;
                validar_redis("EVENTFLOW_REDIS_URL", &redis_url)?;
                let redis_replicas_min = escala::replicas_de(
                    capa.redis_replicas_min.as_deref(),
                    archivo.redis_replicas_min,
                )?;
                let mongo_lectura = escala::lectura_de(
                    capa.mongo_lectura.as_deref(),
                    archivo.mongo_lectura.as_deref(),
                )?;
                Backend::Mongo {
                    mongo_uri,
                    mongo_db,
                    redis_url,
                    redis_prefix: capa
                        .redis_prefix
                        .or(archivo.redis_prefix)
                        .unwrap_or_default(),
                    redis_replicas_min,
                    mongo_lectura,
                }
            }
            TipoBackend::Embedded => {
                let data_dir = match capa.data_dir.or(archivo.data_dir) {
                    Some(d) => d,
                    None => directorio_datos_por_defecto()?,
                };
                Backend::Embedded { data_dir }
            }
        };
        Ok(Config {
            backend,
            reserva_ttl,
        })
    }
}

fn validar_nombre_db(db: &str) -> Result<()> {
    if db.is_empty() || db.len() > 63 || db.chars().any(|c| "/\\. \"$*<>:|?".contains(c)) {
        return Err(Error::Invalido(format!(
            "nombre de base de datos inválido {db:?}: use letras, dígitos, - o _ (máximo 63)"
        )));
    }
    Ok(())
}

fn leer_archivo(ruta: &Path, obligatorio: bool) -> Result<Archivo> {
    match std::fs::read_to_string(ruta) {
        Ok(texto) => toml::from_str(&texto).map_err(|e| {
            Error::Invalido(format!(
                "archivo de configuración {} inválido: {}",
                ruta.display(),
                e.message()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !obligatorio => {
            Ok(Archivo::default())
        }
        Err(e) => Err(Error::Invalido(format!(
            "no se puede leer el archivo de configuración {}: {e}",
            ruta.display()
        ))),
    }
}

fn dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "eventflow")
}

/// `eventflow.toml` in the platform's config directory.
pub fn ruta_config_por_defecto() -> Option<PathBuf> {
    dirs().map(|d| d.config_dir().join("eventflow.toml"))
}

fn directorio_datos_por_defecto() -> Result<PathBuf> {
    dirs()
        .map(|d| d.data_dir().to_path_buf())
        .ok_or_else(|| Error::Invalido("no se encontró el directorio de datos de la plataforma: indique --data-dir o EVENTFLOW_DATA_DIR".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn una_contrasena_con_barra_sin_codificar_es_un_error_de_uso_sin_secreto() {
        let capa = Capa {
            mongo_uri: Some("mongodb://raiz:S3cr/tPw@m:1/".into()),
            redis_url: Some("redis://localhost".into()),
            ..Capa::default()
        };
        let e = Config::combinar(capa, Archivo::default()).unwrap_err();
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
        let capa = Capa {
            mongo_uri: Some("mongodb://x".into()),
            ..Capa::default()
        };
        let e = Config::combinar(capa, Archivo::default()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn la_capa_gana_al_archivo() {
        let capa = Capa {
            mongo_uri: Some("mongodb://flag".into()),
            redis_url: Some("redis://flag".into()),
            ..Capa::default()
        };
        let archivo = Archivo {
            mongo_uri: Some("mongodb://file".into()),
            mongo_db: Some("desde_archivo".into()),
            ..Archivo::default()
        };
        let c = Config::combinar(capa, archivo).unwrap();
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
        let capa = Capa {
            data_dir: Some("/tmp/x".into()),
            ..Capa::default()
        };
        let c = Config::combinar(capa, Archivo::default()).unwrap();
        assert!(matches!(c.backend, Backend::Embedded { .. }));
    }
}
