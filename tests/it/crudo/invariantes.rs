//! The invariants of one event, judged from the raw stores alone.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    CompraCruda, RegistroCrudo, aforo_crudo, cobro_crudo, contador_crudo, historiales_crudos,
    modelo_crudo, registros_crudos,
};
use crate::helpers::Entorno;

/// Seats of confirmed purchases of event `e`.
pub async fn asientos_vendidos(env: &Entorno, e: &str) -> i64 {
    registros_crudos(env, e)
        .await
        .iter()
        .filter(|r| r.estado == "confirmada")
        .map(|r| r.entradas)
        .sum()
}

/// Every invariant of event `e` that holds whenever no purchase is in flight, judged from
/// the raw stores; empty when all hold. Purchases still in flight (`terminada` unset) may
/// or may not be in the read model and histories yet, as `docs/consistency.md` says.
pub async fn violaciones(env: &Entorno, e: &str) -> Vec<String> {
    let mut v = Vec::new();
    let Some(modelo) = modelo_crudo(env, e).await else {
        return vec![format!("el evento {e} no está guardado")];
    };
    let registros = registros_crudos(env, e).await;
    let contador = contador_crudo(env, e).await;
    let aforo = modelo.aforo_total;
    let fuera: i64 = registros
        .iter()
        .filter(|r| r.retiene())
        .map(|r| r.entradas)
        .sum();
    if contador != Some(aforo - fuera) {
        v.push(format!(
            "aforo {aforo} ≠ contador {contador:?} + entradas fuera {fuera}"
        ));
    }
    if contador.is_some_and(|c| c < 0) {
        v.push(format!("contador negativo: {contador:?}"));
    }
    if aforo_crudo(env, e).await != Some(aforo) {
        v.push(format!(
            "el aforo del almacén de reservas ({:?}) no es {aforo}",
            aforo_crudo(env, e).await
        ));
    }
    let vendidas: BTreeMap<&str, &RegistroCrudo> = registros
        .iter()
        .filter(|r| r.estado == "confirmada" && r.terminada)
        .map(|r| (r.id.as_str(), r))
        .collect();
    let en_vuelo: BTreeSet<&str> = registros
        .iter()
        .filter(|r| !r.terminada)
        .map(|r| r.id.as_str())
        .collect();
    let activas: BTreeSet<&str> = modelo
        .reservas_activas
        .iter()
        .map(String::as_str)
        .filter(|id| !en_vuelo.contains(id))
        .collect();
    let esperadas: BTreeSet<&str> = vendidas.keys().copied().collect();
    if activas != esperadas {
        v.push(format!(
            "reservas_activas {activas:?} ≠ compras confirmadas {esperadas:?}"
        ));
    }
    let en_modelo: i64 = registros
        .iter()
        .filter(|r| modelo.reservas_activas.contains(&r.id))
        .map(|r| r.entradas)
        .sum();
    if modelo.entradas_disponibles != aforo - en_modelo {
        v.push(format!(
            "entradas_disponibles {} ≠ aforo {aforo} − {en_modelo}",
            modelo.entradas_disponibles
        ));
    }
    let historial: Vec<CompraCruda> = historiales_crudos(env)
        .await
        .into_iter()
        .filter(|c| c.evento == e && !en_vuelo.contains(c.reserva.as_str()))
        .collect();
    let en_historial: BTreeSet<(&str, &str, i64)> = historial
        .iter()
        .map(|c| (c.reserva.as_str(), c.usuario.as_str(), c.entradas))
        .collect();
    let esperado: BTreeSet<(&str, &str, i64)> = vendidas
        .values()
        .map(|r| (r.id.as_str(), r.usuario.as_str(), r.entradas))
        .collect();
    if historial.len() != en_historial.len() || en_historial != esperado {
        v.push(format!(
            "los historiales {historial:?} no son las compras confirmadas {esperado:?}"
        ));
    }
    for r in registros.iter().filter(|r| r.terminada) {
        let cobro = cobro_crudo(env, e, &r.id).await;
        let bien = match (r.estado.as_str(), cobro) {
            ("confirmada", Some(c)) => c.aprobado && !c.reembolsado && c.importe == r.importe,
            ("confirmada", None) => false,
            (_, Some(c)) => !c.aprobado || c.reembolsado,
            (_, None) => true,
        };
        if !bien {
            v.push(format!(
                "la reserva {} ({}) tiene el cobro {cobro:?}",
                r.id, r.estado
            ));
        }
    }
    v
}

/// Panics naming every invariant of event `e` that the raw stores break.
pub async fn comprobar_invariantes(env: &Entorno, e: &str) {
    let v = violaciones(env, e).await;
    assert!(
        v.is_empty(),
        "invariantes rotos en el evento {e}:\n{}",
        v.join("\n")
    );
}
