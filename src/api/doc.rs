//! The OpenAPI description served at `/api/openapi.json`. The domain types serialize
//! themselves; the schemas below only describe that JSON, and a test checks that they
//! name the same fields, so the description cannot drift from the responses.

#![allow(dead_code)] // Schema-only types: read by utoipa, never built.

use utoipa::{OpenApi, ToSchema};

use super::error::{CuerpoError, DetalleError};
use super::salud::{Componente, Salud, SaludPublica};
use super::{eventos, reservas, salud, usuarios};

/// Un usuario, como lo devuelven la API y `eventflow -o json`.
#[derive(ToSchema)]
pub struct Usuario {
    #[schema(example = "665f1c2e9b1e8a3d4c5b6a78")]
    id: String,
    tipo_documento: Option<String>,
    nro_documento: Option<String>,
    nombre: String,
    apellido: String,
    email: String,
    historial_compras: Vec<Compra>,
}

/// Una compra confirmada en `historial_compras`.
#[derive(ToSchema)]
pub struct Compra {
    evento_id: String,
    reserva_id: String,
    /// RFC 3339.
    fecha_compra: String,
    entradas: u32,
}

/// Un evento con el modelo de lectura de sus ventas.
#[derive(ToSchema)]
pub struct Evento {
    id: String,
    nombre: String,
    /// RFC 3339.
    fecha: String,
    lugar: String,
    aforo_total: u32,
    entradas_disponibles: i64,
    /// Ids de las reservas confirmadas.
    reservas_activas: Vec<String>,
    /// Unidades menores (céntimos).
    precio: i64,
}

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Estado {
    Pendiente,
    Confirmada,
    Cancelada,
    Compensada,
    Expirada,
}

/// Una reserva (compra).
#[derive(ToSchema)]
pub struct Reserva {
    id: String,
    evento_id: String,
    usuario_id: String,
    entradas: u32,
    estado: Estado,
    /// `entradas × precio`, unidades menores.
    importe: i64,
    creada: String,
    actualizada: String,
}

/// Dónde está el pago de una compra, según el libro de la pasarela.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum EstadoPago {
    Ninguno,
    Aprobado,
    Rechazado,
    Reembolsado,
}

/// El pago de una compra.
#[derive(ToSchema)]
pub struct Pago {
    estado: EstadoPago,
    /// Lo que registró el libro, unidades menores; 0 si no se cobró nada.
    importe: i64,
}

/// Una reserva con su pago (`GET /api/reservas/{id}`).
#[derive(ToSchema)]
pub struct ReservaConPago {
    id: String,
    evento_id: String,
    usuario_id: String,
    entradas: u32,
    estado: Estado,
    /// `entradas × precio`, unidades menores.
    importe: i64,
    creada: String,
    actualizada: String,
    pago: Pago,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "EventFlow",
        description = "Venta de entradas sin sobreventa: usuarios y eventos en MongoDB y \
                       reservas en Redis, o todo en un archivo SQLite embebido; la compra \
                       como saga. Cada error responde \
                       {\"error\": {\"codigo\", \"mensaje\"}}."
    ),
    paths(
        usuarios::crear, usuarios::listar, usuarios::ver, usuarios::historial,
        eventos::crear, eventos::listar, eventos::ver,
        reservas::crear, reservas::ver, reservas::cancelar,
        salud::salud,
    ),
    components(schemas(
        Usuario, Compra, Evento, Reserva, Estado, CuerpoError, DetalleError, Salud, SaludPublica, Componente,
        ReservaConPago, Pago, EstadoPago,
        usuarios::CrearUsuario, eventos::CrearEvento, reservas::CrearReserva,
    )),
    tags(
        (name = "usuarios", description = "perfiles e historial de compras (MongoDB o SQLite)"),
        (name = "eventos", description = "eventos y su aforo (MongoDB + contador en Redis, o SQLite)"),
        (name = "reservas", description = "la compra como saga (Redis o SQLite)"),
        (name = "salud", description = "estado de los almacenes"),
    )
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        Email, Entradas, Estado as E, EventoId, Fecha, NroDocumento, ReservaId, Texto,
        TipoDocumento, UsuarioId,
    };
    use std::collections::BTreeSet;

    fn propiedades(doc: &serde_json::Value, esquema: &str) -> BTreeSet<String> {
        doc["components"]["schemas"][esquema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("falta el esquema {esquema}"))
            .keys()
            .cloned()
            .collect()
    }

    fn claves(v: &impl serde::Serialize) -> BTreeSet<String> {
        serde_json::to_value(v)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn los_esquemas_nombran_los_campos_que_serializa_el_dominio() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let t = |s: &str| Texto::parse("nombre", s).unwrap();
        let ahora = Fecha::ahora();
        let compra = crate::domain::Compra {
            evento_id: EventoId::generar(),
            reserva_id: ReservaId::generar(),
            fecha_compra: ahora,
            entradas: Entradas::new(1).unwrap(),
        };
        let usuario = crate::domain::Usuario {
            id: UsuarioId::generar(),
            tipo_documento: Some(TipoDocumento::parse("DNI").unwrap()),
            nro_documento: Some(NroDocumento::parse("1").unwrap()),
            nombre: t("a"),
            apellido: t("b"),
            email: Email::parse("a@b.co").unwrap(),
            historial_compras: vec![compra.clone()],
        };
        let evento = crate::domain::Evento {
            id: EventoId::generar(),
            nombre: t("e"),
            fecha: ahora,
            lugar: t("l"),
            aforo_total: crate::domain::Aforo::new(1).unwrap(),
            entradas_disponibles: 1,
            reservas_activas: vec![],
            precio: Default::default(),
        };
        let reserva = crate::domain::Reserva {
            id: ReservaId::generar(),
            evento_id: EventoId::generar(),
            usuario_id: UsuarioId::generar(),
            entradas: Entradas::new(1).unwrap(),
            estado: E::Confirmada,
            importe: 0,
            creada: ahora,
            actualizada: ahora,
        };
        assert_eq!(propiedades(&doc, "Usuario"), claves(&usuario));
        assert_eq!(propiedades(&doc, "Compra"), claves(&compra));
        assert_eq!(propiedades(&doc, "Evento"), claves(&evento));
        assert_eq!(propiedades(&doc, "Reserva"), claves(&reserva));
        let estados: Vec<String> = doc["components"]["schemas"]["Estado"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        let dominio: Vec<String> = E::TODOS.iter().map(|e| e.as_str().to_owned()).collect();
        assert_eq!(estados, dominio);
    }

    #[test]
    fn la_descripcion_lista_cada_ruta() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        for ruta in [
            "/api/usuarios",
            "/api/usuarios/{id}",
            "/api/usuarios/{id}/historial",
            "/api/eventos",
            "/api/eventos/{id}",
            "/api/reservas",
            "/api/reservas/{id}",
            "/health",
        ] {
            assert!(doc["paths"][ruta].is_object(), "falta {ruta}");
        }
    }
}
