//! The optional config file, `eventflow.toml`, and the platform's directories.

use std::path::{Path, PathBuf};

use super::Ajustes;
use crate::error::{Error, Result};

/// Reads the config file: `explicita` (from `--config` or `EVENTFLOW_CONFIG`) must exist;
/// otherwise the platform's `eventflow.toml` is read if it exists. Returns the file's
/// settings and the path that was read (`None` when there was none).
pub fn leer(explicita: Option<&Path>) -> Result<(Ajustes, Option<PathBuf>)> {
    let (ruta, obligatoria) = match explicita {
        Some(p) => (p.to_path_buf(), true),
        None => match ruta_config_por_defecto() {
            Some(p) => (p, false),
            None => return Ok((Ajustes::default(), None)),
        },
    };
    match std::fs::read_to_string(&ruta) {
        Ok(texto) => {
            let ajustes = toml::from_str(&texto).map_err(|e| {
                let linea = e.span().map(|s| texto[..s.start].lines().count().max(1));
                let donde = linea.map(|l| format!(" (línea {l})")).unwrap_or_default();
                Error::Invalido(format!(
                    "archivo de configuración {} inválido{donde}: {}",
                    ruta.display(),
                    motivo_toml(e.message())
                ))
            })?;
            Ok((ajustes, Some(ruta)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !obligatoria => {
            Ok((Ajustes::default(), None))
        }
        Err(e) => Err(Error::Invalido(format!(
            "no se puede leer el archivo de configuración {}: {}",
            ruta.display(),
            match e.kind() {
                std::io::ErrorKind::NotFound => "no existe".to_owned(),
                std::io::ErrorKind::PermissionDenied => "permiso denegado".to_owned(),
                _ => e.to_string(),
            }
        ))),
    }
}

/// The TOML parser's reason, in Spanish for the mistakes people make: an unknown key, a
/// value outside the allowed ones, an unquoted text. Others keep the parser's words.
fn motivo_toml(m: &str) -> String {
    let citado = |m: &str| m.split('`').nth(1).unwrap_or_default().to_owned();
    let validos = |m: &str| {
        m.split_once("expected")
            .map(|(_, v)| {
                v.replace("one of", "")
                    .replace(" or ", ", ")
                    .replace("`", "")
                    .trim()
                    .to_owned()
            })
            .unwrap_or_default()
    };
    if m.starts_with("unknown field") {
        format!(
            "clave desconocida {:?}; las claves válidas son: {}",
            citado(m),
            validos(m)
        )
    } else if m.starts_with("unknown variant") {
        format!(
            "valor desconocido {:?}; los valores válidos son: {}",
            citado(m),
            validos(m)
        )
    } else if m.contains("string values must be quoted") {
        "los textos van entre comillas, por ejemplo mongo_uri = \"mongodb://localhost\"".into()
    } else {
        format!("error de sintaxis TOML: {}", m.trim())
    }
}

fn dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "eventflow")
}

/// `eventflow.toml` in the platform's config directory.
pub fn ruta_config_por_defecto() -> Option<PathBuf> {
    dirs().map(|d| d.config_dir().join("eventflow.toml"))
}

/// The embedded backend's data directory when `--data-dir` is not given.
pub fn directorio_datos_por_defecto() -> Result<PathBuf> {
    dirs().map(|d| d.data_dir().to_path_buf()).ok_or_else(|| {
        Error::Invalido(
            "no se encontró el directorio de datos de la plataforma: indique --data-dir o EVENTFLOW_DATA_DIR"
                .into(),
        )
    })
}
