//! 150 separate `reservar` processes race for the seats of three events whose keys
//! live on three different primaries of the shared test cluster.

use std::collections::HashMap;
use std::process::Stdio;

use eventflow::domain::EventoId;

use super::propio::primario_de;
use crate::helpers::{Entorno, json};
use crate::reservar::{evento, usuarios};

const AFORO: u32 = 20;
const POR_EVENTO: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ciento_cincuenta_procesos_en_tres_primarios_venden_el_aforo_exacto() {
    let env = Entorno::cluster();
    let alm = env.almacen().await;
    let puertos = puertos(&env.redis_url);
    // Events until three of them sit on three different primaries.
    let mut por_primario: HashMap<u16, EventoId> = HashMap::new();
    while por_primario.len() < 3 {
        let e = evento(&alm, AFORO, 100).await;
        let p = primario_de(
            &puertos,
            None,
            &env.clave(&format!("evento:{{{e}}}:entradas")),
        );
        por_primario.entry(p).or_insert(e);
    }
    let eventos: Vec<EventoId> = por_primario.into_values().collect();
    let us = usuarios(&alm, POR_EVENTO * eventos.len()).await;
    let hijos: Vec<_> = us
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let e = &eventos[i % eventos.len()];
            let h = env
                .cmd_std_paciente()
                .args(["-o", "json", "reservar", "--evento", e.as_str()])
                .args(["--usuario", u.as_str(), "--entradas", "1"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (e.clone(), h)
        })
        .collect();
    let mut vendidas: HashMap<EventoId, u32> = HashMap::new();
    let mut agotadas = 0;
    for (e, h) in hijos {
        let out = h.wait_with_output().unwrap();
        match out.status.code() {
            Some(0) => {
                assert_eq!(json(&out.stdout)["estado"], "confirmada");
                *vendidas.entry(e).or_default() += 1;
            }
            Some(5) => agotadas += 1,
            otro => panic!(
                "salida inesperada {otro:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
    for e in &eventos {
        assert_eq!(vendidas.get(e), Some(&AFORO), "{vendidas:?}");
        assert_eq!(crate::eventos::contador(&env, e.as_str()).await, Some(0));
    }
    assert_eq!(agotadas, (POR_EVENTO as u32 - AFORO) * 3);
    // Every event of this namespace, found through the sharded registry.
    env.cmd().arg("verificar").assert().success();
}

/// The ports of a comma-separated list of node URLs.
pub fn puertos(urls: &str) -> Vec<u16> {
    urls.split(',')
        .filter_map(|u| url::Url::parse(u.trim()).ok()?.port())
        .collect()
}
