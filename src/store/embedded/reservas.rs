//! The reservation store's roles on SQLite except the counters (`contadores.rs`): saga
//! records, per-user locks, idempotency keys and the payment ledger. Each operation is one `BEGIN IMMEDIATE` transaction that applies
//! the rule the Redis Lua script of the same name applies, with the same refusals
//! (`store::rechazo`), and reads SQLite's clock inside it, so the saga cannot tell the
//! backends apart.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::filas::{self, COLUMNAS_PAGO, COLUMNAS_RESERVA};
use super::registros::{
    cobro, contador, de_la_saga, escribir_registro, liberar_vencidas, mover_contador, pagina_leida,
    registro, registro_o_error, registros, registros_leidos, reloj, soltar_bloqueo,
};
use super::{SqliteStore, pagos};
use crate::domain::{
    ClaveIdempotencia, Estado, EventoId, Fecha, ReservaId, TTL_MIN_BLOQUEO_MS, UsuarioId,
};
use crate::error::{Error, Result};
use crate::store::{
    ClaveStore, Cobro, CobroStore, Fase, FiltroReservas, Paso, Reclamo, RegistroSaga,
    RegistroStore, ReservaStore, Retencion, Toma, listado, rechazo,
};

#[async_trait]
impl RegistroStore for SqliteStore {
    async fn tomar(&self, r: &Retencion) -> Result<RegistroSaga> {
        let r = r.clone();
        // The inner result is the take's outcome; the releases of expired holds commit
        // even when the take is then refused, as on Redis.
        self.escribir(move |tx| {
            let (u, e) = (r.usuario.as_str(), r.evento.as_str());
            let ahora = reloj(tx)?;
            // A lock whose time ran out no longer counts, as a Redis key past its TTL.
            let en_curso: Option<String> = tx
                .prepare_cached(
                    "SELECT reserva_id FROM bloqueos \
                     WHERE usuario_id = ?1 AND evento_id = ?2 AND expira > ?3",
                )?
                .query_row(params![u, e, ahora], |f| f.get(0))
                .optional()?;
            if en_curso.is_some() {
                return Ok(Err(rechazo::compra_en_curso(&r.usuario, &r.evento)));
            }
            let Some((mut disponibles, _)) = contador(tx, e)? else {
                return Ok(Err(Error::no_encontrado("evento", &r.evento)));
            };
            if registro(tx, r.reserva.as_str())?.is_some() {
                return Ok(Err(rechazo::reserva_existe(&r.reserva)));
            }
            let pedidas = i64::from(r.entradas.get());
            if disponibles < pedidas {
                liberar_vencidas(tx, &r.evento, ahora)?;
                disponibles = contador(tx, e)?.map_or(0, |(c, _)| c);
                if disponibles < pedidas {
                    return Ok(Err(Error::SinEntradas {
                        evento: r.evento.to_string(),
                        pedidas: r.entradas.get(),
                        disponibles,
                    }));
                }
            }
            mover_contador(tx, &r.evento, -pedidas)?;
            let nuevo = r.registro(Fecha::from_millis(ahora));
            escribir_registro(tx, &nuevo, false)?;
            let ttl = r.ttl_ms.max(TTL_MIN_BLOQUEO_MS);
            tx.prepare_cached(
                "INSERT OR REPLACE INTO bloqueos (usuario_id, evento_id, reserva_id, expira) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![u, e, r.reserva.as_str(), ahora.saturating_add(ttl)])?;
            Ok(Ok(nuevo))
        })
        .await?
    }

    async fn marcar(&self, reserva: &RegistroSaga, paso: Paso, fase: Fase) -> Result<()> {
        let id = reserva.reserva.id.clone();
        self.escribir(move |tx| {
            de_la_saga(&registro_o_error(tx, &id)?)?;
            tx.prepare_cached(
                "UPDATE reservas SET paso = ?2, fase = ?3, actualizada = ?4 WHERE id = ?1",
            )?
            .execute(params![
                id.as_str(),
                paso.as_str(),
                fase.as_str(),
                reloj(tx)?
            ])?;
            Ok(())
        })
        .await
    }

    async fn confirmar(&self, reserva: &RegistroSaga) -> Result<RegistroSaga> {
        let id = reserva.reserva.id.clone();
        self.escribir(move |tx| {
            let actual = registro_o_error(tx, &id)?;
            actual
                .confirmable()
                .map_err(|n| rechazo::negativa(&id, n))?;
            let ahora = reloj(tx)?;
            tx.prepare_cached(
                "UPDATE reservas SET estado = 'confirmada', paso = 'confirmacion', fase = 'hecho', \
                   fecha_compra = ?2, actualizada = ?2 \
                 WHERE id = ?1",
            )?
            .execute(params![id.as_str(), ahora])?;
            registro_o_error(tx, &id)
        })
        .await
    }

    async fn completar(&self, reserva: &RegistroSaga) -> Result<bool> {
        let id = reserva.reserva.id.clone();
        self.escribir(move |tx| {
            let Some(actual) = registro(tx, id.as_str())? else {
                return Ok(false);
            };
            if !actual.completable() {
                return Ok(false);
            }
            tx.prepare_cached(
                "UPDATE reservas SET paso = 'historial', fase = 'hecho', terminada = 1 \
                 WHERE id = ?1",
            )?
            .execute(params![id.as_str()])?;
            soltar_bloqueo(tx, &actual.reserva)?;
            Ok(true)
        })
        .await
    }

    async fn reclamar(
        &self, reserva: &ReservaId, motivo: &Reclamo, lease_ms: i64,
    ) -> Result<Option<RegistroSaga>> {
        let (id, motivo) = (reserva.clone(), motivo.clone());
        self.escribir(move |tx| {
            let actual = registro_o_error(tx, &id)?;
            let ahora = reloj(tx)?;
            if !actual.reclamable(&motivo, Fecha::from_millis(ahora)) {
                return Ok(None);
            }
            let fallo = match &motivo {
                Reclamo::Fallo(f) => Some(f.as_str()),
                _ => None,
            };
            tx.prepare_cached(
                "UPDATE reservas SET toma = ?2, reclamada_hasta = ?3, fallo = coalesce(?4, fallo) \
                 WHERE id = ?1",
            )?
            .execute(params![
                id.as_str(),
                motivo.toma().as_str(),
                ahora.saturating_add(lease_ms.max(1)),
                fallo
            ])?;
            registro(tx, id.as_str())
        })
        .await
    }

    async fn liberar(&self, reserva: &RegistroSaga, estado_final: Estado) -> Result<bool> {
        if estado_final.retiene_entradas() {
            return Err(Error::Invalido(format!(
                "estado final inválido {estado_final}: liberar deja la reserva cancelada, compensada o expirada"
            )));
        }
        let id = reserva.reserva.id.clone();
        self.escribir(move |tx| {
            let actual = registro_o_error(tx, &id)?;
            // A second release (a retry, or a racing compensator) is a no-op.
            let pago = cobro(tx, id.as_str())?;
            let final_ = match actual.liberacion(estado_final, pago.as_ref()) {
                Ok(Some(f)) => f,
                Ok(None) => return Ok(false),
                Err(n) => return Err(rechazo::negativa(&id, n).into()),
            };
            mover_contador(
                tx,
                &actual.reserva.evento_id,
                i64::from(actual.reserva.entradas.get()),
            )?;
            tx.prepare_cached(
                "UPDATE reservas SET estado = ?2, terminada = 1, actualizada = ?3, \
                   reclamada_hasta = NULL \
                 WHERE id = ?1",
            )?
            .execute(params![id.as_str(), final_.as_str(), reloj(tx)?])?;
            soltar_bloqueo(tx, &actual.reserva)?;
            Ok(true)
        })
        .await
    }

    async fn ver(&self, reserva: &ReservaId) -> Result<RegistroSaga> {
        let id = reserva.clone();
        self.con(move |con| registro_o_error(con, &id)).await
    }

    async fn de_evento(&self, evento: &EventoId) -> Result<Vec<RegistroSaga>> {
        let filtro = FiltroReservas {
            evento: Some(evento.clone()),
            ..FiltroReservas::default()
        };
        self.con(move |con| registros(con, &filtro)).await
    }

    async fn listar(&self, filtro: &FiltroReservas) -> Result<Vec<RegistroSaga>> {
        let filtro = filtro.clone();
        let leidos = self.con(move |con| registros_leidos(con, &filtro)).await?;
        listado::sin_danadas("la reserva", leidos)
    }

    async fn pagina(
        &self, filtro: &FiltroReservas, limite: u32, despues_de: Option<&ReservaId>,
    ) -> Result<Vec<RegistroSaga>> {
        let (f, d) = (filtro.clone(), despues_de.map(|r| r.to_string()));
        let leidos = self
            .con(move |con| pagina_leida(con, &f, limite, d.as_deref()))
            .await?;
        match (leidos, despues_de) {
            (Some(l), _) => listado::sin_danadas("la reserva", l),
            (None, Some(r)) => Err(Error::no_encontrado("reserva", r)),
            (None, None) => Ok(Vec::new()),
        }
    }

    async fn vencidas(&self) -> Result<Vec<RegistroSaga>> {
        self.con(move |con| {
            let mut stmt = con.prepare_cached(&format!(
                "SELECT {COLUMNAS_RESERVA} FROM reservas \
                 WHERE terminada = 0 AND expira < ?1 ORDER BY expira, id"
            ))?;
            filas::todas(&mut stmt, [reloj(con)?], filas::registro)
        })
        .await
    }

    async fn en_curso_de_usuario(&self, usuario: &UsuarioId) -> Result<Option<ReservaId>> {
        let usuario = usuario.clone();
        self.con(move |con| {
            let id: Option<String> = con
                .prepare_cached(
                    "SELECT reserva_id FROM bloqueos WHERE usuario_id = ?1 AND expira > ?2 LIMIT 1",
                )?
                .query_row(params![usuario.as_str(), reloj(con)?], |r| r.get(0))
                .optional()?;
            Ok(id.and_then(|id| ReservaId::parse(&id).ok()))
        })
        .await
    }

    async fn restaurar(&self, nuevo: &RegistroSaga, cobro: Option<&Cobro>) -> Result<bool> {
        let (r, c) = (nuevo.clone(), cobro.cloned());
        self.escribir(move |tx| {
            // As `restaurar.lua`: never overwrite a live record.
            if let Some(actual) = registro(tx, r.reserva.id.as_str())?
                && (actual.toma != Some(Toma::Compensacion) || actual.terminada)
            {
                return Ok(false);
            }
            escribir_registro(tx, &r, true)?;
            if let Some(c) = c {
                tx.prepare_cached(
                    "INSERT INTO pagos \
                       (reserva_id, evento_id, importe, aprobado, cobrado, reembolsado) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                )?
                .execute(params![
                    c.reserva_id.as_str(),
                    r.reserva.evento_id.as_str(),
                    c.importe,
                    i64::from(c.aprobado),
                    c.cobrado.millis(),
                    c.reembolsado.map(Fecha::millis)
                ])?;
            }
            Ok(true)
        })
        .await
    }
}

#[async_trait]
impl ClaveStore for SqliteStore {
    async fn vincular_clave(
        &self, clave: &ClaveIdempotencia, huella: &str, reserva: &ReservaId,
    ) -> Result<Option<(String, ReservaId)>> {
        let (clave, huella, reserva) = (clave.clone(), huella.to_owned(), reserva.clone());
        self.escribir(move |tx| pagos::vincular_clave(tx, &clave, &huella, &reserva))
            .await
    }
}

#[async_trait]
impl CobroStore for SqliteStore {
    async fn registrar_cobro(&self, reserva: &RegistroSaga, aprobado: bool) -> Result<Cobro> {
        let r = reserva.reserva.clone();
        self.escribir(move |tx| pagos::registrar_cobro(tx, &r, aprobado))
            .await
    }

    async fn registrar_reembolso(&self, reserva: &RegistroSaga) -> Result<Option<Cobro>> {
        let id = reserva.reserva.id.clone();
        self.escribir(move |tx| pagos::registrar_reembolso(tx, &id))
            .await
    }

    async fn cobro(&self, reserva: &RegistroSaga) -> Result<Option<Cobro>> {
        let id = reserva.reserva.id.clone();
        self.con(move |con| cobro(con, id.as_str())).await
    }

    async fn cobros_de_evento(&self, evento: &EventoId) -> Result<Vec<Cobro>> {
        let evento = evento.clone();
        self.con(move |con| {
            let mut stmt = con.prepare_cached(&format!(
                "SELECT {COLUMNAS_PAGO} FROM pagos WHERE evento_id = ?1 ORDER BY reserva_id"
            ))?;
            filas::todas(&mut stmt, [evento.as_str()], filas::cobro)
        })
        .await
    }
}

#[async_trait]
impl ReservaStore for SqliteStore {
    async fn reloj(&self) -> Result<Fecha> {
        self.con(|con| reloj(con).map(Fecha::from_millis)).await
    }

    async fn ping(&self) -> Result<String> {
        self.version().await
    }
}
