//! `simular`: a flash sale against the real stores. It creates an event and a crowd of
//! buyers marked as simulated, makes them race through the same saga `reservar` runs,
//! and measures outcomes, latency and whether the invariants held. It never prints:
//! progress goes out through [`SimulationProgress`] and the result comes back as an [`Informe`].

mod carrera;
mod compradores;
mod informe;
mod limpieza;
mod opciones;

use carrera::*;
use compradores::*;
pub use informe::*;
use limpieza::*;
pub use opciones::*;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use crate::compra::{InformeEvento, PasarelaSimulada, Reservador};
use mongodb::bson::oid::ObjectId;

use crate::domain::{Aforo, Estado, Evento, EventoId, Fecha, NuevoEvento, Texto, Usuario};
use crate::error::{Error, Result};
use crate::store::Almacen;

/// Where every simulated event takes place: with [`PREFIJO_NOMBRE`], what tells a
/// simulated event from a real one.
pub const LUGAR: &str = "simulación";
/// How the name of every simulated event begins.
pub const PREFIJO_NOMBRE: &str = "SIMULACIÓN ";
/// The mail domain of every simulated buyer. `.invalid` is reserved (RFC 2606), so no
/// message can ever reach a real person.
pub const DOMINIO: &str = "simulacion.eventflow.invalid";

/// Buyers per bulk insert: large enough for `insert_many` to pay off, small enough that
/// a 100,000-buyer run never holds them all in memory.
const LOTE_COMPRADORES: u32 = 1000;
/// Page size when scanning users and events. Large, because a server without a usable
/// index for the page's `_id > last` filter (NX-27017) scans the collection once per
/// page: 1,000 took 25 s to read 50,000 buyers back there, 10,000 keeps it to a few.
const PAGINA: u32 = 10_000;
/// Cleanup failures kept for the report (the count is what matters past a few).
const MAX_ERRORES_LIMPIEZA: usize = 8;

/// Whether a stored user was created by a simulation.
pub fn es_usuario_simulado(u: &Usuario) -> bool {
    u.email
        .as_str()
        .strip_suffix(DOMINIO)
        .is_some_and(|l| l.ends_with('@'))
}

/// Whether a stored event was created by a simulation.
pub fn es_evento_simulado(e: &Evento) -> bool {
    e.lugar.as_str() == LUGAR && e.nombre.as_str().starts_with(PREFIJO_NOMBRE)
}

/// Runs a simulation on `alm`. Refuses (`Conflicto`, exit 4) when the stores hold data
/// that no simulation created, unless `permitir_datos_existentes`.
pub async fn simular(
    alm: &Almacen, op: &SimulationOptions, progreso: &dyn SimulationProgress,
) -> Result<Informe> {
    validar(op)?;
    let semilla = op.semilla.unwrap_or_else(rand::random);
    // Built first: bad settings fail before anything is written.
    let r = reservador(alm, op, semilla)?;

    let mut tiempos = Tiempos::default();
    let escenario = preparar(alm, op, progreso, &mut tiempos).await?;
    let evento = &escenario.evento.id;

    progreso.etapa(Etapa::Compras, u64::from(op.compradores));
    let carrera = correr(&r, evento, &escenario.compradores, op, semilla, progreso).await?;

    progreso.etapa(Etapa::Verificacion, 0);
    let t = Instant::now();
    let revision = revisar(&r, evento, op.aforo, &carrera).await?;
    tiempos.verificacion = segundos(t);

    let t = Instant::now();
    let limpieza = if op.limpiar {
        let compradores = &escenario.compradores;
        Some(limpiar(&r, evento, compradores, op.concurrencia, progreso).await)
    } else {
        None
    };
    tiempos.limpieza = segundos(t);
    Ok(componer_informe(
        op, semilla, escenario, carrera, revision, tiempos, limpieza,
    ))
}

/// Refuses (`Invalido`) a run without buyers or without concurrency.
fn validar(op: &SimulationOptions) -> Result<()> {
    if op.compradores == 0 || op.concurrencia == 0 {
        return Err(Error::Invalido(format!(
            "compradores ({}) y concurrencia ({}) deben ser al menos 1",
            op.compradores, op.concurrencia
        )));
    }
    Ok(())
}

/// The saga the buyers race through, over a payment gateway simulated with the run's
/// decline rate, latency and `semilla`.
fn reservador(alm: &Almacen, op: &SimulationOptions, semilla: u64) -> Result<Arc<Reservador>> {
    let pasarela = PasarelaSimulada::new(
        alm.reservas.clone(),
        op.rechazo_pago.get(),
        op.latencia_pago,
        Some(semilla),
    )?;
    Ok(Arc::new(Reservador::new(
        alm.clone(),
        Arc::new(pasarela),
        op.ttl,
        op.fallos,
    )))
}

/// What a run creates before the race: its marks, its event and its buyers.
struct Escenario {
    corrida: Corrida,
    evento: Evento,
    /// The buyers' ids, in buyer order.
    compradores: Vec<ObjectId>,
}

/// The stages before the race: checks the stores hold no real data (unless allowed),
/// creates the event and the buyers, and reads their ids back, timing each in `tiempos`.
async fn preparar(
    alm: &Almacen, op: &SimulationOptions, progreso: &dyn SimulationProgress, tiempos: &mut Tiempos,
) -> Result<Escenario> {
    progreso.etapa(Etapa::Comprobacion, 0);
    let t = Instant::now();
    if !op.permitir_datos_existentes {
        comprobar_sin_datos_reales(alm).await?;
    }
    tiempos.comprobacion = segundos(t);
    let t = Instant::now();
    let corrida = Corrida::nueva();
    let evento = crate::casos::eventos::crear(
        alm,
        NuevoEvento {
            nombre: Texto::parse("nombre", &format!("{PREFIJO_NOMBRE}{}", corrida.fecha))?,
            fecha: Fecha::from(corrida.inicio),
            lugar: Texto::parse("lugar", LUGAR)?,
            aforo: op.aforo,
            precio: op.precio,
        },
    )
    .await?;

    progreso.etapa(Etapa::Compradores, u64::from(op.compradores));
    crear_compradores(alm, &corrida, op.compradores, progreso).await?;
    tiempos.alta = segundos(t);
    let t = Instant::now();
    let compradores = ids_compradores(alm, &corrida, op.compradores).await?;
    tiempos.lectura_ids = segundos(t);
    Ok(Escenario {
        corrida,
        evento,
        compradores,
    })
}

/// What the stores hold after the race, and which invariants it broke.
struct Revision {
    verificacion: InformeEvento,
    /// Records by state (every state, zero included).
    reservas: BTreeMap<&'static str, u64>,
    fallos: Vec<String>,
}

/// Runs `verificar` on the event, counts its records by state and checks the
/// invariants against what the buyers saw.
async fn revisar(
    r: &Reservador, evento: &EventoId, aforo: Aforo, carrera: &Carrera,
) -> Result<Revision> {
    let verificacion = crate::compra::verificar(r, Some(evento), false)
        .await?
        .pop()
        .ok_or_else(|| Error::no_encontrado("evento", evento))?;
    let mut reservas: BTreeMap<&'static str, u64> =
        Estado::TODOS.iter().map(|e| (e.as_str(), 0)).collect();
    for reg in r.almacen.reservas.de_evento(evento).await? {
        *reservas.entry(reg.reserva.estado.as_str()).or_default() += 1;
    }
    let fallos = invariantes(aforo, carrera, &reservas, &verificacion);
    Ok(Revision {
        verificacion,
        reservas,
        fallos,
    })
}

/// The report of a finished run; fills in `tiempos.compras` from the race.
fn componer_informe(
    op: &SimulationOptions, semilla: u64, escenario: Escenario, carrera: Carrera,
    revision: Revision, mut tiempos: Tiempos, limpieza: Option<Limpieza>,
) -> Informe {
    let Revision {
        verificacion,
        reservas,
        fallos,
    } = revision;
    let carrera_s = carrera.duracion.as_secs_f64();
    tiempos.compras = (carrera_s * 1000.0).round() / 1000.0;
    Informe {
        corrida: escenario.corrida.id,
        evento_id: escenario.evento.id,
        evento: escenario.evento.nombre.to_string(),
        aforo: op.aforo.get(),
        compradores: op.compradores,
        concurrencia: op.concurrencia,
        entradas_por_compra: op.entradas,
        rechazo_pago: op.rechazo_pago,
        latencia_pago_ms: u64::try_from(op.latencia_pago.as_millis()).unwrap_or(u64::MAX),
        precio: op.precio.get(),
        semilla,
        confirmadas: carrera.confirmadas,
        agotadas: carrera.agotadas,
        rechazadas: carrera.rechazadas,
        otros_errores: carrera.errores.values().map(|t| t.veces).sum(),
        errores: carrera.errores.into_values().collect(),
        entradas_confirmadas: carrera.entradas_confirmadas,
        compensadas: reservas
            .get(Estado::Compensada.as_str())
            .copied()
            .unwrap_or(0),
        reservas,
        entradas_vendidas: verificacion.vendidas,
        segundos: tiempos.compras,
        compras_por_segundo: if carrera_s > 0.0 {
            (carrera.lanzadas as f64 / carrera_s * 10.0).round() / 10.0
        } else {
            0.0
        },
        tiempos,
        latencia_ms: Latencias::de(carrera.latencias),
        verificar: verificacion,
        invariantes_ok: fallos.is_empty(),
        fallos,
        limpieza,
    }
}

/// The invariants a flash sale must keep, whatever the interleaving.
fn invariantes(
    aforo: Aforo, c: &Carrera, reservas: &BTreeMap<&'static str, u64>, v: &InformeEvento,
) -> Vec<String> {
    let mut fallos = Vec::new();
    let aforo = i64::from(aforo.get());
    if v.vendidas > aforo {
        fallos.push(format!(
            "sobreventa: {} entradas vendidas con un aforo de {aforo}",
            v.vendidas
        ));
    }
    if let Some(n) = v.contador.filter(|n| *n < 0) {
        fallos.push(format!("el contador de entradas quedó en {n}"));
    }
    if i64::try_from(c.entradas_confirmadas).ok() != Some(v.vendidas) {
        fallos.push(format!(
            "los compradores recibieron {} entradas confirmadas pero el almacén registra {} vendidas",
            c.entradas_confirmadas, v.vendidas
        ));
    }
    let registradas = reservas
        .get(Estado::Confirmada.as_str())
        .copied()
        .unwrap_or(0);
    if registradas != c.confirmadas {
        fallos.push(format!(
            "{} compras confirmadas a los compradores pero {registradas} reservas confirmadas en el almacén",
            c.confirmadas
        ));
    }
    if !v.consistente {
        fallos.push(format!(
            "verificar encontró {} problema(s): {}",
            v.problemas.len(),
            v.problemas.join("; ")
        ));
    }
    fallos
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Email, UsuarioId};
    use proptest::prelude::*;
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn rango_de_entradas_acepta_un_numero_o_un_rango() {
        let r = RangoEntradas::parse("3").unwrap();
        assert_eq!((r.min().get(), r.max().get()), (3, 3));
        let r = RangoEntradas::parse(" 1-4 ").unwrap();
        assert_eq!((r.min().get(), r.max().get()), (1, 4));
        assert_eq!(r.to_string(), "1-4");
        assert_eq!(RangoEntradas::parse("2-2").unwrap().to_string(), "2");
    }

    #[test]
    fn rango_de_entradas_rechaza_basura_nombrando_el_valor() {
        let e = RangoEntradas::parse("4-1").unwrap_err();
        assert!(e.to_string().contains("4-1"), "{e}");
        assert!(e.to_string().contains("1-4"), "{e}");
        for malo in ["0", "0-3", "", "-", "1-", "a-b", "1-2-3", "-1"] {
            assert!(RangoEntradas::parse(malo).is_err(), "{malo:?}");
        }
    }

    #[test]
    fn probabilidad_fuera_de_0_a_1_se_rechaza() {
        assert_eq!(Probabilidad::parse("0.25").unwrap().get(), 0.25);
        assert_eq!(Probabilidad::parse("0").unwrap().get(), 0.0);
        assert_eq!(Probabilidad::parse("1").unwrap().get(), 1.0);
        for malo in ["-0.1", "1.5", "NaN", "inf", "diez"] {
            let e = Probabilidad::parse(malo).unwrap_err();
            assert!(e.to_string().contains(malo), "{e}");
        }
    }

    #[test]
    fn percentiles_por_rango_mas_cercano() {
        let l = Latencias::de((1..=100).map(|ms| ms * 1000).collect());
        assert_eq!((l.p50, l.p95, l.p99, l.max), (50.0, 95.0, 99.0, 100.0));
        assert_eq!(Latencias::de(vec![]), Latencias::default());
        assert_eq!(Latencias::de(vec![1234]).p50, 1.23);
    }

    #[test]
    fn los_correos_de_una_corrida_se_reconocen_y_son_simulados() {
        let c = Corrida::nueva();
        let email = c.email(42).unwrap();
        assert_eq!(c.numero(email.as_str()), Some(42));
        assert!(email.as_str().ends_with("@simulacion.eventflow.invalid"));
        let otra = Corrida::nueva();
        assert_eq!(otra.numero(email.as_str()), None);
        assert_eq!(c.numero("juan@example.com"), None);
    }

    #[test]
    fn las_marcas_de_simulacion_no_confunden_datos_reales() {
        let u = |email: &str| Usuario {
            id: UsuarioId::generar(),
            tipo_documento: None,
            nro_documento: None,
            nombre: Texto::parse("nombre", "A").unwrap(),
            apellido: Texto::parse("apellido", "B").unwrap(),
            email: Email::parse(email).unwrap(),
            historial_compras: vec![],
        };
        assert!(es_usuario_simulado(&u(
            "sim-x-1@simulacion.eventflow.invalid"
        )));
        assert!(!es_usuario_simulado(&u("a@example.com")));
        assert!(!es_usuario_simulado(&u("a@nosimulacion.eventflow.invalid")));
    }

    proptest! {
        #[test]
        fn un_rango_elige_siempre_dentro_de_sus_limites(a in 1u32..50, d in 0u32..50, semilla: u64) {
            let r = RangoEntradas::parse(&format!("{a}-{}", a + d)).unwrap();
            let mut rng = StdRng::seed_from_u64(semilla);
            for _ in 0..20 {
                let n = r.elegir(&mut rng).get();
                prop_assert!((a..=a + d).contains(&n));
            }
            prop_assert_eq!(RangoEntradas::parse(&r.to_string()).unwrap(), r);
        }
    }
}
