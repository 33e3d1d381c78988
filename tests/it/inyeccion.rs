//! Fault injection (`EVENTFLOW_FAULT=<error|crash>@<paso>`) as one table: every step of
//! the saga × both kinds, with the exit code and the final state each must leave, on
//! every backend. A `crash` aborts the process right after the step; its purchase is
//! finished by `compensar` once the hold runs out (moved into the past in the raw store,
//! so no test sleeps). The final state is read from the raw stores (`crudo`).

use eventflow::domain::{EventoId, UsuarioId};

use crate::crudo;
use crate::helpers::{Entorno, es_solo_error};
use crate::reservar::{evento, usuarios, verificar_ok};

/// What one injected fault must leave behind, for a purchase of 2 seats at 100 each out
/// of 5.
struct Caso {
    fallo: &'static str,
    /// `None`: killed by a signal (a real abort).
    salida: Option<i32>,
    /// What the buyer is told on stderr.
    aviso: &'static str,
    /// The purchase's final state; `None`: no purchase was recorded at all.
    estado: Option<&'static str>,
    /// The ledger entry: `(aprobado, reembolsado)`, or none.
    cobro: Option<(bool, bool)>,
}

#[rustfmt::skip]
const CASOS: [Caso; 10] = [
    Caso { fallo: "error@datos",        salida: Some(1), aviso: "fallo inyectado en el paso datos",        estado: None,               cobro: None },
    Caso { fallo: "error@inventario",   salida: Some(1), aviso: "fallo inyectado en el paso inventario",   estado: None,               cobro: None },
    Caso { fallo: "error@pago",         salida: Some(6), aviso: "las entradas se liberaron",               estado: Some("compensada"), cobro: None },
    Caso { fallo: "error@confirmacion", salida: Some(1), aviso: "fallo inyectado en el paso confirmacion", estado: Some("compensada"), cobro: Some((true, true)) },
    Caso { fallo: "error@historial",    salida: Some(7), aviso: "el pago se reembolsó y las entradas se liberaron", estado: Some("compensada"), cobro: Some((true, true)) },
    Caso { fallo: "crash@datos",        salida: None,    aviso: "abortando tras el paso datos",            estado: None,               cobro: None },
    Caso { fallo: "crash@inventario",   salida: None,    aviso: "abortando tras el paso inventario",       estado: Some("expirada"),   cobro: None },
    Caso { fallo: "crash@pago",         salida: None,    aviso: "abortando tras el paso pago",             estado: Some("compensada"), cobro: Some((true, true)) },
    Caso { fallo: "crash@confirmacion", salida: None,    aviso: "abortando tras el paso confirmacion",     estado: Some("compensada"), cobro: Some((true, true)) },
    Caso { fallo: "crash@historial",    salida: None,    aviso: "abortando tras el paso historial",        estado: Some("confirmada"), cobro: Some((true, false)) },
];

async fn caso(env: Entorno, i: usize) {
    let c = &CASOS[i];
    let alm = env.almacen().await;
    let e = evento(&alm, 5, 100).await;
    let u = usuarios(&alm, 1).await.remove(0);
    let out = reservar(&env, &e, &u)
        .env("EVENTFLOW_FAULT", c.fallo)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), c.salida, "{}: {stderr}", c.fallo);
    assert!(stderr.contains(c.aviso), "{}: {stderr}", c.fallo);
    // With `-o json` a failure's stdout is the error object, nothing else (issue 12).
    assert!(es_solo_error(&out.stdout), "{}: {out:?}", c.fallo);
    if let Some(codigo) = c.salida {
        let v = crate::helpers::json(&out.stdout);
        // A compensated purchase names itself and its final state.
        if codigo == 6 || codigo == 7 {
            assert_eq!(v["error"]["estado"], c.estado.unwrap_or_default(), "{v}");
            assert!(v["error"]["reserva_id"].is_string(), "{v}");
        }
    }
    if c.salida.is_none() {
        // The abandoned purchase's hold runs out; `compensar` finishes it.
        for r in crudo::registros_crudos(&env, e.as_str()).await {
            crudo::vencer_retencion_cruda(&env, e.as_str(), &r.id).await;
        }
        env.cmd().arg("compensar").assert().success();
    }

    let registros = crudo::registros_crudos(&env, e.as_str()).await;
    assert_eq!(
        registros.first().map(|r| r.estado.as_str()),
        c.estado,
        "{}: {registros:?}",
        c.fallo
    );
    assert!(registros.len() <= 1 && registros.iter().all(|r| r.terminada));
    let vendida = c.estado == Some("confirmada");
    let contador = crudo::contador_crudo(&env, e.as_str()).await;
    assert_eq!(contador, Some(if vendida { 3 } else { 5 }), "{}", c.fallo);
    if let [r] = registros.as_slice() {
        let cobro = crudo::cobro_crudo(&env, e.as_str(), &r.id).await;
        assert_eq!(
            cobro.map(|x| (x.aprobado, x.reembolsado)),
            c.cobro,
            "{}: {cobro:?}",
            c.fallo
        );
    } else {
        assert_eq!(c.cobro, None, "{}: la tabla espera un cobro", c.fallo);
    }
    let historial = crudo::historiales_crudos(&env).await;
    assert_eq!(
        historial.len(),
        usize::from(vendida),
        "{}: {historial:?}",
        c.fallo
    );
    verificar_ok(&env, &e).await;
    // Nothing is left locked: the buyer can buy again at once.
    reservar(&env, &e, &u)
        .env_remove("EVENTFLOW_FAULT")
        .assert()
        .success();
}

fn reservar(env: &Entorno, e: &EventoId, u: &UsuarioId) -> assert_cmd::Command {
    let mut c = env.cmd();
    c.args(["-o", "json", "reservar", "--evento", e.as_str()])
        .args(["--usuario", u.as_str(), "--entradas", "2"]);
    c
}

async fn error_en_datos_sale_con_1_sin_registrar_nada(env: Entorno) {
    caso(env, 0).await;
}
async fn error_en_inventario_sale_con_1_sin_tomar_entradas(env: Entorno) {
    caso(env, 1).await;
}
async fn error_en_pago_es_un_rechazo_que_sale_con_6(env: Entorno) {
    caso(env, 2).await;
}
async fn error_en_confirmacion_reembolsa_libera_y_sale_con_1(env: Entorno) {
    caso(env, 3).await;
}
async fn error_en_historial_reembolsa_libera_y_sale_con_7(env: Entorno) {
    caso(env, 4).await;
}
async fn crash_tras_datos_no_deja_nada(env: Entorno) {
    caso(env, 5).await;
}
async fn crash_tras_inventario_expira_al_vencer(env: Entorno) {
    caso(env, 6).await;
}
async fn crash_tras_pago_se_reembolsa_al_vencer(env: Entorno) {
    caso(env, 7).await;
}
async fn crash_tras_confirmacion_se_compensa_al_vencer(env: Entorno) {
    caso(env, 8).await;
}
async fn crash_tras_historial_deja_la_compra_completa(env: Entorno) {
    caso(env, 9).await;
}

en_ambos_backends!(
    error_en_datos_sale_con_1_sin_registrar_nada,
    error_en_inventario_sale_con_1_sin_tomar_entradas,
    error_en_pago_es_un_rechazo_que_sale_con_6,
    error_en_confirmacion_reembolsa_libera_y_sale_con_1,
    error_en_historial_reembolsa_libera_y_sale_con_7,
    crash_tras_datos_no_deja_nada,
    crash_tras_inventario_expira_al_vencer,
    crash_tras_pago_se_reembolsa_al_vencer,
    crash_tras_confirmacion_se_compensa_al_vencer,
    crash_tras_historial_deja_la_compra_completa,
);
