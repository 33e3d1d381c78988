//! Events: the static description plus the read model of their sales.

use serde::{Deserialize, Serialize};

use super::{Aforo, EventoId, Fecha, Precio, ReservaId, Texto};

/// A stored event, as the contract prints it. `entradas_disponibles` and
/// `reservas_activas` are MongoDB's read model of the confirmed purchases; the live
/// counter is in the reservation store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evento {
    pub id: EventoId,
    pub nombre: Texto,
    pub fecha: Fecha,
    pub lugar: Texto,
    pub aforo_total: Aforo,
    pub entradas_disponibles: i64,
    #[serde(default)]
    pub reservas_activas: Vec<ReservaId>,
    #[serde(default)]
    pub precio: Precio,
}

/// An event to be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NuevoEvento {
    pub nombre: Texto,
    pub fecha: Fecha,
    pub lugar: Texto,
    pub aforo: Aforo,
    pub precio: Precio,
}

impl NuevoEvento {
    pub fn en(self, id: EventoId) -> Evento {
        Evento {
            id,
            nombre: self.nombre,
            fecha: self.fecha,
            lugar: self.lugar,
            aforo_total: self.aforo,
            entradas_disponibles: i64::from(self.aforo.get()),
            reservas_activas: Vec::new(),
            precio: self.precio,
        }
    }
}

/// A partial update; `None` leaves the field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CambiosEvento {
    pub nombre: Option<Texto>,
    pub fecha: Option<Fecha>,
    pub lugar: Option<Texto>,
    pub aforo: Option<Aforo>,
    pub precio: Option<Precio>,
}

impl CambiosEvento {
    pub fn es_vacio(&self) -> bool {
        self == &Self::default()
    }
}
