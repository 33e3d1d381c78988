//! Pagination of list endpoints: `?limite=N&despues_de=ID`, ids in ascending order, and a
//! `Link: <…>; rel="next"` header while a full page suggests there may be more.

use axum::http::{HeaderMap, HeaderValue, header};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::ApiError;

pub const LIMITE_POR_DEFECTO: u32 = 100;
pub const LIMITE_MAXIMO: u32 = 1000;

/// The query string of a list. Both values arrive as text and are parsed here, so a bad
/// one gets a message that names it.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Pagina {
    /// Máximo de elementos, entre 1 y 1000 (por defecto 100).
    pub limite: Option<String>,
    /// Devuelve los elementos posteriores a este id (el último de la página anterior).
    pub despues_de: Option<String>,
}

impl Pagina {
    pub fn limite(&self) -> Result<u32, ApiError> {
        let Some(raw) = &self.limite else {
            return Ok(LIMITE_POR_DEFECTO);
        };
        match raw.trim().parse::<u32>() {
            Ok(n) if (1..=LIMITE_MAXIMO).contains(&n) => Ok(n),
            _ => Err(ApiError::peticion(format!(
                "limite inválido {raw:?}: debe ser un entero entre 1 y {LIMITE_MAXIMO}"
            ))),
        }
    }

    /// The id to continue after, parsed with the domain's parser (400 when malformed).
    pub fn despues_de<T, E>(&self, parse: fn(&str) -> Result<T, E>) -> Result<Option<T>, ApiError>
    where
        E: Into<crate::Error>,
    {
        self.despues_de
            .as_deref()
            .map(parse)
            .transpose()
            .map_err(ApiError::peticion_desde)
    }
}

/// The headers of a page: `Link` to the next one when this one is full.
pub fn enlaces(ruta: &str, limite: u32, ultimo: Option<&str>, n: usize) -> HeaderMap {
    let mut h = HeaderMap::new();
    if n == limite as usize
        && let Some(id) = ultimo
        && let Ok(v) = HeaderValue::from_str(&format!(
            "<{ruta}?limite={limite}&despues_de={id}>; rel=\"next\""
        ))
    {
        h.insert(header::LINK, v);
    }
    h
}
