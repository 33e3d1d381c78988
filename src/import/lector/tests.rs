//! Unit tests of the readers, beside them.

use super::*;
use proptest::prelude::*;

const ESQUEMA: Esquema = Esquema {
    campos: &["nombre", "email", "aforo_total"],
    obligatorios: &["nombre", "email"],
    solo_lectura: &["id"],
};

/// Each record as `(line, Ok(json) | Err(reason))`.
fn registros(formato: FileFormat, datos: &[u8]) -> Result<Vec<(u64, Result<Value, String>)>> {
    let mut v = Vec::new();
    leer(formato, datos, &ESQUEMA, &mut |linea, l| {
        v.push((
            linea,
            match l {
                Leido::Registro(r) => Ok(r.a_json()),
                Leido::Malo { motivo, .. } => Err(motivo),
            },
        ));
        ControlFlow::Continue(())
    })?;
    Ok(v)
}

#[test]
fn una_clave_repetida_rechaza_la_fila_con_su_linea() {
    // Issue 10: serde_json alone keeps the last value silently.
    let datos = b"{\"nombre\":\"A\",\"email\":\"a@x.com\"}\n{\"email\":\"a@x.com\",\"nombre\":\"B\",\"email\":\"b@x.com\"}\n";
    let r = registros(FileFormat::Jsonl, datos).unwrap();
    assert!(r[0].1.is_ok());
    assert_eq!(r[1].0, 2);
    let e = r[1].1.as_ref().unwrap_err();
    assert!(
        e.contains("\"email\"") && e.contains("más de una vez"),
        "{e}"
    );
    let r = registros(
        FileFormat::Json,
        b"[{\"nombre\":\"A\",\"aforo_total\":1,\"aforo_total\":2}, {\"nombre\":\"B\"}]",
    )
    .unwrap();
    assert_eq!(r.len(), 2);
    assert!(r[0].1.as_ref().unwrap_err().contains("aforo_total"));
    assert!(r[1].1.is_ok());
}

#[test]
fn un_numero_entero_es_entero_y_uno_con_decimales_se_rechaza() {
    let m: Map<String, Value> = serde_json::from_str(
        r#"{"a": 4.2e1, "b": 12345678.0, "c": 42, "d": 4.5, "e": 1e300, "f": 18446744073709551615}"#,
    )
    .unwrap();
    assert!(matches!(m.valor("a"), Valor::Entero(42)));
    assert!(matches!(m.valor("b"), Valor::Entero(12345678)));
    assert!(matches!(m.valor("c"), Valor::Entero(42)));
    let Valor::Invalido(e) = m.valor("d") else {
        panic!("4.5 no es entero")
    };
    assert!(e.contains("d ") && e.contains("4.5"), "{e}");
    assert!(matches!(m.valor("e"), Valor::Invalido(_)));
    assert!(matches!(m.valor("f"), Valor::Texto(t) if t == "18446744073709551615"));
}

#[test]
fn un_archivo_utf16_se_rechaza_con_un_mensaje_claro() {
    let texto = "nombre,email\nAna,a@x.com\n";
    let le: Vec<u8> = texto.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let con_bom = [&b"\xFF\xFE"[..], &le].concat();
    for f in [FileFormat::Csv, FileFormat::Jsonl, FileFormat::Json] {
        for datos in [&le, &con_bom] {
            let e = registros(f, datos).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains("UTF-16; conviértalo a UTF-8"), "{e}");
        }
    }
}

#[test]
fn csv_con_comillas_sin_cerrar_se_corta_con_su_linea() {
    let mut datos = b"nombre,email\nAna,a@x.com\n\"Luis,l@x.com\n".to_vec();
    datos.extend(std::iter::repeat_n(b'z', 3 * MAX_LINEA));
    let r = registros(FileFormat::Csv, &datos).unwrap();
    assert_eq!(r.len(), 2);
    assert!(r[0].1.is_ok());
    assert_eq!(r[1].0, 3);
    assert!(r[1].1.as_ref().unwrap_err().contains("MiB"));
}

#[test]
fn json_con_un_elemento_enorme_se_corta_con_su_numero() {
    let mut datos = b"[{\"nombre\":\"A\"},{\"nombre\":\"".to_vec();
    datos.extend(std::iter::repeat_n(b'z', 2 * MAX_LINEA));
    datos.extend(b"\"}]");
    let r = registros(FileFormat::Json, &datos).unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r[1].0, 2);
    assert!(r[1].1.as_ref().unwrap_err().contains("MiB"));
}

#[test]
fn csv_con_bom_y_crlf_da_lineas_desde_la_2() {
    let datos =
        b"\xEF\xBB\xBFnombre,email\r\nAna,a@x.com\r\n\"Luis\r\nMaria\",l@x.com\r\nPepe,p@x.com\r\n";
    let r = registros(FileFormat::Csv, datos).unwrap();
    let lineas: Vec<u64> = r.iter().map(|x| x.0).collect();
    assert_eq!(lineas, vec![2, 3, 5]);
    assert_eq!(r[0].1.as_ref().unwrap()["email"], "a@x.com");
}

#[test]
fn csv_con_punto_y_coma_se_detecta() {
    let r = registros(FileFormat::Csv, b"nombre;email\nAna;a@x.com\n").unwrap();
    assert_eq!(r[0].1.as_ref().unwrap()["nombre"], "Ana");
}

#[test]
fn csv_sin_columna_obligatoria_o_con_una_desconocida_falla_entero() {
    let e = registros(FileFormat::Csv, b"nombre\nAna\n").unwrap_err();
    assert!(e.to_string().contains("email"), "{e}");
    let e = registros(FileFormat::Csv, b"nombre,emial,email\n").unwrap_err();
    assert!(e.to_string().contains("emial"), "{e}");
}

#[test]
fn csv_ignora_columnas_de_solo_lectura() {
    let mut n = 0;
    let fin = leer(
        FileFormat::Csv,
        &b"id,nombre,email\n1,Ana,a@x.com\n"[..],
        &ESQUEMA,
        &mut |_, _| {
            n += 1;
            ControlFlow::Continue(())
        },
    )
    .unwrap();
    assert_eq!(n, 1);
    assert!(fin.ignoradas.contains("id"));
}

#[test]
fn jsonl_cuenta_lineas_en_blanco_y_rechaza_la_mala() {
    let datos = b"{\"nombre\":\"Ana\"}\r\n\n{roto\n[1]\n{\"x\":1}\n";
    let r = registros(FileFormat::Jsonl, datos).unwrap();
    assert_eq!(r.len(), 4);
    assert_eq!(r[0].0, 1);
    assert!(r[0].1.is_ok());
    assert_eq!(r[1].0, 3);
    assert!(r[1].1.as_ref().unwrap_err().contains("json inválido"));
    assert!(r[2].1.as_ref().unwrap_err().contains("objeto"));
    assert!(r[3].1.as_ref().unwrap_err().contains("desconocido"));
}

#[test]
fn jsonl_linea_enorme_se_rechaza_sin_cargarla() {
    let mut datos = b"{\"nombre\":\"".to_vec();
    datos.extend(std::iter::repeat_n(b'a', MAX_LINEA + 10));
    datos.extend(b"\"}\n{\"nombre\":\"B\"}\n");
    let r = registros(FileFormat::Jsonl, &datos).unwrap();
    assert_eq!(r.len(), 2);
    assert!(r[0].1.as_ref().unwrap_err().contains("MiB"));
    assert!(r[1].1.is_ok());
}

#[test]
fn json_array_se_lee_por_elementos_numerados() {
    let r = registros(
        FileFormat::Json,
        b" [ {\"nombre\":\"A\"}, 3, {\"nombre\":\"B\"} ] ",
    )
    .unwrap();
    let lineas: Vec<u64> = r.iter().map(|x| x.0).collect();
    assert_eq!(lineas, vec![1, 2, 3]);
    assert!(r[1].1.is_err());
}

#[test]
fn json_que_no_es_array_falla_y_el_roto_a_medias_es_un_rechazo() {
    assert!(registros(FileFormat::Json, b"{\"nombre\":\"A\"}").is_err());
    let r = registros(FileFormat::Json, b"[{\"nombre\":\"A\"}, {roto").unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r[1].0, 2);
    assert!(r[1].1.as_ref().unwrap_err().contains("no se pudo leer"));
}

#[test]
fn archivos_vacios_no_dan_registros() {
    for f in [FileFormat::Csv, FileFormat::Jsonl, FileFormat::Json] {
        assert!(registros(f, b"").unwrap().is_empty());
        assert!(registros(f, b"\xEF\xBB\xBF").unwrap().is_empty());
    }
    assert!(registros(FileFormat::Json, b"  \r\n ").unwrap().is_empty());
    assert!(registros(FileFormat::Json, b"[]").unwrap().is_empty());
}

#[test]
fn la_bom_llega_en_lecturas_de_un_byte() {
    struct Goteo<'a>(&'a [u8]);
    impl Read for Goteo<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }
    let mut v = Vec::new();
    let i = Inicio::leer(Goteo(b"\xEF\xBB\xBFa,b\nc")).unwrap();
    assert_eq!(i.primera_linea(), b"a,b");
    i.lector().read_to_end(&mut v).unwrap();
    assert_eq!(v, b"a,b\nc");
    let mut v = Vec::new();
    Inicio::leer(Goteo(b"\xEFz"))
        .unwrap()
        .lector()
        .read_to_end(&mut v)
        .unwrap();
    assert_eq!(v, b"\xEFz");
}

proptest! {
    #[test]
    fn bytes_arbitrarios_nunca_causan_panico(datos in proptest::collection::vec(any::<u8>(), 0..2048)) {
        for f in [FileFormat::Csv, FileFormat::Jsonl, FileFormat::Json] {
            let _ = registros(f, &datos);
        }
    }

    #[test]
    fn casi_json_o_casi_csv_nunca_causa_panico(s in "[\\[\\]{}\",:;\\r\\n a-z0-9\\\\\u{FEFF}é-]{0,300}") {
        for f in [FileFormat::Csv, FileFormat::Jsonl, FileFormat::Json] {
            let _ = registros(f, s.as_bytes());
            let con_cabecera = format!("nombre,email\n{s}");
            let _ = registros(f, con_cabecera.as_bytes());
        }
    }
}
