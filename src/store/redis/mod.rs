//! Redis: seats, purchase records, locks, idempotency keys and the payment ledger (the CP
//! side). Every multi-key change to one event is one Lua script in `lua/`, so it is atomic
//! and stays inside the event's Cluster slot; `claves` is the key layout, `hash` the record format.

mod claves;
mod conexion;
mod contadores;
mod hash;
mod paginas;
mod pagos;
mod registro;
mod reservas;
mod retencion;
mod topologia;

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use anyhow::anyhow;
use futures::{StreamExt, TryStreamExt};
use redis::{ErrorKind, FromRedisValue, RedisError, RedisResult, Script, ServerErrorKind, Value};
use serde::{Deserialize, Serialize};

use self::claves::Claves;
use self::conexion::caida;
pub use self::conexion::{Conexion, Plazos};
pub use self::topologia::{NodoRedis, Topologia};
use crate::config::{Uri, redactar_texto};
use crate::domain::{EventoId, ReservaId};
use crate::error::{Error, Result};
use crate::store::{Cobro, RegistroSaga};

/// Both the connect timeout and the budget for `conectar` as a whole (plus a little slack),
/// so a down or unreachable server fails in about two seconds, as the contract asks.
const PLAZO_CONEXION: Duration = Duration::from_secs(2);
/// Scripts run in microseconds; a reply this late means the server is in trouble.
const PLAZO_RESPUESTA: Duration = Duration::from_secs(5);
/// How long a write waits for its replicas (`WAIT`) before it counts as not stored: far
/// above a healthy replica's lag (well under a millisecond on a LAN), far below a client's
/// patience.
pub const PLAZO_REPLICAS_MS: u64 = 1000;
/// Concurrent reads in flight when a listing reads keys of many events on a cluster.
const LECTURAS_EN_VUELO: usize = 64;

/// A Lua script: its text (for `EVAL` after a `NOSCRIPT`) and its SHA-1 (for `EVALSHA`).
struct Guion {
    script: Script,
    codigo: &'static str,
}

/// How the `WAIT` shortfall's message starts: the driver hands it back inside its own
/// I/O error text, and `error()` finds it by this.
const SIN_REPLICAS: &str = "la escritura llegó al primario";

/// Every script starts with `reloj.lua`, the server's clock.
macro_rules! scripts {
    ($($nombre:ident = $archivo:literal;)*) => {
        $(static $nombre: LazyLock<Guion> = LazyLock::new(|| {
            let codigo = concat!(include_str!("lua/reloj.lua"), include_str!(concat!("lua/", $archivo)));
            Guion { script: Script::new(codigo), codigo }
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

/// The Redis implementation of [`ReservaStore`], on one node or on Redis Cluster (the
/// same code: [`Conexion`] covers both). Cloning is cheap and shares the connection.
#[derive(Clone)]
pub struct RedisStore {
    con: Conexion,
    claves: Claves,
    url: Uri,
    /// Replicas every write waits for (`WAIT`); 0 waits for none.
    replicas: u32,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.url)
            .field("claves", &self.claves)
            .field("replicas", &self.replicas)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects with the mode's default replica wait (see [`Self::conectar_con`]).
    pub async fn conectar(url: &Uri, prefijo: &str) -> Result<Self> {
        Self::conectar_con(url, prefijo, None).await
    }

    /// Connects and PINGs once, so a wrong address fails here (`BackendCaido`, about two
    /// seconds at most) rather than at the first purchase. `prefijo` goes before every key.
    /// `url` is one node, or a comma-separated list of Redis Cluster nodes. Every write
    /// then waits for `replicas_min` replicas (`None`: 1 on a cluster, 0 on one node;
    /// `docs/consistency.md`, "Redis Cluster").
    pub async fn conectar_con(url: &Uri, prefijo: &str, replicas_min: Option<u32>) -> Result<Self> {
        let caido = |detalle: &str| {
            Error::caido("Redis", url.redactada(), &redactar_texto(detalle, &[url]))
        };
        let plazos = Plazos {
            conexion: PLAZO_CONEXION,
            respuesta: PLAZO_RESPUESTA,
            reintentos: 2,
        };
        let con = match tokio::time::timeout(
            PLAZO_CONEXION + Duration::from_millis(500),
            Conexion::abrir(url, plazos),
        )
        .await
        {
            Ok(Ok(con)) => con,
            Ok(Err(e)) if e.kind() == ErrorKind::InvalidClientConfig => {
                return Err(Error::Invalido(format!(
                    "dirección de Redis inválida {}: {}; ejemplo: redis://localhost:6379/0 o, \
                     para Redis Cluster, redis://10.0.0.1:7000,redis://10.0.0.2:7000",
                    url.redactada(),
                    una_linea(&redactar_texto(&e.to_string(), &[url]))
                )));
            }
            Ok(Err(e)) => return Err(caido(&e.to_string())),
            Err(_) => {
                return Err(caido(&format!(
                    "sin respuesta en {} s",
                    PLAZO_CONEXION.as_secs()
                )));
            }
        };
        let replicas = replicas_min.unwrap_or(u32::from(con.es_cluster()));
        Ok(Self {
            con,
            claves: Claves::new(prefijo),
            url: url.clone(),
            replicas,
        })
    }

    fn con(&self) -> Conexion {
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
            // MOVED/ASK/TRYAGAIN/CLUSTERDOWN that outlived the client's retries: a failover.
            || e.is_cluster_error()
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
        if let Some(i) = texto.find(SIN_REPLICAS) {
            // Our own `WAIT` verdict (`comprobar_espera`) already says what happened.
            Error::BackendCaido {
                backend: "Redis",
                direccion: self.url.redactada(),
                detalle: texto[i..].to_owned(),
            }
        } else if de_conexion {
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

    /// Runs a script on its keys' slot (every key of one call shares the event's hash tag)
    /// and waits for the replicas (see [`Self::correr_tras`]).
    async fn correr<T: FromRedisValue>(
        &self, script: &Guion, claves: &[&str], args: &[String],
    ) -> RedisResult<T> {
        self.correr_tras(None, script, claves, args).await
    }

    /// Runs `script` with `EVALSHA`, then `WAIT <replicas> <ms>` in the same pipeline, so
    /// the wait goes to the node that ran the script (on a cluster the client routes the
    /// pipeline by its one keyed command; `WAIT` alone would go to every primary). A
    /// `NOSCRIPT` (a new primary after a failover, a restart) is answered by sending the
    /// script's text with `EVAL` to that same node: `redis::Script`'s own fallback loads it
    /// with `SCRIPT LOAD`, which the cluster client sends to every node and which fails
    /// while one of them is down. Too few replicas in time is an I/O-kind error (exit 7):
    /// the write happened on the primary but may not survive its loss.
    ///
    /// `previo` is written first. On one node it goes in the same pipeline, which the
    /// server applies in order, so whatever the script writes is never visible without
    /// `previo`'s write, even if this process dies mid-call; on a cluster it lives on
    /// another slot, so it is written (and waited for) before the script is sent.
    async fn correr_tras<T: FromRedisValue>(
        &self, previo: Option<redis::Cmd>, script: &Guion, claves: &[&str], args: &[String],
    ) -> RedisResult<T> {
        let mut con = self.con();
        let previo = match previo {
            Some(c) if con.es_cluster() => {
                let mut p = redis::pipe();
                p.add_command(c).ignore();
                self.escribir(p).await?;
                None
            }
            otro => otro,
        };
        let mut con_texto = false;
        loop {
            let mut p = redis::pipe();
            p.ignore_errors();
            if let Some(c) = &previo {
                p.add_command(c.clone()).ignore();
            }
            if con_texto {
                p.cmd("EVAL").arg(script.codigo);
            } else {
                p.cmd("EVALSHA").arg(script.script.get_hash());
            }
            p.arg(claves.len()).arg(claves).arg(args);
            self.anadir_espera(&mut p);
            let mut res: Vec<RedisResult<Value>> = p.query_async(&mut con).await?;
            let espera = if self.replicas > 0 { res.pop() } else { None };
            let valor = res
                .pop()
                .ok_or_else(|| RedisError::from((ErrorKind::Client, "pipeline sin respuesta")))?;
            match valor {
                Err(e)
                    if !con_texto && e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) =>
                {
                    con_texto = true;
                }
                Err(e) => return Err(e),
                Ok(v) => {
                    if let Some(espera) = espera {
                        self.comprobar_espera(espera)?;
                    }
                    return Ok(T::from_redis_value(v)?);
                }
            }
        }
    }

    /// Appends `WAIT <replicas> <ms>` when writes must reach replicas.
    fn anadir_espera(&self, p: &mut redis::Pipeline) {
        if self.replicas > 0 {
            p.cmd("WAIT").arg(self.replicas).arg(PLAZO_REPLICAS_MS);
        }
    }

    /// Turns a `WAIT` reply with fewer replicas than required into an I/O-kind error whose
    /// text starts with [`SIN_REPLICAS`], so [`Self::error`] keeps it whole.
    fn comprobar_espera(&self, espera: RedisResult<Value>) -> RedisResult<()> {
        let n = i64::from_redis_value(espera?)?;
        if n < i64::from(self.replicas) {
            return Err(caida(format!(
                "{SIN_REPLICAS} pero solo {n} de las {} réplicas exigidas \
                 (EVENTFLOW_REDIS_REPLICAS_MIN) la confirmaron en {PLAZO_REPLICAS_MS} ms; \
                 una compra así la termina `eventflow compensar` cuando vence su retención",
                self.replicas
            )));
        }
        Ok(())
    }

    /// Sends `p` (commands on ONE slot) and waits for the replicas as a script does.
    /// Returns the replies of the commands not marked `ignore()`.
    async fn escribir(&self, mut p: redis::Pipeline) -> RedisResult<Vec<Value>> {
        self.anadir_espera(&mut p);
        let mut res: Vec<Value> = p.query_async(&mut self.con()).await?;
        if self.replicas > 0 {
            let espera = res
                .pop()
                .ok_or_else(|| RedisError::from((ErrorKind::Client, "pipeline sin respuesta")))?;
            self.comprobar_espera(Ok(espera))?;
        }
        Ok(res)
    }

    /// Sends commands whose keys may sit on different slots and returns their replies in
    /// order: one pipeline on one node; on a cluster, each command to its slot's node, at
    /// most [`LECTURAS_EN_VUELO`] at a time (a pipeline must not span slots there).
    async fn leer_muchos<T: FromRedisValue + Send + 'static>(
        &self, cmds: Vec<redis::Cmd>,
    ) -> RedisResult<Vec<T>> {
        if cmds.is_empty() {
            return Ok(Vec::new());
        }
        if !self.con.es_cluster() {
            let mut p = redis::pipe();
            for c in cmds {
                p.add_command(c);
            }
            return p.query_async(&mut self.con()).await;
        }
        futures::stream::iter(cmds)
            .map(|c| {
                let mut con = self.con();
                async move { c.query_async::<T>(&mut con).await }
            })
            .buffered(LECTURAS_EN_VUELO)
            .try_collect()
            .await
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

    /// The records of `(event, reservation id)` pairs ([`Self::leer_muchos`]). An empty hash
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
        &self, ids: Vec<(EventoId, String)>,
    ) -> Result<Vec<(String, Result<RegistroSaga>)>> {
        let cmds = ids
            .iter()
            .map(|(e, id)| {
                let mut c = redis::cmd("HGETALL");
                c.arg(format!("{}{id}", self.claves.prefijo_registro(e)));
                c
            })
            .collect();
        let hashes: Vec<Hash> = self.leer_muchos(cmds).await.map_err(|e| self.error(e))?;
        Ok(ids
            .iter()
            .zip(hashes)
            .filter(|(_, h)| !h.is_empty())
            .map(|((e, id), h)| (id.clone(), self.registro(e, id, &h)))
            .collect())
    }

    /// Runs `cmd` (on a key of the event) for every event ([`Self::leer_muchos`]) and
    /// pairs each returned id with its event.
    async fn ids_por_evento(
        &self, eventos: &[EventoId], cmd: impl Fn(&EventoId) -> redis::Cmd,
    ) -> Result<Vec<(EventoId, String)>> {
        let listas: Vec<Vec<String>> = self
            .leer_muchos(eventos.iter().map(cmd).collect())
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
