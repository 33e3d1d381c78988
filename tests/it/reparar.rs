//! `verificar --reparar`, one test per kind of inconsistency it diagnoses, on every
//! backend: the raw store is damaged by hand (`crudo`), `verificar` must exit 8 naming
//! it, `--reparar` must fix it, and the raw store — not `verificar` — judges the result.

use eventflow::domain::{EventoId, UsuarioId};
use predicates::prelude::*;

use crate::crudo::{self, CompraCruda};
use crate::helpers::{Entorno, json};
use crate::reservar::{evento, usuarios};

/// An event of `aforo` seats at 100 each and `n` buyers.
async fn escenario(env: &Entorno, aforo: u32, n: usize) -> (EventoId, Vec<UsuarioId>) {
    let alm = env.almacen().await;
    (evento(&alm, aforo, 100).await, usuarios(&alm, n).await)
}

/// Buys `entradas` through the binary; the reservation id.
fn comprar(
    env: &Entorno, e: &EventoId, u: &UsuarioId, entradas: &str, vars: &[(&str, &str)],
) -> String {
    let out = env
        .cmd()
        .args(["-o", "json", "reservar", "--evento", e.as_str()])
        .args(["--usuario", u.as_str(), "--entradas", entradas])
        .envs(vars.iter().copied())
        .assert()
        .success();
    json(&out.get_output().stdout)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A purchase that aborts right after `paso` (`crash@paso`); its id, read raw.
async fn abortada(env: &Entorno, e: &EventoId, u: &UsuarioId, paso: &str) -> String {
    let antes = crudo::registros_crudos(env, e.as_str()).await;
    env.cmd()
        .args(["reservar", "--evento", e.as_str(), "--usuario", u.as_str()])
        .args(["--entradas", "2"])
        .env("EVENTFLOW_FAULT", format!("crash@{paso}"))
        .assert()
        .failure();
    let despues = crudo::registros_crudos(env, e.as_str()).await;
    let nuevo: Vec<_> = despues.iter().filter(|r| !antes.contains(r)).collect();
    assert_eq!(nuevo.len(), 1, "{despues:?}");
    nuevo[0].id.clone()
}

/// `verificar` exits 8 naming `sintoma`; `--reparar` fixes it; then the raw stores keep
/// every invariant and `verificar` exits 0.
async fn diagnosticar_y_reparar(env: &Entorno, e: &EventoId, sintoma: &str) {
    env.cmd()
        .args(["verificar", "--evento", e.as_str()])
        .assert()
        .code(8)
        .stderr(predicate::str::contains(sintoma));
    env.cmd()
        .args(["verificar", "--evento", e.as_str(), "--reparar"])
        .assert()
        .success()
        .stderr(predicate::str::contains("reparado"));
    crudo::comprobar_invariantes(env, e.as_str()).await;
    env.cmd()
        .args(["verificar", "--evento", e.as_str()])
        .assert()
        .success();
}

async fn un_contador_que_no_cuadra_se_recalcula(env: Entorno) {
    let (e, us) = escenario(&env, 10, 2).await;
    for u in &us {
        comprar(&env, &e, u, "3", &[]);
    }
    // Someone "fixes" the counter by hand: two seats appear from nowhere.
    crudo::fijar_contador_crudo(&env, e.as_str(), Some(6)).await;
    diagnosticar_y_reparar(&env, &e, "contador 6").await;
    assert_eq!(crudo::contador_crudo(&env, e.as_str()).await, Some(4));
    env.cmd()
        .args(["verificar", "--evento", "0123456789abcdef01234567"])
        .assert()
        .code(3);
}

async fn un_contador_borrado_se_recrea(env: Entorno) {
    let (e, us) = escenario(&env, 10, 2).await;
    for u in &us {
        comprar(&env, &e, u, "3", &[]);
    }
    crudo::fijar_contador_crudo(&env, e.as_str(), None).await;
    // SQLite keeps the counter and the capacity it is accounted against in one row.
    let sintoma = if env.es_mongo() {
        "falta el contador"
    } else {
        "no guarda el aforo"
    };
    diagnosticar_y_reparar(&env, &e, sintoma).await;
    assert_eq!(crudo::contador_crudo(&env, e.as_str()).await, Some(4));
    // Counter and capacity lost together: `--reparar` used to refuse for want of a counter.
    crudo::perder_contador_crudo(&env, e.as_str()).await;
    diagnosticar_y_reparar(&env, &e, "no guarda el aforo").await;
    assert_eq!(crudo::contador_crudo(&env, e.as_str()).await, Some(4));
    assert_eq!(crudo::aforo_crudo(&env, e.as_str()).await, Some(10));
}

async fn un_modelo_de_lectura_sin_una_compra_confirmada_la_recupera(env: Entorno) {
    let (e, us) = escenario(&env, 10, 2).await;
    let a = comprar(&env, &e, &us[0], "3", &[]);
    let b = comprar(&env, &e, &us[1], "2", &[]);
    // The history step's event update was lost: only `a` is in the read model.
    crudo::fijar_modelo_crudo(&env, e.as_str(), 7, &[&a]).await;
    diagnosticar_y_reparar(&env, &e, "no incluye 1 compra(s) confirmada(s)").await;
    let m = crudo::modelo_crudo(&env, e.as_str()).await.unwrap();
    assert_eq!(m.entradas_disponibles, 5);
    assert_eq!(m.reservas_activas, [a, b].into_iter().collect());
}

async fn un_modelo_de_lectura_con_una_reserva_cancelada_la_quita(env: Entorno) {
    let (e, us) = escenario(&env, 10, 2).await;
    let a = comprar(&env, &e, &us[0], "3", &[]);
    let b = comprar(&env, &e, &us[1], "2", &[]);
    env.cmd()
        .args(["reservas", "cancelar", &b])
        .assert()
        .success();
    // The cancellation's event update was lost: `b` is still in the read model.
    crudo::fijar_modelo_crudo(&env, e.as_str(), 5, &[&a, &b]).await;
    diagnosticar_y_reparar(&env, &e, "incluye 1 reserva(s) no confirmada(s)").await;
    let m = crudo::modelo_crudo(&env, e.as_str()).await.unwrap();
    assert_eq!(m.entradas_disponibles, 7);
    assert_eq!(m.reservas_activas, [a].into_iter().collect());
}

async fn entradas_disponibles_editadas_a_mano_se_reconstruyen(env: Entorno) {
    let (e, us) = escenario(&env, 10, 1).await;
    let a = comprar(&env, &e, &us[0], "3", &[]);
    crudo::fijar_modelo_crudo(&env, e.as_str(), 9, &[&a]).await;
    diagnosticar_y_reparar(&env, &e, "entradas_disponibles").await;
    let m = crudo::modelo_crudo(&env, e.as_str()).await.unwrap();
    assert_eq!(m.entradas_disponibles, 7);
    // A read model listing a reservation the store never had is rebuilt whole, too.
    let fantasma = EventoId::generar().to_string();
    crudo::fijar_modelo_crudo(&env, e.as_str(), 7, &[&a, &fantasma]).await;
    diagnosticar_y_reparar(&env, &e, &fantasma).await;
    let m = crudo::modelo_crudo(&env, e.as_str()).await.unwrap();
    assert_eq!((m.entradas_disponibles, m.reservas_activas.len()), (7, 1));
}

async fn un_historial_sin_la_compra_confirmada_la_recupera(env: Entorno) {
    let (e, us) = escenario(&env, 10, 1).await;
    let a = comprar(&env, &e, &us[0], "3", &[]);
    crudo::quitar_compra_cruda(&env, us[0].as_str(), &a).await;
    diagnosticar_y_reparar(&env, &e, "no refleja la compra confirmada").await;
    let h = crudo::historiales_crudos(&env).await;
    assert_eq!(
        h,
        vec![CompraCruda {
            usuario: us[0].to_string(),
            reserva: a,
            evento: e.to_string(),
            entradas: 3,
        }]
    );
}

async fn un_historial_con_una_compra_cancelada_la_quita(env: Entorno) {
    let (e, us) = escenario(&env, 10, 2).await;
    let a = comprar(&env, &e, &us[0], "3", &[]);
    let b = comprar(&env, &e, &us[1], "2", &[]);
    env.cmd()
        .args(["reservas", "cancelar", &b])
        .assert()
        .success();
    let perdida = CompraCruda {
        usuario: us[1].to_string(),
        reserva: b.clone(),
        evento: e.to_string(),
        entradas: 2,
    };
    crudo::anadir_compra_cruda(&env, &perdida).await;
    assert!(crudo::historiales_crudos(&env).await.contains(&perdida));
    diagnosticar_y_reparar(&env, &e, "que no está confirmada").await;
    let h = crudo::historiales_crudos(&env).await;
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0].reserva, a);
}

async fn un_registro_perdido_se_restaura_desde_el_historial(env: Entorno) {
    let (e, us) = escenario(&env, 10, 2).await;
    comprar(&env, &e, &us[0], "3", &[]);
    let b = comprar(&env, &e, &us[1], "2", &[]);
    // The reservation store lost the sold purchase (a Redis kill -9 inside the fsync
    // window); the history and the read model still hold it, the counter still counts it.
    crudo::perder_registro_crudo(&env, e.as_str(), &b).await;
    assert_eq!(crudo::registro_crudo(&env, e.as_str(), &b).await, None);
    diagnosticar_y_reparar(&env, &e, "no en el almacén de reservas").await;
    let r = crudo::registro_crudo(&env, e.as_str(), &b).await.unwrap();
    assert_eq!((r.estado.as_str(), r.entradas), ("confirmada", 2));
    assert_eq!(r.usuario, us[1].as_str());
    assert_eq!(crudo::contador_crudo(&env, e.as_str()).await, Some(5));
    let c = crudo::cobro_crudo(&env, e.as_str(), &b).await.unwrap();
    assert!(c.aprobado && !c.reembolsado && c.importe == 200, "{c:?}");
}

async fn una_compra_vencida_a_medio_pagar_se_compensa_y_reembolsa(env: Entorno) {
    let (e, us) = escenario(&env, 10, 1).await;
    let r = abortada(&env, &e, &us[0], "pago").await;
    assert_eq!(crudo::contador_crudo(&env, e.as_str()).await, Some(8));
    // Its hold (900 s) runs out.
    crudo::vencer_retencion_cruda(&env, e.as_str(), &r).await;
    diagnosticar_y_reparar(&env, &e, "con la retención vencida").await;
    let reg = crudo::registro_crudo(&env, e.as_str(), &r).await.unwrap();
    assert_eq!(reg.estado, "compensada");
    assert!(reg.terminada);
    assert_eq!(crudo::contador_crudo(&env, e.as_str()).await, Some(10));
    let c = crudo::cobro_crudo(&env, e.as_str(), &r).await.unwrap();
    assert!(c.aprobado && c.reembolsado, "{c:?}");
}

async fn una_compra_vendida_cuyo_registro_quedo_a_medias_se_completa(env: Entorno) {
    let (e, us) = escenario(&env, 10, 1).await;
    let r = comprar(&env, &e, &us[0], "2", &[]);
    // The store lost the sale's last write (a Redis kill -9 inside the fsync window): the
    // buyer was told `confirmada` and the history holds it, the record is unfinished.
    crudo::reabrir_registro_crudo(&env, e.as_str(), &r).await;
    diagnosticar_y_reparar(&env, &e, "se completa desde el historial").await;
    let reg = crudo::registro_crudo(&env, e.as_str(), &r).await.unwrap();
    assert_eq!(reg.estado, "confirmada");
    assert!(reg.terminada);
    assert_eq!(crudo::contador_crudo(&env, e.as_str()).await, Some(8));
    let c = crudo::cobro_crudo(&env, e.as_str(), &r).await.unwrap();
    assert!(c.aprobado && !c.reembolsado, "{c:?}");
}

en_ambos_backends!(
    un_contador_que_no_cuadra_se_recalcula,
    un_contador_borrado_se_recrea,
    un_modelo_de_lectura_sin_una_compra_confirmada_la_recupera,
    un_modelo_de_lectura_con_una_reserva_cancelada_la_quita,
    entradas_disponibles_editadas_a_mano_se_reconstruyen,
    un_historial_sin_la_compra_confirmada_la_recupera,
    un_historial_con_una_compra_cancelada_la_quita,
    un_registro_perdido_se_restaura_desde_el_historial,
    una_compra_vencida_a_medio_pagar_se_compensa_y_reembolsa,
    una_compra_vendida_cuyo_registro_quedo_a_medias_se_completa,
);
