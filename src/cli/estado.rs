//! `eventflow estado`: which backend is in use, its addresses (passwords redacted),
//! whether each server answers and its version. Exits 7 when a server is down, so it
//! doubles as the container healthcheck.

use serde::Serialize;

use crate::cli::{Ctx, output};
use crate::config::{AjusteVisible, Backend, Origen};
use crate::error::{Error, Result};
use crate::store::redis::{RedisStore, Topologia};
use crate::store::{ReservaStore, StoreHealth, mongo::MongoStore};

#[derive(Debug, Serialize)]
struct Componente {
    nombre: &'static str,
    direccion: String,
    conectado: bool,
    version: Option<String>,
    error: Option<String>,
    /// Redis only: the mode (one node or cluster), its nodes and which ones answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    topologia: Option<Topologia>,
}

#[derive(Debug, Serialize)]
struct Informe {
    backend: &'static str,
    componentes: Vec<Componente>,
    configuracion: Configuracion,
}

/// Which config file was read and every setting with its source (secrets redacted).
#[derive(Debug, Serialize)]
struct Configuracion {
    archivo: Option<String>,
    ajustes: Vec<AjusteVisible>,
}

fn componente(nombre: &'static str, direccion: String, r: Result<String>) -> Componente {
    match r {
        Ok(v) => Componente {
            nombre,
            direccion,
            conectado: true,
            version: Some(v),
            error: None,
            topologia: None,
        },
        Err(e) => Componente {
            nombre,
            direccion,
            conectado: false,
            version: None,
            error: Some(e.to_string()),
            topologia: None,
        },
    }
}

fn configuracion(ctx: &Ctx) -> Configuracion {
    Configuracion {
        archivo: ctx
            .config
            .capas
            .archivo
            .as_ref()
            .map(|p| p.display().to_string()),
        ajustes: ctx.config.vista(),
    }
}

pub async fn run(ctx: &Ctx) -> Result<()> {
    let informe = sondear(ctx).await;
    output::informe(ctx.formato, &informe, &filas(&informe))?;
    let caidos: Vec<&str> = informe
        .componentes
        .iter()
        .filter(|c| !c.conectado)
        .map(|c| c.nombre)
        .collect();
    if caidos.is_empty() {
        Ok(())
    } else {
        let c = informe
            .componentes
            .iter()
            .find(|c| !c.conectado)
            .expect("non-empty");
        Err(Error::BackendCaido {
            backend: c.nombre,
            direccion: c.direccion.clone(),
            detalle: format!("sin conexión con {}", caidos.join(" y ")),
        })
    }
}

/// Asks every store of the configured backend whether it answers, each on its own, so a
/// down server does not hide the state of the other.
async fn sondear(ctx: &Ctx) -> Informe {
    match &ctx.config.backend {
        Backend::Mongo {
            mongo_uri,
            mongo_db,
            redis_url,
            redis_prefix,
            redis_replicas_min,
            ..
        } => {
            let (m, r) = tokio::join!(
                async {
                    let s = MongoStore::conectar(mongo_uri, mongo_db).await?;
                    let r = StoreHealth::ping(&s).await;
                    s.cerrar().await;
                    r
                },
                async {
                    let s = RedisStore::conectar_con(redis_url, redis_prefix, *redis_replicas_min)
                        .await?;
                    let (v, t) = tokio::join!(ReservaStore::ping(&s), s.topologia());
                    v.map(|v| (v, t))
                }
            );
            let (r, topologia) = match r {
                Ok((v, t)) => (Ok(v), Some(t)),
                Err(e) => (Err(e), None),
            };
            let mut redis = componente(
                "Redis",
                format!("{} (prefijo {redis_prefix:?})", redis_url.redactada()),
                r,
            );
            redis.topologia = topologia;
            Informe {
                backend: "mongo",
                configuracion: configuracion(ctx),
                componentes: vec![
                    componente(
                        "MongoDB",
                        format!("{} (base de datos {mongo_db})", mongo_uri.redactada()),
                        m,
                    ),
                    redis,
                ],
            }
        }
        Backend::Embedded { data_dir } => {
            let r = match ctx.almacen().await {
                Ok(alm) => alm.documentos.ping().await,
                Err(e) => Err(e),
            };
            let archivo = data_dir.join(crate::store::embedded::ARCHIVO);
            Informe {
                backend: "embedded",
                configuracion: configuracion(ctx),
                componentes: vec![componente("SQLite", archivo.display().to_string(), r)],
            }
        }
    }
}

/// The table's rows: the backend, each component (with the cluster's nodes), then the
/// configuration with each setting's source.
fn filas(informe: &Informe) -> Vec<(String, String)> {
    let mut filas = vec![("backend".to_owned(), informe.backend.to_owned())];
    for c in &informe.componentes {
        let estado = match (&c.version, &c.error) {
            (Some(v), _) => format!("conectado ({v})"),
            (None, Some(e)) => format!("sin conexión: {e}"),
            (None, None) => "sin conexión".into(),
        };
        let mut texto = format!("{}\n{estado}", c.direccion);
        if let Some(t) = &c.topologia {
            texto.push_str(&format!(
                "\nmodo {}, réplicas exigidas por escritura: {}",
                t.modo, t.replicas_min
            ));
            for n in &t.nodos {
                let responde = if n.responde {
                    "responde"
                } else {
                    "no responde"
                };
                texto.push_str(&format!("\n  {} {}: {responde}", n.direccion, n.rol));
            }
        }
        filas.push((c.nombre.to_owned(), texto));
    }
    filas.push((
        "configuración".into(),
        informe
            .configuracion
            .archivo
            .clone()
            .unwrap_or_else(|| "sin archivo de configuración".into()),
    ));
    for a in &informe.configuracion.ajustes {
        let origen = match a.origen {
            Origen::Flag => "opción".to_owned(),
            Origen::Entorno => a.env.clone(),
            Origen::Archivo => "archivo".into(),
            Origen::Defecto => "por defecto".into(),
        };
        let valor = a
            .valor
            .as_deref()
            .map_or("-".to_owned(), |v| format!("{v:?}"));
        filas.push((format!("  {}", a.clave), format!("{valor} ({origen})")));
    }
    filas
}
