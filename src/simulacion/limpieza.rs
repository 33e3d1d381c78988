//! `--limpiar`: cancel what the run sold, then delete its event and buyers.

use futures::StreamExt;
use mongodb::bson::oid::ObjectId;

use crate::compra::Reservador;
use crate::domain::{Estado, EventoId, ReservaId, UsuarioId};
use crate::error::Error;

use super::*;

/// Removes what the run created with the core's own operations: each confirmed purchase
/// is cancelled (refund, seats back, history and read model undone), which lets the
/// event be deleted (its counter, records and ledger go with it), and leaves the
/// buyers without history, so they can be deleted too. Nothing here needs a store
/// operation beyond what `reservas cancelar`, `eventos eliminar` and `usuarios eliminar` use.
pub(super) async fn limpiar(
    r: &Reservador, evento: &EventoId, compradores: &[ObjectId], concurrencia: usize,
    progreso: &dyn SimulationProgress,
) -> Limpieza {
    let mut l = Limpieza {
        compras_canceladas: 0,
        evento_eliminado: false,
        compradores_eliminados: 0,
        completa: false,
        errores: Vec::new(),
        causa: None,
    };
    pub(super) fn fallo(l: &mut Limpieza, e: Error) {
        if l.errores.len() < MAX_ERRORES_LIMPIEZA {
            l.errores.push(e.to_string());
        }
        l.causa.get_or_insert(e);
    }
    let alm = &r.almacen;
    let confirmadas: Vec<ReservaId> = match alm.reservas.de_evento(evento).await {
        Ok(regs) => regs
            .into_iter()
            .filter(|g| g.reserva.estado == Estado::Confirmada)
            .map(|g| g.reserva.id)
            .collect(),
        Err(e) => {
            fallo(&mut l, e);
            return l;
        }
    };
    progreso.etapa(
        Etapa::Limpieza,
        (confirmadas.len() + compradores.len() + 1) as u64,
    );
    let mut cancelaciones = futures::stream::iter(confirmadas)
        .map(|id| async move { crate::compra::cancelar(r, &id).await })
        .buffer_unordered(concurrencia);
    while let Some(res) = cancelaciones.next().await {
        progreso.avance(1);
        match res {
            Ok(_) => l.compras_canceladas += 1,
            Err(e) => fallo(&mut l, e),
        }
    }
    drop(cancelaciones);
    if l.causa.is_some() {
        return l;
    }
    match crate::casos::eventos::eliminar(alm, evento).await {
        Ok(()) => l.evento_eliminado = true,
        Err(e) => fallo(&mut l, e),
    }
    progreso.avance(1);
    let mut bajas = futures::stream::iter(compradores)
        .map(|u| async move { alm.usuarios.eliminar(&UsuarioId::from(*u)).await })
        .buffer_unordered(concurrencia);
    while let Some(res) = bajas.next().await {
        progreso.avance(1);
        match res {
            Ok(()) => l.compradores_eliminados += 1,
            Err(e) => fallo(&mut l, e),
        }
    }
    drop(bajas);
    l.completa = l.causa.is_none();
    l
}
