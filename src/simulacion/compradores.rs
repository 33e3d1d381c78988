//! The run's marks and its simulated buyers: creating them, finding them, and refusing to
//! run over real data.

use std::collections::HashSet;

use mongodb::bson::oid::ObjectId;

use crate::domain::{Email, EventoId, NuevoUsuario, Texto};
use crate::error::{Error, Result};
use crate::store::{Almacen, ModoImport};

use futures::TryStreamExt;

use super::*;
use crate::store::paginas;

/// Names and marks for one run.
pub(super) struct Corrida {
    /// `20250601t120000123-3fa9`: the start instant plus a random tag, so two runs
    /// started in the same millisecond still differ.
    pub(super) id: String,
    pub(super) inicio: chrono::DateTime<chrono::Utc>,
    /// RFC 3339 with milliseconds, for the event's name.
    pub(super) fecha: String,
}

impl Corrida {
    pub(super) fn nueva() -> Self {
        let inicio = chrono::Utc::now();
        Self {
            id: format!(
                "{}-{:04x}",
                inicio.format("%Y%m%dt%H%M%S%3f"),
                rand::random::<u16>()
            ),
            fecha: inicio.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            inicio,
        }
    }

    pub(super) fn email(&self, n: u32) -> Result<Email> {
        Ok(Email::parse(&format!("sim-{}-{n}@{DOMINIO}", self.id))?)
    }

    /// The buyer number of one of this run's emails.
    pub(super) fn numero(&self, email: &str) -> Option<usize> {
        email
            .strip_prefix("sim-")?
            .strip_prefix(self.id.as_str())?
            .strip_prefix('-')?
            .strip_suffix(DOMINIO)?
            .strip_suffix('@')?
            .parse()
            .ok()
    }
}

pub(super) fn con_datos_reales(que: String) -> Error {
    Error::Conflicto(format!(
        "{que}, que no es de una simulación: simular crea miles de compradores y no se mezcla \
         con datos reales; apunte a un almacén vacío (--mongo-db y --redis-prefix, o \
         --data-dir con el backend embebido) o añada --permitir-datos-existentes"
    ))
}

/// Refuses if any user, event or seat counter was not created by a simulation. Stops at
/// the first one, so a real database is refused after one page.
pub(super) async fn comprobar_sin_datos_reales(alm: &Almacen) -> Result<()> {
    let mut usuarios = std::pin::pin!(paginas::de_usuarios(alm.usuarios.as_ref(), PAGINA));
    while let Some(pagina) = usuarios.try_next().await? {
        if let Some(u) = pagina.iter().find(|u| !es_usuario_simulado(u)) {
            return Err(con_datos_reales(format!(
                "la base de datos ya tiene el usuario {}",
                u.id
            )));
        }
    }
    let mut simulados: HashSet<EventoId> = HashSet::new();
    let mut eventos = std::pin::pin!(paginas::de_eventos(alm.eventos.as_ref(), PAGINA));
    while let Some(pagina) = eventos.try_next().await? {
        if let Some(e) = pagina.iter().find(|e| !es_evento_simulado(e)) {
            return Err(con_datos_reales(format!(
                "la base de datos ya tiene el evento {} ({})",
                e.id, e.nombre
            )));
        }
        simulados.extend(pagina.into_iter().map(|e| e.id));
    }
    // A counter without an event in this database belongs to another one that shares
    // the Redis prefix.
    if let Some(e) = alm
        .reservas
        .eventos()
        .await?
        .into_iter()
        .find(|e| !simulados.contains(e))
    {
        return Err(con_datos_reales(format!(
            "el almacén de reservas ya tiene el evento {e}"
        )));
    }
    Ok(())
}

pub(super) async fn crear_compradores(
    alm: &Almacen, corrida: &Corrida, n: u32, progreso: &dyn SimulationProgress,
) -> Result<()> {
    let nombre = Texto::parse("nombre", "Comprador")?;
    let mut desde = 0;
    while desde < n {
        let hasta = desde.saturating_add(LOTE_COMPRADORES).min(n);
        let lote = (desde..hasta)
            .map(|k| {
                Ok(NuevoUsuario {
                    nombre: nombre.clone(),
                    apellido: Texto::parse("apellido", &format!("Simulado {k}"))?,
                    email: corrida.email(k)?,
                    documento: None,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let res = alm.usuarios.importar(lote, ModoImport::Insertar).await?;
        if let Some((fila, motivo)) = res.rechazados.first() {
            return Err(Error::Conflicto(format!(
                "no se pudo crear el comprador simulado {}: {motivo}",
                desde as usize + fila
            )));
        }
        progreso.avance(u64::from(hasta - desde));
        desde = hasta;
    }
    Ok(())
}

/// The ids of this run's buyers, by buyer number. The bulk insert does not return user
/// ids, so they are read back by scanning for this run's emails. Every id is 24 hex
/// digits on every backend, so they are kept as 12 bytes rather than as text: a fifth
/// of the memory for a crowd of 100,000.
pub(super) async fn ids_compradores(
    alm: &Almacen, corrida: &Corrida, n: u32,
) -> Result<Vec<ObjectId>> {
    let n = n as usize;
    let mut ids: Vec<Option<ObjectId>> = vec![None; n];
    let mut encontrados = 0;
    let mut usuarios = std::pin::pin!(paginas::de_usuarios(alm.usuarios.as_ref(), PAGINA));
    while encontrados < n
        && let Some(pagina) = usuarios.try_next().await?
    {
        for u in pagina {
            if let Some(k) = corrida.numero(u.email.as_str()).filter(|k| *k < n)
                && ids[k].is_none()
            {
                ids[k] = Some(u.id.oid());
                encontrados += 1;
            }
        }
    }
    if encontrados < n {
        return Err(Error::Inconsistencia(format!(
            "se crearon {n} compradores simulados pero solo se encuentran {encontrados}"
        )));
    }
    Ok(ids.into_iter().flatten().collect())
}
