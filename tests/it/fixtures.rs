//! Fixtures for the reservation-store tests, shared by every backend's suite: they take
//! `&dyn ReservaStore`, so a Redis store and a SQLite store use the same ones.

use eventflow::domain::{Aforo, Entradas, EventoId, ReservaId, UsuarioId};
use eventflow::store::{Reclamo, RegistroSaga, ReservaStore, Retencion};

/// The lease the tests claim with when they do not test leases.
pub const LEASE_MS: i64 = 60_000;

pub fn aforo(n: i64) -> Aforo {
    Aforo::new(n).unwrap()
}

/// A hold request of `entradas` seats at 25,00 each, for 15 minutes.
pub fn retencion(evento: &EventoId, usuario: &UsuarioId, entradas: i64) -> Retencion {
    Retencion {
        reserva: ReservaId::generar(),
        evento: evento.clone(),
        usuario: usuario.clone(),
        entradas: Entradas::new(entradas).unwrap(),
        importe: 2500 * entradas,
        ttl_ms: 900_000,
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

/// A pending purchase whose hold expired `ms` milliseconds ago (store clock).
pub async fn vencida(s: &dyn ReservaStore, e: &EventoId, entradas: i64) -> RegistroSaga {
    let mut r = retencion(e, &UsuarioId::generar(), entradas);
    r.ttl_ms = -1_000;
    s.tomar(&r).await.unwrap()
}

/// A purchase that went all the way, as the saga makes it: charged, confirmed, completed.
pub async fn completada(s: &dyn ReservaStore, e: &EventoId, entradas: i64) -> RegistroSaga {
    let r = tomada(s, e, entradas).await;
    assert!(s.registrar_cobro(&r, true).await.unwrap().aprobado);
    let r = s.confirmar(&r).await.unwrap();
    assert!(s.completar(&r).await.unwrap());
    s.ver(&r.reserva.id).await.unwrap()
}

/// Takes `r` over for `motivo`, which must be granted.
pub async fn reclamada(s: &dyn ReservaStore, r: &RegistroSaga, motivo: Reclamo) -> RegistroSaga {
    s.reclamar(&r.reserva.id, &motivo, LEASE_MS)
        .await
        .unwrap()
        .expect("reclamo concedido")
}
