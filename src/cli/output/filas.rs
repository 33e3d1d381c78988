//! The columns of each entity the CLI lists or shows. Values come from the entity's JSON
//! form (see `tabla`), so only the order, the titles and what may be dropped live here.

use super::Fila;
use super::tabla::Columna;
use crate::domain::{Compra, Evento, Reserva, ReservaConPago, Usuario};

impl Fila for Usuario {
    fn columnas() -> &'static [Columna] {
        const C: &[Columna] = &[
            Columna::fija("id"),
            Columna::fija("tipo_documento")
                .titulo("tipo_doc")
                .prescindible(3),
            Columna::fija("nro_documento")
                .titulo("nro_doc")
                .prescindible(3),
            Columna::texto("nombre"),
            Columna::texto("apellido").prescindible(1),
            Columna::fija("email"),
            Columna::fija("historial_compras")
                .titulo("compras")
                .prescindible(2),
        ];
        C
    }
}

impl Fila for Evento {
    fn columnas() -> &'static [Columna] {
        const C: &[Columna] = &[
            Columna::fija("id"),
            Columna::texto("nombre"),
            Columna::fija("fecha"),
            Columna::texto("lugar").prescindible(2),
            Columna::fija("aforo_total").titulo("aforo").prescindible(3),
            Columna::fija("entradas_disponibles")
                .titulo("disponibles")
                .prescindible(1),
            Columna::fija("reservas_activas")
                .titulo("reservas")
                .prescindible(5),
            Columna::fija("precio").prescindible(4),
        ];
        C
    }
}

impl Fila for Compra {
    fn columnas() -> &'static [Columna] {
        const C: &[Columna] = &[
            Columna::fija("evento_id").prescindible(1),
            Columna::fija("reserva_id").id(),
            Columna::fija("fecha_compra"),
            Columna::fija("entradas"),
        ];
        C
    }
}

/// The columns of a reservation, shared by `Reserva` and `ReservaConPago`.
const RESERVA: [Columna; 8] = [
    Columna::fija("id"),
    Columna::fija("evento_id").prescindible(3),
    Columna::fija("usuario_id").prescindible(4),
    Columna::fija("entradas"),
    Columna::fija("estado"),
    Columna::fija("importe").prescindible(2),
    Columna::fija("creada").prescindible(1),
    Columna::fija("actualizada").prescindible(5),
];

impl Fila for Reserva {
    fn columnas() -> &'static [Columna] {
        &RESERVA
    }
}

impl Fila for ReservaConPago {
    fn columnas() -> &'static [Columna] {
        const C: &[Columna] = &[
            RESERVA[0],
            RESERVA[1],
            RESERVA[2],
            RESERVA[3],
            RESERVA[4],
            RESERVA[5],
            RESERVA[6],
            RESERVA[7],
            Columna::fija("pago.estado").prescindible(1),
            Columna::fija("pago.importe").prescindible(2),
        ];
        C
    }
}
