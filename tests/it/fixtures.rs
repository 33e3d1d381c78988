//! Fixtures for the store tests, shared by every backend's suite: domain values to store,
//! and reservation-store states built through `&dyn ReservaStore`, so a Redis store and a
//! SQLite store use the same ones.

use eventflow::domain::{
    Aforo, Compra, Documento, Email, Entradas, EventoId, Fecha, NroDocumento, NuevoEvento,
    NuevoUsuario, Precio, ReservaId, Texto, TipoDocumento, UsuarioId,
};
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

/// Domain text for field `campo`.
pub fn texto(campo: &'static str, s: &str) -> Texto {
    Texto::parse(campo, s).unwrap()
}

/// A new user, with an optional `(tipo, nro)` document.
pub fn usuario(email: &str, documento: Option<(&str, &str)>) -> NuevoUsuario {
    NuevoUsuario {
        nombre: texto("nombre", "Juan"),
        apellido: texto("apellido", "Pérez"),
        email: Email::parse(email).unwrap(),
        documento: documento.map(|(t, n)| Documento {
            tipo: TipoDocumento::parse(t).unwrap(),
            nro: NroDocumento::parse(n).unwrap(),
        }),
    }
}

/// A new event of `aforo` seats at 25,00 on 2025-12-01.
pub fn evento(nombre: &str, aforo: i64) -> NuevoEvento {
    NuevoEvento {
        nombre: texto("nombre", nombre),
        fecha: Fecha::parse("2025-12-01T21:00:00Z").unwrap(),
        lugar: texto("lugar", "Estadio Centenario"),
        aforo: Aforo::new(aforo).unwrap(),
        precio: Precio::new(2500).unwrap(),
    }
}

/// A history entry of `entradas` seats of event `evento`, bought at a fixed instant.
pub fn compra(evento: &EventoId, entradas: i64) -> Compra {
    Compra {
        evento_id: evento.clone(),
        reserva_id: ReservaId::generar(),
        fecha_compra: Fecha::parse("2025-10-01T12:30:00.250Z").unwrap(),
        entradas: Entradas::new(entradas).unwrap(),
    }
}
