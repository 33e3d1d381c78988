//! Issue 10, "input that can never poison the store": what is accepted reads back, on
//! both backends, through the CLI, the importer and the stores; text that looks the same
//! is the same; a corrupt row never takes a listing down and is removed by id.

use std::path::PathBuf;
use std::process::Output;

use eventflow::domain::{
    Aforo, Documento, Email, Fecha, NroDocumento, NuevoEvento, NuevoUsuario, Precio, Texto,
    TipoDocumento,
};
use mongodb::bson::doc;
use proptest::prelude::*;
use proptest::test_runner::{Config as ConfigProptest, TestRunner};
use serde_json::Value;

use crate::helpers::{Entorno, json};

fn ejecutar(env: &Entorno, args: &[&str]) -> Output {
    env.cmd().args(args).output().unwrap()
}

fn texto(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn crear_evento(env: &Entorno, nombre: &str, fecha: &str) -> Value {
    let out = ejecutar(
        env,
        &[
            "-o", "json", "eventos", "crear", "--nombre", nombre, "--fecha", fecha, "--lugar",
            "Sala", "--aforo", "10",
        ],
    );
    assert!(out.status.success(), "{}", texto(&out.stderr));
    json(&out.stdout)
}

fn crear_usuario(env: &Entorno, nombre: &str, email: &str) -> Output {
    ejecutar(
        env,
        &[
            "-o",
            "json",
            "usuarios",
            "crear",
            "--nombre",
            nombre,
            "--apellido",
            "Paz",
            "--email",
            email,
        ],
    )
}

fn archivo(env: &Entorno, nombre: &str, contenido: impl AsRef<[u8]>) -> PathBuf {
    let ruta = env.dir.path().join(nombre);
    std::fs::write(&ruta, contenido).unwrap();
    ruta
}

/// Damages one stored field behind the application's back, as a hand edit or an older
/// version would: `tabla` is `usuarios` or `eventos`.
async fn danar(env: &Entorno, tabla: &str, id: &str, campo: &str, valor: &str) {
    if env.es_mongo() {
        let oid = mongodb::bson::oid::ObjectId::parse_str(id).unwrap();
        env.mongo()
            .await
            .collection::<mongodb::bson::Document>(tabla)
            .update_one(doc! { "_id": oid }, doc! { "$set": { campo: valor } })
            .await
            .unwrap();
    } else {
        let ruta = env.datos().join(eventflow::store::embedded::ARCHIVO);
        let con = rusqlite::Connection::open(ruta).unwrap();
        let n = con
            .execute(
                &format!("UPDATE {tabla} SET {campo} = ?1 WHERE id = ?2"),
                [valor, id],
            )
            .unwrap();
        assert_eq!(n, 1);
    }
}

async fn una_fecha_cuyo_utc_es_el_ano_10000_se_rechaza_al_crear_y_al_importar(env: Entorno) {
    let out = ejecutar(
        &env,
        &[
            "eventos",
            "crear",
            "--nombre",
            "Fin",
            "--fecha",
            "9999-12-31T23:59:59-01:00",
            "--lugar",
            "Sala",
            "--aforo",
            "10",
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", texto(&out.stderr));
    assert!(texto(&out.stderr).contains("9999-12-31T23:59:59Z"));
    let f = archivo(
        &env,
        "e.jsonl",
        "{\"nombre\":\"Fin\",\"fecha\":\"9999-12-31T23:59:59-01:00\",\"lugar\":\"S\",\"aforo_total\":5}\n\
         {\"nombre\":\"Bien\",\"fecha\":\"9999-12-31T23:59:59+01:00\",\"lugar\":\"S\",\"aforo_total\":5}\n",
    );
    let out = ejecutar(&env, &["eventos", "importar", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(8), "{}", texto(&out.stderr));
    assert!(texto(&out.stderr).contains("línea 1, campo fecha"));
    let out = ejecutar(&env, &["-o", "json", "eventos", "listar"]);
    assert!(out.status.success(), "{}", texto(&out.stderr));
    let lista = json(&out.stdout);
    assert_eq!(lista.as_array().unwrap().len(), 1);
    assert_eq!(lista[0]["fecha"], "9999-12-31T22:59:59Z");
}

async fn un_evento_danado_no_tumba_el_listado_verificar_lo_informa_y_se_borra_por_id(env: Entorno) {
    let bueno = crear_evento(&env, "Bueno", "2030-01-01T20:00:00Z");
    let malo = crear_evento(&env, "Malo", "2030-01-02T20:00:00Z");
    let malo_id = malo["id"].as_str().unwrap();
    danar(&env, "eventos", malo_id, "fecha", "10000-01-01T00:00:00Z").await;

    let out = ejecutar(&env, &["-o", "json", "eventos", "listar"]);
    assert!(out.status.success(), "{}", texto(&out.stderr));
    let lista = json(&out.stdout);
    assert_eq!(lista.as_array().unwrap().len(), 1);
    assert_eq!(lista[0]["id"], bueno["id"]);
    assert!(
        texto(&out.stderr).contains(malo_id),
        "{}",
        texto(&out.stderr)
    );

    let out = ejecutar(&env, &["verificar"]);
    assert_eq!(out.status.code(), Some(8));
    let err = texto(&out.stderr);
    assert!(err.contains(malo_id) && err.contains("eliminar"), "{err}");
    assert!(
        !err.contains("sugerencia: eventflow verificar --reparar"),
        "{err}"
    );
    // `--reparar` cannot rebuild a damaged row, and says so instead of failing on it.
    let out = ejecutar(&env, &["verificar", "--reparar"]);
    assert_eq!(out.status.code(), Some(8));
    let err = texto(&out.stderr);
    assert!(err.contains("--reparar no puede reconstruirlo"), "{err}");

    let out = ejecutar(&env, &["eventos", "eliminar", malo_id]);
    assert!(out.status.success(), "{}", texto(&out.stderr));
    let out = ejecutar(&env, &["verificar"]);
    assert!(out.status.success(), "{}", texto(&out.stderr));
}

async fn un_usuario_danado_se_omite_del_listado_y_se_borra_por_id(env: Entorno) {
    let malo = json(&crear_usuario(&env, "Ana", "ana@example.com").stdout);
    let malo_id = malo["id"].as_str().unwrap();
    assert!(
        crear_usuario(&env, "Luis", "luis@example.com")
            .status
            .success()
    );
    danar(&env, "usuarios", malo_id, "email", "no es un email").await;

    let out = ejecutar(&env, &["-o", "json", "usuarios", "listar"]);
    assert!(out.status.success(), "{}", texto(&out.stderr));
    assert_eq!(json(&out.stdout).as_array().unwrap().len(), 1);
    assert!(texto(&out.stderr).contains(malo_id));
    let out = ejecutar(&env, &["verificar"]);
    assert_eq!(out.status.code(), Some(8));
    assert!(texto(&out.stderr).contains(malo_id));
    let out = ejecutar(&env, &["usuarios", "eliminar", malo_id]);
    assert!(out.status.success(), "{}", texto(&out.stderr));
    assert_eq!(
        ejecutar(&env, &["usuarios", "ver", malo_id]).status.code(),
        Some(3)
    );
}

async fn emails_que_se_ven_iguales_son_el_mismo_usuario(env: Entorno) {
    let nfc = crear_usuario(&env, "José", "jos\u{e9}@example.com");
    assert!(nfc.status.success(), "{}", texto(&nfc.stderr));
    let nfd = crear_usuario(&env, "Jose\u{301}", "jose\u{301}@example.com");
    assert_eq!(nfd.status.code(), Some(4), "{}", texto(&nfd.stderr));

    let invisible = crear_usuario(&env, "Ana", "ana\u{200B}@example.com");
    assert_eq!(invisible.status.code(), Some(2));
    let err = texto(&invisible.stderr);
    assert!(
        err.contains("posición 4") && err.contains("U+200B"),
        "{err}"
    );

    // The domain is stored as IDNA ASCII, so it reads back whatever its case.
    let out = crear_usuario(&env, "Ayşe", "a@\u{130}stanbul.com");
    assert!(out.status.success(), "{}", texto(&out.stderr));
    let u = json(&out.stdout);
    let email = u["email"].as_str().unwrap();
    assert!(email.is_ascii() && email.starts_with("a@xn--"), "{email}");
    let out = ejecutar(
        &env,
        &["-o", "json", "usuarios", "ver", u["id"].as_str().unwrap()],
    );
    assert!(out.status.success(), "{}", texto(&out.stderr));
    assert_eq!(json(&out.stdout)["email"], email);
}

async fn importar_en_upsert_empareja_por_la_forma_normalizada(env: Entorno) {
    assert!(
        crear_usuario(&env, "José", "jos\u{e9}@example.com")
            .status
            .success()
    );
    let f = archivo(
        &env,
        "u.jsonl",
        "{\"nombre\":\"Jose\u{301} María\",\"apellido\":\"Paz\",\"email\":\"JOSE\u{301}@Example.com\"}\n",
    );
    let out = ejecutar(
        &env,
        &[
            "-o",
            "json",
            "usuarios",
            "importar",
            f.to_str().unwrap(),
            "--modo",
            "upsert",
        ],
    );
    assert!(out.status.success(), "{}", texto(&out.stderr));
    let r = json(&out.stdout);
    assert_eq!(
        (r["insertadas"].as_u64(), r["actualizadas"].as_u64()),
        (Some(0), Some(1))
    );
    let out = ejecutar(&env, &["-o", "json", "usuarios", "listar"]);
    let lista = json(&out.stdout);
    assert_eq!(lista.as_array().unwrap().len(), 1);
    assert_eq!(lista[0]["nombre"], "Jos\u{e9} María");
}

async fn importar_lee_exactamente_lo_que_dice_el_archivo(env: Entorno) {
    let f = archivo(
        &env,
        "u.jsonl",
        "{\"nombre\":\"A\",\"apellido\":\"B\",\"email\":\"a@x.com\",\"tipo_documento\":\"DNI\",\"nro_documento\":4.2e1}\n\
         {\"nombre\":\"C\",\"apellido\":\"D\",\"email\":\"c@x.com\",\"nombre\":\"E\"}\n\
         {\"nombre\":\"F\",\"apellido\":\"G\",\"email\":\"f@x.com\",\"tipo_documento\":\"DNI\",\"nro_documento\":4.5}\n\
         {\"nombre\":\"H\",\"apellido\":\"I\",\"email\":\"h@x.com\",\"tipo_documento\":\"CI\",\"nro_documento\":12345678.0}\n",
    );
    let out = ejecutar(
        &env,
        &["-o", "json", "usuarios", "importar", f.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(8));
    let err = texto(&out.stderr);
    assert!(err.contains("línea 2, campo nombre"), "{err}");
    assert!(err.contains("línea 3, campo nro_documento"), "{err}");
    let out = ejecutar(&env, &["-o", "json", "usuarios", "listar"]);
    let docs: Vec<String> = json(&out.stdout)
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["nro_documento"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(docs, ["42", "12345678"]);

    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            "nombre,apellido,email\nA,B,a2@x.com\n"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    let f = archivo(&env, "u16.csv", utf16);
    let out = ejecutar(&env, &["usuarios", "importar", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(texto(&out.stderr).contains("el archivo está en UTF-16; conviértalo a UTF-8"));

    let mut csv = b"nombre,apellido,email\nA,B,a3@x.com\n\"Sin cerrar,B,b@x.com\n".to_vec();
    csv.extend(std::iter::repeat_n(b'x', 3 << 20));
    let f = archivo(&env, "largo.csv", csv);
    let out = ejecutar(
        &env,
        &["-o", "json", "usuarios", "importar", f.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(8));
    assert!(
        texto(&out.stderr).contains("línea 3: el registro"),
        "{}",
        texto(&out.stderr)
    );
    assert_eq!(json(&out.stdout)["insertadas"], 1);
}

/// Whatever the domain parsers accept is stored, read back and compared equal.
async fn lo_aceptado_se_guarda_y_se_relee_igual(env: Entorno) {
    let alm = env.almacen().await;
    let casos = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(24);
    let mut runner = TestRunner::new(ConfigProptest::with_cases(casos));
    let texto = "\\PC{1,30}|[a-zA-Z\u{301}\u{200D} ]{1,20}";
    let estrategia = (
        texto,
        texto,
        // Mostly valid values, so most cases reach the store; the refusals of invalid
        // ones are tested beside each parser.
        "[a-zA-Z0-9\u{e9}\u{301}][a-zA-Z0-9.\u{e9}\u{301}]{0,11}@[a-zA-Z\u{fc}\u{130}]([a-zA-Z\u{fc}\u{130}-]{0,8}[a-z])?\\.[a-z]{2,4}",
        "[0-9]{3}[1-9]-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])",
        (1i64..=10_000, 0i64..=Precio::MAX),
        ("[a-zA-Z_\u{200B} ]{1,8}", "[0-9a-z.\\-]{1,20}"),
    );
    let handle = tokio::runtime::Handle::current();
    let n = std::sync::atomic::AtomicU32::new(0);
    runner
        .run(
            &estrategia,
            |(nombre, lugar, email, fecha, (aforo, precio), (tipo, nro))| {
                let n = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let (Ok(nombre), Ok(lugar), Ok(email), Ok(fecha)) = (
                    Texto::parse("nombre", &nombre),
                    Texto::parse("lugar", &lugar),
                    Email::parse(&format!("{n}{email}")),
                    Fecha::parse(&fecha),
                ) else {
                    return Ok(());
                };
                let nuevo = NuevoEvento {
                    nombre: nombre.clone(),
                    fecha,
                    lugar,
                    aforo: Aforo::new(aforo).unwrap(),
                    precio: Precio::new(precio).unwrap(),
                };
                // The number is made unique per case: the pair is a unique key.
                let documento = match (
                    TipoDocumento::parse(&tipo),
                    NroDocumento::parse(&format!("{n}-{nro}")),
                ) {
                    (Ok(tipo), Ok(nro)) => Some(Documento { tipo, nro }),
                    _ => None,
                };
                let usuario = NuevoUsuario {
                    nombre: nombre.clone(),
                    apellido: nombre,
                    email,
                    documento,
                };
                let alm = alm.clone();
                let (e, leido_e, u, leido_u) = tokio::task::block_in_place(|| {
                    handle.block_on(async {
                        let e = alm.eventos.crear(nuevo).await.unwrap();
                        let leido_e = alm.eventos.ver(&e.id).await.unwrap();
                        let u = alm.usuarios.crear(usuario).await.unwrap();
                        let leido_u = alm.usuarios.ver(&u.id).await.unwrap();
                        (e, leido_e, u, leido_u)
                    })
                });
                prop_assert_eq!(e, leido_e);
                prop_assert_eq!(u, leido_u);
                Ok(())
            },
        )
        .unwrap();
    let todos = alm.eventos.listar(10_000, None).await.unwrap();
    assert_eq!(alm.eventos.danados().await.unwrap(), vec![]);
    assert!(!todos.is_empty(), "ningún caso generado fue aceptado");
}

/// A reservation record that no longer reads back is skipped by `reservas listar` with
/// a warning naming it, while `ver` and `verificar` report it (exit 8).
async fn una_reserva_danada_no_tumba_el_listado_de_reservas(env: Entorno) {
    let alm = env.almacen().await;
    let e = crate::reservar::evento(&alm, 10, 100).await;
    let us = crate::reservar::usuarios(&alm, 2).await;
    let mut ids = Vec::new();
    for u in &us {
        let out = ejecutar(
            &env,
            &[
                "-o",
                "json",
                "reservar",
                "--evento",
                e.as_str(),
                "--usuario",
                u.as_str(),
                "--entradas",
                "1",
            ],
        );
        assert!(out.status.success(), "{}", texto(&out.stderr));
        ids.push(json(&out.stdout)["id"].as_str().unwrap().to_owned());
    }
    let malo = &ids[0];
    if env.es_mongo() {
        let mut con = env.redis().await;
        let () = redis::cmd("HSET")
            .arg(env.clave(&format!("reserva:{{{e}}}:{malo}")))
            .arg("estado")
            .arg("pagada")
            .query_async(&mut con)
            .await
            .unwrap();
    } else {
        env.sqlite()
            .execute(
                "UPDATE reservas SET estado = 'pagada' WHERE id = ?1",
                [malo.as_str()],
            )
            .unwrap();
    }
    let out = ejecutar(&env, &["-o", "json", "reservas", "listar"]);
    assert!(out.status.success(), "{}", texto(&out.stderr));
    let lista = json(&out.stdout);
    assert_eq!(lista.as_array().unwrap().len(), 1, "{lista}");
    assert_eq!(lista[0]["id"], ids[1].as_str());
    assert!(
        texto(&out.stderr).contains(malo.as_str()),
        "{}",
        texto(&out.stderr)
    );
    let out = ejecutar(&env, &["reservas", "ver", malo]);
    assert_eq!(out.status.code(), Some(8), "{}", texto(&out.stderr));
    let out = ejecutar(&env, &["verificar", "--evento", e.as_str()]);
    assert_eq!(out.status.code(), Some(8));
    assert!(
        texto(&out.stderr).contains("estado"),
        "{}",
        texto(&out.stderr)
    );
}

en_ambos_backends!(
    una_reserva_danada_no_tumba_el_listado_de_reservas,
    una_fecha_cuyo_utc_es_el_ano_10000_se_rechaza_al_crear_y_al_importar,
    un_evento_danado_no_tumba_el_listado_verificar_lo_informa_y_se_borra_por_id,
    un_usuario_danado_se_omite_del_listado_y_se_borra_por_id,
    emails_que_se_ven_iguales_son_el_mismo_usuario,
    importar_en_upsert_empareja_por_la_forma_normalizada,
    importar_lee_exactamente_lo_que_dice_el_archivo,
    lo_aceptado_se_guarda_y_se_relee_igual,
);
