//! Users, with their embedded purchase history (`historial_compras`).

use serde::{Deserialize, Serialize};

use super::{
    Documento, Email, Entradas, EventoId, Fecha, NroDocumento, ReservaId, Texto, TipoDocumento,
    UsuarioId,
};

/// One entry of `historial_compras`. It is written whole, with the purchase's own
/// timestamp, so that writing it twice is a no-op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compra {
    pub evento_id: EventoId,
    pub reserva_id: ReservaId,
    pub fecha_compra: Fecha,
    pub entradas: Entradas,
}

/// A stored user, as the contract prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usuario {
    pub id: UsuarioId,
    /// `null` when absent: every field of every entity is always present in output
    /// (`docs/cli.md`, "Campos vacíos").
    #[serde(default)]
    pub tipo_documento: Option<TipoDocumento>,
    #[serde(default)]
    pub nro_documento: Option<NroDocumento>,
    pub nombre: Texto,
    pub apellido: Texto,
    pub email: Email,
    #[serde(default)]
    pub historial_compras: Vec<Compra>,
}

/// A user to be created: every field already parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NuevoUsuario {
    pub nombre: Texto,
    pub apellido: Texto,
    pub email: Email,
    pub documento: Option<Documento>,
}

/// A partial update; `None` leaves the field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CambiosUsuario {
    pub nombre: Option<Texto>,
    pub apellido: Option<Texto>,
    pub email: Option<Email>,
    pub documento: Option<Documento>,
}

impl CambiosUsuario {
    pub fn es_vacio(&self) -> bool {
        self == &Self::default()
    }
}

impl NuevoUsuario {
    pub fn en(self, id: UsuarioId) -> Usuario {
        let (tipo_documento, nro_documento) = match self.documento {
            Some(d) => (Some(d.tipo), Some(d.nro)),
            None => (None, None),
        };
        Usuario {
            id,
            tipo_documento,
            nro_documento,
            nombre: self.nombre,
            apellido: self.apellido,
            email: self.email,
            historial_compras: Vec::new(),
        }
    }
}

impl Usuario {
    pub fn documento(&self) -> Option<Documento> {
        match (&self.tipo_documento, &self.nro_documento) {
            (Some(t), Some(n)) => Some(Documento {
                tipo: t.clone(),
                nro: n.clone(),
            }),
            _ => None,
        }
    }
}
