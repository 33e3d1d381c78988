//! A seeded, bounded, model-based interleaving test (issue #9), in the spirit of Jepsen's
//! checkers. Workers in this process and separate `eventflow` processes mix purchases,
//! idempotent retries, cancels, capacity raises and lowers, `compensar`, `verificar`
//! (and `verificar --reparar`, racing the sales),
//! payments slower than the hold, `crash@<paso>` aborts and deleted users. At the end every
//! purchase is finished (`compensar --forzar`) and the outcome is judged from the raw
//! stores (`crudo`), not through the store code under test:
//! - seats: `aforo_total` = counter + held + sold, per event; the read model and the
//!   histories hold exactly the confirmed purchases;
//! - money: a charge stands (approved, not refunded) exactly when its purchase is confirmed;
//! - every purchase a buyer was told is `confirmada` still is, unless the test cancelled it;
//! - `verificar` agrees.
//!
//! The seed is printed; `EVENTFLOW_TEST_SEMILLA=<n>` replays it, and
//! `EVENTFLOW_TEST_RONDAS=<n>` runs more operations per worker (a local soak run).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventflow::casos;
use eventflow::compra::{
    Fallos, OpcionesCompensar, PasarelaSimulada, Reservador, Solicitud, cancelar, compensar,
    verificar,
};
use eventflow::domain::{
    Aforo, CambiosEvento, ClaveIdempotencia, Entradas, Estado, EventoId, ReservaId, UsuarioId,
};
use eventflow::error::Error;
use eventflow::store::{Almacen, Paso};
use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::crudo;
use crate::helpers::Entorno;
use crate::reservar::{evento, usuarios};

const TRABAJADORES: u64 = 4;
const PROCESOS: usize = 6;

fn semilla() -> u64 {
    match std::env::var("EVENTFLOW_TEST_SEMILLA") {
        Ok(s) => s
            .parse()
            .expect("EVENTFLOW_TEST_SEMILLA debe ser un entero"),
        Err(_) => rand::random::<u32>().into(),
    }
}

fn rondas() -> usize {
    std::env::var("EVENTFLOW_TEST_RONDAS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40)
}

/// What the buyers and the operator were told, and anything that broke a rule on the way.
#[derive(Default)]
struct Modelo {
    /// Purchases a buyer was told are `confirmada`.
    dichas: BTreeSet<ReservaId>,
    /// Purchases the test cancelled.
    canceladas: BTreeSet<ReservaId>,
    /// Purchases a cancellation is running on: a retry may see them cancelled before the
    /// canceller returns and records them in `canceladas`.
    /// How many run on each (two workers may pick the same one).
    cancelando: std::collections::BTreeMap<ReservaId, usize>,
    violaciones: Vec<String>,
}

type Compartido = Arc<Mutex<Modelo>>;

fn violacion(m: &Compartido, texto: String) {
    m.lock().unwrap().violaciones.push(texto);
}

/// A saga wired with its own gateway: `latencia` and `ttl` decide whether the payment
/// outlives the hold.
fn reservador(
    alm: &Almacen, rechazo: f64, latencia_ms: u64, ttl_ms: u64, semilla: u64,
) -> Reservador {
    let pasarela = Arc::new(
        PasarelaSimulada::new(
            alm.reservas.clone(),
            rechazo,
            Duration::from_millis(latencia_ms),
            Some(semilla),
        )
        .unwrap(),
    );
    Reservador {
        almacen: alm.clone(),
        pasarela,
        ttl: Duration::from_millis(ttl_ms),
        fallos: Fallos::ninguno(),
    }
}

/// What a buyer was told, reduced to what a retry must repeat: the reservation when
/// confirmed, else the error's tag.
type Desenlace = Result<ReservaId, &'static str>;

/// Records the outcome of one purchase or retry against the rules a buyer relies on.
fn anotar(m: &Compartido, que: &str, res: &Result<eventflow::domain::Reserva, Error>) {
    match res {
        Ok(r) if r.estado == Estado::Confirmada => {
            m.lock().unwrap().dichas.insert(r.id.clone());
        }
        Ok(r) => violacion(
            m,
            format!(
                "{que}: éxito con la reserva {} en estado {}",
                r.id, r.estado
            ),
        ),
        Err(
            Error::SinEntradas { .. }
            | Error::PagoRechazado { .. }
            | Error::Conflicto(_)
            | Error::NoEncontrado { .. }
            | Error::HistorialFallido { .. },
        ) => {}
        Err(Error::Repetido { codigo, .. })
            if [
                "pago_rechazado",
                "conflicto",
                "no_encontrado",
                "historial_fallido",
            ]
            .contains(codigo) => {}
        Err(e) => violacion(m, format!("{que}: error inesperado ({}) {e}", e.codigo())),
    }
}

struct Mundo {
    alm: Almacen,
    eventos: Vec<EventoId>,
    compradores: Vec<UsuarioId>,
    /// Users a worker may delete; they also buy.
    borrables: Vec<UsuarioId>,
    rapido: Reservador,
    lento: Reservador,
}

async fn trabajador(w: Arc<Mundo>, m: Compartido, semilla: u64, rondas: usize) {
    let mut rng = StdRng::seed_from_u64(semilla);
    // Each key's request and what its first attempt was told.
    let mut claves: Vec<(Solicitud, Desenlace)> = Vec::new();
    for i in 0..rondas {
        let evento = w.eventos[rng.random_range(0..w.eventos.len())].clone();
        let usuario = if rng.random_bool(0.15) {
            w.borrables[rng.random_range(0..w.borrables.len())].clone()
        } else {
            w.compradores[rng.random_range(0..w.compradores.len())].clone()
        };
        let solicitud = |clave| Solicitud {
            evento: evento.clone(),
            usuario: usuario.clone(),
            entradas: Entradas::new(rng_entradas(semilla, i)).unwrap(),
            clave,
        };
        match rng.random_range(0..100) {
            0..35 => {
                let clave = rng
                    .random_bool(0.5)
                    .then(|| ClaveIdempotencia::parse(&format!("k-{semilla}-{i}")).unwrap());
                let s = solicitud(clave.clone());
                let res = w.rapido.reservar(s.clone()).await;
                anotar(&m, "reservar", &res);
                if clave.is_some() {
                    claves.push((s, desenlace(&res)));
                }
            }
            35..45 => {
                // A payment that outlives its hold, racing `compensar`.
                anotar(
                    &m,
                    "reservar lento",
                    &w.lento.reservar(solicitud(None)).await,
                );
            }
            45..55 => {
                if let Some((s, primero)) = claves.get(rng.random_range(0..claves.len().max(1))) {
                    let res = w.rapido.reservar(s.clone()).await;
                    anotar(&m, "reintento", &res);
                    repite(&m, primero, &desenlace(&res));
                }
            }
            55..63 => {
                let elegida = {
                    let g = m.lock().unwrap();
                    let v: Vec<&ReservaId> = g.dichas.difference(&g.canceladas).collect();
                    (!v.is_empty()).then(|| v[rng.random_range(0..v.len())].clone())
                };
                if let Some(id) = elegida {
                    *m.lock().unwrap().cancelando.entry(id.clone()).or_default() += 1;
                    let res = cancelar(&w.rapido, &id).await;
                    {
                        // One step, so a retry never sees it in neither set.
                        let mut g = m.lock().unwrap();
                        if matches!(&res, Ok(r) if r.estado == Estado::Cancelada) {
                            g.canceladas.insert(id.clone());
                        }
                        if let Some(n) = g.cancelando.get_mut(&id) {
                            *n -= 1;
                            if *n == 0 {
                                g.cancelando.remove(&id);
                            }
                        }
                    }
                    match res {
                        Ok(r) if r.estado == Estado::Cancelada => {}
                        Ok(r) => violacion(&m, format!("cancelar {id}: estado {}", r.estado)),
                        Err(Error::Conflicto(_)) => {}
                        Err(e) => violacion(&m, format!("cancelar {id}: {e}")),
                    }
                }
            }
            63..78 => {
                let actual = match w.alm.eventos.ver(&evento).await {
                    Ok(e) => i64::from(e.aforo_total.get()),
                    Err(e) => return violacion(&m, format!("ver evento: {e}")),
                };
                let nuevo = (actual + rng.random_range(-4..=6)).clamp(1, 60);
                let cambios = CambiosEvento {
                    aforo: Some(Aforo::new(nuevo).unwrap()),
                    ..CambiosEvento::default()
                };
                match casos::eventos::actualizar(&w.alm, &evento, cambios).await {
                    Ok(_) | Err(Error::Conflicto(_)) => {}
                    Err(e) => violacion(&m, format!("actualizar aforo a {nuevo}: {e}")),
                }
            }
            78..88 => {
                if let Err(e) = compensar(&w.rapido, &OpcionesCompensar::default()).await {
                    violacion(&m, format!("compensar: {e}"));
                }
            }
            88..94 => {
                // Repairs race live sales too: they must never undo or invent one.
                let reparar = rng.random_bool(0.5);
                if let Err(e) = verificar(&w.rapido, Some(&evento), reparar).await {
                    violacion(&m, format!("verificar: {e}"));
                }
            }
            _ => {
                let u = &w.borrables[rng.random_range(0..w.borrables.len())];
                match casos::usuarios::eliminar(&w.alm, u).await {
                    Ok(()) | Err(Error::NoEncontrado { .. } | Error::Conflicto(_)) => {}
                    Err(e) => violacion(&m, format!("eliminar usuario {u}: {e}")),
                }
            }
        }
    }
}

fn desenlace(res: &Result<eventflow::domain::Reserva, Error>) -> Desenlace {
    res.as_ref().map(|r| r.id.clone()).map_err(Error::codigo)
}

/// A retry must replay a first attempt that finished: the same confirmed reservation
/// (unless the test cancelled it since), or the same declined payment. Other first
/// failures left nothing behind, so the retry may run the purchase again.
fn repite(m: &Compartido, primero: &Desenlace, otra_vez: &Desenlace) {
    let bien = match (primero, otra_vez) {
        (Ok(a), Ok(b)) => a == b,
        (Ok(a), Err("conflicto")) => {
            let g = m.lock().unwrap();
            g.canceladas.contains(a) || g.cancelando.contains_key(a)
        }
        (Err("pago_rechazado"), b) => b == &Err("pago_rechazado"),
        _ => true,
    };
    if !bien {
        violacion(
            m,
            format!("un reintento dijo {otra_vez:?} y el primer intento {primero:?}"),
        );
    }
}

/// Seats of one purchase, a function of the seed so a replay asks for the same.
fn rng_entradas(semilla: u64, i: usize) -> i64 {
    1 + ((semilla as usize).wrapping_mul(31).wrapping_add(i * 7) % 3) as i64
}

/// `eventflow reservar` processes that abort right after a random step.
fn procesos_que_abortan(env: &Entorno, w: &Mundo, rng: &mut StdRng) -> Vec<std::process::Child> {
    (0..PROCESOS)
        .map(|_| {
            let paso = Paso::TODOS[rng.random_range(0..Paso::TODOS.len())];
            let e = &w.eventos[rng.random_range(0..w.eventos.len())];
            let u = &w.compradores[rng.random_range(0..w.compradores.len())];
            env.cmd_std_paciente()
                .args(["reservar", "--evento", e.as_str(), "--usuario", u.as_str()])
                .args(["--entradas", "1"])
                .env("EVENTFLOW_FAULT", format!("crash@{}", paso.as_str()))
                .env("EVENTFLOW_RESERVA_TTL_S", "1")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("lanzar eventflow reservar")
        })
        .collect()
}

/// Finishes everything still in flight, then judges the stores against the model.
async fn juzgar(env: &Entorno, w: &Mundo, m: &Compartido) {
    for e in &w.eventos {
        for reg in w.alm.reservas.de_evento(e).await.unwrap() {
            if reg.en_curso() {
                let op = OpcionesCompensar {
                    reserva: Some(reg.reserva.id.clone()),
                    forzar: true,
                    dry_run: false,
                };
                if let Err(err) = compensar(&w.rapido, &op).await {
                    violacion(m, format!("compensar --forzar {}: {err}", reg.reserva.id));
                }
            }
        }
    }
    // Judged from the raw stores, not through the store code under test.
    let mut finales: BTreeMap<String, String> = BTreeMap::new();
    for e in &w.eventos {
        for v in crudo::violaciones(env, e.as_str()).await {
            violacion(m, format!("evento {e}: {v}"));
        }
        for reg in crudo::registros_crudos(env, e.as_str()).await {
            if !reg.terminada {
                violacion(m, format!("la reserva {} sigue en curso", reg.id));
            }
            let cobro = crudo::cobro_crudo(env, e.as_str(), &reg.id).await;
            if reg.estado == "expirada" && cobro.is_some_and(|c| c.aprobado) {
                violacion(
                    m,
                    format!("la reserva {} expiró con un cobro aprobado", reg.id),
                );
            }
            finales.insert(reg.id, reg.estado);
        }
    }
    let (dichas, canceladas) = {
        let g = m.lock().unwrap();
        (g.dichas.clone(), g.canceladas.clone())
    };
    for id in &dichas {
        let esperado = if canceladas.contains(id) {
            "cancelada"
        } else {
            "confirmada"
        };
        if finales.get(id.as_str()).map(String::as_str) != Some(esperado) {
            violacion(
                m,
                format!(
                    "a un comprador se le dijo confirmada la reserva {id}, que acabó {:?}",
                    finales.get(id.as_str())
                ),
            );
        }
    }
    for informe in verificar(&w.rapido, None, false).await.unwrap() {
        if !informe.consistente {
            violacion(m, format!("verificar: {:?}", informe.problemas));
        }
    }
}

async fn ninguna_intercalacion_sobrevende_ni_pierde_dinero(env: Entorno) {
    let semilla = semilla();
    let rondas = rondas();
    eprintln!(
        "intercalaciones: semilla {semilla} ({rondas} rondas por trabajador); repítala con EVENTFLOW_TEST_SEMILLA={semilla}"
    );
    let alm = env.almacen().await;
    let mut rng = StdRng::seed_from_u64(semilla);
    let mut eventos = Vec::new();
    for _ in 0..2 {
        eventos.push(evento(&alm, rng.random_range(6..20), 100).await);
    }
    let todos = usuarios(&alm, 14).await;
    let (borrables, compradores) = todos.split_at(4);
    let w = Arc::new(Mundo {
        rapido: reservador(&alm, 0.2, 5, 2_000, semilla),
        lento: reservador(&alm, 0.0, 400, 150, semilla ^ 1),
        alm,
        eventos,
        compradores: compradores.to_vec(),
        borrables: borrables.to_vec(),
    });
    let m: Compartido = Arc::default();
    let hijos = procesos_que_abortan(&env, &w, &mut rng);
    let tareas: Vec<_> = (0..TRABAJADORES)
        .map(|i| {
            tokio::spawn(trabajador(
                w.clone(),
                m.clone(),
                semilla.wrapping_add(i),
                rondas,
            ))
        })
        .collect();
    for t in tareas {
        t.await.unwrap();
    }
    for mut h in hijos {
        h.wait().unwrap();
    }
    juzgar(&env, &w, &m).await;
    let g = m.lock().unwrap();
    assert!(
        g.violaciones.is_empty(),
        "semilla {semilla}: {} violaciones (repítala con EVENTFLOW_TEST_SEMILLA={semilla}):\n{}",
        g.violaciones.len(),
        g.violaciones.join("\n")
    );
}

en_ambos_backends!(cluster; ninguna_intercalacion_sobrevende_ni_pierde_dinero);
