//! Events live in two places: the description and read model in the document store, the
//! live seat counter in the reservation store. These functions keep the two in step.

use crate::domain::{CambiosEvento, Evento, EventoId, NuevoEvento};
use crate::error::{Error, Result};
use crate::store::Almacen;

/// Creates the event, then its seat counter at `aforo_total`. If the counter cannot be
/// created the event is removed again, so no event exists without a counter.
pub async fn crear(alm: &Almacen, nuevo: NuevoEvento) -> Result<Evento> {
    let evento = alm.eventos.crear(nuevo).await?;
    crear_contador(alm, &evento).await?;
    Ok(evento)
}

/// Creates the counter of a stored event; on failure removes the event document.
pub async fn crear_contador(alm: &Almacen, evento: &Evento) -> Result<()> {
    match alm
        .reservas
        .crear_contador(&evento.id, evento.aforo_total)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            // Best effort: the event must not outlive a counter that was never created.
            let _ = alm.eventos.eliminar(&evento.id).await;
            Err(e)
        }
    }
}

/// Updates an event. A new `aforo` moves the counter first (refused when lowering an
/// event with seats out), then the document; if the document update fails the counter
/// move is undone.
pub async fn actualizar(alm: &Almacen, id: &EventoId, cambios: CambiosEvento) -> Result<Evento> {
    if cambios.es_vacio() {
        return Err(Error::Invalido(
            "no hay nada que actualizar: indique al menos un campo (por ejemplo --nombre)".into(),
        ));
    }
    let actual = alm.eventos.ver(id).await?;
    let anterior = actual.aforo_total;
    let nuevo_aforo = cambios.aforo.filter(|a| *a != anterior);
    if let Some(nuevo) = nuevo_aforo {
        alm.reservas.ajustar_aforo(id, anterior, nuevo).await?;
    }
    match alm.eventos.actualizar(id, cambios, anterior).await {
        Ok(e) => Ok(e),
        Err(err) => {
            if let Some(nuevo) = nuevo_aforo {
                let _ = alm.reservas.ajustar_aforo(id, nuevo, anterior).await;
            }
            Err(err)
        }
    }
}

/// Deletes an event that has no seat out: the counter goes first (the reservation store
/// refuses while anything is held or sold), then the document. Only `aforo_total` is read,
/// so an event whose other fields are damaged can still be removed by id.
pub async fn eliminar(alm: &Almacen, id: &EventoId) -> Result<()> {
    let aforo = alm.eventos.aforo(id).await?;
    alm.reservas.borrar_evento(id, aforo).await?;
    alm.eventos.eliminar(id).await
}
