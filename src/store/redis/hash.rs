//! Saga records and ledger entries as Redis hashes: one function writes the fields, and
//! reading goes through the domain parsers, so a corrupt hash is an `Inconsistencia`
//! naming its key and field rather than a panic or a silently wrong value.

use std::collections::HashMap;

use crate::domain::{
    ClaveIdempotencia, Entradas, Estado, EventoId, Fecha, Reserva, ReservaId, UsuarioId,
};
use crate::error::{Error, Result};
use crate::store::{Cobro, Fase, Paso, RegistroSaga, Toma};

/// The field/value pairs of a record, as `HSET` takes them. Instants are epoch ms.
pub(crate) fn campos(r: &RegistroSaga) -> Vec<(&'static str, String)> {
    let mut c = vec![
        ("id", r.reserva.id.to_string()),
        ("evento_id", r.reserva.evento_id.to_string()),
        ("usuario_id", r.reserva.usuario_id.to_string()),
        ("entradas", r.reserva.entradas.to_string()),
        ("estado", r.reserva.estado.as_str().to_owned()),
        ("importe", r.reserva.importe.to_string()),
        ("creada", r.reserva.creada.millis().to_string()),
        ("actualizada", r.reserva.actualizada.millis().to_string()),
        ("paso", r.paso.as_str().to_owned()),
        ("fase", r.fase.as_str().to_owned()),
        ("expira", r.expira.millis().to_string()),
        ("terminada", if r.terminada { "1" } else { "0" }.to_owned()),
    ];
    if let Some(k) = &r.clave {
        c.push(("clave", k.to_string()));
    }
    if let Some(f) = r.fecha_compra {
        c.push(("fecha_compra", f.millis().to_string()));
    }
    if let Some(t) = r.toma {
        c.push(("toma", t.as_str().to_owned()));
    }
    if let Some(f) = r.reclamada_hasta {
        c.push(("reclamada_hasta", f.millis().to_string()));
    }
    if let Some(f) = &r.fallo {
        c.push(("fallo", f.clone()));
    }
    c
}

/// The field/value pairs of a ledger entry, as `HSET` takes them.
pub(crate) fn campos_cobro(c: &Cobro) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("importe", c.importe.to_string()),
        ("aprobado", if c.aprobado { "1" } else { "0" }.to_owned()),
        ("cobrado", c.cobrado.millis().to_string()),
    ];
    if let Some(f) = c.reembolsado {
        v.push(("reembolsado", f.millis().to_string()));
    }
    v
}

/// A hash read back, with the key it came from for error messages.
struct Leido<'a> {
    clave: &'a str,
    mapa: &'a HashMap<String, String>,
}

impl Leido<'_> {
    fn corrupto(&self, campo: &str, detalle: &str) -> Error {
        Error::Inconsistencia(format!(
            "dato corrupto en Redis: la clave {} tiene el campo {campo} {detalle}; \
             corríjalo o restáurelo con `eventflow verificar --reparar`",
            self.clave
        ))
    }

    fn opcional<T>(&self, campo: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<Option<T>> {
        match self.mapa.get(campo) {
            None => Ok(None),
            Some(v) => parse(v)
                .map(Some)
                .ok_or_else(|| self.corrupto(campo, &format!("inválido ({v:?})"))),
        }
    }

    fn campo<T>(&self, campo: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T> {
        self.opcional(campo, parse)?
            .ok_or_else(|| self.corrupto(campo, "ausente"))
    }

    fn entero(&self, campo: &str) -> Result<i64> {
        self.campo(campo, |v| v.parse().ok())
    }

    fn fecha(&self, campo: &str) -> Result<Fecha> {
        self.entero(campo).map(Fecha::from_millis)
    }

    fn fecha_opcional(&self, campo: &str) -> Result<Option<Fecha>> {
        self.opcional(campo, |v| v.parse().ok().map(Fecha::from_millis))
    }

    fn booleano(&self, campo: &str) -> Result<bool> {
        self.campo(campo, |v| match v {
            "0" => Some(false),
            "1" => Some(true),
            _ => None,
        })
    }
}

/// Parses a saga record. `clave` is the hash's key, for the error message.
pub(crate) fn registro(clave: &str, mapa: &HashMap<String, String>) -> Result<RegistroSaga> {
    let h = Leido { clave, mapa };
    Ok(RegistroSaga {
        reserva: Reserva {
            id: h.campo("id", |v| ReservaId::parse(v).ok())?,
            evento_id: h.campo("evento_id", |v| EventoId::parse(v).ok())?,
            usuario_id: h.campo("usuario_id", |v| UsuarioId::parse(v).ok())?,
            entradas: h.campo("entradas", |v| Entradas::parse(v).ok())?,
            estado: h.campo("estado", |v| Estado::parse(v).ok())?,
            importe: h.entero("importe")?,
            creada: h.fecha("creada")?,
            actualizada: h.fecha("actualizada")?,
        },
        paso: h.campo("paso", Paso::parse)?,
        fase: h.campo("fase", Fase::parse)?,
        expira: h.fecha("expira")?,
        clave: h.opcional("clave", |v| ClaveIdempotencia::parse(v).ok())?,
        fecha_compra: h.fecha_opcional("fecha_compra")?,
        terminada: h.booleano("terminada")?,
        toma: h.opcional("toma", Toma::parse)?,
        reclamada_hasta: h.fecha_opcional("reclamada_hasta")?,
        fallo: h.mapa.get("fallo").cloned(),
    })
}

/// Parses a ledger entry of `reserva`.
pub(crate) fn cobro(
    clave: &str, reserva: &ReservaId, mapa: &HashMap<String, String>,
) -> Result<Cobro> {
    let h = Leido { clave, mapa };
    Ok(Cobro {
        reserva_id: reserva.clone(),
        importe: h.entero("importe")?,
        aprobado: h.booleano("aprobado")?,
        cobrado: h.fecha("cobrado")?,
        reembolsado: h.fecha_opcional("reembolsado")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ejemplo() -> RegistroSaga {
        RegistroSaga {
            reserva: Reserva {
                id: ReservaId::generar(),
                evento_id: EventoId::generar(),
                usuario_id: UsuarioId::generar(),
                entradas: Entradas::new(3).unwrap(),
                estado: Estado::Confirmada,
                importe: 7500,
                creada: Fecha::from_millis(1_700_000_000_123),
                actualizada: Fecha::from_millis(1_700_000_001_000),
            },
            paso: Paso::Confirmacion,
            fase: Fase::Hecho,
            expira: Fecha::from_millis(1_700_000_900_123),
            clave: Some(ClaveIdempotencia::parse("k-1").unwrap()),
            fecha_compra: Some(Fecha::from_millis(1_700_000_001_000)),
            terminada: false,
            toma: Some(Toma::Compensacion),
            reclamada_hasta: None,
            fallo: Some("pago_rechazado pago rechazado".into()),
        }
    }

    fn mapa(r: &RegistroSaga) -> HashMap<String, String> {
        campos(r)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    }

    #[test]
    fn un_registro_escrito_se_lee_igual() {
        let r = ejemplo();
        assert_eq!(registro("k", &mapa(&r)).unwrap(), r);
    }

    #[test]
    fn un_campo_corrupto_nombra_la_clave_y_el_campo() {
        let mut m = mapa(&ejemplo());
        m.insert("entradas".into(), "-2".into());
        let e = registro("p:reserva:{e}:r", &m).unwrap_err();
        assert_eq!(e.exit_code(), 8);
        let texto = e.to_string();
        assert!(
            texto.contains("p:reserva:{e}:r") && texto.contains("entradas"),
            "{texto}"
        );

        let mut m = mapa(&ejemplo());
        m.remove("estado");
        assert!(
            registro("k", &m)
                .unwrap_err()
                .to_string()
                .contains("estado ausente")
        );
    }
}
