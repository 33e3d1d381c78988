//! The durable record of one purchase saga and the words the stores and the saga share
//! about it: the steps (`Paso`), their phase (`Fase`), who took a purchase over (`Toma`,
//! `Reclamo`), a hold request (`Retencion`) and a ledger entry (`Cobro`). The states and
//! transitions are described in `docs/consistency.md`.

use serde::{Deserialize, Serialize};

use crate::domain::{
    ClaveIdempotencia, Compra, Entradas, Estado, EstadoPago, EventoId, Fecha, Pago, Reserva,
    ReservaId, UsuarioId,
};

/// The steps of a purchase, in order, as the contract names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Paso {
    Datos,
    Inventario,
    Pago,
    Confirmacion,
    Historial,
}

impl Paso {
    pub const TODOS: [Paso; 5] = [
        Paso::Datos,
        Paso::Inventario,
        Paso::Pago,
        Paso::Confirmacion,
        Paso::Historial,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Paso::Datos => "datos",
            Paso::Inventario => "inventario",
            Paso::Pago => "pago",
            Paso::Confirmacion => "confirmacion",
            Paso::Historial => "historial",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::TODOS.into_iter().find(|p| p.as_str() == s)
    }
}

/// Whether a step's effects have begun or are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fase {
    Iniciado,
    Hecho,
}

impl Fase {
    pub fn as_str(self) -> &'static str {
        match self {
            Fase::Iniciado => "iniciado",
            Fase::Hecho => "hecho",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "iniciado" => Some(Fase::Iniciado),
            "hecho" => Some(Fase::Hecho),
            _ => None,
        }
    }
}

/// What a granted claim took a purchase over for. Once set it is never cleared while the
/// purchase is in flight: confirmation, completion, progress marks and charges are refused
/// from then on, whatever the clocks say (the fencing rule, `docs/consistency.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Toma {
    /// Rolling back a purchase in flight (its own saga after a failure, or `compensar`).
    Compensacion,
    /// Cancelling a completed purchase (`reservas cancelar`).
    Cancelacion,
}

impl Toma {
    pub fn as_str(self) -> &'static str {
        match self {
            Toma::Compensacion => "compensacion",
            Toma::Cancelacion => "cancelacion",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "compensacion" => Some(Toma::Compensacion),
            "cancelacion" => Some(Toma::Cancelacion),
            _ => None,
        }
    }
}

/// The durable record of one purchase saga: the reservation plus where the saga got to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistroSaga {
    pub reserva: Reserva,
    /// The last step recorded, and whether its effects are stored.
    pub paso: Paso,
    pub fase: Fase,
    /// When the seat hold runs out (the store's clock); after it, `compensar` may finish
    /// the purchase.
    pub expira: Fecha,
    pub clave: Option<ClaveIdempotencia>,
    /// Set at confirmation; the timestamp written to `historial_compras`.
    pub fecha_compra: Option<Fecha>,
    /// True once the saga has nothing left to do (completed or compensated).
    pub terminada: bool,
    /// Who took the purchase over, if anyone: a state, never cleared while in flight.
    pub toma: Option<Toma>,
    /// The lease of the current owner of `toma`: after it another compensator may take
    /// over (never the saga). Compared with the store's clock.
    pub reclamada_hasta: Option<Fecha>,
    /// Why the saga rolled itself back: `<codigo> <mensaje>` of the error the buyer got,
    /// so an idempotent retry replays it.
    pub fallo: Option<String>,
}

impl RegistroSaga {
    /// The `historial_compras` entry of this purchase, once confirmed.
    pub fn compra(&self) -> Option<Compra> {
        self.fecha_compra.map(|fecha_compra| Compra {
            evento_id: self.reserva.evento_id.clone(),
            reserva_id: self.reserva.id.clone(),
            fecha_compra,
            entradas: self.reserva.entradas,
        })
    }

    /// In flight: not finished and not in a final state.
    pub fn en_curso(&self) -> bool {
        !self.terminada
    }
}

/// A request to hold seats: everything the atomic take needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retencion {
    pub reserva: ReservaId,
    pub evento: EventoId,
    pub usuario: UsuarioId,
    pub entradas: Entradas,
    pub importe: i64,
    /// How long the hold lasts, in ms from the store's clock (`EVENTFLOW_RESERVA_TTL_S`).
    /// Zero or less makes a hold that has already expired (tests).
    pub ttl_ms: i64,
    pub clave: Option<ClaveIdempotencia>,
}

impl Retencion {
    /// The pending record this hold creates, taken at `ahora` (the store's clock): the
    /// one rule for a new record, shared by both backends (the Redis script overwrites the
    /// instants with `TIME`).
    pub fn registro(&self, ahora: Fecha) -> RegistroSaga {
        RegistroSaga {
            reserva: Reserva {
                id: self.reserva.clone(),
                evento_id: self.evento.clone(),
                usuario_id: self.usuario.clone(),
                entradas: self.entradas,
                estado: Estado::Pendiente,
                importe: self.importe,
                creada: ahora,
                actualizada: ahora,
            },
            paso: Paso::Inventario,
            fase: Fase::Hecho,
            expira: Fecha::from_millis(ahora.millis().saturating_add(self.ttl_ms)),
            clave: self.clave.clone(),
            fecha_compra: None,
            terminada: false,
            toma: None,
            reclamada_hasta: None,
            fallo: None,
        }
    }
}

/// Why a claim is being made; the store grants it only from the states the transition
/// table allows (`docs/consistency.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reclamo {
    /// `compensar`: an in-flight purchase whose hold has expired, or one whose compensator's
    /// lease ran out (a takeover).
    Vencida,
    /// `compensar --forzar --reserva`: any in-flight purchase not held by a live compensator.
    Forzada,
    /// The saga rolling itself back after a failure: only an in-flight purchase nobody
    /// took over. Carries `<codigo> <mensaje>` of the failure, stored for retries.
    Fallo(String),
    /// `reservas cancelar`: a completed, confirmed purchase.
    Cancelacion,
}

impl Reclamo {
    /// The state a granted claim leaves.
    pub fn toma(&self) -> Toma {
        match self {
            Reclamo::Cancelacion => Toma::Cancelacion,
            _ => Toma::Compensacion,
        }
    }

    /// The name the Redis script and the SQLite rules use.
    pub fn nombre(&self) -> &'static str {
        match self {
            Reclamo::Vencida => "vencida",
            Reclamo::Forzada => "forzada",
            Reclamo::Fallo(_) => "fallo",
            Reclamo::Cancelacion => "cancelacion",
        }
    }
}

/// The simulated gateway's ledger entry for one reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cobro {
    pub reserva_id: ReservaId,
    pub importe: i64,
    pub aprobado: bool,
    pub cobrado: Fecha,
    pub reembolsado: Option<Fecha>,
}

impl Cobro {
    /// The payment `reservas ver` shows for a ledger entry, or for none.
    pub fn pago(cobro: Option<&Cobro>) -> Pago {
        let (estado, importe) = match cobro {
            None => (EstadoPago::Ninguno, 0),
            Some(c) if !c.aprobado => (EstadoPago::Rechazado, 0),
            Some(c) if c.reembolsado.is_some() => (EstadoPago::Reembolsado, c.importe),
            Some(c) => (EstadoPago::Aprobado, c.importe),
        };
        Pago { estado, importe }
    }
}
