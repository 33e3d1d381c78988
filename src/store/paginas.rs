//! Walking a keyset-paged listing (`listar(limite, despues_de)`) page by page: the one
//! loop every caller that reads a whole collection shares. Memory holds one page.

use std::future::Future;

use futures::Stream;

use crate::domain::{Evento, EventoId, Usuario, UsuarioId};
use crate::error::Result;
use crate::store::{EventoStore, UsuarioStore};

/// The pages of a listing, `tam` rows each, in the listing's order: `pedir(limite,
/// despues_de)` reads one page, `cursor` gives the key the next page starts after. Ends
/// after the first page shorter than `tam`.
pub fn paginas<T, I, F, Fut, C>(tam: u32, pedir: F, cursor: C) -> impl Stream<Item = Result<Vec<T>>>
where
    F: Fn(u32, Option<I>) -> Fut,
    Fut: Future<Output = Result<Vec<T>>>,
    C: Fn(&T) -> I,
{
    // The state: where the next page starts (`None` once the last page was read).
    futures::stream::try_unfold(
        (Some(None), pedir, cursor),
        move |(despues, pedir, cursor): (Option<Option<I>>, F, C)| async move {
            let Some(despues) = despues else {
                return Ok(None);
            };
            let filas = pedir(tam, despues).await?;
            let siguiente = match filas.last() {
                Some(ultima) if filas.len() >= tam as usize => Some(Some(cursor(ultima))),
                _ => None,
            };
            Ok(Some((filas, (siguiente, pedir, cursor))))
        },
    )
}

/// Every user, page by page, in id order.
pub fn de_usuarios(
    s: &dyn UsuarioStore, tam: u32,
) -> impl Stream<Item = Result<Vec<Usuario>>> + '_ {
    paginas(
        tam,
        move |n, despues: Option<UsuarioId>| async move { s.listar(n, despues.as_ref()).await },
        |u: &Usuario| u.id.clone(),
    )
}

/// Every event, page by page, in id order.
pub fn de_eventos(s: &dyn EventoStore, tam: u32) -> impl Stream<Item = Result<Vec<Evento>>> + '_ {
    paginas(
        tam,
        move |n, despues: Option<EventoId>| async move { s.listar(n, despues.as_ref()).await },
        |e: &Evento| e.id.clone(),
    )
}
