//! The reservation roles on Redis except the counters (`contadores.rs`): each operation is
//! one script of `lua/` (or a read), and the
//! refusals map to the messages of `store::rechazo`, shared with the SQLite store.

use async_trait::async_trait;
use redis::FromRedisValue;

use super::{
    COMPLETAR, CONFIRMAR, Hash, LIBERAR, MARCAR, RECLAMAR, REGISTRAR_COBRO, REGISTRAR_REEMBOLSO,
    RedisStore, hash,
};
use crate::domain::{ClaveIdempotencia, Estado, EventoId, Fecha, ReservaId, UsuarioId};
use crate::error::{Error, Result};
use crate::store::{
    ClaveStore, Cobro, CobroStore, ContadorStore, Fase, FiltroReservas, Paso, Reclamo,
    RegistroSaga, RegistroStore, ReservaStore, Retencion, listado, rechazo,
};

#[async_trait]
impl RegistroStore for RedisStore {
    async fn tomar(&self, r: &Retencion) -> Result<RegistroSaga> {
        self.tomar_(r).await
    }

    async fn marcar(&self, reserva: &RegistroSaga, paso: Paso, fase: Fase) -> Result<()> {
        let r = &reserva.reserva;
        let _: i64 = self
            .correr(
                &MARCAR,
                &[&self.claves.registro(&r.evento_id, &r.id)],
                &[paso.as_str().to_owned(), fase.as_str().to_owned()],
            )
            .await
            .map_err(|e| self.rechazo(e, |codigo, detalle| saga_refusal(&r.id, codigo, detalle)))?;
        Ok(())
    }

    async fn confirmar(&self, reserva: &RegistroSaga) -> Result<RegistroSaga> {
        let r = &reserva.reserva;
        let clave = self.claves.registro(&r.evento_id, &r.id);
        let h: Hash = self
            .correr(&CONFIRMAR, &[&clave], &[])
            .await
            .map_err(|e| self.rechazo(e, |codigo, detalle| saga_refusal(&r.id, codigo, detalle)))?;
        hash::registro(&clave, &h)
    }

    async fn completar(&self, reserva: &RegistroSaga) -> Result<bool> {
        let r = &reserva.reserva;
        let hecho: i64 = self
            .correr(
                &COMPLETAR,
                &[
                    &self.claves.registro(&r.evento_id, &r.id),
                    &self.claves.retenidas(&r.evento_id),
                    &self.claves.bloqueo(&r.usuario_id, &r.evento_id),
                ],
                &[r.id.to_string()],
            )
            .await
            .map_err(|e| self.error(e))?;
        Ok(hecho == 1)
    }

    async fn reclamar(
        &self, reserva: &ReservaId, motivo: &Reclamo, lease_ms: i64,
    ) -> Result<Option<RegistroSaga>> {
        let evento = self.evento_de(reserva).await?;
        let clave = self.claves.registro(&evento, reserva);
        let fallo = match motivo {
            Reclamo::Fallo(f) => f.clone(),
            _ => String::new(),
        };
        let h: Option<Hash> = self
            .correr(
                &RECLAMAR,
                &[&clave],
                &[
                    motivo.nombre().to_owned(),
                    lease_ms.max(1).to_string(),
                    fallo,
                ],
            )
            .await
            .map_err(|e| {
                self.rechazo(e, |codigo, detalle| saga_refusal(reserva, codigo, detalle))
            })?;
        h.map(|h| hash::registro(&clave, &h)).transpose()
    }

    async fn liberar(&self, reserva: &RegistroSaga, estado_final: Estado) -> Result<bool> {
        if estado_final.retiene_entradas() {
            return Err(Error::Invalido(format!(
                "estado final inválido {estado_final}: liberar deja la reserva cancelada, compensada o expirada"
            )));
        }
        let r = &reserva.reserva;
        let hecho: i64 = self
            .correr(
                &LIBERAR,
                &[
                    &self.claves.registro(&r.evento_id, &r.id),
                    &self.claves.contador(&r.evento_id),
                    &self.claves.retenidas(&r.evento_id),
                    &self.claves.bloqueo(&r.usuario_id, &r.evento_id),
                    &self.claves.pago(&r.evento_id, &r.id),
                ],
                &[r.id.to_string(), estado_final.as_str().to_owned()],
            )
            .await
            .map_err(|e| {
                self.rechazo(e, |codigo, detalle| match codigo {
                    "EF_SIN_CONTADOR" => Some(rechazo::sin_contador(&r.evento_id)),
                    _ => saga_refusal(&r.id, codigo, detalle),
                })
            })?;
        Ok(hecho == 1)
    }

    async fn ver(&self, reserva: &ReservaId) -> Result<RegistroSaga> {
        let evento = self.evento_de(reserva).await?;
        self.registros(vec![(evento, reserva.to_string())])
            .await?
            .pop()
            .ok_or_else(|| Error::no_encontrado("reserva", reserva))
    }

    async fn de_evento(&self, evento: &EventoId) -> Result<Vec<RegistroSaga>> {
        let ids = self.miembros(std::slice::from_ref(evento)).await?;
        let mut registros = self.registros(ids).await?;
        ordenar(&mut registros);
        Ok(registros)
    }

    async fn listar(&self, filtro: &FiltroReservas) -> Result<Vec<RegistroSaga>> {
        let eventos = match &filtro.evento {
            Some(e) => vec![e.clone()],
            None => self.eventos().await?,
        };
        let ids = self.miembros(&eventos).await?;
        let leidos = self.registros_leidos(ids).await?;
        let mut registros: Vec<RegistroSaga> = listado::sin_danadas("la reserva", leidos)?
            .into_iter()
            .filter(|r| filtro.admite(&r.reserva))
            .collect();
        ordenar(&mut registros);
        Ok(registros)
    }

    async fn pagina(
        &self, filtro: &FiltroReservas, limite: u32, despues_de: Option<&ReservaId>,
    ) -> Result<Vec<RegistroSaga>> {
        self.pagina_reservas(filtro, limite, despues_de).await
    }

    async fn vencidas(&self) -> Result<Vec<RegistroSaga>> {
        let ahora = self.reloj().await?;
        let eventos = self.eventos().await?;
        let hasta = format!("({}", ahora.millis());
        let ids = self
            .ids_por_evento(&eventos, |e| {
                let mut c = redis::cmd("ZRANGEBYSCORE");
                c.arg(self.claves.retenidas(e)).arg("-inf").arg(&hasta);
                c
            })
            .await?;
        // The zset is only an index: the record decides, and it may have moved on since.
        let mut registros: Vec<RegistroSaga> = self
            .registros(ids)
            .await?
            .into_iter()
            .filter(|r| r.en_curso() && r.expira < ahora)
            .collect();
        registros.sort_by(|a, b| (a.expira, &a.reserva.id).cmp(&(b.expira, &b.reserva.id)));
        Ok(registros)
    }

    async fn en_curso_de_usuario(&self, usuario: &UsuarioId) -> Result<Option<ReservaId>> {
        let eventos = self.eventos().await?;
        if eventos.is_empty() {
            return Ok(None);
        }
        let cmds = eventos
            .iter()
            .map(|e| {
                let mut c = redis::cmd("GET");
                c.arg(self.claves.bloqueo(usuario, e));
                c
            })
            .collect();
        let bloqueos: Vec<Option<String>> =
            self.leer_muchos(cmds).await.map_err(|e| self.error(e))?;
        Ok(bloqueos
            .into_iter()
            .flatten()
            .find_map(|id| ReservaId::parse(&id).ok()))
    }

    async fn restaurar(&self, registro: &RegistroSaga, cobro: Option<&Cobro>) -> Result<bool> {
        self.restaurar_(registro, cobro).await
    }
}

#[async_trait]
impl ClaveStore for RedisStore {
    async fn vincular_clave(
        &self, clave: &ClaveIdempotencia, huella: &str, reserva: &ReservaId,
    ) -> Result<Option<(String, ReservaId)>> {
        self.vincular_clave_(clave, huella, reserva).await
    }
}

#[async_trait]
impl CobroStore for RedisStore {
    async fn registrar_cobro(&self, reserva: &RegistroSaga, aprobado: bool) -> Result<Cobro> {
        let r = &reserva.reserva;
        let h: Hash = self
            .correr(
                &REGISTRAR_COBRO,
                &[
                    &self.claves.pago(&r.evento_id, &r.id),
                    &self.claves.registro(&r.evento_id, &r.id),
                ],
                &[
                    r.importe.to_string(),
                    if aprobado { "1" } else { "0" }.to_owned(),
                ],
            )
            .await
            .map_err(|e| self.rechazo(e, |codigo, detalle| saga_refusal(&r.id, codigo, detalle)))?;
        self.cobro_de(reserva, &h)
    }

    async fn registrar_reembolso(&self, reserva: &RegistroSaga) -> Result<Option<Cobro>> {
        let r = &reserva.reserva;
        let h: Option<Hash> = self
            .correr(
                &REGISTRAR_REEMBOLSO,
                &[&self.claves.pago(&r.evento_id, &r.id)],
                &[],
            )
            .await
            .map_err(|e| self.error(e))?;
        h.map(|h| self.cobro_de(reserva, &h)).transpose()
    }

    async fn cobro(&self, reserva: &RegistroSaga) -> Result<Option<Cobro>> {
        let r = &reserva.reserva;
        let h: Hash = redis::cmd("HGETALL")
            .arg(self.claves.pago(&r.evento_id, &r.id))
            .query_async(&mut self.con())
            .await
            .map_err(|e| self.error(e))?;
        if h.is_empty() {
            return Ok(None);
        }
        self.cobro_de(reserva, &h).map(Some)
    }

    async fn cobros_de_evento(&self, evento: &EventoId) -> Result<Vec<Cobro>> {
        self.cobros_de_evento_(evento).await
    }
}

#[async_trait]
impl ReservaStore for RedisStore {
    async fn reloj(&self) -> Result<Fecha> {
        let hora = self
            .con()
            .a_un_nodo(redis::cmd("TIME"))
            .await
            .map_err(|e| self.error(e))?;
        let (s, us) = <(i64, i64)>::from_redis_value(hora).map_err(|e| self.error(e.into()))?;
        Ok(Fecha::from_millis(s * 1000 + us / 1000))
    }

    async fn ping(&self) -> Result<String> {
        let mut info = redis::cmd("INFO");
        info.arg("server");
        let info = self
            .con()
            .a_un_nodo(info)
            .await
            .and_then(|v| Ok(String::from_redis_value(v)?))
            .map_err(|e| self.error(e))?;
        let version = info
            .lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .map(str::trim)
            .unwrap_or("(versión desconocida)");
        Ok(format!("Redis {version}"))
    }
}

/// The refusals of the scripts that guard a purchase's states (see `rechazo`).
fn saga_refusal(reserva: &ReservaId, codigo: &str, detalle: &str) -> Option<Error> {
    Some(match codigo {
        "EF_NO_RESERVA" => Error::no_encontrado("reserva", reserva),
        "EF_NO_PENDIENTE" => rechazo::no_pendiente(reserva, detalle),
        "EF_TOMADA" => rechazo::tomada(reserva, detalle),
        "EF_NO_COBRABLE" => rechazo::no_cobrable(reserva, detalle),
        "EF_NO_TOMADA" => rechazo::no_tomada(reserva),
        "EF_COBRO_EN_PIE" => rechazo::cobro_en_pie(reserva),
        _ => return None,
    })
}

/// Listing order: oldest first, id as the tie-break so the order is stable.
fn ordenar(registros: &mut [RegistroSaga]) {
    registros
        .sort_by(|a, b| (a.reserva.creada, &a.reserva.id).cmp(&(b.reserva.creada, &b.reserva.id)));
}
