//! The pages of `reservas listar` on Redis: events in id order, and within each event its
//! reservations in id order through the `orden` zset (`pagina_reservas.lua`), so a page
//! costs a few round trips and the memory of one page, whatever the number of purchases.

use super::{PAGINA_RESERVAS, RedisStore};
use crate::domain::{EventoId, ReservaId};
use crate::error::Result;
use crate::store::{ContadorStore, FiltroReservas, RegistroSaga, listado};

/// Ids asked of one event's index at a time.
const LOTE: u32 = 1000;

impl RedisStore {
    /// See `ReservaStore::pagina`.
    pub(super) async fn pagina_reservas(
        &self, filtro: &FiltroReservas, limite: u32, despues_de: Option<&ReservaId>,
    ) -> Result<Vec<RegistroSaga>> {
        let inicio = match despues_de {
            Some(r) => Some((self.evento_de(r).await?, r.to_string())),
            None => None,
        };
        let eventos = match &filtro.evento {
            Some(e) => vec![e.clone()],
            None => self.eventos().await?,
        };
        let mut out = Vec::new();
        for e in eventos {
            let mut cursor = match &inicio {
                Some((ei, _)) if &e < ei => continue,
                Some((ei, r)) if &e == ei => r.clone(),
                _ => String::new(),
            };
            while (out.len() as u32) < limite {
                let pedir = (limite - out.len() as u32).min(LOTE);
                let ids = self.ids_tras(&e, &cursor, pedir).await?;
                let leidos = ids.len();
                let Some(ultimo) = ids.last() else { break };
                cursor = ultimo.clone();
                let pares = ids.into_iter().map(|id| (e.clone(), id)).collect();
                let registros =
                    listado::sin_danadas("la reserva", self.registros_leidos(pares).await?)?;
                out.extend(registros.into_iter().filter(|r| filtro.admite(&r.reserva)));
                if leidos < pedir as usize {
                    break;
                }
            }
            if out.len() as u32 >= limite {
                break;
            }
        }
        out.truncate(limite as usize);
        Ok(out)
    }

    /// Up to `n` reservation ids of `evento` after `cursor` (empty: from the first).
    async fn ids_tras(&self, evento: &EventoId, cursor: &str, n: u32) -> Result<Vec<String>> {
        self.correr(
            &PAGINA_RESERVAS,
            &[&self.claves.reservas(evento), &self.claves.orden(evento)],
            &[cursor.to_owned(), n.to_string()],
        )
        .await
        .map_err(|e| self.error(e))
    }
}
