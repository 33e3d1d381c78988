//! The reservation store's state machine, checked as one table (`TRANSICIONES`): from
//! each state a purchase can be in, which operations the store applies and which it
//! refuses (`docs/consistency.md` holds the same table). Run on every backend.

use eventflow::domain::{Estado, Operacion};
use eventflow::store::{Fase, Paso, Reclamo, RegistroSaga, ReservaStore, Toma};

use crate::fixtures::{LEASE_MS, completada, evento_con, reclamada, tomada, vencida};
use crate::helpers::Entorno;

/// The states a purchase can be in, as the store sees them.
#[derive(Debug, Clone, Copy)]
enum Punto {
    /// Pending, hold live.
    Pendiente,
    /// Pending, hold expired, nobody took it over.
    Vencida,
    /// Charged and confirmed, history step not done.
    Confirmada,
    /// Finished sale.
    Completada,
    /// Taken over by a compensator holding a live lease.
    EnCompensacion,
    /// A finished sale taken over by a cancellation.
    EnCancelacion,
    /// Released: `expirada`.
    Terminada,
}

/// The operations, in the column order of `TRANSICIONES`.
#[derive(Debug, Clone, Copy)]
enum Op {
    Marcar,
    /// A new charge: refused, or read back from an existing ledger entry, means false.
    Cobrar,
    Confirmar,
    Completar,
    ReclamarFallo,
    ReclamarVencida,
    ReclamarForzada,
    ReclamarCancelacion,
    Liberar,
}

const OPS: [Op; 9] = [
    Op::Marcar,
    Op::Cobrar,
    Op::Confirmar,
    Op::Completar,
    Op::ReclamarFallo,
    Op::ReclamarVencida,
    Op::ReclamarForzada,
    Op::ReclamarCancelacion,
    Op::Liberar,
];

/// Which operations the store applies from each state (true) and which it refuses.
#[rustfmt::skip]
const TRANSICIONES: [(Punto, [bool; 9]); 7] = [
    //                        marcar cobrar confirmar completar fallo  vencida forzada cancel. liberar
    (Punto::Pendiente,      [true,  true,  true,     false,    true,  false,  true,   false,  false]),
    (Punto::Vencida,        [true,  false, true,     false,    true,  true,   true,   false,  false]),
    (Punto::Confirmada,     [true,  false, false,    true,     true,  false,  true,   false,  false]),
    (Punto::Completada,     [false, false, false,    false,    false, false,  false,  true,   false]),
    (Punto::EnCompensacion, [false, false, false,    false,    false, false,  false,  false,  true ]),
    (Punto::EnCancelacion,  [false, false, false,    false,    false, false,  false,  false,  false]),
    (Punto::Terminada,      [false, false, false,    false,    false, false,  false,  false,  false]),
];

async fn en_punto(s: &dyn ReservaStore, p: Punto) -> RegistroSaga {
    let e = evento_con(s, 10).await;
    match p {
        Punto::Pendiente => tomada(s, &e, 2).await,
        Punto::Vencida => vencida(s, &e, 2).await,
        Punto::Confirmada => {
            let r = tomada(s, &e, 2).await;
            s.registrar_cobro(&r, true).await.unwrap();
            s.confirmar(&r).await.unwrap()
        }
        Punto::Completada => completada(s, &e, 2).await,
        Punto::EnCompensacion => reclamada(s, &tomada(s, &e, 2).await, Reclamo::Forzada).await,
        Punto::EnCancelacion => {
            reclamada(s, &completada(s, &e, 2).await, Reclamo::Cancelacion).await
        }
        Punto::Terminada => {
            let r = reclamada(s, &tomada(s, &e, 2).await, Reclamo::Forzada).await;
            assert!(s.liberar(&r, Estado::Expirada).await.unwrap());
            s.ver(&r.reserva.id).await.unwrap()
        }
    }
}

/// What `domain`'s transition table (the rules' one statement) says of `op` on the
/// stored record, by the store's clock.
async fn dominio(s: &dyn ReservaStore, r: &RegistroSaga, op: Op) -> bool {
    let actual = s.ver(&r.reserva.id).await.unwrap();
    let ahora = s.reloj().await.unwrap();
    let cobro = s.cobro(&actual).await.unwrap();
    let fallo = Reclamo::Fallo("pago_rechazado x".into());
    let op = match op {
        Op::Marcar => Operacion::Marcar,
        Op::Cobrar => Operacion::Cobrar,
        Op::Confirmar => Operacion::Confirmar,
        Op::Completar => Operacion::Completar,
        Op::ReclamarFallo => Operacion::Reclamar(&fallo),
        Op::ReclamarVencida => Operacion::Reclamar(&Reclamo::Vencida),
        Op::ReclamarForzada => Operacion::Reclamar(&Reclamo::Forzada),
        Op::ReclamarCancelacion => Operacion::Reclamar(&Reclamo::Cancelacion),
        Op::Liberar => Operacion::Liberar,
    };
    actual.permite(op, ahora, cobro.as_ref())
}

/// Applies `op`; true when the store applied it.
async fn aplicar(s: &dyn ReservaStore, r: &RegistroSaga, op: Op) -> bool {
    let id = &r.reserva.id;
    let reclamar =
        |m: Reclamo| async move { s.reclamar(id, &m, LEASE_MS).await.unwrap().is_some() };
    match op {
        Op::Marcar => s.marcar(r, Paso::Pago, Fase::Iniciado).await.is_ok(),
        Op::Cobrar => {
            let antes = s.cobro(r).await.unwrap();
            match s.registrar_cobro(r, true).await {
                Ok(c) => match antes {
                    // Read back, never charged again.
                    Some(a) => {
                        assert_eq!(c, a);
                        false
                    }
                    None => true,
                },
                Err(e) => {
                    assert_eq!(e.exit_code(), 4, "{e}");
                    false
                }
            }
        }
        Op::Confirmar => s.confirmar(r).await.is_ok(),
        Op::Completar => s.completar(r).await.unwrap(),
        Op::ReclamarFallo => reclamar(Reclamo::Fallo("pago_rechazado x".into())).await,
        Op::ReclamarVencida => reclamar(Reclamo::Vencida).await,
        Op::ReclamarForzada => reclamar(Reclamo::Forzada).await,
        Op::ReclamarCancelacion => reclamar(Reclamo::Cancelacion).await,
        Op::Liberar => s.liberar(r, Estado::Expirada).await.unwrap_or(false),
    }
}

async fn cada_transicion_que_el_almacen_permite_y_ninguna_mas(env: Entorno) {
    let s = env.almacen().await.reservas;
    let mut fallos = Vec::new();
    for (punto, esperado) in TRANSICIONES {
        for (op, permitida) in OPS.into_iter().zip(esperado) {
            let r = en_punto(s.as_ref(), punto).await;
            let segun_dominio = dominio(s.as_ref(), &r, op).await;
            let hecha = aplicar(s.as_ref(), &r, op).await;
            if hecha != permitida || segun_dominio != permitida {
                fallos.push(format!(
                    "{punto:?} + {op:?}: la tabla dice {permitida}, domain::permite \
                     {segun_dominio}, el almacén {hecha}"
                ));
            }
        }
    }
    assert!(fallos.is_empty(), "{}", fallos.join("\n"));
}

async fn un_compensador_caido_se_reemplaza_pero_la_saga_nunca_vuelve(env: Entorno) {
    let s = env.almacen().await.reservas;
    let e = evento_con(s.as_ref(), 10).await;
    let r = tomada(s.as_ref(), &e, 2).await;
    let tomado = s
        .reclamar(&r.reserva.id, &Reclamo::Forzada, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tomado.toma, Some(Toma::Compensacion));
    // The compensator stalls past its lease (by the store's clock).
    let limite = s.reloj().await.unwrap().millis() + 5;
    while s.reloj().await.unwrap().millis() <= limite {
        tokio::task::yield_now().await;
    }
    // The late saga is still fenced out: no charge, no confirmation, no progress.
    let err = s.registrar_cobro(&r, true).await.unwrap_err();
    assert_eq!(err.exit_code(), 4, "{err}");
    assert!(s.cobro(&r).await.unwrap().is_none());
    assert_eq!(s.confirmar(&r).await.unwrap_err().exit_code(), 4);
    assert!(s.marcar(&r, Paso::Pago, Fase::Iniciado).await.is_err());
    assert!(
        s.reclamar(&r.reserva.id, &Reclamo::Fallo("x y".into()), LEASE_MS)
            .await
            .unwrap()
            .is_none()
    );
    // Another compensator takes over and finishes.
    let otro = reclamada(s.as_ref(), &r, Reclamo::Vencida).await;
    assert!(s.liberar(&otro, Estado::Expirada).await.unwrap());
    assert_eq!(s.contador(&e).await.unwrap(), Some(10));
    let fin = s.ver(&r.reserva.id).await.unwrap();
    assert_eq!(fin.reserva.estado, Estado::Expirada);
    assert!(!fin.en_curso());
}

en_ambos_backends!(
    cluster;
    cada_transicion_que_el_almacen_permite_y_ninguna_mas,
    un_compensador_caido_se_reemplaza_pero_la_saga_nunca_vuelve,
);
