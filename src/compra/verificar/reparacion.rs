//! The repairs `verificar --reparar` applies, each through the saga's own guarded,
//! idempotent store operations, so a repair running beside live sales never undoes them.

use super::diagnostico::{Accion, Instantanea, cobro_restaurado};
use crate::compra::Reservador;
use crate::compra::recuperacion::tomar_y_deshacer;
use crate::domain::{Aforo, CambiosEvento, Estado, EventoId, ReservaId};
use crate::error::{Error, Result};
use crate::store::{Almacen, Reclamo, RegistroSaga};

/// Applies one repair to the event of snapshot `s` and says, in one line for people,
/// what it did (or why it left things as they were).
pub(super) async fn aplicar(r: &Reservador, s: &Instantanea, accion: &Accion) -> Result<String> {
    let alm = &r.almacen;
    let e = &s.evento_id;
    if let Some((id, requiere)) = condicion(accion)
        && !sigue(alm, id, requiere).await?
    {
        return Ok(cambio(id));
    }
    match accion {
        Accion::Compensar(id) => compensar(r, id).await,
        Accion::Reembolsar(id) => reembolsar(r, s, id).await,
        Accion::AlinearAforo(Some(a)) => alinear_aforo_del_evento(alm, s, *a).await,
        Accion::AlinearAforo(None) => alinear_aforo_de_reservas(alm, s).await,
        Accion::Restaurar(reg) => restaurar(alm, reg).await,
        Accion::FijarContador(_) => fijar_contador(alm, s).await,
        Accion::AplicarVenta(id, n) => {
            alm.eventos.aplicar_venta(e, id, *n).await?;
            Ok(format!("añadida la venta {id} al evento {e}"))
        }
        Accion::RevertirVenta(id, n) => {
            alm.eventos.revertir_venta(e, id, *n).await?;
            Ok(format!("quitada la venta {id} del evento {e}"))
        }
        Accion::FijarModeloLectura {
            disponibles,
            activas,
        } => fijar_modelo_lectura(alm, e, *disponibles, activas).await,
        Accion::RegistrarCompra(u, c) => {
            alm.usuarios.registrar_compra(u, c).await?;
            let id = &c.reserva_id;
            Ok(format!(
                "añadida la compra {id} al historial del usuario {u}"
            ))
        }
        Accion::QuitarCompra(u, id) => {
            alm.usuarios.quitar_compra(u, id).await?;
            Ok(format!(
                "quitada la compra {id} del historial del usuario {u}"
            ))
        }
    }
}

/// What a purchase must still be, read again now, for a repair to apply.
#[derive(Debug, Clone, Copy)]
enum Requiere {
    /// A finished sale.
    Vendida,
    /// Finished without a sale, or gone.
    Deshecha,
}

/// The purchase a repair of the read model or of a user's history is about, and what it
/// must still be. Those repairs apply only if the purchase's record, read again now,
/// still calls for them: the snapshot may be a few milliseconds old, and a sale may have
/// finished or rolled back since. `None` for the other repairs.
fn condicion(accion: &Accion) -> Option<(&ReservaId, Requiere)> {
    match accion {
        Accion::AplicarVenta(id, _) => Some((id, Requiere::Vendida)),
        Accion::RegistrarCompra(_, c) => Some((&c.reserva_id, Requiere::Vendida)),
        Accion::RevertirVenta(id, _) | Accion::QuitarCompra(_, id) => {
            Some((id, Requiere::Deshecha))
        }
        Accion::Compensar(_)
        | Accion::Reembolsar(_)
        | Accion::AlinearAforo(_)
        | Accion::Restaurar(_)
        | Accion::FijarContador(_)
        | Accion::FijarModeloLectura { .. } => None,
    }
}

/// Whether purchase `id` is, now, what `requiere` says.
async fn sigue(alm: &Almacen, id: &ReservaId, requiere: Requiere) -> Result<bool> {
    match requiere {
        Requiere::Vendida => vendida(alm, id).await,
        Requiere::Deshecha => deshecha(alm, id).await,
    }
}

/// Takes the expired purchase `id` over and rolls it back, unless another process is
/// already finishing it.
async fn compensar(r: &Reservador, id: &ReservaId) -> Result<String> {
    let tomada = tomar_y_deshacer(r, id, &Reclamo::Vencida, None).await?;
    Ok(match tomada {
        Some(_) => format!("compensada la compra {id}"),
        None => format!("la compra {id} ya la estaba terminando otro proceso"),
    })
}

/// Refunds the orphan charge of purchase `id`, whose record is in the snapshot.
async fn reembolsar(r: &Reservador, s: &Instantanea, id: &ReservaId) -> Result<String> {
    let reg = s
        .registros
        .iter()
        .find(|reg| &reg.reserva.id == id)
        .ok_or_else(|| Error::no_encontrado("reserva", id))?;
    let c = r.pasarela.reembolsar(reg).await?;
    Ok(format!(
        "reembolsado el cobro huérfano de la reserva {id} ({} en unidades mínimas)",
        c.map_or(0, |c| c.importe)
    ))
}

/// The event's `aforo_total` as the snapshot read it; `NoEncontrado` without an event.
fn aforo_del_evento(s: &Instantanea) -> Result<Aforo> {
    s.evento
        .as_ref()
        .map(|ev| ev.aforo_total)
        .ok_or_else(|| Error::no_encontrado("evento", &s.evento_id))
}

/// Brings the event's `aforo_total` to `a`, the reservation store's capacity; `Conflicto`
/// if the stored `aforo_total` changed since the snapshot.
async fn alinear_aforo_del_evento(alm: &Almacen, s: &Instantanea, a: Aforo) -> Result<String> {
    let e = &s.evento_id;
    let anterior = aforo_del_evento(s)?;
    let cambios = CambiosEvento {
        aforo: Some(a),
        ..CambiosEvento::default()
    };
    alm.eventos.actualizar(e, cambios, anterior).await?;
    Ok(format!(
        "aforo_total del evento {e}: {anterior} → {a}, como en el almacén de reservas"
    ))
}

/// Records the event's capacity in a reservation store that lacks it.
async fn alinear_aforo_de_reservas(alm: &Almacen, s: &Instantanea) -> Result<String> {
    let e = &s.evento_id;
    let a = aforo_del_evento(s)?;
    // A lost counter went with it (SQLite keeps both in one row): the capacity
    // compare-and-set needs one, so rebuild it from the records first, atomically.
    if s.contador.is_none() {
        alm.reservas.recalcular_contador(e, a).await?;
    }
    alm.reservas.ajustar_aforo(e, a, a).await?;
    Ok(format!(
        "el almacén de reservas guarda ahora el aforo {a} del evento {e}"
    ))
}

/// Puts back the lost record of a confirmed purchase, unless a purchase in progress
/// holds its id now.
async fn restaurar(alm: &Almacen, reg: &RegistroSaga) -> Result<String> {
    let id = &reg.reserva.id;
    let cobro = cobro_restaurado(reg);
    Ok(if alm.reservas.restaurar(reg, Some(&cobro)).await? {
        format!("restaurado el registro de la compra confirmada {id}")
    } else {
        format!("el registro de la compra {id} ya existe (una compra en curso); no se toca")
    })
}

/// Rebuilds the event's seat counter from the records, atomically.
async fn fijar_contador(alm: &Almacen, s: &Instantanea) -> Result<String> {
    let e = &s.evento_id;
    let aforo = aforo_del_evento(s)?;
    Ok(match alm.reservas.recalcular_contador(e, aforo).await? {
        (Some(a), d) if a == d => {
            format!("el contador del evento {e} ya cuadraba ({d}): una venta en curso lo movió")
        }
        (Some(a), d) => format!("contador del evento {e}: {a} → {d}"),
        (None, d) => format!("contador del evento {e} recreado con {d}"),
    })
}

/// Sets the event's read model to the seats left and the active purchases the
/// reservation store accounts.
async fn fijar_modelo_lectura(
    alm: &Almacen, e: &EventoId, disponibles: i64, activas: &[ReservaId],
) -> Result<String> {
    alm.eventos
        .fijar_modelo_lectura(e, disponibles, activas)
        .await?;
    Ok(format!(
        "modelo de lectura del evento {e}: entradas_disponibles = {disponibles}, {} reservas activas",
        activas.len()
    ))
}

/// The purchase's record as it is now; `None` when the store has none.
async fn ahora(alm: &Almacen, id: &ReservaId) -> Result<Option<RegistroSaga>> {
    match alm.reservas.ver(id).await {
        Ok(r) => Ok(Some(r)),
        Err(Error::NoEncontrado { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A finished sale, now.
async fn vendida(alm: &Almacen, id: &ReservaId) -> Result<bool> {
    Ok(ahora(alm, id)
        .await?
        .is_some_and(|r| r.reserva.estado == Estado::Confirmada && r.terminada))
}

/// Finished without a sale (or with no record at all), now.
async fn deshecha(alm: &Almacen, id: &ReservaId) -> Result<bool> {
    Ok(ahora(alm, id)
        .await?
        .is_none_or(|r| r.terminada && r.reserva.estado != Estado::Confirmada))
}

fn cambio(id: &ReservaId) -> String {
    format!("la compra {id} cambió durante la reparación (está en curso); no se toca")
}
