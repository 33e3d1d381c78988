//! `verificar`: checks, per event, that no seat is lost or double sold, that the money
//! balances, and that the MongoDB read model agrees with the confirmed purchases;
//! `--reparar` brings the stores back into agreement. Diagnosis (`diagnostico`) is a pure
//! function of a snapshot, unit-tested without servers; repairs (`reparacion`) are the
//! same idempotent, guarded operations the saga uses.

mod diagnostico;
mod reparacion;

use std::collections::BTreeSet;

use serde::Serialize;

use self::diagnostico::{Instantanea, diagnosticar};
pub(crate) use self::diagnostico::{cobro_restaurado, completada_desde};
use super::Reservador;
use crate::domain::EventoId;
use crate::error::{Error, Result};

/// The result for one event.
#[derive(Debug, Clone, Serialize)]
pub struct InformeEvento {
    pub evento_id: EventoId,
    pub aforo_total: Option<u32>,
    /// The live seat counter.
    pub contador: Option<i64>,
    /// Seats held by purchases in flight (`pendiente`).
    pub retenidas: i64,
    /// Seats of confirmed purchases.
    pub vendidas: i64,
    /// Purchases still in flight (not expired).
    pub en_curso: usize,
    /// The money of the event's finished purchases, in minor units: approved charges,
    /// what of them was refunded, and the `importe` of the confirmed purchases. The money
    /// invariant is `cobrado - reembolsado = importe_confirmado`.
    pub cobrado: i64,
    pub reembolsado: i64,
    pub importe_confirmado: i64,
    pub problemas: Vec<String>,
    /// What `--reparar` changed.
    pub reparaciones: Vec<String>,
    pub consistente: bool,
}

async fn instantanea(r: &Reservador, id: &EventoId) -> Result<Instantanea> {
    let alm = &r.almacen;
    let (evento, contador, aforo_reservas, registros, cobros, compras, ahora) = tokio::join!(
        alm.eventos.ver(id),
        alm.reservas.contador(id),
        alm.reservas.aforo(id),
        alm.reservas.de_evento(id),
        alm.reservas.cobros_de_evento(id),
        alm.usuarios.compras_de_evento(id),
        alm.reservas.reloj(),
    );
    let evento = match evento {
        Ok(e) => Some(e),
        Err(Error::NoEncontrado { .. }) => None,
        Err(e) => return Err(e),
    };
    Ok(Instantanea {
        evento_id: id.clone(),
        evento,
        contador: contador?,
        aforo_reservas: aforo_reservas?,
        registros: registros?,
        cobros: cobros?,
        compras: compras?,
        ahora: ahora?,
    })
}

/// How long `verificar` waits before reading an event again to confirm a problem.
const RELECTURA: std::time::Duration = std::time::Duration::from_millis(150);

/// Checks one event and, with `reparar`, repairs it (a few rounds at most, since a
/// repair can reveal the next problem) and checks it again.
pub async fn verificar_evento(
    r: &Reservador, id: &EventoId, reparar: bool,
) -> Result<InformeEvento> {
    let mut reparaciones = Vec::new();
    let mut s = instantanea(r, id).await?;
    let (mut problemas, mut acciones, mut resumen) = diagnosticar(&s);
    // The snapshot is several reads, a few milliseconds apart, so a sale in flight can
    // look like a problem for an instant. A real problem stays: look again, and report
    // (or repair) only what is still there.
    for _ in 0..2 {
        if problemas.is_empty() {
            break;
        }
        tokio::time::sleep(RELECTURA).await;
        s = instantanea(r, id).await?;
        (problemas, acciones, resumen) = diagnosticar(&s);
    }
    if reparar {
        for _ in 0..4 {
            if acciones.is_empty() {
                break;
            }
            for a in &acciones {
                reparaciones.push(reparacion::aplicar(r, &s, a).await?);
            }
            s = instantanea(r, id).await?;
            (problemas, acciones, resumen) = diagnosticar(&s);
        }
    }
    Ok(InformeEvento {
        evento_id: id.clone(),
        aforo_total: s.evento.as_ref().map(|e| e.aforo_total.get()),
        contador: s.contador,
        retenidas: resumen.retenidas,
        vendidas: resumen.vendidas,
        en_curso: resumen.en_curso,
        cobrado: resumen.cobrado,
        reembolsado: resumen.reembolsado,
        importe_confirmado: resumen.importe_confirmado,
        consistente: problemas.is_empty(),
        problemas,
        reparaciones,
    })
}

/// Checks one event, or every event both stores know of.
pub async fn verificar(
    r: &Reservador, evento: Option<&EventoId>, reparar: bool,
) -> Result<Vec<InformeEvento>> {
    let ids: Vec<EventoId> = match evento {
        Some(id) => {
            // An id neither store knows is a typo, not a clean bill of health.
            let s = instantanea(r, id).await?;
            if s.evento.is_none() && s.contador.is_none() && s.registros.is_empty() {
                return Err(Error::no_encontrado("evento", id));
            }
            vec![id.clone()]
        }
        None => {
            let mut ids: BTreeSet<EventoId> =
                r.almacen.reservas.eventos().await?.into_iter().collect();
            let mut paginas = std::pin::pin!(crate::store::paginas::de_eventos(
                r.almacen.eventos.as_ref(),
                1000
            ));
            while let Some(pagina) = futures::TryStreamExt::try_next(&mut paginas).await? {
                ids.extend(pagina.into_iter().map(|e| e.id));
            }
            ids.into_iter().collect()
        }
    };
    let mut informes = Vec::with_capacity(ids.len());
    for id in &ids {
        informes.push(verificar_evento(r, id, reparar).await?);
    }
    Ok(informes)
}
