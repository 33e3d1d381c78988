//! Redis: seats, purchase records, locks, idempotency keys and the payment ledger (the CP
//! side). Every multi-key change to one event is one Lua script in `lua/`, so it is atomic
//! and stays inside the event's Cluster slot; `claves` is the key layout, `hash` the record format.

mod claves;
mod hash;
mod paginas;
mod pagos;
mod reservas;
mod retencion;

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use anyhow::anyhow;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, FromRedisValue, RedisError, RedisResult, Script, ServerErrorKind};
use serde::{Deserialize, Serialize};

use self::claves::Claves;
use crate::config::{Uri, redactar_texto};
use crate::domain::{EventoId, ReservaId};
use crate::error::{Error, Result};
use crate::store::{Cobro, RegistroSaga};

/// Both the connect timeout and the budget for `conectar` as a whole (plus a little slack),
/// so a down or unreachable server fails in about two seconds, as the contract asks.
const PLAZO_CONEXION: Duration = Duration::from_secs(2);
/// Scripts run in microseconds; a reply this late means the server is in trouble.
const PLAZO_RESPUESTA: Duration = Duration::from_secs(5);
/// Long enough for any client retry, short enough that abandoned keys do not pile up.
const TTL_IDEMPOTENCIA_S: u64 = 7 * 24 * 3600;
/// A lock that expires before the take's reply arrives would not protect anything.
const TTL_MIN_BLOQUEO_MS: i64 = 1000;

/// Every script starts with `reloj.lua`, the server's clock.
macro_rules! scripts {
    ($($nombre:ident = $archivo:literal;)*) => {
        $(static $nombre: LazyLock<Script> = LazyLock::new(|| {
            Script::new(concat!(include_str!("lua/reloj.lua"), include_str!(concat!("lua/", $archivo))))
        });)*
    };
}

scripts! {
    TOMAR = "tomar.lua";
    FIJAR_CONTADOR = "fijar_contador.lua";
    RECALCULAR_CONTADOR = "recalcular_contador.lua";
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
    PAGINA_RESERVAS = "pagina_reservas.lua";
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
        let caido = |detalle: &str| {
            Error::caido("Redis", url.redactada(), &redactar_texto(detalle, &[url]))
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
            Error::caido("Redis", self.url.redactada(), &texto)
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

    /// An integer key of `evento` (counter, capacity), `None` when missing.
    async fn entero(&self, clave: &str, evento: &EventoId) -> Result<Option<i64>> {
        let v: Option<String> = redis::cmd("GET")
            .arg(clave)
            .query_async(&mut self.con())
            .await
            .map_err(|e| self.error(e))?;
        v.map(|v| {
            v.parse().map_err(|_| {
                Error::Inconsistencia(format!(
                    "dato corrupto en Redis: {clave} no es un entero ({v:?}); \
                     ejecute `eventflow verificar --evento {evento} --reparar`"
                ))
            })
        })
        .transpose()
    }

    /// Every reservation id of each event, paired with its event.
    async fn miembros(&self, eventos: &[EventoId]) -> Result<Vec<(EventoId, String)>> {
        self.ids_por_evento(eventos, |e| {
            let mut c = redis::cmd("SMEMBERS");
            c.arg(self.claves.reservas(e));
            c
        })
        .await
    }

    fn registro(&self, evento: &EventoId, id: &str, h: &Hash) -> Result<RegistroSaga> {
        hash::registro(&format!("{}{id}", self.claves.prefijo_registro(evento)), h)
    }

    /// The records of `(event, reservation id)` pairs, in one round trip. An empty hash
    /// is skipped: `borrar_evento` may have removed it since the ids were read.
    async fn registros(&self, ids: Vec<(EventoId, String)>) -> Result<Vec<RegistroSaga>> {
        self.registros_leidos(ids)
            .await?
            .into_iter()
            .map(|(_, r)| r)
            .collect()
    }

    /// Like `registros`, each record with its id and its own read result, so a listing
    /// can skip one that does not read back.
    async fn registros_leidos(
        &self,
        ids: Vec<(EventoId, String)>,
    ) -> Result<Vec<(String, Result<RegistroSaga>)>> {
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
        Ok(ids
            .iter()
            .zip(hashes)
            .filter(|(_, h)| !h.is_empty())
            .map(|((e, id), h)| (id.clone(), self.registro(e, id, &h)))
            .collect())
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
