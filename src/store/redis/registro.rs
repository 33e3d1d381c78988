//! The registry of events: [`claves::FRAGMENTOS_EVENTOS`] sets on as many slots, so
//! listing every event needs neither `SCAN` nor a key every event writes, plus the
//! one-time move of the pre-issue-14 single set into them (`docs/consistency.md`).

use super::{RedisStore, claves};
use crate::domain::EventoId;
use crate::error::{Error, Result};

impl RedisStore {
    /// Lists `evento` in its registry shard (idempotent).
    pub(super) async fn registrar_evento(&self, evento: &EventoId) -> Result<()> {
        let mut p = redis::pipe();
        p.cmd("SADD")
            .arg(self.claves.registro_eventos(evento))
            .arg(evento.as_str())
            .ignore();
        self.escribir(p).await.map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Removes `evento` from its registry shard and from the pre-issue-14 set.
    pub(super) async fn desregistrar_evento(&self, evento: &EventoId) -> Result<()> {
        for clave in [
            self.claves.registro_eventos(evento),
            self.claves.eventos_antiguo(),
        ] {
            let mut p = redis::pipe();
            p.cmd("SREM").arg(clave).arg(evento.as_str()).ignore();
            self.escribir(p).await.map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// Every registered event, sorted: the union of the registry shards. Events that only
    /// the pre-issue-14 single set lists are first copied into their shards and then
    /// removed from it (a one-time migration, safe to repeat and to interrupt).
    pub(super) async fn eventos_registrados(&self) -> Result<Vec<EventoId>> {
        let mut claves: Vec<String> = (0..claves::FRAGMENTOS_EVENTOS)
            .map(|n| self.claves.fragmento_eventos(n))
            .collect();
        claves.push(self.claves.eventos_antiguo());
        let cmds = claves
            .iter()
            .map(|k| {
                let mut c = redis::cmd("SMEMBERS");
                c.arg(k);
                c
            })
            .collect();
        let mut conjuntos: Vec<Vec<String>> =
            self.leer_muchos(cmds).await.map_err(|e| self.error(e))?;
        let antiguos = conjuntos.pop().unwrap_or_default();
        let mut eventos = Vec::new();
        for (clave, id) in claves
            .iter()
            .zip(conjuntos.iter().chain([&antiguos]))
            .flat_map(|(k, ids)| ids.iter().map(move |id| (k, id)))
        {
            eventos.push(EventoId::parse(id).map_err(|_| {
                Error::Inconsistencia(format!(
                    "dato corrupto en Redis: el conjunto {clave} contiene {id:?}, que no es un id de evento"
                ))
            })?);
        }
        for e in eventos.iter().skip(eventos.len() - antiguos.len()) {
            self.registrar_evento(e).await?;
            let mut p = redis::pipe();
            p.cmd("SREM")
                .arg(self.claves.eventos_antiguo())
                .arg(e.as_str())
                .ignore();
            self.escribir(p).await.map_err(|e| self.error(e))?;
        }
        eventos.sort();
        eventos.dedup();
        Ok(eventos)
    }
}
