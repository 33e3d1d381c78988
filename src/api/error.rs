//! HTTP errors. Every failure, whether it comes from the core (`eventflow::Error`) or from
//! axum's extractors (bad JSON, wrong content type, body too large, bad query), leaves as
//! `{"error": {"codigo": …, "mensaje": …}}` with a lowercase Spanish message.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::Error;

/// The body limit the router enforces, in bytes (1 MiB).
pub const LIMITE_CUERPO: usize = 1024 * 1024;

/// An error on its way to the client: status, machine tag and message.
#[derive(Debug)]
pub struct ApiError {
    pub estado: StatusCode,
    pub codigo: &'static str,
    pub mensaje: String,
    /// The kind's own fields ([`Error::datos`]), beside `codigo` and `mensaje`.
    pub datos: serde_json::Map<String, serde_json::Value>,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct CuerpoError {
    pub error: DetalleError,
}

/// The same object the CLI prints on stdout for a failure with `-o json`.
#[derive(Debug, Serialize, ToSchema)]
pub struct DetalleError {
    /// `invalido`, `no_encontrado`, `duplicado`, `conflicto`, `sin_entradas`,
    /// `pago_rechazado`, `backend_caido`, `historial_fallido`, `inconsistencia`, `interno`,
    /// and, for HTTP-only failures, `demasiado_grande`, `ruta_desconocida`,
    /// `metodo_no_permitido`, `no_autenticado` (401), `prohibido` (403),
    /// `demasiadas_peticiones` (429), `plazo_vencido` (408), `sobrecargado` (503).
    #[schema(example = "sin_entradas")]
    pub codigo: String,
    #[schema(example = "no quedan entradas suficientes para el evento …")]
    pub mensaje: String,
    /// What a script needs next, by `codigo`: `entidad`, `id` (no_encontrado); `campo`,
    /// `existente_id` (duplicado); `evento_id`, `pedidas`, `disponibles` (sin_entradas);
    /// `reserva_id`, `estado` (pago_rechazado, historial_fallido, and a replayed failure);
    /// `backend`, `direccion` (backend_caido). Unknown values are `null`.
    #[serde(flatten)]
    #[schema(value_type = Object, additional_properties)]
    pub datos: serde_json::Map<String, serde_json::Value>,
}

impl DetalleError {
    /// The error object of a core error, as both fronts print it. `mensaje` is given:
    /// each front words some errors its own way.
    pub fn de(e: &Error, mensaje: String) -> Self {
        Self {
            codigo: e.codigo().to_owned(),
            mensaje,
            datos: e.datos(),
        }
    }
}

impl ApiError {
    pub fn new(estado: StatusCode, codigo: &'static str, mensaje: impl Into<String>) -> Self {
        Self {
            estado,
            codigo,
            mensaje: mensaje.into(),
            datos: serde_json::Map::new(),
        }
    }

    /// A malformed request (path, query or header): 400.
    pub fn peticion(mensaje: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalido", mensaje)
    }

    /// A malformed request whose cause is a domain parse error (a bad id in the path, a
    /// bad idempotency key header): 400 rather than the 422 of a bad body field.
    pub fn peticion_desde(e: impl Into<Error>) -> Self {
        let e = e.into();
        Self::new(StatusCode::BAD_REQUEST, e.codigo(), e.to_string())
    }
}

/// The status the API assigns to each core error; the CLI's exit codes follow the same split.
pub fn estado_http(e: &Error) -> StatusCode {
    // By tag, so a replayed failure (`Error::Repetido`) gets its first attempt's status.
    match e.codigo() {
        "invalido" | "filas_rechazadas" => StatusCode::UNPROCESSABLE_ENTITY,
        "no_encontrado" => StatusCode::NOT_FOUND,
        "duplicado" | "conflicto" | "sin_entradas" => StatusCode::CONFLICT,
        "pago_rechazado" => StatusCode::PAYMENT_REQUIRED,
        "backend_caido" | "historial_fallido" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let mensaje = match &e {
            // The chain may name internals; the log keeps it, the client gets a pointer to it.
            Error::Interno(causa) => {
                tracing::error!(error = format!("{causa:#}"), "error interno");
                "error interno del servidor; el detalle está en el registro del servidor".into()
            }
            _ => e.to_string(),
        };
        let mut a = Self::new(estado_http(&e), e.codigo(), mensaje);
        a.datos = e.datos();
        a
    }
}

impl From<crate::domain::ParseError> for ApiError {
    fn from(e: crate::domain::ParseError) -> Self {
        Error::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let cuerpo = CuerpoError {
            error: DetalleError {
                codigo: self.codigo.to_owned(),
                mensaje: self.mensaje,
                datos: self.datos,
            },
        };
        let mut r = (self.estado, axum::Json(cuerpo)).into_response();
        if self.estado == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        }
        if self.estado == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"eventflow\""),
            );
        }
        r
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match &r {
            JsonRejection::JsonDataError(e) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalido",
                traducir_serde(&causa(e), "campo"),
            ),
            JsonRejection::JsonSyntaxError(e) => Self::peticion(format!(
                "el cuerpo no es JSON válido{}",
                ubicacion(&causa(e))
            )),
            JsonRejection::MissingJsonContentType(_) => Self::peticion(
                "el cuerpo debe ser JSON: envíe la cabecera content-type: application/json",
            ),
            _ if r.status() == StatusCode::PAYLOAD_TOO_LARGE => demasiado_grande(),
            _ if cuerpo_lento(&r) => Self::new(
                StatusCode::REQUEST_TIMEOUT,
                "plazo_vencido",
                "el cuerpo de la petición no llegó a tiempo",
            ),
            _ => Self::peticion(format!(
                "no se pudo leer el cuerpo de la petición: {}",
                causa(&r)
            )),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::peticion(format!(
            "consulta inválida: {}",
            traducir_serde(&causa(&r), "parámetro")
        ))
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::peticion(format!("ruta inválida: {}", causa(&r)))
    }
}

/// Whether the body stopped arriving before the body deadline (`RequestBodyTimeoutLayer`).
fn cuerpo_lento(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut actual = Some(e);
    while let Some(x) = actual {
        if x.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        actual = x.source();
    }
    false
}

pub fn demasiado_grande() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "demasiado_grande",
        format!(
            "el cuerpo supera el límite de {} MiB",
            LIMITE_CUERPO / (1024 * 1024)
        ),
    )
}

/// The innermost message of a rejection (the serde or hyper error), without axum's
/// English preamble.
fn causa(e: &(dyn std::error::Error + 'static)) -> String {
    let mut actual = e;
    while let Some(s) = actual.source() {
        actual = s;
    }
    actual.to_string()
}

/// `" (línea L, columna C)"` from a serde_json message ending in `at line L column C`.
fn ubicacion(msg: &str) -> String {
    match partir_ubicacion(msg).1 {
        Some((l, c)) => format!(" (línea {l}, columna {c})"),
        None => String::new(),
    }
}

fn partir_ubicacion(msg: &str) -> (&str, Option<(&str, &str)>) {
    if let Some((resto, lc)) = msg.rsplit_once(" at line ")
        && let Some((l, c)) = lc.split_once(" column ")
    {
        return (resto, Some((l, c)));
    }
    (msg, None)
}

/// Turns serde's English data errors (as serde_path_to_error prints them: `path: message`)
/// into a Spanish sentence that names the field. `que` is "campo" or "parámetro".
pub(crate) fn traducir_serde(msg: &str, que: &str) -> String {
    let (msg, _) = partir_ubicacion(msg);
    let conocidos = [
        "invalid type: ",
        "invalid value: ",
        "unknown field `",
        "missing field `",
        "invalid length ",
    ];
    let (ruta, resto) = if conocidos.iter().any(|p| msg.starts_with(p)) {
        (None, msg)
    } else {
        match msg.split_once(": ") {
            Some((r, m)) => (Some(r), m),
            None => (None, msg),
        }
    };
    if let Some(r) = resto.strip_prefix("unknown field `") {
        let (campo, esperado) = r.split_once('`').unwrap_or((r, ""));
        let admitidos: Vec<&str> = esperado
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|s| !s.is_empty())
            .collect();
        return if admitidos.is_empty() {
            format!("{que} desconocido \"{campo}\"")
        } else {
            format!(
                "{que} desconocido \"{campo}\"; se admiten: {}",
                admitidos.join(", ")
            )
        };
    }
    if let Some(r) = resto.strip_prefix("missing field `") {
        let campo = r.trim_end_matches('`');
        return format!("falta el {que} obligatorio \"{campo}\"");
    }
    let tipo = resto
        .strip_prefix("invalid type: ")
        .or_else(|| resto.strip_prefix("invalid value: "));
    if let Some(t) = tipo
        && let Some((recibido, esperado)) = t.rsplit_once(", expected ")
    {
        let esperado = esperado_es(esperado);
        let recibido = recibido_es(recibido);
        return match ruta.filter(|r| *r != ".") {
            Some(campo) => {
                format!("el {que} \"{campo}\" debe ser {esperado}; se recibió {recibido}")
            }
            None => format!("el cuerpo debe ser {esperado}; se recibió {recibido}"),
        };
    }
    match ruta {
        Some(r) => format!("{que} \"{r}\" inválido: {resto}"),
        None => format!("el cuerpo no tiene la forma esperada: {resto}"),
    }
}

fn esperado_es(e: &str) -> &'static str {
    match e {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => "un número entero",
        "a string" | "a borrowed string" => "un texto",
        "a boolean" => "verdadero o falso",
        s if s.starts_with("struct ") || s == "a map" => "un objeto JSON",
        _ => "de otro tipo",
    }
}

fn recibido_es(r: &str) -> String {
    let valor = |p: &str| r.strip_prefix(p).map(|v| v.trim_matches('`').to_owned());
    if let Some(v) = valor("string ") {
        format!("el texto {v}")
    } else if let Some(v) = valor("floating point ").or_else(|| valor("integer ")) {
        format!("el número {v}")
    } else if let Some(v) = valor("boolean ") {
        format!("el booleano {v}")
    } else {
        match r {
            "null" | "unit value" => "null".into(),
            "sequence" => "una lista".into(),
            "map" => "un objeto".into(),
            otro => otro.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tipo_equivocado_nombra_el_campo_y_el_valor() {
        let m = traducir_serde(
            "entradas: invalid type: string \"dos\", expected i64 at line 1 column 70",
            "campo",
        );
        assert_eq!(
            m,
            "el campo \"entradas\" debe ser un número entero; se recibió el texto \"dos\""
        );
        let m = traducir_serde(
            "entradas: invalid type: floating point `1.5`, expected i64",
            "campo",
        );
        assert!(m.contains("se recibió el número 1.5"), "{m}");
    }

    #[test]
    fn campo_desconocido_lista_los_admitidos() {
        let m = traducir_serde(
            "unknown field `rol`, expected one of `nombre`, `apellido` at line 1 column 7",
            "campo",
        );
        assert_eq!(m, "campo desconocido \"rol\"; se admiten: nombre, apellido");
    }

    #[test]
    fn campo_que_falta_se_nombra() {
        assert_eq!(
            traducir_serde("missing field `email` at line 1 column 2", "campo"),
            "falta el campo obligatorio \"email\""
        );
    }

    #[test]
    fn cuerpo_que_no_es_objeto() {
        let m = traducir_serde(
            "invalid type: sequence, expected struct CrearUsuario at line 1 column 0",
            "campo",
        );
        assert_eq!(m, "el cuerpo debe ser un objeto JSON; se recibió una lista");
    }

    #[test]
    fn cada_error_del_nucleo_tiene_su_estado() {
        assert_eq!(
            estado_http(&Error::Invalido("x".into())),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            estado_http(&Error::no_encontrado("usuario", "x")),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            estado_http(&Error::SinEntradas {
                evento: "e".into(),
                pedidas: 2,
                disponibles: 1
            }),
            StatusCode::CONFLICT
        );
        assert_eq!(
            estado_http(&Error::PagoRechazado {
                reserva: "r".into(),
                estado: None,
            }),
            StatusCode::PAYMENT_REQUIRED
        );
        assert_eq!(
            estado_http(&Error::HistorialFallido {
                reserva: "r".into(),
                causa: "c".into(),
                estado: None,
            }),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            estado_http(&Error::Interno(anyhow::anyhow!("x"))),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
