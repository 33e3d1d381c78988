//! `ContadorStore` on Redis: each event's seat counter (`evento:{E}:entradas`) and the
//! capacity it is accounted against (`evento:{E}:aforo`), changed together by one script.

use async_trait::async_trait;
use redis::{FromRedisValue, Value};

use super::{AJUSTAR_AFORO, BORRAR_EVENTO, FIJAR_CONTADOR, RECALCULAR_CONTADOR, RedisStore};
use crate::domain::{Aforo, EventoId};
use crate::error::{Error, Result};
use crate::store::{ContadorStore, rechazo};

/// Seats out (held or sold) when the counter reads `detalle` under capacity `aforo`.
fn fuera(aforo: Aforo, detalle: &str) -> Option<i64> {
    let contador: i64 = detalle.parse().ok()?;
    Some(i64::from(aforo.get()) - contador)
}

#[async_trait]
impl ContadorStore for RedisStore {
    async fn crear_contador(&self, evento: &EventoId, aforo: Aforo) -> Result<bool> {
        // Registered first: an event listed without a counter is found and repaired by
        // `verificar`; a counter nobody lists would be missed.
        self.registrar_evento(evento).await?;
        let mut p = redis::pipe();
        p.cmd("SET")
            .arg(self.claves.contador(evento))
            .arg(aforo.get())
            .arg("NX")
            .cmd("SET")
            .arg(self.claves.aforo(evento))
            .arg(aforo.get())
            .arg("NX")
            .ignore();
        let creado = self
            .escribir(p)
            .await
            .and_then(|mut v| {
                Ok(Option::<String>::from_redis_value(
                    v.pop().unwrap_or(Value::Nil),
                )?)
            })
            .map_err(|e| self.error(e))?;
        Ok(creado.is_some())
    }

    async fn contador(&self, evento: &EventoId) -> Result<Option<i64>> {
        self.entero(&self.claves.contador(evento), evento).await
    }

    async fn aforo(&self, evento: &EventoId) -> Result<Option<Aforo>> {
        let clave = self.claves.aforo(evento);
        self.entero(&clave, evento)
            .await?
            .map(|n| {
                Aforo::new(n).map_err(|e| {
                    Error::Inconsistencia(format!(
                        "dato corrupto en Redis: el aforo {clave} no es válido ({e}); ejecute \
                         `eventflow verificar --evento {evento} --reparar`"
                    ))
                })
            })
            .transpose()
    }

    async fn ajustar_aforo(&self, evento: &EventoId, anterior: Aforo, nuevo: Aforo) -> Result<()> {
        let _: i64 = self
            .correr(
                &AJUSTAR_AFORO,
                &[&self.claves.contador(evento), &self.claves.aforo(evento)],
                &[anterior.get().to_string(), nuevo.get().to_string()],
            )
            .await
            .map_err(|e| {
                self.rechazo(e, |codigo, detalle| match codigo {
                    "EF_SIN_CONTADOR" => Some(rechazo::sin_contador(evento)),
                    "EF_AFORO_CAMBIO" => Some(rechazo::aforo_cambiado(evento, anterior, detalle)),
                    "EF_CONTADOR_EXCEDE" => {
                        Some(rechazo::contador_excede(evento, detalle, anterior))
                    }
                    "EF_FUERA" => fuera(anterior, detalle)
                        .map(|n| rechazo::aforo_bajo_lo_vendido(evento, n, nuevo)),
                    _ => None,
                })
            })?;
        Ok(())
    }

    async fn borrar_evento(&self, evento: &EventoId, aforo: Aforo) -> Result<()> {
        let ids: Vec<String> = self
            .correr(
                &BORRAR_EVENTO,
                &[
                    &self.claves.contador(evento),
                    &self.claves.reservas(evento),
                    &self.claves.retenidas(evento),
                    &self.claves.aforo(evento),
                ],
                &[
                    aforo.get().to_string(),
                    self.claves.prefijo_registro(evento),
                    self.claves.prefijo_pago(evento),
                ],
            )
            .await
            .map_err(|e| {
                self.rechazo(e, |codigo, detalle| match codigo {
                    "EF_AFORO_CAMBIO" => Some(rechazo::aforo_cambiado(evento, aforo, detalle)),
                    "EF_FUERA" => {
                        fuera(aforo, detalle).map(|n| rechazo::evento_con_ventas(evento, n, None))
                    }
                    "EF_RETENIDAS" => {
                        let (n, id) = detalle.split_once(' ').unwrap_or((detalle, ""));
                        Some(rechazo::evento_con_ventas(
                            evento,
                            n.parse().ok()?,
                            Some(id),
                        ))
                    }
                    _ => None,
                })
            })?;
        // One DEL per batch: on a cluster the client splits it by slot.
        for lote in ids.chunks(500) {
            let claves: Vec<String> = lote.iter().map(|id| self.claves.indice(id)).collect();
            redis::cmd("DEL")
                .arg(claves)
                .query_async::<()>(&mut self.con())
                .await
                .map_err(|e| self.error(e))?;
        }
        self.desregistrar_evento(evento).await
    }

    async fn fijar_contador(
        &self, evento: &EventoId, anterior: Option<i64>, valor: i64,
    ) -> Result<bool> {
        let esperado = anterior.map(|a| a.to_string()).unwrap_or_default();
        let fijado: i64 = self
            .correr(
                &FIJAR_CONTADOR,
                &[&self.claves.contador(evento)],
                &[esperado, valor.to_string()],
            )
            .await
            .map_err(|e| self.error(e))?;
        if fijado == 1 {
            self.registrar_evento(evento).await?;
        }
        Ok(fijado == 1)
    }

    async fn recalcular_contador(
        &self, evento: &EventoId, aforo: Aforo,
    ) -> Result<(Option<i64>, i64)> {
        let (antes, despues): (String, String) = self
            .correr(
                &RECALCULAR_CONTADOR,
                &[
                    &self.claves.contador(evento),
                    &self.claves.reservas(evento),
                    &self.claves.aforo(evento),
                ],
                &[
                    aforo.get().to_string(),
                    self.claves.prefijo_registro(evento),
                ],
            )
            .await
            .map_err(|e| self.error(e))?;
        self.registrar_evento(evento).await?;
        let entero = |v: &str| {
            v.parse::<i64>().map_err(|_| {
                Error::Inconsistencia(format!(
                    "dato corrupto en Redis: el contador de {evento} no es un entero ({v:?})"
                ))
            })
        };
        let antes = if antes.is_empty() {
            None
        } else {
            Some(entero(&antes)?)
        };
        Ok((antes, entero(&despues)?))
    }

    async fn eventos(&self) -> Result<Vec<EventoId>> {
        self.eventos_registrados().await
    }
}
