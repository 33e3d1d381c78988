//! Every setting, declared once. The same struct is the clap layer (a global flag and its
//! environment variable per field) and the config file's schema (one TOML key per field,
//! named like the field). [`combinar`] layers them and remembers where each value came from.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::TipoBackend;
use crate::error::{Error, Result};

/// The raw settings as one layer gives them: the command line (flag or environment, through
/// clap) or the config file. Every field is optional; [`super::Config::resolver`] applies the
/// defaults and validates.
#[derive(Debug, Clone, Default, clap::Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ajustes {
    /// Fuerza un backend (por defecto: mongo si hay ambas URI, embedded si no hay ninguna).
    #[arg(
        long,
        global = true,
        help_heading = "Conexión",
        value_enum,
        env = "EVENTFLOW_BACKEND"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<TipoBackend>,
    /// URI de MongoDB (la contraseña nunca se muestra).
    #[arg(
        long,
        global = true,
        help_heading = "Conexión",
        env = "EVENTFLOW_MONGO_URI",
        hide_env_values = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mongo_uri: Option<String>,
    /// Base de datos de MongoDB [por defecto: eventflow].
    #[arg(
        long,
        global = true,
        help_heading = "Conexión",
        env = "EVENTFLOW_MONGO_DB"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mongo_db: Option<String>,
    /// URL de Redis, o URLs de nodos separadas por comas para Redis Cluster (la contraseña
    /// nunca se muestra).
    #[arg(
        long,
        global = true,
        help_heading = "Conexión",
        env = "EVENTFLOW_REDIS_URL",
        hide_env_values = true
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    /// Prefijo de todas las claves de Redis [por defecto: vacío].
    #[arg(
        long,
        global = true,
        help_heading = "Conexión",
        env = "EVENTFLOW_REDIS_PREFIX"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_prefix: Option<String>,
    /// Directorio de datos del backend embebido [por defecto: el de la plataforma].
    #[arg(
        long,
        global = true,
        help_heading = "Conexión",
        env = "EVENTFLOW_DATA_DIR"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Archivo de configuración TOML [por defecto: eventflow.toml en el directorio de configuración].
    #[arg(
        long,
        global = true,
        help_heading = "Conexión",
        env = "EVENTFLOW_CONFIG"
    )]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Réplicas que deben confirmar cada escritura de Redis (WAIT) [por defecto: 1 en
    /// Redis Cluster, 0 con un solo nodo].
    #[arg(
        long,
        global = true,
        help_heading = "Conexión",
        env = "EVENTFLOW_REDIS_REPLICAS_MIN"
    )]
    #[serde(
        default,
        deserialize_with = "texto",
        skip_serializing_if = "Option::is_none"
    )]
    pub redis_replicas_min: Option<String>,
    /// Dónde leen los listados y `ver` de MongoDB: primario o secundario_preferido [por
    /// defecto: lo que diga la URI, el primario].
    #[arg(
        long,
        global = true,
        help_heading = "Conexión",
        env = "EVENTFLOW_MONGO_LECTURA"
    )]
    #[serde(
        default,
        deserialize_with = "texto",
        skip_serializing_if = "Option::is_none"
    )]
    pub mongo_lectura: Option<String>,
    /// Segundos que una compra retiene sus entradas hasta confirmarse (1 a 604800) [por defecto: 900].
    #[arg(
        long,
        global = true,
        help_heading = "Compras",
        env = "EVENTFLOW_RESERVA_TTL_S"
    )]
    #[serde(
        default,
        deserialize_with = "texto",
        skip_serializing_if = "Option::is_none"
    )]
    pub reserva_ttl_s: Option<String>,
    /// Probabilidad (0 a 1) de que el pago simulado se rechace [por defecto: 0].
    #[arg(
        long,
        global = true,
        help_heading = "Compras",
        env = "EVENTFLOW_PAGO_RECHAZO"
    )]
    #[serde(
        default,
        deserialize_with = "texto",
        skip_serializing_if = "Option::is_none"
    )]
    pub pago_rechazo: Option<String>,
    /// Latencia del pago simulado, en milisegundos [por defecto: 0].
    #[arg(
        long,
        global = true,
        help_heading = "Compras",
        env = "EVENTFLOW_PAGO_LATENCIA_MS"
    )]
    #[serde(
        default,
        deserialize_with = "texto",
        skip_serializing_if = "Option::is_none"
    )]
    pub pago_latencia_ms: Option<String>,
    /// Fallo inyectado para pruebas y simulacros: <crash|error>@<paso>, por ejemplo crash@pago.
    #[arg(
        long,
        global = true,
        help_heading = "Compras",
        env = "EVENTFLOW_FAULT",
        hide = true
    )]
    #[serde(
        default,
        deserialize_with = "texto",
        skip_serializing_if = "Option::is_none"
    )]
    pub fault: Option<String>,
}

/// Where a setting's value came from, in precedence order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origen {
    /// `--flag` on the command line.
    Flag,
    /// Its `EVENTFLOW_*` environment variable.
    Entorno,
    /// The config file.
    Archivo,
    /// Nobody set it.
    Defecto,
}

/// One setting's names, as clap declares them.
#[derive(Debug, Clone)]
pub struct Nombres {
    /// The field and TOML key, e.g. `redis_url`.
    pub clave: String,
    /// The flag, e.g. `--redis-url`.
    pub flag: String,
    /// The environment variable, e.g. `EVENTFLOW_REDIS_URL`.
    pub env: String,
    /// Whether the value is a secret-bearing URI (shown redacted).
    pub secreto: bool,
}

/// The names of every setting, read from the clap declaration above (never written twice).
pub fn nombres() -> Vec<Nombres> {
    use clap::Args as _;
    let cmd = Ajustes::augment_args(clap::Command::new("eventflow"));
    cmd.get_arguments()
        .filter_map(|a| {
            Some(Nombres {
                clave: a.get_id().as_str().to_owned(),
                flag: format!("--{}", a.get_long()?),
                env: a.get_env()?.to_string_lossy().into_owned(),
                secreto: a.is_hide_env_values_set(),
            })
        })
        .collect()
}

/// The settings after layering, with the origin of every key that has a value.
#[derive(Debug, Clone)]
pub struct Capas {
    pub valores: Ajustes,
    pub origenes: BTreeMap<String, Origen>,
    /// The config file that was read, if any.
    pub archivo: Option<PathBuf>,
}

impl Capas {
    pub fn origen(&self, clave: &str) -> Origen {
        self.origenes.get(clave).copied().unwrap_or(Origen::Defecto)
    }

    /// How an error names a setting: by the place its value came from, so the operator
    /// knows what to fix (`--reserva-ttl-s`, `EVENTFLOW_RESERVA_TTL_S`, or
    /// `reserva_ttl_s en /etc/eventflow.toml`).
    pub fn describir(&self, clave: &str) -> String {
        let n = nombres().into_iter().find(|n| n.clave == clave);
        let Some(n) = n else {
            return clave.to_owned();
        };
        match self.origen(clave) {
            Origen::Flag => n.flag,
            Origen::Entorno => n.env,
            Origen::Archivo => match &self.archivo {
                Some(p) => format!("{clave} en {}", p.display()),
                None => clave.to_owned(),
            },
            Origen::Defecto => format!("{} (o {})", n.flag, n.env),
        }
    }
}

/// Layers the command line (`cli`, with clap's origin per key) over the file, key by key.
pub fn combinar(
    cli: Ajustes, origenes_cli: &BTreeMap<String, Origen>, archivo: Ajustes, ruta: Option<PathBuf>,
) -> Result<Capas> {
    let a_mapa = |a: &Ajustes| match serde_json::to_value(a) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        _ => Err(Error::Interno(anyhow::anyhow!("ajustes no serializables"))),
    };
    let (de_cli, mut mezcla) = (a_mapa(&cli)?, a_mapa(&archivo)?);
    let mut origenes: BTreeMap<String, Origen> = mezcla
        .keys()
        .map(|k| (k.clone(), Origen::Archivo))
        .collect();
    for (k, v) in de_cli {
        let origen = origenes_cli.get(&k).copied().unwrap_or(Origen::Flag);
        origenes.insert(k.clone(), origen);
        mezcla.insert(k, v);
    }
    let mut valores: Ajustes = serde_json::from_value(serde_json::Value::Object(mezcla))
        .map_err(|e| Error::Interno(e.into()))?;
    if cli.config.is_some() {
        let origen = origenes_cli.get("config").copied().unwrap_or(Origen::Flag);
        origenes.insert("config".into(), origen);
    }
    valores.config = cli.config;
    Ok(Capas {
        valores,
        origenes,
        archivo: ruta,
    })
}

/// A TOML number or string, kept as text so one parser (with one message) checks every layer.
fn texto<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Crudo {
        Texto(String),
        Entero(i64),
        Real(f64),
    }
    Ok(Option::<Crudo>::deserialize(d)?.map(|c| match c {
        Crudo::Texto(s) => s,
        Crudo::Entero(n) => n.to_string(),
        Crudo::Real(x) => x.to_string(),
    }))
}
