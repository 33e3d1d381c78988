//! One connection type for both Redis modes: a single node (`ConnectionManager`, which
//! reconnects by itself) or Redis Cluster (the `redis` crate's async cluster client, which
//! follows `MOVED`/`ASK` and refreshes its slot map after a failover). The store talks to
//! [`Conexion`] only, so every operation is written once for both modes.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};

use crate::config::Uri;

/// A connection to one Redis node or to a Redis Cluster. Cloning is cheap and shares it.
#[derive(Clone)]
pub enum Conexion {
    Nodo(ConnectionManager),
    Cluster(ClusterConnection),
}

/// How long to wait for a connection, and for a reply, and how often to retry.
#[derive(Debug, Clone, Copy)]
pub struct Plazos {
    pub conexion: Duration,
    pub respuesta: Duration,
    pub reintentos: u32,
}

impl Conexion {
    /// Opens a connection: Redis Cluster when `url` is a list of node URLs, else a single
    /// node. Checks it with one `PING` (to any one node on a cluster, so a cluster that
    /// lost a primary still connects and serves the other slots).
    pub async fn abrir(url: &Uri, plazos: Plazos) -> RedisResult<Self> {
        let mut con = if url.es_lista() {
            let nodos: Vec<String> = url.nodos().iter().map(|n| n.expose().to_owned()).collect();
            let cliente = ClusterClientBuilder::new(nodos)
                .connection_timeout(plazos.conexion)
                .response_timeout(plazos.respuesta)
                .retries(plazos.reintentos)
                .min_retry_wait(100)
                .max_retry_wait(400)
                .build()?;
            Conexion::Cluster(cliente.get_async_connection().await?)
        } else {
            let cliente = redis::Client::open(url.expose())?;
            // Few, short retries: the manager reconnects on its own later, but the first
            // connection must answer quickly or not at all.
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(plazos.conexion))
                .set_response_timeout(Some(plazos.respuesta))
                .set_number_of_retries(plazos.reintentos as usize)
                .set_min_delay(Duration::from_millis(100))
                .set_max_delay(Duration::from_millis(400));
            Conexion::Nodo(ConnectionManager::new_with_config(cliente, config).await?)
        };
        con.a_un_nodo(redis::cmd("PING")).await?;
        Ok(con)
    }

    pub fn es_cluster(&self) -> bool {
        matches!(self, Conexion::Cluster(_))
    }

    /// Sends a command that names no key to one node: any node on a cluster, where the
    /// client would otherwise fan `PING`, `INFO` or `CLUSTER NODES` out to every primary
    /// and fail if one of them is down.
    pub async fn a_un_nodo(&mut self, cmd: Cmd) -> RedisResult<Value> {
        match self {
            Conexion::Nodo(c) => cmd.query_async(c).await,
            Conexion::Cluster(c) => {
                c.route_command(cmd, RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random))
                    .await
            }
        }
    }
}

impl ConnectionLike for Conexion {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conexion::Nodo(c) => c.req_packed_command(cmd),
            Conexion::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self, pipeline: &'a Pipeline, offset: usize, count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conexion::Nodo(c) => c.req_packed_commands(pipeline, offset, count),
            Conexion::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conexion::Nodo(c) => c.get_db(),
            Conexion::Cluster(c) => c.get_db(),
        }
    }
}

/// Makes an I/O-kind error (so the store reports the backend as unreachable, exit 7).
pub fn caida(detalle: String) -> RedisError {
    RedisError::from(std::io::Error::new(std::io::ErrorKind::TimedOut, detalle))
}
