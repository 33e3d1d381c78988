//! The payment ledger's reads, idempotency keys and record restoration on Redis.

use super::{Hash, RESTAURAR, RedisStore, VINCULAR_CLAVE, Vinculo, hash};
use crate::domain::{ClaveIdempotencia, EventoId, ReservaId};
use crate::error::{Error, Result};
use crate::store::{Cobro, RegistroSaga};

impl RedisStore {
    pub(super) async fn restaurar_(
        &self, registro: &RegistroSaga, cobro: Option<&Cobro>,
    ) -> Result<bool> {
        let r = &registro.reserva;
        // The indexes first (each on its own slot): a record is never without them.
        let mut p = redis::pipe();
        p.cmd("SET")
            .arg(self.claves.indice(r.id.as_str()))
            .arg(r.evento_id.as_str())
            .ignore();
        self.escribir(p).await.map_err(|e| self.error(e))?;
        self.registrar_evento(&r.evento_id).await?;
        let libro = cobro.map(hash::campos_cobro).unwrap_or_default();
        let mut args = vec![
            r.id.to_string(),
            if registro.terminada { "1" } else { "0" }.to_owned(),
            registro.expira.millis().to_string(),
            libro.len().to_string(),
        ];
        for (campo, valor) in libro.into_iter().chain(hash::campos(registro)) {
            args.push(campo.to_owned());
            args.push(valor);
        }
        let escrito: i64 = self
            .correr(
                &RESTAURAR,
                &[
                    &self.claves.registro(&r.evento_id, &r.id),
                    &self.claves.reservas(&r.evento_id),
                    &self.claves.retenidas(&r.evento_id),
                    &self.claves.pago(&r.evento_id, &r.id),
                ],
                &args,
            )
            .await
            .map_err(|e| self.error(e))?;
        Ok(escrito == 1)
    }

    pub(super) async fn vincular_clave_(
        &self, clave: &ClaveIdempotencia, huella: &str, reserva: &ReservaId,
    ) -> Result<Option<(String, ReservaId)>> {
        let k = self.claves.idempotencia(clave);
        let json = serde_json::to_string(&Vinculo {
            huella: huella.to_owned(),
            reserva: reserva.clone(),
        })
        .map_err(|e| Error::Interno(e.into()))?;
        let previo: Option<String> = self
            .correr(
                &VINCULAR_CLAVE,
                &[&k],
                &[
                    json,
                    (crate::domain::TTL_IDEMPOTENCIA_MS / 1000).to_string(),
                ],
            )
            .await
            .map_err(|e| self.error(e))?;
        previo
            .map(|v| {
                serde_json::from_str::<Vinculo>(&v)
                    .map(|v| (v.huella, v.reserva))
                    .map_err(|e| {
                        Error::Inconsistencia(format!(
                            "dato corrupto en Redis: la clave {k} no es un vínculo de idempotencia ({e})"
                        ))
                    })
            })
            .transpose()
    }

    pub(super) async fn cobros_de_evento_(&self, evento: &EventoId) -> Result<Vec<Cobro>> {
        let ids = self.miembros(std::slice::from_ref(evento)).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut p = redis::pipe();
        for (e, id) in &ids {
            p.cmd("HGETALL")
                .arg(format!("{}{id}", self.claves.prefijo_pago(e)));
        }
        let hashes: Vec<Hash> = p
            .query_async(&mut self.con())
            .await
            .map_err(|e| self.error(e))?;
        let mut cobros = Vec::new();
        for ((e, id), h) in ids.iter().zip(hashes) {
            if h.is_empty() {
                continue;
            }
            let reserva = ReservaId::parse(id).map_err(|_| {
                Error::Inconsistencia(format!(
                    "dato corrupto en Redis: {} contiene {id:?}, que no es un id de reserva",
                    self.claves.reservas(e)
                ))
            })?;
            let clave = format!("{}{id}", self.claves.prefijo_pago(e));
            cobros.push(hash::cobro(&clave, &reserva, &h)?);
        }
        Ok(cobros)
    }
}
