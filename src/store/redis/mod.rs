//! Redis: seats, purchase records, locks, idempotency keys and the payment ledger (the CP
//! side). Every multi-key change to one event is one Lua script in `lua/`, so it is atomic
//! and stays inside the event's Cluster slot; `claves` is the key layout, `hash` the record format.

mod claves;
mod hash;

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use anyhow::anyhow;
use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, FromRedisValue, RedisError, RedisResult, Script, ServerErrorKind};
use serde::{Deserialize, Serialize};

use self::claves::Claves;
use crate::config::{Uri, redactar_texto};
use crate::domain::{Aforo, ClaveIdempotencia, Estado, EventoId, Fecha, Reserva, ReservaId};
use crate::error::{Error, Result};
use crate::store::{
    Cobro, Fase, FiltroReservas, Paso, Reclamo, RegistroSaga, ReservaStore, Retencion,
};

/// Both the connect timeout and the budget for `conectar` as a whole (plus a little slack),
/// so a down or unreachable server fails in about two seconds, as the contract asks.
const PLAZO_CONEXION: Duration = Duration::from_secs(2);
/// Scripts run in microseconds; a reply this late means the server is in trouble.
const PLAZO_RESPUESTA: Duration = Duration::from_secs(5);
/// Long enough for any client retry, short enough that abandoned keys do not pile up.
const TTL_IDEMPOTENCIA_S: u64 = 7 * 24 * 3600;
/// A lock that expires before the take's reply arrives would not protect anything.
const TTL_MIN_BLOQUEO_MS: i64 = 1000;

macro_rules! scripts {
    ($($nombre:ident = $archivo:literal;)*) => {
        $(static $nombre: LazyLock<Script> =
            LazyLock::new(|| Script::new(include_str!(concat!("lua/", $archivo))));)*
    };
}

scripts! {
    TOMAR = "tomar.lua";
    FIJAR_CONTADOR = "fijar_contador.lua";
    MARCAR = "marcar.lua";
    CONFIRMAR = "confirmar.lua";
    COMPLETAR = "completar.lua";
    RECLAMAR = "reclamar.lua";
    LIBERAR = "liberar.lua";
    RESTAURAR = "restaurar.lua";
    AJUSTAR_AFORO = "ajustar_aforo.lua";
    BORRAR_EVENTO = "borrar_evento.lua";
    VINCULAR_CLAVE = "vincular_clave.lua";
    REGISTRAR_COBRO = "registrar_cobro.lua";
    REGISTRAR_REEMBOLSO = "registrar_reembolso.lua";
}

type Hash = HashMap<String, String>;

/// What an idempotency key is bound to, stored as JSON.
#[derive(Serialize, Deserialize)]
struct Vinculo {
    huella: String,
    reserva: ReservaId,
}

/// The Redis implementation of [`ReservaStore`]. Cloning is cheap and shares the connection.
#[derive(Clone)]
pub struct RedisStore {
    con: ConnectionManager,
    claves: Claves,
    url: Uri,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.url)
            .field("claves", &self.claves)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects and PINGs once, so a wrong address fails here (`BackendCaido`, about two
    /// seconds at most) rather than at the first purchase. `prefijo` goes before every key.
    pub async fn conectar(url: &Uri, prefijo: &str) -> Result<Self> {
        let caido = |detalle: &str| Error::BackendCaido {
            backend: "Redis",
            direccion: url.redactada(),
            detalle: una_linea(&redactar_texto(detalle, &[url])),
        };
        let cliente = redis::Client::open(url.expose()).map_err(|e| {
            Error::Invalido(format!(
                "dirección de Redis inválida {}: {}; ejemplo: redis://localhost:6379/0",
                url.redactada(),
                redactar_texto(&e.to_string(), &[url])
            ))
        })?;
        // Few, short retries: the manager reconnects on its own later, but the first
        // connection must answer quickly or not at all.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(PLAZO_CONEXION))
            .set_response_timeout(Some(PLAZO_RESPUESTA))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_millis(400));
        let intento = async {
            let mut con = ConnectionManager::new_with_config(cliente, config).await?;
            redis::cmd("PING").query_async::<String>(&mut con).await?;
            Ok::<_, RedisError>(con)
        };
        let con = match tokio::time::timeout(PLAZO_CONEXION + Duration::from_millis(500), intento)
            .await
        {
            Ok(Ok(con)) => con,
            Ok(Err(e)) => return Err(caido(&e.to_string())),
            Err(_) => {
                return Err(caido(&format!(
                    "sin respuesta en {} s",
                    PLAZO_CONEXION.as_secs()
                )));
            }
        };
        Ok(Self {
            con,
            claves: Claves::new(prefijo),
            url: url.clone(),
        })
    }

    fn con(&self) -> ConnectionManager {
        self.con.clone()
    }

    /// Maps a driver error: connection trouble is `BackendCaido`, anything else `Interno`.
    /// The text is redacted because driver messages may quote the URL.
    fn error(&self, e: RedisError) -> Error {
        let texto = una_linea(&redactar_texto(&e.to_string(), &[&self.url]));
        let de_conexion = e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || matches!(
                e.kind(),
                ErrorKind::ClusterConnectionNotFound
                    | ErrorKind::AuthenticationFailed
                    | ErrorKind::Server(
                        ServerErrorKind::BusyLoading
                            | ServerErrorKind::MasterDown
                            | ServerErrorKind::TryAgain
                            | ServerErrorKind::ClusterDown
                            | ServerErrorKind::ReadOnly
                    )
            );
        if de_conexion {
            Error::BackendCaido {
                backend: "Redis",
                direccion: self.url.redactada(),
                detalle: texto,
            }
        } else {
            Error::Interno(anyhow!("error de Redis: {texto}"))
        }
    }

    /// Maps a script's refusal (`EF_<CODE> [detail]` error replies) through `mapa`;
    /// anything that is not ours goes through [`Self::error`].
    fn rechazo(&self, e: RedisError, mapa: impl FnOnce(&str, &str) -> Option<Error>) -> Error {
        match codigo_propio(&e) {
            Some((codigo, detalle)) => mapa(codigo, detalle).unwrap_or_else(|| {
                Error::Interno(anyhow!(
                    "respuesta inesperada de un script de Redis: {codigo} {detalle}"
                ))
            }),
            None => self.error(e),
        }
    }

    /// EVALSHA, falling back to EVAL on NOSCRIPT (`redis::Script` does the fallback).
    async fn correr<T: FromRedisValue>(
        &self,
        script: &Script,
        claves: &[&str],
        args: &[String],
    ) -> RedisResult<T> {
        let mut inv = script.prepare_invoke();
        for k in claves {
            inv.key(*k);
        }
        for a in args {
            inv.arg(a);
        }
        inv.invoke_async(&mut self.con()).await
    }

    /// Like `correr`, but sends `previo` first in the same pipeline. The server applies
    /// them in order, so whatever the script writes is never visible without `previo`'s
    /// write, even if this process dies mid-call (the index of a reservation must exist
    /// whenever its record does, and they live in different slots).
    async fn correr_tras<T: FromRedisValue>(
        &self,
        previo: redis::Cmd,
        script: &Script,
        claves: &[&str],
        args: &[String],
    ) -> RedisResult<T> {
        let mut con = self.con();
        let mut cargado = false;
        loop {
            let mut p = redis::pipe();
            p.ignore_errors();
            p.add_command(previo.clone()).ignore();
            p.cmd("EVALSHA")
                .arg(script.get_hash())
                .arg(claves.len())
                .arg(claves)
                .arg(args);
            let mut res: Vec<RedisResult<T>> = p.query_async(&mut con).await?;
            let res = res
                .pop()
                .ok_or_else(|| RedisError::from((ErrorKind::Client, "pipeline sin respuesta")))?;
            match res {
                Err(e) if !cargado && e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                    script.load_async(&mut con).await?;
                    cargado = true;
                }
                otro => return otro,
            }
        }
    }

    fn sin_contador(evento: &EventoId) -> Error {
        Error::Inconsistencia(format!(
            "el evento {evento} no tiene contador de entradas en Redis; \
             ejecute `eventflow verificar --evento {evento} --reparar`"
        ))
    }

    fn registro(&self, evento: &EventoId, id: &str, h: &Hash) -> Result<RegistroSaga> {
        hash::registro(&format!("{}{id}", self.claves.prefijo_registro(evento)), h)
    }

    /// The records of `(event, reservation id)` pairs, in one round trip. An empty hash
    /// is skipped: `borrar_evento` may have removed it since the ids were read.
    async fn registros(&self, ids: Vec<(EventoId, String)>) -> Result<Vec<RegistroSaga>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut p = redis::pipe();
        for (e, id) in &ids {
            p.cmd("HGETALL")
                .arg(format!("{}{id}", self.claves.prefijo_registro(e)));
        }
        let hashes: Vec<Hash> = p
            .query_async(&mut self.con())
            .await
            .map_err(|e| self.error(e))?;
        ids.iter()
            .zip(hashes)
            .filter(|(_, h)| !h.is_empty())
            .map(|((e, id), h)| self.registro(e, id, &h))
            .collect()
    }

    /// Runs `cmd` (with the event's key appended) for every event in one round trip and
    /// pairs each returned id with its event.
    async fn ids_por_evento(
        &self,
        eventos: &[EventoId],
        cmd: impl Fn(&EventoId) -> redis::Cmd,
    ) -> Result<Vec<(EventoId, String)>> {
        if eventos.is_empty() {
            return Ok(Vec::new());
        }
        let mut p = redis::pipe();
        for e in eventos {
            p.add_command(cmd(e));
        }
        let listas: Vec<Vec<String>> = p
            .query_async(&mut self.con())
            .await
            .map_err(|e| self.error(e))?;
        Ok(eventos
            .iter()
            .zip(listas)
            .flat_map(|(e, ids)| ids.into_iter().map(move |id| (e.clone(), id)))
            .collect())
    }

    /// The event a reservation belongs to, from the lookup index.
    async fn evento_de(&self, reserva: &ReservaId) -> Result<EventoId> {
        let clave = self.claves.indice(reserva.as_str());
        let e: Option<String> = redis::cmd("GET")
            .arg(&clave)
            .query_async(&mut self.con())
            .await
            .map_err(|e| self.error(e))?;
        let e = e.ok_or_else(|| Error::no_encontrado("reserva", reserva))?;
        EventoId::parse(&e).map_err(|_| {
            Error::Inconsistencia(format!(
                "dato corrupto en Redis: la clave {clave} no contiene un id de evento ({e:?})"
            ))
        })
    }

    fn cobro_de(&self, reserva: &RegistroSaga, h: &Hash) -> Result<Cobro> {
        let r = &reserva.reserva;
        hash::cobro(&self.claves.pago(&r.evento_id, &r.id), &r.id, h)
    }
}

/// Driver messages may span lines; an error is printed as one.
fn una_linea(texto: &str) -> String {
    texto.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `(code, detail)` of an error reply our scripts raised. The driver only splits off
/// the code when a detail follows it; a bare `-EF_X` arrives as a detail of its own.
fn codigo_propio(e: &RedisError) -> Option<(&str, &str)> {
    let detalle = e.detail().unwrap_or("").trim();
    match e.code() {
        Some(codigo) if codigo.starts_with("EF_") => Some((codigo, detalle)),
        _ if detalle.starts_with("EF_") => Some(detalle.split_once(' ').unwrap_or((detalle, ""))),
        _ => None,
    }
}

fn nombre_motivo(m: Reclamo) -> &'static str {
    match m {
        Reclamo::Vencida => "vencida",
        Reclamo::Forzada => "forzada",
        Reclamo::Cancelacion => "cancelacion",
    }
}

/// Lowering capacity or deleting an event while seats are out would strand them.
/// `detalle` is the counter the script saw.
fn entradas_fuera(aforo: Aforo, detalle: &str) -> Option<i64> {
    let contador: i64 = detalle.parse().ok()?;
    Some(i64::from(aforo.get()) - contador)
}

#[async_trait]
impl ReservaStore for RedisStore {
    async fn crear_contador(&self, evento: &EventoId, aforo: Aforo) -> Result<bool> {
        let (creado,): (Option<String>,) = redis::pipe()
            .cmd("SET")
            .arg(self.claves.contador(evento))
            .arg(aforo.get())
            .arg("NX")
            .cmd("SADD")
            .arg(self.claves.eventos())
            .arg(evento.as_str())
            .ignore()
            .query_async(&mut self.con())
            .await
            .map_err(|e| self.error(e))?;
        Ok(creado.is_some())
    }

    async fn contador(&self, evento: &EventoId) -> Result<Option<i64>> {
        let clave = self.claves.contador(evento);
        let v: Option<String> = redis::cmd("GET")
            .arg(&clave)
            .query_async(&mut self.con())
            .await
            .map_err(|e| self.error(e))?;
        v.map(|v| {
            v.parse().map_err(|_| {
                Error::Inconsistencia(format!(
                    "dato corrupto en Redis: el contador {clave} no es un entero ({v:?}); \
                     ejecute `eventflow verificar --evento {evento} --reparar`"
                ))
            })
        })
        .transpose()
    }

    async fn ajustar_aforo(&self, evento: &EventoId, anterior: Aforo, nuevo: Aforo) -> Result<()> {
        let (a, n) = (i64::from(anterior.get()), i64::from(nuevo.get()));
        let _: i64 = self
            .correr(
                &AJUSTAR_AFORO,
                &[&self.claves.contador(evento)],
                &[a.to_string(), n.to_string(), (n - a).to_string()],
            )
            .await
            .map_err(|e| {
                self.rechazo(e, |codigo, detalle| match codigo {
                    "EF_SIN_CONTADOR" => Some(Self::sin_contador(evento)),
                    "EF_FUERA" => {
                        let fuera = entradas_fuera(anterior, detalle)?;
                        Some(if fuera > 0 {
                            Error::Conflicto(format!(
                                "el evento {evento} tiene {fuera} entradas vendidas o retenidas; \
                                 no se puede bajar el aforo de {anterior} a {nuevo}"
                            ))
                        } else {
                            Error::Inconsistencia(format!(
                                "el contador del evento {evento} ({detalle}) supera su aforo \
                                 ({anterior}); ejecute `eventflow verificar --evento {evento} --reparar`"
                            ))
                        })
                    }
                    _ => None,
                })
            })?;
        Ok(())
    }

    async fn borrar_evento(&self, evento: &EventoId, aforo: Aforo) -> Result<()> {
        let con_ventas = |fuera: i64| {
            Error::Conflicto(format!(
                "el evento {evento} tiene {fuera} entradas vendidas o retenidas; no se puede \
                 eliminar: cancele antes sus reservas con `eventflow reservas cancelar`"
            ))
        };
        let ids: Vec<String> = self
            .correr(
                &BORRAR_EVENTO,
                &[
                    &self.claves.contador(evento),
                    &self.claves.reservas(evento),
                    &self.claves.retenidas(evento),
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
                    "EF_FUERA" => entradas_fuera(aforo, detalle).map(con_ventas),
                    "EF_RETENIDAS" => detalle.parse().ok().map(con_ventas),
                    _ => None,
                })
            })?;
        let mut p = redis::pipe();
        for lote in ids.chunks(500) {
            let claves: Vec<String> = lote.iter().map(|id| self.claves.indice(id)).collect();
            p.cmd("DEL").arg(claves).ignore();
        }
        p.cmd("SREM")
            .arg(self.claves.eventos())
            .arg(evento.as_str())
            .ignore();
        p.query_async::<()>(&mut self.con())
            .await
            .map_err(|e| self.error(e))
    }

    async fn fijar_contador(
        &self,
        evento: &EventoId,
        anterior: Option<i64>,
        valor: i64,
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
            redis::cmd("SADD")
                .arg(self.claves.eventos())
                .arg(evento.as_str())
                .query_async::<()>(&mut self.con())
                .await
                .map_err(|e| self.error(e))?;
        }
        Ok(fijado == 1)
    }

    async fn eventos(&self) -> Result<Vec<EventoId>> {
        let clave = self.claves.eventos();
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(&clave)
            .query_async(&mut self.con())
            .await
            .map_err(|e| self.error(e))?;
        let mut eventos = ids
            .iter()
            .map(|id| {
                EventoId::parse(id).map_err(|_| {
                    Error::Inconsistencia(format!(
                        "dato corrupto en Redis: el conjunto {clave} contiene {id:?}, que no es un id de evento"
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        eventos.sort();
        Ok(eventos)
    }

    async fn tomar(&self, r: &Retencion) -> Result<RegistroSaga> {
        let nuevo = RegistroSaga {
            reserva: Reserva {
                id: r.reserva.clone(),
                evento_id: r.evento.clone(),
                usuario_id: r.usuario.clone(),
                entradas: r.entradas,
                estado: Estado::Pendiente,
                importe: r.importe,
                creada: r.ahora,
                actualizada: r.ahora,
            },
            paso: Paso::Inventario,
            fase: Fase::Hecho,
            expira: r.expira,
            clave: r.clave.clone(),
            fecha_compra: None,
            terminada: false,
            reclamada_hasta: None,
        };
        let ttl = (r.expira.millis() - r.ahora.millis()).max(TTL_MIN_BLOQUEO_MS);
        let mut args = vec![
            r.reserva.to_string(),
            r.entradas.to_string(),
            r.expira.millis().to_string(),
            ttl.to_string(),
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
                set_indice,
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
                    "EF_EN_CURSO" => Some(Error::Conflicto(format!(
                        "el usuario {} ya tiene una compra en curso para el evento {}",
                        r.usuario, r.evento
                    ))),
                    "EF_SIN_EVENTO" => Some(Error::no_encontrado("evento", &r.evento)),
                    "EF_SIN_ENTRADAS" => Some(Error::SinEntradas {
                        evento: r.evento.to_string(),
                        pedidas: r.entradas.get(),
                        disponibles: detalle.parse().ok()?,
                    }),
                    "EF_EXISTE" => Some(Error::Conflicto(format!(
                        "la reserva {} ya existe",
                        r.reserva
                    ))),
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

    async fn marcar(&self, reserva: &RegistroSaga, paso: Paso, fase: Fase) -> Result<()> {
        let r = &reserva.reserva;
        let _: i64 = self
            .correr(
                &MARCAR,
                &[&self.claves.registro(&r.evento_id, &r.id)],
                &[
                    paso.as_str().to_owned(),
                    fase.as_str().to_owned(),
                    Fecha::ahora().millis().to_string(),
                ],
            )
            .await
            .map_err(|e| {
                self.rechazo(e, |codigo, _| {
                    (codigo == "EF_NO_RESERVA").then(|| Error::no_encontrado("reserva", &r.id))
                })
            })?;
        Ok(())
    }

    async fn confirmar(&self, reserva: &RegistroSaga, fecha_compra: Fecha) -> Result<RegistroSaga> {
        let r = &reserva.reserva;
        let clave = self.claves.registro(&r.evento_id, &r.id);
        let h: Hash = self
            .correr(
                &CONFIRMAR,
                &[&clave],
                &[
                    fecha_compra.millis().to_string(),
                    Fecha::ahora().millis().to_string(),
                ],
            )
            .await
            .map_err(|e| {
                self.rechazo(e, |codigo, detalle| match codigo {
                    "EF_NO_RESERVA" => Some(Error::no_encontrado("reserva", &r.id)),
                    "EF_NO_PENDIENTE" => Some(Error::Conflicto(format!(
                        "la reserva {} ya no está pendiente (estado {detalle})",
                        r.id
                    ))),
                    "EF_RECLAMADA" => {
                        let hasta = Fecha::from_millis(detalle.parse().ok()?);
                        Some(Error::Conflicto(format!(
                            "la reserva {} ya no está pendiente: una compensación la reclamó hasta {hasta}",
                            r.id
                        )))
                    }
                    _ => None,
                })
            })?;
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
                &[r.id.to_string(), Fecha::ahora().millis().to_string()],
            )
            .await
            .map_err(|e| self.error(e))?;
        Ok(hecho == 1)
    }

    async fn reclamar(
        &self,
        reserva: &ReservaId,
        motivo: Reclamo,
        ahora: Fecha,
        lease_ms: i64,
    ) -> Result<Option<RegistroSaga>> {
        let evento = self.evento_de(reserva).await?;
        let clave = self.claves.registro(&evento, reserva);
        let h: Option<Hash> = self
            .correr(
                &RECLAMAR,
                &[&clave],
                &[
                    nombre_motivo(motivo).to_owned(),
                    ahora.millis().to_string(),
                    (ahora.millis() + lease_ms.max(1)).to_string(),
                ],
            )
            .await
            .map_err(|e| {
                self.rechazo(e, |codigo, _| {
                    (codigo == "EF_NO_RESERVA").then(|| Error::no_encontrado("reserva", reserva))
                })
            })?;
        h.map(|h| hash::registro(&clave, &h)).transpose()
    }

    async fn liberar(
        &self,
        reserva: &RegistroSaga,
        estado_final: Estado,
        ahora: Fecha,
    ) -> Result<bool> {
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
                ],
                &[
                    r.id.to_string(),
                    estado_final.as_str().to_owned(),
                    ahora.millis().to_string(),
                ],
            )
            .await
            .map_err(|e| {
                self.rechazo(e, |codigo, _| match codigo {
                    "EF_NO_RESERVA" => Some(Error::no_encontrado("reserva", &r.id)),
                    "EF_SIN_CONTADOR" => Some(Self::sin_contador(&r.evento_id)),
                    _ => None,
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
        let ids = self
            .ids_por_evento(std::slice::from_ref(evento), |e| {
                let mut c = redis::cmd("SMEMBERS");
                c.arg(self.claves.reservas(e));
                c
            })
            .await?;
        let mut registros = self.registros(ids).await?;
        ordenar(&mut registros);
        Ok(registros)
    }

    async fn listar(&self, filtro: &FiltroReservas) -> Result<Vec<RegistroSaga>> {
        let eventos = match &filtro.evento {
            Some(e) => vec![e.clone()],
            None => self.eventos().await?,
        };
        let ids = self
            .ids_por_evento(&eventos, |e| {
                let mut c = redis::cmd("SMEMBERS");
                c.arg(self.claves.reservas(e));
                c
            })
            .await?;
        let mut registros: Vec<RegistroSaga> = self
            .registros(ids)
            .await?
            .into_iter()
            .filter(|r| {
                filtro
                    .usuario
                    .as_ref()
                    .is_none_or(|u| &r.reserva.usuario_id == u)
            })
            .filter(|r| filtro.estado.is_none_or(|s| r.reserva.estado == s))
            .collect();
        ordenar(&mut registros);
        Ok(registros)
    }

    async fn vencidas(&self, ahora: Fecha) -> Result<Vec<RegistroSaga>> {
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

    async fn restaurar(&self, registro: &RegistroSaga) -> Result<()> {
        let r = &registro.reserva;
        redis::pipe()
            .cmd("SET")
            .arg(self.claves.indice(r.id.as_str()))
            .arg(r.evento_id.as_str())
            .ignore()
            .cmd("SADD")
            .arg(self.claves.eventos())
            .arg(r.evento_id.as_str())
            .ignore()
            .query_async::<()>(&mut self.con())
            .await
            .map_err(|e| self.error(e))?;
        let mut args = vec![
            r.id.to_string(),
            if registro.terminada { "1" } else { "0" }.to_owned(),
            registro.expira.millis().to_string(),
        ];
        for (campo, valor) in hash::campos(registro) {
            args.push(campo.to_owned());
            args.push(valor);
        }
        let _: i64 = self
            .correr(
                &RESTAURAR,
                &[
                    &self.claves.registro(&r.evento_id, &r.id),
                    &self.claves.reservas(&r.evento_id),
                    &self.claves.retenidas(&r.evento_id),
                ],
                &args,
            )
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    async fn vincular_clave(
        &self,
        clave: &ClaveIdempotencia,
        huella: &str,
        reserva: &ReservaId,
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
                &[json, TTL_IDEMPOTENCIA_S.to_string()],
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

    async fn registrar_cobro(
        &self,
        reserva: &RegistroSaga,
        aprobado: bool,
        ahora: Fecha,
    ) -> Result<Cobro> {
        let r = &reserva.reserva;
        let h: Hash = self
            .correr(
                &REGISTRAR_COBRO,
                &[&self.claves.pago(&r.evento_id, &r.id)],
                &[
                    r.importe.to_string(),
                    if aprobado { "1" } else { "0" }.to_owned(),
                    ahora.millis().to_string(),
                ],
            )
            .await
            .map_err(|e| self.error(e))?;
        self.cobro_de(reserva, &h)
    }

    async fn registrar_reembolso(
        &self,
        reserva: &RegistroSaga,
        ahora: Fecha,
    ) -> Result<Option<Cobro>> {
        let r = &reserva.reserva;
        let h: Option<Hash> = self
            .correr(
                &REGISTRAR_REEMBOLSO,
                &[&self.claves.pago(&r.evento_id, &r.id)],
                &[ahora.millis().to_string()],
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

    async fn ping(&self) -> Result<String> {
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut self.con())
            .await
            .map_err(|e| self.error(e))?;
        let version = info
            .lines()
            .find_map(|l| l.strip_prefix("redis_version:"))
            .map(str::trim)
            .unwrap_or("(versión desconocida)");
        Ok(format!("Redis {version}"))
    }
}

/// Listing order: oldest first, id as the tie-break so the order is stable.
fn ordenar(registros: &mut [RegistroSaga]) {
    registros
        .sort_by(|a, b| (a.reserva.creada, &a.reserva.id).cmp(&(b.reserva.creada, &b.reserva.id)));
}
