//! The REST API through the real binary, on every backend: `eventflow serve --addr
//! 127.0.0.1:0`, real HTTP requests, and the stores checked directly afterwards (raw,
//! through `crudo`). `rutas` covers users, events, errors and health; `compras` the
//! purchase flow.

mod compras;
mod rutas;
mod servidor;

pub(crate) use servidor::{Servidor, cuerpo, es_error};

use serde_json::{Value, json};

use crate::helpers::Entorno;

/// `verificar` and the raw-store judge (`crudo`) both find event `e` consistent.
async fn verificar_ok(env: &Entorno, e: &str) {
    env.cmd()
        .args(["verificar", "--evento", e])
        .assert()
        .success();
    crate::crudo::comprobar_invariantes(env, e).await;
}

fn juan() -> Value {
    json!({"nombre":"Juan","apellido":"Pérez","email":"juan@example.com"})
}
