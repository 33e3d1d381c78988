//! The repairs `verificar --reparar` applies, each through the saga's own guarded,
//! idempotent store operations, so a repair running beside live sales never undoes them.

use super::diagnostico::{Accion, Instantanea, cobro_restaurado};
use crate::compra::Reservador;
use crate::compra::recuperacion::tomar_y_deshacer;
use crate::domain::{CambiosEvento, Estado, ReservaId};
use crate::error::{Error, Result};
use crate::store::{Almacen, Reclamo, RegistroSaga};

pub(super) async fn aplicar(r: &Reservador, s: &Instantanea, accion: &Accion) -> Result<String> {
    let alm = &r.almacen;
    let e = &s.evento_id;
    Ok(match accion {
        Accion::Compensar(id) => match tomar_y_deshacer(r, id, &Reclamo::Vencida, None).await? {
            Some(_) => format!("compensada la compra {id}"),
            None => format!("la compra {id} ya la estaba terminando otro proceso"),
        },
        Accion::Reembolsar(id) => {
            let reg = s
                .registros
                .iter()
                .find(|reg| &reg.reserva.id == id)
                .ok_or_else(|| Error::no_encontrado("reserva", id))?;
            let c = r.pasarela.reembolsar(reg).await?;
            format!(
                "reembolsado el cobro huérfano de la reserva {id} ({} en unidades mínimas)",
                c.map_or(0, |c| c.importe)
            )
        }
        Accion::AlinearAforo(Some(a)) => {
            let anterior = s
                .evento
                .as_ref()
                .map(|ev| ev.aforo_total)
                .ok_or_else(|| Error::no_encontrado("evento", e))?;
            let cambios = CambiosEvento {
                aforo: Some(*a),
                ..CambiosEvento::default()
            };
            alm.eventos.actualizar(e, cambios, anterior).await?;
            format!("aforo_total del evento {e}: {anterior} → {a}, como en el almacén de reservas")
        }
        Accion::AlinearAforo(None) => {
            let a = s
                .evento
                .as_ref()
                .map(|ev| ev.aforo_total)
                .ok_or_else(|| Error::no_encontrado("evento", e))?;
            // A lost counter went with it (SQLite keeps both in one row): the capacity
            // compare-and-set needs one, so rebuild it from the records first, atomically.
            if s.contador.is_none() {
                alm.reservas.recalcular_contador(e, a).await?;
            }
            alm.reservas.ajustar_aforo(e, a, a).await?;
            format!("el almacén de reservas guarda ahora el aforo {a} del evento {e}")
        }
        Accion::Restaurar(reg) => {
            let id = &reg.reserva.id;
            if alm
                .reservas
                .restaurar(reg, Some(&cobro_restaurado(reg)))
                .await?
            {
                format!("restaurado el registro de la compra confirmada {id}")
            } else {
                format!("el registro de la compra {id} ya existe (una compra en curso); no se toca")
            }
        }
        Accion::FijarContador(_) => {
            let aforo = s
                .evento
                .as_ref()
                .map(|ev| ev.aforo_total)
                .ok_or_else(|| Error::no_encontrado("evento", e))?;
            match alm.reservas.recalcular_contador(e, aforo).await? {
                (Some(a), d) if a == d => {
                    format!(
                        "el contador del evento {e} ya cuadraba ({d}): una venta en curso lo movió"
                    )
                }
                (Some(a), d) => format!("contador del evento {e}: {a} → {d}"),
                (None, d) => format!("contador del evento {e} recreado con {d}"),
            }
        }
        // The read model and the histories are fixed only if the purchase's record, read
        // again now, still calls for it: the snapshot may be a few milliseconds old, and a
        // sale may have finished or rolled back since.
        Accion::AplicarVenta(id, n) => {
            if !vendida(alm, id).await? {
                return Ok(cambio(id));
            }
            alm.eventos.aplicar_venta(e, id, *n).await?;
            format!("añadida la venta {id} al evento {e}")
        }
        Accion::RevertirVenta(id, n) => {
            if !deshecha(alm, id).await? {
                return Ok(cambio(id));
            }
            alm.eventos.revertir_venta(e, id, *n).await?;
            format!("quitada la venta {id} del evento {e}")
        }
        Accion::FijarModeloLectura {
            disponibles,
            activas,
        } => {
            alm.eventos
                .fijar_modelo_lectura(e, *disponibles, activas)
                .await?;
            format!(
                "modelo de lectura del evento {e}: entradas_disponibles = {disponibles}, {} reservas activas",
                activas.len()
            )
        }
        Accion::RegistrarCompra(u, c) => {
            if !vendida(alm, &c.reserva_id).await? {
                return Ok(cambio(&c.reserva_id));
            }
            alm.usuarios.registrar_compra(u, c).await?;
            format!(
                "añadida la compra {} al historial del usuario {u}",
                c.reserva_id
            )
        }
        Accion::QuitarCompra(u, id) => {
            if !deshecha(alm, id).await? {
                return Ok(cambio(id));
            }
            alm.usuarios.quitar_compra(u, id).await?;
            format!("quitada la compra {id} del historial del usuario {u}")
        }
    })
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
