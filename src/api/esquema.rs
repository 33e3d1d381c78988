//! Completes the OpenAPI document utoipa generates with what the server really enforces,
//! so that a client generator or a fuzzer (Schemathesis) never sends a request the
//! document allows and the server refuses: the bearer scheme and each route's permission
//! (from [`acceso::RUTAS`]), the id pattern, the ranges of the domain newtypes, the
//! idempotency key, and every response code each route can give. The figures are the
//! domain's own constants. Where the server accepts more than a simple pattern can say
//! (names, emails), the document describes a safe subset.

use serde_json::{Value, json};

use super::acceso::{Acceso, RUTAS};
use super::pagina::LIMITE_MAXIMO;
use super::reservas::MAX_CLAVE;
use crate::domain::{Aforo, Entradas, Precio};

/// 24 hexadecimal digits: every id.
const ID: &str = "^[0-9a-fA-F]{24}$";
/// A trimmed line without control characters (`Texto`).
const TEXTO: &str = r"^[^\s\x00-\x1f\x7f-\x9f]([^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f])?$";
/// A subset of what `Email::parse` accepts.
const EMAIL: &str = r"^[A-Za-z0-9_+-]{1,64}@[A-Za-z0-9]{1,30}(\.[A-Za-z0-9]{1,30}){1,3}$";

fn error(descripcion: &str) -> Value {
    json!({
        "description": descripcion,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CuerpoError"}}}
    })
}

/// The document served at `/api/openapi.json`.
pub fn completar(mut doc: Value) -> Value {
    doc["components"]["securitySchemes"] = json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "Un token de `eventflow tokens crear` (ef_<id>_<secreto>). Cada operación indica en x-permiso el permiso que necesita; admin los cubre todos."
        }
    });
    esquemas(&mut doc["components"]["schemas"]);
    for r in RUTAS {
        let op = &mut doc["paths"][r.ruta][r.metodo.to_ascii_lowercase()];
        if r.ruta == "/api/openapi.json" {
            *op = json!({
                "operationId": "openapi",
                "summary": "Este documento.",
                "tags": ["salud"],
                "responses": {"200": {"description": "el documento OpenAPI", "content": {"application/json": {}}}}
            });
        }
        operacion(op, r.acceso);
    }
    // Anonymous callers get `SaludPublica`; an admin token, `Salud`.
    let salud = json!({"oneOf": [
        {"$ref": "#/components/schemas/SaludPublica"},
        {"$ref": "#/components/schemas/Salud"}
    ]});
    for codigo in ["200", "503"] {
        doc["paths"]["/health"]["get"]["responses"][codigo]["content"]["application/json"]["schema"] =
            salud.clone();
    }
    doc
}

fn operacion(op: &mut Value, acceso: Acceso) {
    let respuestas = op["responses"].as_object_mut().expect("responses");
    let mut anadir = |codigo: &str, descripcion: &str| {
        respuestas
            .entry(codigo.to_owned())
            .or_insert_with(|| error(descripcion));
    };
    anadir(
        "401",
        "falta el token, o no es válido, está revocado o caducó (WWW-Authenticate: Bearer)",
    );
    anadir("408", "el cuerpo o la petición no llegaron a tiempo");
    anadir(
        "429",
        "demasiadas peticiones de este token o dirección (Retry-After)",
    );
    anadir(
        "503",
        "servidor sobrecargado o un almacén no responde (Retry-After)",
    );
    match acceso {
        Acceso::Requiere(p) => {
            anadir(
                "403",
                "el token no tiene el permiso, o está limitado a otros eventos",
            );
            op["security"] = json!([{"bearer": []}]);
            op["x-permiso"] = json!(p.as_str());
            let d = op["description"].as_str().unwrap_or_default().to_owned();
            op["description"] = json!(format!("{d}\n\nPermiso: `{p}` (o `admin`).").trim_start());
        }
        Acceso::Publico => {
            // Anonymous, or with a token (which then must be valid).
            op["security"] = json!([{}, {"bearer": []}]);
        }
    }
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in params {
            parametro(p);
        }
    }
}

fn parametro(p: &mut Value) {
    let nombre = p["name"].as_str().unwrap_or_default().to_owned();
    match nombre.as_str() {
        "id" | "despues_de" => p["schema"] = json!({"type": "string", "pattern": ID}),
        "limite" => {
            p["schema"] = json!({"type": "integer", "minimum": 1, "maximum": LIMITE_MAXIMO})
        }
        "Idempotency-Key" => {
            p["schema"] = json!({
                "type": "string", "minLength": 1, "maxLength": MAX_CLAVE,
                "pattern": format!("^[!-~]{{1,{MAX_CLAVE}}}$")
            })
        }
        _ => {}
    }
}

fn esquemas(s: &mut Value) {
    let texto =
        |max: usize| json!({"type": "string", "minLength": 1, "maxLength": max, "pattern": TEXTO});
    let id = json!({"type": "string", "pattern": ID});
    let u = &mut s["CrearUsuario"];
    u["additionalProperties"] = json!(false);
    u["properties"]["nombre"] = texto(200);
    u["properties"]["apellido"] = texto(200);
    u["properties"]["email"] = json!({"type": "string", "maxLength": 254, "pattern": EMAIL, "example": "juan@example.com"});
    u["properties"]["tipo_documento"] =
        json!({"type": "string", "pattern": "^[A-Za-z0-9_]{1,20}$", "example": "DNI"});
    u["properties"]["nro_documento"] =
        json!({"type": "string", "pattern": r"^[A-Za-z0-9.-]{1,30}$", "example": "12345678"});
    // Both halves of the document, or neither.
    u["dependentRequired"] = json!({
        "tipo_documento": ["nro_documento"],
        "nro_documento": ["tipo_documento"]
    });
    let e = &mut s["CrearEvento"];
    e["additionalProperties"] = json!(false);
    e["properties"]["nombre"] = texto(200);
    e["properties"]["lugar"] = texto(200);
    e["properties"]["fecha"] =
        json!({"type": "string", "format": "date-time", "example": "2025-12-01T21:00:00Z"});
    e["properties"]["aforo_total"] =
        json!({"type": "integer", "minimum": Aforo::MIN, "maximum": Aforo::MAX, "example": 1000});
    e["properties"]["precio"] = json!({"type": ["integer", "null"], "minimum": 0, "maximum": Precio::MAX, "description": "Unidades menores (céntimos); por defecto 0.", "example": 2500});
    let r = &mut s["CrearReserva"];
    r["additionalProperties"] = json!(false);
    r["properties"]["evento_id"] = id.clone();
    r["properties"]["usuario_id"] = id;
    r["properties"]["entradas"] = json!({"type": "integer", "minimum": Entradas::MIN, "maximum": Entradas::MAX, "example": 2});
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn doc() -> Value {
        serde_json::to_value(&*super::super::OPENAPI).unwrap()
    }

    #[test]
    fn cada_operacion_tiene_un_id_unico_y_la_regla_de_acceso_de_rutas() {
        let d = doc();
        let mut ids = BTreeSet::new();
        let mut operaciones = 0;
        for (ruta, metodos) in d["paths"].as_object().unwrap() {
            for (metodo, op) in metodos.as_object().unwrap() {
                operaciones += 1;
                let id = op["operationId"].as_str().unwrap();
                assert!(ids.insert(id.to_owned()), "operationId repetido: {id}");
                let regla = super::super::acceso::acceso(&metodo.to_ascii_uppercase(), ruta)
                    .unwrap_or_else(|| panic!("{metodo} {ruta} no está en RUTAS"));
                for codigo in ["401", "408", "429", "503"] {
                    assert!(
                        op["responses"][codigo].is_object(),
                        "{metodo} {ruta} {codigo}"
                    );
                }
                match regla {
                    Acceso::Requiere(p) => {
                        assert_eq!(op["x-permiso"], p.as_str());
                        assert_eq!(op["security"], json!([{"bearer": []}]));
                        assert!(op["responses"]["403"].is_object());
                    }
                    Acceso::Publico => assert!(op.get("x-permiso").is_none()),
                }
            }
        }
        assert_eq!(operaciones, RUTAS.len(), "RUTAS y el documento difieren");
        assert_eq!(
            d["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }

    #[test]
    fn los_limites_del_documento_son_los_del_dominio() {
        let d = doc();
        let s = &d["components"]["schemas"];
        assert_eq!(
            s["CrearReserva"]["properties"]["entradas"]["maximum"],
            100_000
        );
        assert_eq!(
            s["CrearEvento"]["properties"]["precio"]["maximum"],
            Precio::MAX
        );
        let limite = d["paths"]["/api/eventos"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limite")
            .unwrap();
        assert_eq!(limite["schema"]["maximum"], 1000);
        let clave = d["paths"]["/api/reservas"]["post"]["parameters"][0]["schema"].clone();
        assert_eq!(clave["maxLength"], 100);
    }
}
