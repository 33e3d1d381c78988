//! Fixtures for the reservation-store tests, shared by every backend's suite: they take
//! `&dyn ReservaStore`, so a Redis store and a SQLite store use the same ones.

use eventflow::domain::{Aforo, Entradas, EventoId, Fecha, ReservaId, UsuarioId};
use eventflow::store::{RegistroSaga, ReservaStore, Retencion};

/// An instant `ms` milliseconds from now (negative: in the past).
pub fn en(ms: i64) -> Fecha {
    Fecha::from_millis(Fecha::ahora().millis() + ms)
}

pub fn aforo(n: i64) -> Aforo {
    Aforo::new(n).unwrap()
}

/// A hold request of `entradas` seats at 25,00 each, expiring in 15 minutes.
pub fn retencion(evento: &EventoId, usuario: &UsuarioId, entradas: i64) -> Retencion {
    Retencion {
        reserva: ReservaId::generar(),
        evento: evento.clone(),
        usuario: usuario.clone(),
        entradas: Entradas::new(entradas).unwrap(),
        importe: 2500 * entradas,
        ahora: Fecha::ahora(),
        expira: en(900_000),
        clave: None,
    }
}

/// A fresh event with a counter of `n` seats.
pub async fn evento_con(s: &dyn ReservaStore, n: i64) -> EventoId {
    let e = EventoId::generar();
    assert!(s.crear_contador(&e, aforo(n)).await.unwrap());
    e
}

/// A pending purchase of `entradas` seats by a fresh user.
pub async fn tomada(s: &dyn ReservaStore, e: &EventoId, entradas: i64) -> RegistroSaga {
    s.tomar(&retencion(e, &UsuarioId::generar(), entradas))
        .await
        .unwrap()
}

/// A purchase that went all the way: confirmed and completed.
pub async fn completada(s: &dyn ReservaStore, e: &EventoId, entradas: i64) -> RegistroSaga {
    let r = tomada(s, e, entradas).await;
    let r = s.confirmar(&r, Fecha::ahora()).await.unwrap();
    assert!(s.completar(&r).await.unwrap());
    s.ver(&r.reserva.id).await.unwrap()
}
