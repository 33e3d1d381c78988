//! What `estado` shows of Redis: the mode, every node and whether it answers. On a
//! cluster the nodes come from `CLUSTER NODES` (asked of any node that answers, else
//! the configured ones), and each is PINGed on a connection of its own, so a dead primary
//! shows as such instead of failing the whole report.

use std::time::Duration;

use serde::Serialize;

use super::{RedisStore, una_linea};
use crate::config::{Uri, redactar_texto};

/// How long `estado` waits for each node.
const PLAZO_NODO: Duration = Duration::from_secs(1);

/// One Redis node as `estado` reports it.
#[derive(Debug, Clone, Serialize)]
pub struct NodoRedis {
    /// `host:port`.
    pub direccion: String,
    /// `primario` or `replica`, as the cluster sees it (`primario` on one node).
    pub rol: String,
    pub responde: bool,
}

/// The Redis side of `estado`.
#[derive(Debug, Clone, Serialize)]
pub struct Topologia {
    /// `nodo` (one server) or `cluster` (Redis Cluster).
    pub modo: &'static str,
    /// Replicas every write waits for (`EVENTFLOW_REDIS_REPLICAS_MIN`).
    pub replicas_min: u32,
    pub nodos: Vec<NodoRedis>,
}

impl RedisStore {
    /// The mode, the nodes and which ones answer. Never fails: a node that cannot be
    /// reached is reported as not answering.
    pub async fn topologia(&self) -> Topologia {
        if !self.con.es_cluster() {
            let direccion = self
                .url
                .redactada()
                .split('@')
                .next_back()
                .unwrap_or_default()
                .trim_start_matches("redis://")
                .trim_start_matches("rediss://")
                .trim_end_matches('/')
                .to_owned();
            return Topologia {
                modo: "nodo",
                replicas_min: self.replicas,
                nodos: vec![NodoRedis {
                    direccion,
                    rol: "primario".into(),
                    responde: ping(&self.url).await,
                }],
            };
        }
        let mut nodos = self.nodos_del_cluster().await;
        if nodos.is_empty() {
            nodos = self
                .url
                .nodos()
                .iter()
                .filter_map(|u| url::Url::parse(u.expose()).ok())
                .map(|u| {
                    (
                        format!(
                            "{}:{}",
                            u.host_str().unwrap_or_default(),
                            u.port().unwrap_or(6379)
                        ),
                        "desconocido".to_owned(),
                    )
                })
                .collect();
        }
        let base = self.url.nodos().remove(0);
        let sondeos = nodos.into_iter().map(|(direccion, rol)| {
            let base = base.clone();
            async move {
                let responde = match con_direccion(&base, &direccion) {
                    Some(u) => ping(&u).await,
                    None => false,
                };
                NodoRedis {
                    direccion,
                    rol,
                    responde,
                }
            }
        });
        Topologia {
            modo: "cluster",
            replicas_min: self.replicas,
            nodos: futures::future::join_all(sondeos).await,
        }
    }

    /// `(host:port, role)` of every node `CLUSTER NODES` lists, sorted; empty if no
    /// node answers.
    async fn nodos_del_cluster(&self) -> Vec<(String, String)> {
        let Ok(redis::Value::BulkString(texto)) = self
            .con()
            .a_un_nodo(redis::cmd("CLUSTER").arg("NODES").clone())
            .await
        else {
            return Vec::new();
        };
        let texto = String::from_utf8_lossy(&texto);
        let mut nodos: Vec<(String, String)> = texto
            .lines()
            .filter_map(|l| {
                let campos: Vec<&str> = l.split_whitespace().collect();
                let direccion = campos.get(1)?.split('@').next()?.to_owned();
                let banderas = campos.get(2)?;
                let rol = if banderas.contains("master") {
                    "primario"
                } else {
                    "replica"
                };
                Some((direccion, rol.to_owned()))
            })
            .collect();
        nodos.sort();
        nodos
    }
}

/// `base` (credentials, TLS) pointed at `host:port` instead.
fn con_direccion(base: &Uri, direccion: &str) -> Option<Uri> {
    let mut u = url::Url::parse(base.expose()).ok()?;
    let (host, port) = direccion.rsplit_once(':')?;
    u.set_host(Some(host)).ok()?;
    u.set_port(Some(port.parse().ok()?)).ok()?;
    Some(Uri::new(u.to_string()))
}

/// Whether one node answers `PING` within [`PLAZO_NODO`], on a plain connection.
async fn ping(url: &Uri) -> bool {
    let intento = async {
        let cliente = redis::Client::open(url.expose())?;
        let mut con = cliente.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut con).await
    };
    match tokio::time::timeout(PLAZO_NODO, intento).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            tracing::debug!(
                "el nodo {} no responde: {}",
                url.redactada(),
                una_linea(&redactar_texto(&e.to_string(), &[url]))
            );
            false
        }
        Err(_) => false,
    }
}
