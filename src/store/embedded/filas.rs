//! Rows in and out of the domain. Reads go through the domain parsers, so a row edited by
//! hand into something invalid is an `Inconsistencia` naming the table, the row and the
//! column, never a panic or a silently wrong value.

use std::fmt::Display;

use rusqlite::Row;
use rusqlite::types::ValueRef;

use super::{Fallo, R};
use crate::domain::{
    Aforo, ClaveIdempotencia, Compra, Email, Entradas, Estado, Evento, EventoId, Fecha,
    NroDocumento, Permisos, Precio, Reserva, ReservaId, Texto, TipoDocumento, Token, TokenId,
    Usuario, UsuarioId,
};
use crate::error::Error;
use crate::store::{Cobro, Fase, Paso, RegistroSaga, Toma};

/// The columns [`usuario`] reads, in `SELECT` order.
pub(super) const COLUMNAS_USUARIO: &str =
    "id, tipo_documento, nro_documento, nombre, apellido, email";
/// The columns [`compra`] reads.
pub(super) const COLUMNAS_COMPRA: &str =
    "usuario_id, reserva_id, evento_id, fecha_compra, entradas";
/// The columns [`evento`] reads.
pub(super) const COLUMNAS_EVENTO: &str =
    "id, nombre, fecha, lugar, aforo_total, entradas_disponibles, precio";
/// The columns [`registro`] reads: every field of a `RegistroSaga`.
pub(super) const COLUMNAS_RESERVA: &str = "id, evento_id, usuario_id, entradas, estado, importe, \
     creada, actualizada, paso, fase, expira, clave, fecha_compra, terminada, toma, reclamada_hasta, \
     fallo";
/// The columns [`cobro`] reads.
pub(super) const COLUMNAS_PAGO: &str = "reserva_id, importe, aprobado, cobrado, reembolsado";

/// One row being read, with what names it in an error.
struct Fila<'a, 'b> {
    row: &'a Row<'b>,
    tabla: &'static str,
    id: String,
}

impl<'a, 'b> Fila<'a, 'b> {
    /// `clave` is the column that identifies the row in messages.
    fn new(row: &'a Row<'b>, tabla: &'static str, clave: &str) -> Self {
        let id = match row.get_ref(clave) {
            Ok(ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
            Ok(ValueRef::Integer(i)) => i.to_string(),
            _ => "(sin id)".to_owned(),
        };
        Self { row, tabla, id }
    }

    fn corrupto(&self, campo: &str, detalle: impl Display) -> Fallo {
        Fallo::Dominio(Error::Inconsistencia(format!(
            "dato corrupto en SQLite: la fila {} de la tabla {} tiene el campo {campo} {detalle}; \
             corríjalo en la base de datos o restáurela de una copia (los usuarios y eventos \
             dañados se borran por id con `eventflow usuarios|eventos eliminar <id>`)",
            self.id, self.tabla
        )))
    }

    fn texto_opcional(&self, campo: &str) -> R<Option<String>> {
        match self.row.get_ref(campo)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(t) => std::str::from_utf8(t)
                .map(|s| Some(s.to_owned()))
                .map_err(|_| self.corrupto(campo, "con UTF-8 inválido")),
            otro => Err(self.corrupto(campo, format!("de tipo {}", otro.data_type()))),
        }
    }

    fn entero_opcional(&self, campo: &str) -> R<Option<i64>> {
        match self.row.get_ref(campo)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(i) => Ok(Some(i)),
            otro => Err(self.corrupto(
                campo,
                format!("de tipo {} en vez de entero", otro.data_type()),
            )),
        }
    }

    fn entero(&self, campo: &str) -> R<i64> {
        self.entero_opcional(campo)?
            .ok_or_else(|| self.corrupto(campo, "ausente"))
    }

    fn parse_opcional<T, E: Display>(
        &self, campo: &str, parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> R<Option<T>> {
        match self.texto_opcional(campo)? {
            None => Ok(None),
            Some(v) => parse(&v)
                .map(Some)
                .map_err(|e| self.corrupto(campo, format!("inválido ({e})"))),
        }
    }

    fn parse<T, E: Display>(&self, campo: &str, parse: impl FnOnce(&str) -> Result<T, E>) -> R<T> {
        self.parse_opcional(campo, parse)?
            .ok_or_else(|| self.corrupto(campo, "ausente"))
    }

    /// An integer column that must satisfy a domain constructor.
    fn numero<T, E: Display>(&self, campo: &str, new: impl FnOnce(i64) -> Result<T, E>) -> R<T> {
        let n = self.entero(campo)?;
        new(n).map_err(|e| self.corrupto(campo, format!("inválido ({e})")))
    }

    fn fecha_ms(&self, campo: &str) -> R<Fecha> {
        self.entero(campo).map(Fecha::from_millis)
    }

    fn fecha_ms_opcional(&self, campo: &str) -> R<Option<Fecha>> {
        Ok(self.entero_opcional(campo)?.map(Fecha::from_millis))
    }

    fn booleano(&self, campo: &str) -> R<bool> {
        match self.entero(campo)? {
            0 => Ok(false),
            1 => Ok(true),
            n => Err(self.corrupto(campo, format!("inválido ({n}, se esperaba 0 o 1)"))),
        }
    }
}

/// A user without the history, which lives in its own table.
pub(super) fn usuario(row: &Row<'_>) -> R<Usuario> {
    let f = Fila::new(row, "usuarios", "id");
    let tipo_documento = f.parse_opcional("tipo_documento", TipoDocumento::parse)?;
    let nro_documento = f.parse_opcional("nro_documento", NroDocumento::parse)?;
    if tipo_documento.is_some() != nro_documento.is_some() {
        return Err(f.corrupto("tipo_documento", "sin su nro_documento (o al revés)"));
    }
    Ok(Usuario {
        id: f.parse("id", UsuarioId::parse)?,
        tipo_documento,
        nro_documento,
        nombre: f.parse("nombre", |v| Texto::parse("nombre", v))?,
        apellido: f.parse("apellido", |v| Texto::parse("apellido", v))?,
        email: f.parse("email", Email::parse)?,
        historial_compras: Vec::new(),
    })
}

/// One history entry, with its owner.
pub(super) fn compra(row: &Row<'_>) -> R<(UsuarioId, Compra)> {
    let f = Fila::new(row, "historial", "reserva_id");
    Ok((
        f.parse("usuario_id", UsuarioId::parse)?,
        Compra {
            evento_id: f.parse("evento_id", EventoId::parse)?,
            reserva_id: f.parse("reserva_id", ReservaId::parse)?,
            fecha_compra: f.parse("fecha_compra", Fecha::parse)?,
            entradas: f.numero("entradas", Entradas::new)?,
        },
    ))
}

/// An event without `reservas_activas`, which live in their own table.
pub(super) fn evento(row: &Row<'_>) -> R<Evento> {
    let f = Fila::new(row, "eventos", "id");
    Ok(Evento {
        id: f.parse("id", EventoId::parse)?,
        nombre: f.parse("nombre", |v| Texto::parse("nombre", v))?,
        fecha: f.parse("fecha", Fecha::parse)?,
        lugar: f.parse("lugar", |v| Texto::parse("lugar", v))?,
        aforo_total: f.numero("aforo_total", Aforo::new)?,
        entradas_disponibles: f.entero("entradas_disponibles")?,
        reservas_activas: Vec::new(),
        precio: f.numero("precio", Precio::new)?,
    })
}

pub(super) fn registro(row: &Row<'_>) -> R<RegistroSaga> {
    let f = Fila::new(row, "reservas", "id");
    let sin_sentido = |v: &str| format!("{v:?} no es un valor conocido");
    Ok(RegistroSaga {
        reserva: Reserva {
            id: f.parse("id", ReservaId::parse)?,
            evento_id: f.parse("evento_id", EventoId::parse)?,
            usuario_id: f.parse("usuario_id", UsuarioId::parse)?,
            entradas: f.numero("entradas", Entradas::new)?,
            estado: f.parse("estado", Estado::parse)?,
            importe: f.entero("importe")?,
            creada: f.fecha_ms("creada")?,
            actualizada: f.fecha_ms("actualizada")?,
        },
        paso: f.parse("paso", |v| Paso::parse(v).ok_or_else(|| sin_sentido(v)))?,
        fase: f.parse("fase", |v| Fase::parse(v).ok_or_else(|| sin_sentido(v)))?,
        expira: f.fecha_ms("expira")?,
        clave: f.parse_opcional("clave", ClaveIdempotencia::parse)?,
        fecha_compra: f.fecha_ms_opcional("fecha_compra")?,
        terminada: f.booleano("terminada")?,
        toma: f.parse_opcional("toma", |v| Toma::parse(v).ok_or_else(|| sin_sentido(v)))?,
        reclamada_hasta: f.fecha_ms_opcional("reclamada_hasta")?,
        fallo: f.texto_opcional("fallo")?,
    })
}

pub(super) fn cobro(row: &Row<'_>) -> R<Cobro> {
    let f = Fila::new(row, "pagos", "reserva_id");
    Ok(Cobro {
        reserva_id: f.parse("reserva_id", ReservaId::parse)?,
        importe: f.entero("importe")?,
        aprobado: f.booleano("aprobado")?,
        cobrado: f.fecha_ms("cobrado")?,
        reembolsado: f.fecha_ms_opcional("reembolsado")?,
    })
}

/// The columns [`token`] reads, then the stored hash.
pub(super) const COLUMNAS_TOKEN: &str =
    "id, nombre, permisos, eventos, creado, expira, revocado, huella";

/// A token and its stored hash.
pub(super) fn token(row: &Row<'_>) -> R<(Token, String)> {
    let f = Fila::new(row, "tokens", "id");
    let eventos = f.parse("eventos", |v| {
        v.split(',')
            .filter(|s| !s.is_empty())
            .map(EventoId::parse)
            .collect::<Result<Vec<_>, _>>()
    })?;
    let token = Token {
        id: f.parse("id", TokenId::parse)?,
        nombre: f.parse("nombre", |v| Texto::parse("nombre", v))?,
        permisos: f.parse("permisos", Permisos::parse)?,
        eventos,
        creado: f.fecha_ms("creado")?,
        expira: f.fecha_ms_opcional("expira")?,
        revocado: f.fecha_ms_opcional("revocado")?,
    };
    Ok((token, f.parse("huella", |v| Ok::<_, String>(v.to_owned()))?))
}

/// Runs a prepared query and reads every row with `leer`.
pub(super) fn todas<T>(
    stmt: &mut rusqlite::Statement<'_>, params: impl rusqlite::Params,
    leer: impl Fn(&Row<'_>) -> R<T>,
) -> R<Vec<T>> {
    let mut filas = stmt.query(params)?;
    let mut v = Vec::new();
    while let Some(row) = filas.next()? {
        v.push(leer(row)?);
    }
    Ok(v)
}

/// Like [`todas`], but a row that does not read back is kept as its `Inconsistencia`
/// next to its raw `id`, so a listing can skip it and go on after it.
pub(super) fn todas_crudas<T>(
    stmt: &mut rusqlite::Statement<'_>, params: impl rusqlite::Params,
    leer: impl Fn(&Row<'_>) -> R<T>,
) -> R<Vec<crate::store::listado::Cruda<String, T>>> {
    let mut filas = stmt.query(params)?;
    let mut v = Vec::new();
    while let Some(row) = filas.next()? {
        let id = match row.get_ref("id")? {
            ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
            otro => format!("(id de tipo {})", otro.data_type()),
        };
        v.push(crate::store::listado::Cruda {
            cursor: id.clone(),
            id,
            leida: separar(leer(row))?,
        });
    }
    Ok(v)
}

/// A page of raw rows for a listing: `sql` selects the rows after the id `?1`, at most
/// `?2`, in id order; each is read by `leer`, then `completar` adds what lives in other
/// tables. A row that fails either is kept as its damage.
pub(super) fn pagina_cruda<T>(
    con: &rusqlite::Connection, sql: &str, desde: &str, n: u32, leer: fn(&Row<'_>) -> R<T>,
    completar: fn(&rusqlite::Connection, T) -> R<T>,
) -> R<Vec<crate::store::listado::Cruda<String, T>>> {
    let mut stmt = con.prepare_cached(sql)?;
    todas_crudas(&mut stmt, rusqlite::params![desde, n], leer)?
        .into_iter()
        .map(|c| {
            let leida = match c.leida {
                Ok(x) => separar(completar(con, x))?,
                Err(e) => Err(e),
            };
            Ok(crate::store::listado::Cruda {
                cursor: c.cursor,
                id: c.id,
                leida,
            })
        })
        .collect()
}

/// Splits a row's data damage (`Inconsistencia`, the row's own problem) from a failure of
/// the store, which ends the read.
pub(super) fn separar<T>(r: R<T>) -> R<crate::error::Result<T>> {
    match r {
        Ok(t) => Ok(Ok(t)),
        Err(Fallo::Dominio(e @ Error::Inconsistencia(_))) => Ok(Err(e)),
        Err(otro) => Err(otro),
    }
}

/// Like [`todas`], for at most one row.
pub(super) fn una<T>(
    stmt: &mut rusqlite::Statement<'_>, params: impl rusqlite::Params,
    leer: impl Fn(&Row<'_>) -> R<T>,
) -> R<Option<T>> {
    let mut filas = stmt.query(params)?;
    match filas.next()? {
        Some(row) => leer(row).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    #[test]
    fn una_fila_corrupta_nombra_tabla_fila_y_campo() {
        let con = Connection::open_in_memory().unwrap();
        let mut stmt = con
            .prepare(
                "SELECT 'aaaaaaaaaaaaaaaaaaaaaaaa' AS id, 'bbbbbbbbbbbbbbbbbbbbbbbb' AS evento_id, \
                 'cccccccccccccccccccccccc' AS usuario_id, 2 AS entradas, 'pagada' AS estado, \
                 0 AS importe, 0 AS creada, 0 AS actualizada, 'pago' AS paso, 'hecho' AS fase, \
                 0 AS expira, NULL AS clave, NULL AS fecha_compra, 0 AS terminada, \
                 NULL AS toma, NULL AS reclamada_hasta, NULL AS fallo",
            )
            .unwrap();
        let Err(Fallo::Dominio(e)) = una(&mut stmt, [], registro) else {
            panic!("se esperaba un error de dominio");
        };
        assert_eq!(e.exit_code(), 8);
        let texto = e.to_string();
        assert!(
            texto.contains("aaaaaaaaaaaaaaaaaaaaaaaa")
                && texto.contains("reservas")
                && texto.contains("estado"),
            "{texto}"
        );
    }

    #[test]
    fn un_entero_guardado_como_texto_es_corrupto() {
        let con = Connection::open_in_memory().unwrap();
        let mut stmt = con
            .prepare(
                "SELECT 'aaaaaaaaaaaaaaaaaaaaaaaa' AS reserva_id, 'mucho' AS importe, \
                 1 AS aprobado, 0 AS cobrado, NULL AS reembolsado",
            )
            .unwrap();
        let Err(Fallo::Dominio(e)) = una(&mut stmt, [], cobro) else {
            panic!("se esperaba un error de dominio");
        };
        assert!(e.to_string().contains("importe"), "{e}");
    }
}
