//! What is imported: users and events. Each kind says which fields it takes, builds its
//! `Nuevo…` value through the same domain parsers as `crear`, names its uniqueness keys,
//! and writes a batch (events also get their seat counters, as `eventos crear` does).

use std::borrow::Cow;
use std::collections::HashSet;
use std::future::Future;
use std::hash::{Hash, Hasher};

use futures::{StreamExt, TryStreamExt, stream};
use serde_json::{Map, Value, json};

use super::lector::{Esquema, Registro, Valor};
use crate::domain::{
    Aforo, Documento, Email, EventoId, Fecha, NroDocumento, NuevoEvento, NuevoUsuario, ParseError,
    Precio, Texto, TipoDocumento,
};
use crate::error::Result;
use crate::store::{Almacen, ModoImport, ResultadoLote};

/// Store calls in flight at once for the per-row work of an event batch (existence
/// checks, counters). The Redis connection is multiplexed, so they pipeline.
const EN_VUELO: usize = 32;

/// Why a row was refused, and the field to fix if there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problema {
    pub campo: Option<String>,
    pub motivo: String,
}

impl Problema {
    fn en(campo: &str, motivo: impl Into<String>) -> Self {
        Self {
            campo: Some(campo.to_owned()),
            motivo: motivo.into(),
        }
    }
}

impl From<ParseError> for Problema {
    fn from(e: ParseError) -> Self {
        Self {
            campo: Some(e.campo.to_owned()),
            motivo: e.to_string(),
        }
    }
}

/// A kind of record the importer handles.
pub(crate) trait Tipo: Send + Sync + 'static {
    type Nuevo: Clone + Send + Sync + 'static;
    const ESQUEMA: Esquema;

    /// Builds the value, or says which field is wrong.
    fn construir(r: &dyn Registro) -> Result<Self::Nuevo, Problema>;
    /// The 64-bit fingerprints of the row's unique keys, with the field each names.
    fn claves(n: &Self::Nuevo) -> Vec<(&'static str, u64)>;
    /// The value of key `campo`, for messages.
    fn valor_clave(n: &Self::Nuevo, campo: &str) -> String;
    /// The row as an importable JSON object (for rejections the store made).
    fn registro(n: &Self::Nuevo) -> Value;
    /// The field a store rejection is about, read from its reason.
    fn campo_de_rechazo(motivo: &str) -> Option<&'static str>;
    /// Writes one batch; rejections and ids are by index in `lote`.
    fn escribir(
        alm: &Almacen, lote: &[Self::Nuevo], modo: ModoImport,
    ) -> impl Future<Output = Result<ResultadoLote>> + Send;
}

/// A 64-bit fingerprint of a key: the importer keeps these instead of the keys, 8 bytes
/// a row. `DefaultHasher::new()` has fixed keys, so it is the same for the whole run; a
/// collision between two of a million keys has odds of about 3e-8.
fn huella(partes: &[&str]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    for p in partes {
        p.hash(&mut h);
    }
    h.finish()
}

fn requerido<'a>(r: &'a dyn Registro, campo: &str) -> Result<Cow<'a, str>, Problema> {
    opcional(r, campo)?
        .ok_or_else(|| Problema::en(campo, format!("falta el campo obligatorio {campo}")))
}

fn opcional<'a>(r: &'a dyn Registro, campo: &str) -> Result<Option<Cow<'a, str>>, Problema> {
    match r.valor(campo) {
        Valor::Ausente => Ok(None),
        Valor::Texto(s) => Ok(Some(s)),
        Valor::Entero(n) => Ok(Some(Cow::Owned(n.to_string()))),
        Valor::Invalido(m) => Err(Problema::en(campo, m)),
    }
}

/// An integer field: a JSON number goes to `new`, text (CSV) to `parse`.
fn entero<T>(
    r: &dyn Registro, campo: &str, new: fn(i64) -> Result<T, ParseError>,
    parse: fn(&str) -> Result<T, ParseError>,
) -> Result<Option<T>, Problema> {
    match r.valor(campo) {
        Valor::Ausente => Ok(None),
        Valor::Entero(n) => Ok(Some(new(n)?)),
        Valor::Texto(s) => Ok(Some(parse(&s)?)),
        Valor::Invalido(m) => Err(Problema::en(campo, m)),
    }
}

/// Users: unique by email, and by document when they have one.
pub(crate) struct Usuarios;

impl Tipo for Usuarios {
    type Nuevo = NuevoUsuario;
    const ESQUEMA: Esquema = Esquema {
        campos: &[
            "tipo_documento",
            "nro_documento",
            "nombre",
            "apellido",
            "email",
        ],
        obligatorios: &["nombre", "apellido", "email"],
        solo_lectura: &["id", "historial_compras"],
    };

    fn construir(r: &dyn Registro) -> Result<NuevoUsuario, Problema> {
        let nombre = Texto::parse("nombre", &requerido(r, "nombre")?)?;
        let apellido = Texto::parse("apellido", &requerido(r, "apellido")?)?;
        let email = Email::parse(&requerido(r, "email")?)?;
        let tipo = opcional(r, "tipo_documento")?
            .map(|t| TipoDocumento::parse(&t))
            .transpose()?;
        let nro = opcional(r, "nro_documento")?
            .map(|n| NroDocumento::parse(&n))
            .transpose()?;
        let documento = match (tipo, nro) {
            (Some(t), None) => {
                return Err(Problema::en(
                    "nro_documento",
                    format!("falta nro_documento para el documento {t}: indique los dos o ninguno"),
                ));
            }
            (None, Some(n)) => {
                return Err(Problema::en(
                    "tipo_documento",
                    format!(
                        "falta tipo_documento para el documento {n}: indique los dos o ninguno"
                    ),
                ));
            }
            (t, n) => Documento::from_partes(t, n)?,
        };
        Ok(NuevoUsuario {
            nombre,
            apellido,
            email,
            documento,
        })
    }

    fn claves(n: &NuevoUsuario) -> Vec<(&'static str, u64)> {
        let mut v = vec![("email", huella(&["email", n.email.as_str()]))];
        if let Some(d) = &n.documento {
            v.push((
                "nro_documento",
                huella(&["documento", d.tipo.as_str(), d.nro.as_str()]),
            ));
        }
        v
    }

    fn valor_clave(n: &NuevoUsuario, campo: &str) -> String {
        match (campo, &n.documento) {
            ("nro_documento", Some(d)) => format!("el documento {d}"),
            _ => format!("el email {}", n.email),
        }
    }

    fn registro(n: &NuevoUsuario) -> Value {
        let mut m = Map::new();
        if let Some(d) = &n.documento {
            m.insert("tipo_documento".into(), d.tipo.as_str().into());
            m.insert("nro_documento".into(), d.nro.as_str().into());
        }
        m.insert("nombre".into(), n.nombre.as_str().into());
        m.insert("apellido".into(), n.apellido.as_str().into());
        m.insert("email".into(), n.email.as_str().into());
        Value::Object(m)
    }

    fn campo_de_rechazo(motivo: &str) -> Option<&'static str> {
        if motivo.contains("el email") {
            Some("email")
        } else if motivo.contains("el documento") {
            Some("nro_documento")
        } else {
            None
        }
    }

    fn escribir(
        alm: &Almacen, lote: &[NuevoUsuario], modo: ModoImport,
    ) -> impl Future<Output = Result<ResultadoLote>> + Send {
        let lote = lote.to_vec();
        let usuarios = alm.usuarios.clone();
        async move { usuarios.importar(lote, modo).await }
    }
}

/// Events: identified by `nombre` + `fecha` (what upsert matches on), each with a seat
/// counter in the reservation store.
pub(crate) struct Eventos;

const CLAVE_EVENTO: &str = "nombre+fecha";

impl Tipo for Eventos {
    type Nuevo = NuevoEvento;
    const ESQUEMA: Esquema = Esquema {
        campos: &["nombre", "fecha", "lugar", "aforo_total", "precio"],
        obligatorios: &["nombre", "fecha", "lugar", "aforo_total"],
        solo_lectura: &["id", "entradas_disponibles", "reservas_activas"],
    };

    fn construir(r: &dyn Registro) -> Result<NuevoEvento, Problema> {
        let nombre = Texto::parse("nombre", &requerido(r, "nombre")?)?;
        let fecha = Fecha::parse(&requerido(r, "fecha")?)?;
        let lugar = Texto::parse("lugar", &requerido(r, "lugar")?)?;
        let aforo = entero(r, "aforo_total", Aforo::new, Aforo::parse)?
            .ok_or_else(|| Problema::en("aforo_total", "falta el campo obligatorio aforo_total"))?;
        let precio = entero(r, "precio", Precio::new, Precio::parse)?.unwrap_or_default();
        Ok(NuevoEvento {
            nombre,
            fecha,
            lugar,
            aforo,
            precio,
        })
    }

    fn claves(n: &NuevoEvento) -> Vec<(&'static str, u64)> {
        vec![(
            CLAVE_EVENTO,
            huella(&["evento", n.nombre.as_str(), &n.fecha.to_string()]),
        )]
    }

    fn valor_clave(n: &NuevoEvento, _campo: &str) -> String {
        format!("el evento {:?} del {}", n.nombre.as_str(), n.fecha)
    }

    fn registro(n: &NuevoEvento) -> Value {
        json!({
            "nombre": n.nombre.as_str(),
            "fecha": n.fecha.to_string(),
            "lugar": n.lugar.as_str(),
            "aforo_total": n.aforo.get(),
            "precio": n.precio.get(),
        })
    }

    fn campo_de_rechazo(motivo: &str) -> Option<&'static str> {
        motivo
            .contains("ya existe el evento")
            .then_some(CLAVE_EVENTO)
    }

    fn escribir(
        alm: &Almacen, lote: &[NuevoEvento], modo: ModoImport,
    ) -> impl Future<Output = Result<ResultadoLote>> + Send {
        let alm = alm.clone();
        let lote = lote.to_vec();
        async move { escribir_eventos(&alm, &lote, modo).await }
    }
}

/// Insert mode refuses an event that already exists (same `nombre` + `fecha`), which
/// the store cannot do for us: its index on the pair is not unique, since `eventos
/// crear` allows twins. Without this a second run of the same file would double every
/// event. The check and the insert are not atomic; a concurrent `crear` can slip in.
async fn escribir_eventos(
    alm: &Almacen, lote: &[NuevoEvento], modo: ModoImport,
) -> Result<ResultadoLote> {
    let mut previos = Vec::new();
    let mut indices: Vec<usize> = (0..lote.len()).collect();
    if modo == ModoImport::Insertar {
        let existentes: Vec<_> = stream::iter(0..lote.len())
            .map(|i| {
                alm.eventos
                    .por_nombre_fecha(&lote[i].nombre, &lote[i].fecha)
            })
            .buffered(EN_VUELO)
            .try_collect()
            .await?;
        for (i, ex) in existentes.into_iter().enumerate() {
            if let Some(ex) = ex {
                previos.push((
                    i,
                    format!(
                        "ya existe el evento {:?} del {} (id {}): use --modo upsert para actualizarlo",
                        ex.nombre.as_str(),
                        ex.fecha,
                        ex.id
                    ),
                ));
            }
        }
        let fuera: HashSet<usize> = previos.iter().map(|(i, _)| *i).collect();
        indices.retain(|i| !fuera.contains(i));
    }
    let sub: Vec<NuevoEvento> = indices.iter().map(|&i| lote[i].clone()).collect();
    let mut r = if sub.is_empty() {
        ResultadoLote::default()
    } else {
        alm.eventos.importar(sub, modo).await?
    };
    for (i, _) in &mut r.rechazados {
        *i = indices[*i];
    }
    for (i, _) in &mut r.insertados_ids {
        *i = indices[*i];
    }
    crear_contadores(alm, lote, &r.insertados_ids).await?;
    if modo == ModoImport::Upsert {
        let fuera: HashSet<usize> = r
            .insertados_ids
            .iter()
            .map(|(i, _)| *i)
            .chain(r.rechazados.iter().map(|(i, _)| *i))
            .collect();
        let actualizados: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|i| !fuera.contains(i))
            .collect();
        completar_contadores(alm, lote, &actualizados).await?;
    }
    r.rechazados.extend(previos);
    r.rechazados.sort_by_key(|(i, _)| *i);
    Ok(r)
}

/// Creates the seat counters of the events just inserted, as `eventos crear` does. If
/// any fails, the events of this batch whose counter was not made are removed again, so
/// that no event outlives a counter that was never created.
async fn crear_contadores(
    alm: &Almacen, lote: &[NuevoEvento], ids: &[(usize, String)],
) -> Result<()> {
    let resultados: Vec<Result<()>> = stream::iter(ids.to_vec())
        .map(|(i, id)| async move {
            let id = EventoId::parse(&id).map_err(crate::Error::from)?;
            crate::casos::eventos::contador_o_deshacer(alm, &id, lote[i].aforo).await
        })
        .buffer_unordered(EN_VUELO)
        .collect()
        .await;
    // Every event got its counter or was removed again; the first failure is reported.
    resultados.into_iter().collect()
}

/// An upsert re-run after an import that died between storing a batch of events and
/// creating their counters finds those events already there. Gives each matched event
/// that has no sales its counter (`SET NX`: an existing counter is never touched).
async fn completar_contadores(alm: &Almacen, lote: &[NuevoEvento], filas: &[usize]) -> Result<()> {
    stream::iter(filas.to_vec())
        .map(|i| async move {
            let e = &lote[i];
            if let Some(ev) = alm.eventos.por_nombre_fecha(&e.nombre, &e.fecha).await? {
                let sin_ventas = ev.reservas_activas.is_empty()
                    && ev.entradas_disponibles == i64::from(ev.aforo_total.get());
                if sin_ventas {
                    alm.reservas.crear_contador(&ev.id, ev.aforo_total).await?;
                }
            }
            Ok::<_, crate::Error>(())
        })
        .buffer_unordered(EN_VUELO)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn usuario_con_email_malo_nombra_el_campo() {
        let p = Usuarios::construir(&obj(
            json!({"nombre": "Ana", "apellido": "Gil", "email": "ana"}),
        ))
        .unwrap_err();
        assert_eq!(p.campo.as_deref(), Some("email"));
        assert!(p.motivo.contains("\"ana\""), "{}", p.motivo);
    }

    #[test]
    fn usuario_sin_apellido_o_con_medio_documento_se_rechaza() {
        let p =
            Usuarios::construir(&obj(json!({"nombre": "Ana", "email": "a@x.com"}))).unwrap_err();
        assert_eq!(p.campo.as_deref(), Some("apellido"));
        let p = Usuarios::construir(&obj(json!({
            "nombre": "Ana", "apellido": "Gil", "email": "a@x.com", "tipo_documento": "DNI"
        })))
        .unwrap_err();
        assert_eq!(p.campo.as_deref(), Some("nro_documento"));
    }

    #[test]
    fn usuario_acepta_numero_de_documento_numerico() {
        let u = Usuarios::construir(&obj(json!({
            "nombre": "Ana", "apellido": "Gil", "email": "A@X.com",
            "tipo_documento": "dni", "nro_documento": 123
        })))
        .unwrap();
        assert_eq!(u.email.as_str(), "a@x.com");
        assert_eq!(u.documento.unwrap().to_string(), "DNI 123");
    }

    #[test]
    fn evento_acepta_numeros_como_texto_y_rechaza_aforo_negativo() {
        let e = Eventos::construir(&obj(json!({
            "nombre": "X", "fecha": "2025-12-01T21:00:00Z", "lugar": "Y", "aforo_total": "10"
        })))
        .unwrap();
        assert_eq!(e.aforo.get(), 10);
        assert_eq!(e.precio.get(), 0);
        let p = Eventos::construir(&obj(json!({
            "nombre": "X", "fecha": "2025-12-01T21:00:00Z", "lugar": "Y", "aforo_total": -3
        })))
        .unwrap_err();
        assert_eq!(p.campo.as_deref(), Some("aforo_total"));
        let p = Eventos::construir(&obj(json!({
            "nombre": "X", "fecha": "mañana", "lugar": "Y", "aforo_total": 3
        })))
        .unwrap_err();
        assert_eq!(p.campo.as_deref(), Some("fecha"));
    }

    #[test]
    fn el_registro_de_un_rechazo_se_puede_volver_a_importar() {
        let u = Usuarios::construir(&obj(json!({
            "nombre": "Ana", "apellido": "Gil", "email": "a@x.com",
            "tipo_documento": "DNI", "nro_documento": "1"
        })))
        .unwrap();
        let otra_vez = Usuarios::construir(&obj(Usuarios::registro(&u))).unwrap();
        assert_eq!(otra_vez, u);
        let e = Eventos::construir(&obj(json!({
            "nombre": "X", "fecha": "2025-12-01T18:00:00-03:00", "lugar": "Y", "aforo_total": 3, "precio": 5
        })))
        .unwrap();
        assert_eq!(Eventos::construir(&obj(Eventos::registro(&e))).unwrap(), e);
    }

    #[test]
    fn la_huella_de_una_clave_es_estable_y_separa_las_partes() {
        assert_eq!(huella(&["a", "b"]), huella(&["a", "b"]));
        assert_ne!(huella(&["ab", ""]), huella(&["a", "b"]));
    }
}
