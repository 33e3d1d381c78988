//! axum's `Json`, `Path` and `Query`, with their rejections turned into [`ApiError`], so
//! that a malformed request gets the same error body as any other failure.

use axum::extract::FromRequest;
use axum::extract::FromRequestParts;

use super::error::ApiError;

/// A JSON body. Wrong content type or broken JSON is 400, a body that does not fit the
/// DTO (unknown field, wrong type, missing field) is 422, over the body limit is 413.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// A JSON integer, also written with a zero fraction (`2.0`): JSON Schema's `integer`
/// admits both, so a client built from the OpenAPI document may send either. `1.5`,
/// strings and `null` are refused with serde's usual messages (then translated).
pub fn entero<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(Entero)
}

/// [`entero`] for an optional field (absent or `null` is `None`).
pub fn entero_opcional<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_option(EnteroOpcional)
}

struct Entero;

impl serde::de::Visitor<'_> for Entero {
    type Value = i64;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("i64")
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
        // 2^63 is exactly representable; anything at or past it does not fit.
        if v.fract() == 0.0 && v.abs() < 9.223_372_036_854_776e18 {
            Ok(v as i64)
        } else {
            Err(E::invalid_value(serde::de::Unexpected::Float(v), &self))
        }
    }
}

struct EnteroOpcional;

impl<'de> serde::de::Visitor<'de> for EnteroOpcional {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("i64")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        entero(d).map(Some)
    }
}

#[cfg(test)]
mod tests {
    #[derive(Debug, serde::Deserialize)]
    struct C {
        #[serde(deserialize_with = "super::entero")]
        n: i64,
        #[serde(default, deserialize_with = "super::entero_opcional")]
        m: Option<i64>,
    }

    fn leer(s: &str) -> Result<C, String> {
        serde_json::from_str(s).map_err(|e| e.to_string())
    }

    #[test]
    fn un_entero_escrito_con_fraccion_cero_es_entero_y_uno_con_fraccion_no() {
        assert_eq!(leer(r#"{"n": 2.0}"#).unwrap().n, 2);
        assert_eq!(leer(r#"{"n": 7, "m": 3.0}"#).unwrap().m, Some(3));
        assert_eq!(leer(r#"{"n": 7, "m": null}"#).unwrap().m, None);
        assert_eq!(leer(r#"{"n": 7}"#).unwrap().m, None);
        let e = leer(r#"{"n": 1.5}"#).unwrap_err();
        assert!(
            e.starts_with("invalid value: floating point `1.5`, expected i64"),
            "{e}"
        );
        let e = leer(r#"{"n": "dos"}"#).unwrap_err();
        assert!(
            e.starts_with("invalid type: string \"dos\", expected i64"),
            "{e}"
        );
        assert!(leer(r#"{"n": 1e300}"#).is_err());
    }
}
