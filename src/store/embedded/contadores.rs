//! `ContadorStore` on SQLite: each event's seat counter and the capacity it is accounted
//! against, in the `contadores` table. Each operation is one `BEGIN IMMEDIATE` transaction
//! applying the rule of the Redis script of the same name, with the same refusals.

use async_trait::async_trait;
use rusqlite::params;

use super::SqliteStore;
use super::registros::contador;
use crate::domain::{Aforo, EventoId};
use crate::error::{Error, Result};
use crate::store::{ContadorStore, rechazo};

#[async_trait]
impl ContadorStore for SqliteStore {
    async fn crear_contador(&self, evento: &EventoId, aforo: Aforo) -> Result<bool> {
        let evento = evento.clone();
        self.escribir(move |tx| {
            let creado = tx
                .prepare_cached(
                    "INSERT INTO contadores (evento_id, entradas, aforo) VALUES (?1, ?2, ?2) \
                     ON CONFLICT DO NOTHING",
                )?
                .execute(params![evento.as_str(), aforo.get()])?;
            Ok(creado == 1)
        })
        .await
    }

    async fn contador(&self, evento: &EventoId) -> Result<Option<i64>> {
        let evento = evento.clone();
        self.con(move |con| Ok(contador(con, evento.as_str())?.map(|(c, _)| c)))
            .await
    }

    async fn aforo(&self, evento: &EventoId) -> Result<Option<Aforo>> {
        let evento = evento.clone();
        self.con(move |con| {
            contador(con, evento.as_str())?
                .and_then(|(_, a)| a)
                .map(|a| {
                    Aforo::new(a).map_err(|e| {
                        Error::Inconsistencia(format!(
                            "dato corrupto en SQLite: el aforo del contador {evento} no es válido ({e})"
                        ))
                        .into()
                    })
                })
                .transpose()
        })
        .await
    }

    async fn ajustar_aforo(&self, evento: &EventoId, anterior: Aforo, nuevo: Aforo) -> Result<()> {
        let evento = evento.clone();
        self.escribir(move |tx| {
            let (a, n) = (i64::from(anterior.get()), i64::from(nuevo.get()));
            let Some((c, guardado)) = contador(tx, evento.as_str())? else {
                return Err(rechazo::sin_contador(&evento).into());
            };
            let actual = guardado.unwrap_or(a);
            if actual != a {
                return Err(rechazo::aforo_cambiado(&evento, anterior, &actual.to_string()).into());
            }
            if c > a {
                return Err(rechazo::contador_excede(&evento, &c.to_string(), anterior).into());
            }
            if c + n - a < 0 {
                return Err(rechazo::aforo_bajo_lo_vendido(&evento, a - c, nuevo).into());
            }
            tx.prepare_cached(
                "UPDATE contadores SET entradas = entradas + ?2, aforo = ?3 WHERE evento_id = ?1",
            )?
            .execute(params![evento.as_str(), n - a, n])?;
            Ok(())
        })
        .await
    }

    async fn borrar_evento(&self, evento: &EventoId, aforo: Aforo) -> Result<()> {
        let evento = evento.clone();
        self.escribir(move |tx| {
            let e = evento.as_str();
            let a = i64::from(aforo.get());
            let guardado = contador(tx, e)?;
            if let Some((_, Some(actual))) = guardado
                && actual != a
            {
                return Err(rechazo::aforo_cambiado(&evento, aforo, &actual.to_string()).into());
            }
            let (fuera, primera): (i64, Option<String>) = tx
                .prepare_cached(
                    "SELECT coalesce(sum(entradas), 0), \
                       (SELECT id FROM reservas WHERE evento_id = ?1 \
                          AND estado IN ('pendiente', 'confirmada') \
                        ORDER BY estado = 'pendiente' DESC, creada LIMIT 1) \
                     FROM reservas WHERE evento_id = ?1 AND estado IN ('pendiente', 'confirmada')",
                )?
                .query_row([e], |r| Ok((r.get(0)?, r.get(1)?)))?;
            if fuera > 0 {
                return Err(rechazo::evento_con_ventas(&evento, fuera, primera.as_deref()).into());
            }
            if let Some((c, _)) = guardado
                && c != a
            {
                return Err(rechazo::evento_con_ventas(&evento, a - c, None).into());
            }
            for sql in [
                "DELETE FROM pagos WHERE evento_id = ?1",
                "DELETE FROM reservas WHERE evento_id = ?1",
                "DELETE FROM bloqueos WHERE evento_id = ?1",
                "DELETE FROM contadores WHERE evento_id = ?1",
            ] {
                tx.prepare_cached(sql)?.execute([e])?;
            }
            Ok(())
        })
        .await
    }

    async fn fijar_contador(
        &self, evento: &EventoId, anterior: Option<i64>, valor: i64,
    ) -> Result<bool> {
        let evento = evento.clone();
        self.escribir(move |tx| {
            // Compare-and-set: a repair computed from a snapshot never undoes a sale that
            // ran meanwhile.
            if contador(tx, evento.as_str())?.map(|(c, _)| c) != anterior {
                return Ok(false);
            }
            tx.prepare_cached(
                "INSERT INTO contadores (evento_id, entradas) VALUES (?1, ?2) \
                 ON CONFLICT (evento_id) DO UPDATE SET entradas = excluded.entradas",
            )?
            .execute(params![evento.as_str(), valor])?;
            Ok(true)
        })
        .await
    }

    async fn recalcular_contador(
        &self, evento: &EventoId, aforo: Aforo,
    ) -> Result<(Option<i64>, i64)> {
        let evento = evento.clone();
        self.escribir(move |tx| {
            let e = evento.as_str();
            let guardado = contador(tx, e)?;
            let capacidad = guardado
                .and_then(|(_, a)| a)
                .unwrap_or(i64::from(aforo.get()));
            let fuera: i64 = tx
                .prepare_cached(
                    "SELECT coalesce(sum(entradas), 0) FROM reservas \
                     WHERE evento_id = ?1 AND estado IN ('pendiente', 'confirmada')",
                )?
                .query_row([e], |r| r.get(0))?;
            let despues = capacidad - fuera;
            let antes = guardado.map(|(c, _)| c);
            if antes != Some(despues) {
                tx.prepare_cached(
                    "INSERT INTO contadores (evento_id, entradas, aforo) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (evento_id) DO UPDATE SET entradas = excluded.entradas",
                )?
                .execute(params![e, despues, capacidad])?;
            }
            Ok((antes, despues))
        })
        .await
    }

    async fn eventos(&self) -> Result<Vec<EventoId>> {
        self.leer(|tx| {
            let mut stmt = tx.prepare_cached(
                "SELECT evento_id FROM contadores UNION SELECT evento_id FROM reservas ORDER BY 1",
            )?;
            let ids: Vec<String> = stmt
                .query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            ids.iter()
                .map(|id| {
                    EventoId::parse(id).map_err(|_| {
                        Error::Inconsistencia(format!(
                            "dato corrupto en SQLite: {id:?} en contadores o reservas no es un id de evento"
                        ))
                        .into()
                    })
                })
                .collect()
        })
        .await
    }
}
