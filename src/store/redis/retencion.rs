//! Taking seats (`tomar.lua`): the record is built here, the script overwrites its
//! instants with the server's clock and refuses what the rules refuse.

use redis::RedisResult;

use super::claves::Claves;
use super::{Hash, RedisStore, TOMAR, codigo_propio, hash};
use crate::domain::{Fecha, LIBERABLES_POR_TOMA, TTL_MIN_BLOQUEO_MS};
use crate::error::{Error, Result};
use crate::store::{RegistroSaga, Retencion, rechazo};

impl RedisStore {
    pub(super) async fn tomar_(&self, r: &Retencion) -> Result<RegistroSaga> {
        // The script overwrites the instants with the server's clock.
        let nuevo = r.registro(Fecha::from_millis(0));
        let mut args = vec![
            r.reserva.to_string(),
            r.entradas.to_string(),
            r.ttl_ms.to_string(),
            TTL_MIN_BLOQUEO_MS.to_string(),
            self.claves.prefijo_registro(&r.evento),
            self.claves.prefijo_pago(&r.evento),
            self.claves.prefijo_bloqueo(),
            Claves::sufijo_bloqueo(&r.evento),
            LIBERABLES_POR_TOMA.to_string(),
        ];
        for (campo, valor) in hash::campos(&nuevo) {
            args.push(campo.to_owned());
            args.push(valor);
        }
        let indice = self.claves.indice(r.reserva.as_str());
        let mut set_indice = redis::cmd("SET");
        set_indice.arg(&indice).arg(r.evento.as_str());
        let registro = self.claves.registro(&r.evento, &r.reserva);
        let res: RedisResult<Hash> = self
            .correr_tras(
                Some(set_indice),
                &TOMAR,
                &[
                    &self.claves.contador(&r.evento),
                    &self.claves.reservas(&r.evento),
                    &self.claves.retenidas(&r.evento),
                    &registro,
                    &self.claves.bloqueo(&r.usuario, &r.evento),
                ],
                &args,
            )
            .await;
        match res {
            Ok(h) => hash::registro(&registro, &h),
            Err(e) => {
                // The index was written ahead of the take; drop it unless the record it
                // points to exists (a retried take of this same reservation).
                let conservar = match codigo_propio(&e) {
                    Some(("EF_EXISTE", _)) => true,
                    Some(("EF_EN_CURSO", titular)) => titular == r.reserva.as_str(),
                    Some(_) => false,
                    // Unknown outcome (the connection failed): the take may have happened.
                    None => true,
                };
                if !conservar {
                    let _: RedisResult<()> = redis::cmd("DEL")
                        .arg(&indice)
                        .query_async(&mut self.con())
                        .await;
                }
                Err(self.rechazo(e, |codigo, detalle| match codigo {
                    "EF_EN_CURSO" => Some(rechazo::compra_en_curso(&r.usuario, &r.evento)),
                    "EF_SIN_EVENTO" => Some(Error::no_encontrado("evento", &r.evento)),
                    "EF_SIN_ENTRADAS" => Some(Error::SinEntradas {
                        evento: r.evento.to_string(),
                        pedidas: r.entradas.get(),
                        disponibles: detalle.parse().ok()?,
                    }),
                    "EF_EXISTE" => Some(rechazo::reserva_existe(&r.reserva)),
                    "EF_CONTADOR_CORRUPTO" => Some(Error::Inconsistencia(format!(
                        "dato corrupto en Redis: el contador {} no es un entero; \
                         ejecute `eventflow verificar --evento {} --reparar`",
                        self.claves.contador(&r.evento),
                        r.evento
                    ))),
                    _ => None,
                }))
            }
        }
    }
}
