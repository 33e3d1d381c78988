//! Fuzzing of the readers with proptest (issue 10): any bytes, and files shaped almost
//! right, in every format, never make a reader panic, and every record that the readers
//! and the schema accept is rebuilt equal from its stored form.
//!
//! CI runs proptest's default case count (256 a property). A longer local run:
//! `PROPTEST_CASES=100000 cargo test --lib import::fuzz`.

use std::fmt::Debug;
use std::ops::ControlFlow;

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::FileFormat;
use super::campos::{Eventos, Tipo, Usuarios};
use super::lector::{Leido, leer};

const FORMATOS: [FileFormat; 3] = [FileFormat::Csv, FileFormat::Jsonl, FileFormat::Json];

/// Reads `datos` as `formato` for the entity `T`, checks every accepted record
/// round-trips through its stored form, and returns how many were accepted.
fn comprobar<T: Tipo>(formato: FileFormat, datos: &[u8]) -> Result<usize, TestCaseError>
where
    T::Nuevo: PartialEq + Debug,
{
    let mut aceptados = Vec::new();
    // A file the reader refuses whole (bad header, not an array) is a fine outcome: it
    // only must not panic.
    let _ = leer(formato, datos, &T::ESQUEMA, &mut |_, l| {
        if let Leido::Registro(r) = l
            && let Ok(n) = T::construir(r)
        {
            aceptados.push(n);
        }
        ControlFlow::Continue(())
    });
    for n in &aceptados {
        let Value::Object(guardado) = T::registro(n) else {
            return Err(TestCaseError::fail("el registro guardado no es un objeto"));
        };
        match T::construir(&guardado) {
            Ok(otra) => prop_assert_eq!(&otra, n),
            Err(p) => {
                return Err(TestCaseError::fail(format!(
                    "{n:?} se aceptó pero su forma guardada no se relee: {}",
                    p.motivo
                )));
            }
        }
    }
    Ok(aceptados.len())
}

fn comprobar_todo(datos: &[u8]) -> Result<(), TestCaseError> {
    for f in FORMATOS {
        comprobar::<Usuarios>(f, datos)?;
        comprobar::<Eventos>(f, datos)?;
    }
    Ok(())
}

/// A JSON value of the kinds a file may hold where a field is expected.
fn valor_json() -> impl Strategy<Value = Value> {
    prop_oneof![
        "\\PC{0,24}".prop_map(Value::from),
        "[ a-zA-Z\u{e9}\u{301}\u{200B}@.-]{0,20}".prop_map(Value::from),
        "[0-9]{4}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](Z|[+-][01][0-9]:[0-5][0-9])"
            .prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|x| json!(x)),
        (0i64..100_000).prop_map(|n| json!(n as f64)),
        Just(Value::Null),
        Just(json!({"a": 1})),
    ]
}

const CLAVES: &[&str] = &[
    "nombre",
    "apellido",
    "email",
    "tipo_documento",
    "nro_documento",
    "fecha",
    "lugar",
    "aforo_total",
    "precio",
    "id",
];

/// An object with fields the schemas know, sometimes a key repeated.
fn objeto() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec((proptest::sample::select(CLAVES), valor_json()), 0..8),
        any::<bool>(),
    )
        .prop_map(|(campos, repetir)| {
            let mut m = Map::new();
            for (k, v) in &campos {
                m.insert((*k).to_owned(), v.clone());
            }
            let mut s = Value::Object(m).to_string();
            if repetir && let Some((k, v)) = campos.first() {
                s.insert_str(1, &format!("{}:{v},", Value::from(*k)));
            }
            s
        })
}

/// A CSV cell: plain, quoted with separators and newlines inside, or a stray quote.
fn celda() -> impl Strategy<Value = String> {
    prop_oneof![
        "[^,;\"\n]{0,16}",
        "[^\"]{0,16}".prop_map(|s| format!("\"{s}\"")),
        "[a-z\"]{0,6}",
    ]
}

proptest! {
    #[test]
    fn cualquier_byte_en_cualquier_formato_no_entra_en_panico(
        datos in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        comprobar_todo(&datos)?;
    }

    #[test]
    fn json_lines_y_json_casi_validos_se_releen_o_se_rechazan(
        objetos in proptest::collection::vec(objeto(), 0..6),
    ) {
        let jsonl = objetos.join("\n");
        let array = format!("[{}]", objetos.join(","));
        for f in FORMATOS {
            comprobar::<Usuarios>(f, jsonl.as_bytes())?;
            comprobar::<Eventos>(f, jsonl.as_bytes())?;
            comprobar::<Usuarios>(f, array.as_bytes())?;
            comprobar::<Eventos>(f, array.as_bytes())?;
        }
    }

    #[test]
    fn csv_casi_valido_se_relee_o_se_rechaza(
        cabecera in proptest::sample::subsequence(CLAVES.to_vec(), 0..CLAVES.len()),
        filas in proptest::collection::vec(proptest::collection::vec(celda(), 0..9), 0..6),
        separador in proptest::sample::select(vec![",", ";"]),
    ) {
        let mut csv = cabecera.join(separador);
        for f in &filas {
            csv.push('\n');
            csv.push_str(&f.join(separador));
        }
        comprobar_todo(csv.as_bytes())?;
    }
}

#[test]
fn un_csv_valido_se_acepta_y_se_relee() {
    let datos = "nombre,apellido,email,tipo_documento,nro_documento\n\
                 Jose\u{301},Paz,JOSE\u{301}@B\u{fc}cher.de,dni,12345678\n";
    assert_eq!(
        comprobar::<Usuarios>(FileFormat::Csv, datos.as_bytes()).unwrap(),
        1
    );
    let datos = "{\"nombre\":\"Rock\",\"fecha\":\"2030-01-01T21:00:00.5+03:00\",\"lugar\":\"Sala\",\"aforo_total\":1e2}";
    assert_eq!(
        comprobar::<Eventos>(FileFormat::Jsonl, datos.as_bytes()).unwrap(),
        1
    );
}
