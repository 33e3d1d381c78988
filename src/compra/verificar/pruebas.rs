//! Unit tests of `diagnosticar`, one rule each, on hand-built snapshots.

use super::*;
use crate::domain::{Aforo, Entradas, Precio, Reserva, Texto};

fn evento(aforo: u32, activas: &[&ReservaId], disponibles: i64) -> Evento {
    Evento {
        id: EventoId::parse("aaaaaaaaaaaaaaaaaaaaaaaa").unwrap(),
        nombre: Texto::parse("nombre", "E").unwrap(),
        fecha: Fecha::from_millis(0),
        lugar: Texto::parse("lugar", "L").unwrap(),
        aforo_total: Aforo::new(aforo.into()).unwrap(),
        entradas_disponibles: disponibles,
        reservas_activas: activas.iter().map(|r| (*r).clone()).collect(),
        precio: Precio::new(10).unwrap(),
    }
}

fn registro(n: u32, estado: Estado, terminada: bool, expira_ms: i64) -> RegistroSaga {
    RegistroSaga {
        reserva: Reserva {
            id: ReservaId::generar(),
            evento_id: EventoId::parse("aaaaaaaaaaaaaaaaaaaaaaaa").unwrap(),
            usuario_id: UsuarioId::generar(),
            entradas: Entradas::new(n.into()).unwrap(),
            estado,
            importe: 10 * i64::from(n),
            creada: Fecha::from_millis(0),
            actualizada: Fecha::from_millis(0),
        },
        paso: Paso::Historial,
        fase: Fase::Hecho,
        expira: Fecha::from_millis(expira_ms),
        clave: None,
        fecha_compra: Some(Fecha::from_millis(1)),
        terminada,
        toma: None,
        reclamada_hasta: None,
        fallo: None,
    }
}

fn instantanea(
    evento: Evento, contador: Option<i64>, registros: Vec<RegistroSaga>,
    compras: Vec<(UsuarioId, Compra)>,
) -> Instantanea {
    let cobros = registros
        .iter()
        .filter(|r| r.reserva.estado == Estado::Confirmada)
        .map(cobro_restaurado)
        .collect();
    Instantanea {
        aforo_reservas: Some(evento.aforo_total),
        evento_id: evento.id.clone(),
        evento: Some(evento),
        contador,
        registros,
        cobros,
        compras,
        ahora: Fecha::from_millis(1_000),
    }
}

fn compra_de(r: &RegistroSaga) -> (UsuarioId, Compra) {
    (r.reserva.usuario_id.clone(), r.compra().unwrap())
}

#[test]
fn un_evento_coherente_no_tiene_problemas() {
    let vendida = registro(3, Estado::Confirmada, true, 10);
    let pendiente = registro(2, Estado::Pendiente, false, 5_000);
    let s = instantanea(
        evento(10, &[&vendida.reserva.id], 7),
        Some(5),
        vec![vendida.clone(), pendiente],
        vec![compra_de(&vendida)],
    );
    let (problemas, acciones, resumen) = diagnosticar(&s);
    assert!(problemas.is_empty(), "{problemas:?}");
    assert!(acciones.is_empty());
    assert_eq!(
        (resumen.vendidas, resumen.retenidas, resumen.en_curso),
        (3, 2, 1)
    );
}

#[test]
fn un_contador_que_no_cuadra_se_fija_al_valor_del_invariante() {
    let vendida = registro(3, Estado::Confirmada, true, 10);
    let s = instantanea(
        evento(10, &[&vendida.reserva.id], 7),
        Some(9),
        vec![vendida.clone()],
        vec![compra_de(&vendida)],
    );
    let (problemas, acciones, _) = diagnosticar(&s);
    assert_eq!(problemas.len(), 1, "{problemas:?}");
    assert_eq!(acciones, vec![Accion::FijarContador(7)]);
}

#[test]
fn una_compra_vencida_a_medio_hacer_se_compensa_antes_que_nada() {
    let colgada = registro(2, Estado::Pendiente, false, 500);
    let s = instantanea(evento(10, &[], 10), Some(1), vec![colgada.clone()], vec![]);
    let (problemas, acciones, _) = diagnosticar(&s);
    assert!(problemas[0].contains("retención vencida"), "{problemas:?}");
    assert_eq!(acciones, vec![Accion::Compensar(colgada.reserva.id)]);
}

#[test]
fn una_compra_que_redis_perdio_se_restaura_desde_el_historial() {
    let perdida = registro(4, Estado::Confirmada, true, 10);
    let s = instantanea(
        evento(10, &[&perdida.reserva.id], 6),
        Some(10),
        vec![],
        vec![compra_de(&perdida)],
    );
    let (_, acciones, _) = diagnosticar(&s);
    let [Accion::Restaurar(r)] = acciones.as_slice() else {
        panic!("{acciones:?}")
    };
    assert_eq!(r.reserva.id, perdida.reserva.id);
    assert_eq!(r.reserva.estado, Estado::Confirmada);
    assert_eq!(r.reserva.importe, 40);
}

#[test]
fn el_modelo_de_lectura_y_los_historiales_se_reparan_por_diferencias() {
    let vendida = registro(3, Estado::Confirmada, true, 10);
    let cancelada = registro(1, Estado::Cancelada, true, 10);
    let s = instantanea(
        evento(10, &[&cancelada.reserva.id], 9),
        Some(7),
        vec![vendida.clone(), cancelada.clone()],
        vec![compra_de(&cancelada)],
    );
    let (problemas, acciones, _) = diagnosticar(&s);
    assert!(problemas.len() >= 3, "{problemas:?}");
    assert!(acciones.contains(&Accion::AplicarVenta(
        vendida.reserva.id.clone(),
        vendida.reserva.entradas
    )));
    assert!(acciones.contains(&Accion::RevertirVenta(
        cancelada.reserva.id.clone(),
        cancelada.reserva.entradas
    )));
    assert!(acciones.contains(&Accion::RegistrarCompra(
        vendida.reserva.usuario_id.clone(),
        vendida.compra().unwrap()
    )));
    assert!(acciones.contains(&Accion::QuitarCompra(
        cancelada.reserva.usuario_id.clone(),
        cancelada.reserva.id.clone()
    )));
}

#[test]
fn una_compra_confirmada_en_vuelo_puede_estar_o_no_en_el_modelo() {
    let en_vuelo = registro(2, Estado::Confirmada, false, 5_000);
    for activas in [vec![], vec![&en_vuelo.reserva.id]] {
        let disponibles = 10 - 2 * activas.len() as i64;
        let s = instantanea(
            evento(10, &activas, disponibles),
            Some(8),
            vec![en_vuelo.clone()],
            vec![],
        );
        let (problemas, _, _) = diagnosticar(&s);
        assert!(problemas.is_empty(), "{problemas:?}");
    }
}

#[test]
fn un_cobro_aprobado_de_una_compra_sin_venta_se_reembolsa() {
    let compensada = registro(2, Estado::Compensada, true, 10);
    let mut s = instantanea(
        evento(10, &[], 10),
        Some(10),
        vec![compensada.clone()],
        vec![],
    );
    s.cobros = vec![cobro_restaurado(&compensada)];
    let (problemas, acciones, resumen) = diagnosticar(&s);
    assert!(problemas[0].contains("no se reembolsó"), "{problemas:?}");
    assert_eq!(acciones, vec![Accion::Reembolsar(compensada.reserva.id)]);
    assert_eq!(
        (
            resumen.cobrado,
            resumen.reembolsado,
            resumen.importe_confirmado
        ),
        (20, 0, 0)
    );
}

#[test]
fn una_compra_confirmada_sin_cobro_rompe_el_invariante_del_dinero() {
    let vendida = registro(3, Estado::Confirmada, true, 10);
    let mut s = instantanea(
        evento(10, &[&vendida.reserva.id], 7),
        Some(7),
        vec![vendida.clone()],
        vec![compra_de(&vendida)],
    );
    s.cobros.clear();
    let (problemas, acciones, _) = diagnosticar(&s);
    assert!(
        problemas[0].contains("no tiene un cobro aprobado"),
        "{problemas:?}"
    );
    // Nothing to charge after the fact: it is reported, not "repaired".
    assert!(acciones.is_empty(), "{acciones:?}");
}

#[test]
fn un_cobro_en_vuelo_no_cuenta_todavia() {
    let pendiente = registro(2, Estado::Pendiente, false, 5_000);
    let mut s = instantanea(
        evento(10, &[], 10),
        Some(8),
        vec![pendiente.clone()],
        vec![],
    );
    s.cobros = vec![cobro_restaurado(&pendiente)];
    let (problemas, _, resumen) = diagnosticar(&s);
    assert!(problemas.is_empty(), "{problemas:?}");
    assert_eq!(resumen.cobrado, 0);
}

#[test]
fn un_aforo_distinto_en_cada_almacen_se_alinea_antes_que_nada() {
    let mut s = instantanea(evento(10, &[], 10), Some(20), vec![], vec![]);
    s.aforo_reservas = Some(Aforo::new(20).unwrap());
    let (problemas, acciones, _) = diagnosticar(&s);
    assert!(problemas[0].contains("a medias"), "{problemas:?}");
    assert_eq!(
        acciones,
        vec![Accion::AlinearAforo(Some(Aforo::new(20).unwrap()))]
    );
    s.aforo_reservas = None;
    let (_, acciones, _) = diagnosticar(&s);
    assert_eq!(acciones, vec![Accion::AlinearAforo(None)]);
}

#[test]
fn una_compra_vendida_segun_el_historial_se_completa_y_no_se_compensa() {
    // Redis lost `completar` (and maybe `confirmar`) in its last second before a kill -9.
    let mut a_medias = registro(2, Estado::Pendiente, false, 500);
    a_medias.paso = Paso::Pago;
    let compra = Compra {
        evento_id: a_medias.reserva.evento_id.clone(),
        reserva_id: a_medias.reserva.id.clone(),
        fecha_compra: Fecha::from_millis(400),
        entradas: a_medias.reserva.entradas,
    };
    let s = instantanea(
        evento(10, &[&a_medias.reserva.id], 8),
        Some(8),
        vec![a_medias.clone()],
        vec![(a_medias.reserva.usuario_id.clone(), compra)],
    );
    let (problemas, acciones, _) = diagnosticar(&s);
    assert!(
        problemas[0].contains("se completa desde el historial"),
        "{problemas:?}"
    );
    // Taken over, then completed from the history (`recuperacion::tomar_y_deshacer`).
    assert_eq!(
        acciones,
        vec![Accion::Compensar(a_medias.reserva.id.clone())]
    );
    let completa = completada_desde(&a_medias, &s.compras[0].1);
    assert_eq!(completa.reserva.estado, Estado::Confirmada);
    assert!(completa.terminada && completa.toma.is_none());
    // Taken over by a compensator already, it is that compensator's to finish.
    let mut tomada = a_medias;
    tomada.toma = Some(crate::store::Toma::Compensacion);
    let mut s = s;
    s.registros = vec![tomada.clone()];
    let (_, acciones, _) = diagnosticar(&s);
    assert_eq!(acciones, vec![Accion::Compensar(tomada.reserva.id)]);
}
