//! Events live in two places: the description and read model in the document store, the
//! live seat counter in the reservation store. These functions keep the two in step.

use crate::domain::{Aforo, CambiosEvento, Evento, EventoId, NuevoEvento};
use crate::error::{Error, Result};
use crate::store::Almacen;

/// Creates the event, then its seat counter at `aforo_total`. If the counter cannot be
/// created the event is removed again, so no event exists without a counter.
pub async fn crear(alm: &Almacen, nuevo: NuevoEvento) -> Result<Evento> {
    let evento = alm.eventos.crear(nuevo).await?;
    crear_contador(alm, &evento).await?;
    Ok(evento)
}

/// Creates the counter of a stored event; on failure removes the event document. If
/// that removal fails too, both failures reach the caller: an event without a counter is
/// refused by every purchase, and `verificar --reparar` recreates the counter.
pub async fn crear_contador(alm: &Almacen, evento: &Evento) -> Result<()> {
    contador_o_deshacer(alm, &evento.id, evento.aforo_total).await
}

/// The one rule "an event exists only with its counter", for an event already stored as
/// `id` with capacity `aforo`: `eventos crear`, the API and `importar` all go through it.
pub async fn contador_o_deshacer(alm: &Almacen, id: &EventoId, aforo: Aforo) -> Result<()> {
    let Err(e) = alm.reservas.crear_contador(id, aforo).await else {
        return Ok(());
    };
    match alm.eventos.eliminar(id).await {
        Ok(()) => Err(e),
        Err(deshacer) => Err(Error::Inconsistencia(format!(
            "se creó el evento {id} pero no su contador de entradas ({e}), y no se pudo borrar \
             el evento ({deshacer}); ejecute `eventflow verificar --evento {id} --reparar`"
        ))),
    }
}

/// Updates an event. A new `aforo` first moves the capacity and the counter together in
/// the reservation store, by compare-and-set on the capacity read (`Conflicto` if another
/// change won, or if lowering would leave fewer seats than are held or sold), then the
/// document, by compare-and-set too. If the document update fails, the store's change is
/// undone; an undo that fails as well is an `Inconsistencia` naming both, never silent.
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
    let err = match alm.eventos.actualizar(id, cambios, anterior).await {
        Ok(e) => return Ok(e),
        Err(err) => err,
    };
    let Some(nuevo) = nuevo_aforo else {
        return Err(err);
    };
    match alm.reservas.ajustar_aforo(id, nuevo, anterior).await {
        Ok(()) => Err(err),
        Err(deshacer) => Err(Error::Inconsistencia(format!(
            "el aforo del evento {id} pasó a {nuevo} en el almacén de reservas pero no en el \
             evento ({err}), y no se pudo deshacer ({deshacer}); ejecute `eventflow verificar \
             --evento {id} --reparar`, que lleva el evento al aforo del almacén de reservas"
        ))),
    }
}

/// Deletes an event that has no seat out: the counter goes first (the reservation store
/// refuses while anything is held or sold, naming a purchase), then the document. Only
/// `aforo_total` is read, so an event whose other fields are damaged can still be removed
/// by id.
pub async fn eliminar(alm: &Almacen, id: &EventoId) -> Result<()> {
    let aforo = alm.eventos.aforo(id).await?;
    alm.reservas.borrar_evento(id, aforo).await?;
    alm.eventos.eliminar(id).await
}
