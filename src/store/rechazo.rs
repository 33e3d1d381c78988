//! Every refusal the reservation stores share, with its one message: the Redis scripts
//! and the SQLite transactions apply the same rules (`docs/consistency.md`), so a caller
//! cannot tell the backends apart by what they say.

use crate::domain::{Aforo, EventoId, Negativa, ReservaId, UsuarioId};
use crate::error::Error;

/// Another change moved the capacity since the caller read it (compare-and-set lost).
pub fn aforo_cambiado(evento: &EventoId, leido: Aforo, actual: &str) -> Error {
    Error::Conflicto(format!(
        "el aforo del evento {evento} cambió mientras se actualizaba (se leyó {leido}, ahora \
         vale {actual}); vuelva a intentarlo, o ejecute `eventflow verificar --evento {evento} \
         --reparar` si el evento y su contador no coinciden"
    ))
}

/// Lowering the capacity below the seats already held or sold.
pub fn aforo_bajo_lo_vendido(evento: &EventoId, fuera: i64, nuevo: Aforo) -> Error {
    Error::Conflicto(format!(
        "el evento {evento} tiene {fuera} entradas vendidas o retenidas; el aforo no puede \
         bajar a {nuevo}, como mínimo debe ser {fuera}"
    ))
}

/// The counter holds more seats than the capacity allows: stored data is wrong.
pub fn contador_excede(evento: &EventoId, contador: &str, aforo: Aforo) -> Error {
    Error::Inconsistencia(format!(
        "el contador del evento {evento} ({contador}) supera su aforo ({aforo}); ejecute \
         `eventflow verificar --evento {evento} --reparar`"
    ))
}

pub fn sin_contador(evento: &EventoId) -> Error {
    Error::Inconsistencia(format!(
        "el evento {evento} no tiene contador de entradas; \
         ejecute `eventflow verificar --evento {evento} --reparar`"
    ))
}

/// An event with seats out cannot be deleted; `reserva` is one that holds them.
pub fn evento_con_ventas(evento: &EventoId, fuera: i64, reserva: Option<&str>) -> Error {
    let cual = reserva
        .filter(|r| !r.is_empty())
        .map(|r| format!(" (por ejemplo la reserva {r})"))
        .unwrap_or_default();
    Error::Conflicto(format!(
        "el evento {evento} tiene {fuera} entradas vendidas o retenidas{cual}; no se puede \
         eliminar: espere a que terminen las compras en curso y cancele las confirmadas con \
         `eventflow reservas cancelar`"
    ))
}

pub fn compra_en_curso(usuario: &UsuarioId, evento: &EventoId) -> Error {
    Error::Conflicto(format!(
        "el usuario {usuario} ya tiene una compra en curso para el evento {evento}"
    ))
}

/// The purchase was finished or taken over: the saga may not go on with it.
pub fn tomada(reserva: &ReservaId, detalle: &str) -> Error {
    Error::Conflicto(format!(
        "la reserva {reserva} ya no está en curso ({detalle}): otra operación la terminó o la \
         está compensando"
    ))
}

pub fn no_pendiente(reserva: &ReservaId, estado: &str) -> Error {
    Error::Conflicto(format!(
        "la reserva {reserva} ya no está pendiente (estado {estado})"
    ))
}

/// A charge arrived for a purchase that can no longer take one; nothing was charged.
pub fn no_cobrable(reserva: &ReservaId, motivo: &str) -> Error {
    let por = match motivo {
        "vencida" => "su retención venció".to_owned(),
        "tomada" => "una compensación la tomó".to_owned(),
        otro => format!("está {otro}"),
    };
    Error::Conflicto(format!(
        "la reserva {reserva} ya no admite cobros ({por}); no se cobró nada"
    ))
}

/// Releasing seats needs a take-over first (`reclamar`).
pub fn no_tomada(reserva: &ReservaId) -> Error {
    Error::Interno(anyhow::anyhow!(
        "liberar la reserva {reserva} sin haberla reclamado antes"
    ))
}

/// A purchase cannot end while an approved charge of it stands: refund first.
pub fn cobro_en_pie(reserva: &ReservaId) -> Error {
    Error::Conflicto(format!(
        "la reserva {reserva} tiene un cobro aprobado sin reembolsar; se reembolsa antes de \
         liberar sus entradas (`eventflow compensar --reserva {reserva} --forzar`)"
    ))
}

pub fn reserva_existe(reserva: &ReservaId) -> Error {
    Error::Conflicto(format!("la reserva {reserva} ya existe"))
}

/// The message of a transition the table refuses (`domain::Negativa`).
pub fn negativa(reserva: &ReservaId, n: Negativa) -> Error {
    match n {
        Negativa::Tomada(detalle) => tomada(reserva, detalle),
        Negativa::NoPendiente(estado) => no_pendiente(reserva, estado),
        Negativa::NoCobrable(motivo) => no_cobrable(reserva, motivo),
        Negativa::NoTomada => no_tomada(reserva),
        Negativa::CobroEnPie => cobro_en_pie(reserva),
    }
}
