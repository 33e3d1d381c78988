//! What is MongoDB's own, against a real server (or NX-27017): the stored shape of the
//! documents the contract names, a document damaged by hand, and a server that is down.
//! The user and event stores' guarantees shared with SQLite are in `contrato`.

use std::time::{Duration, Instant};

use eventflow::Error;
use eventflow::config::Uri;
use eventflow::domain::EventoId;
use eventflow::store::mongo::MongoStore;
use eventflow::store::{EventoStore, ModoImport, StoreHealth, UsuarioStore};
use mongodb::bson::{Document, doc};

use crate::fixtures::{compra, evento, usuario};
use crate::helpers::Entorno;

async fn store(env: &Entorno) -> MongoStore {
    MongoStore::conectar(&Uri::new(env.mongo_uri.clone()), &env.db)
        .await
        .expect("conectar con MongoDB de prueba")
}

async fn crudo(env: &Entorno, coleccion: &str, id: &str) -> Document {
    env.mongo()
        .await
        .collection::<Document>(coleccion)
        .find_one(doc! { "_id": mongodb::bson::oid::ObjectId::parse_str(id).unwrap() })
        .await
        .unwrap()
        .expect("documento guardado")
}

#[tokio::test]
async fn los_documentos_tienen_la_forma_del_contrato() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let u = UsuarioStore::crear(&s, usuario("juan@example.com", Some(("DNI", "1"))))
        .await
        .unwrap();
    let d = crudo(&env, "usuarios", u.id.as_str()).await;
    assert!(d.get_object_id("_id").is_ok());
    assert_eq!(d.get_array("historial_compras").unwrap().len(), 0);
    assert_eq!(d.get_str("email").unwrap(), "juan@example.com");
    assert_eq!(d.get_str("tipo_documento").unwrap(), "DNI");
    let c = compra(&EventoId::generar(), 2);
    s.registrar_compra(&u.id, &c).await.unwrap();
    let d = crudo(&env, "usuarios", u.id.as_str()).await;
    let entrada = d.get_array("historial_compras").unwrap()[0]
        .as_document()
        .unwrap()
        .clone();
    assert_eq!(
        entrada.get_str("fecha_compra").unwrap(),
        "2025-10-01T12:30:00.250Z"
    );
    assert_eq!(entrada.get_str("evento_id").unwrap(), c.evento_id.as_str());
    assert_eq!(
        entrada.get_str("reserva_id").unwrap(),
        c.reserva_id.as_str()
    );

    let e = EventoStore::crear(&s, evento("Concierto", 10))
        .await
        .unwrap();
    let d = crudo(&env, "eventos", e.id.as_str()).await;
    assert_eq!(d.get_str("fecha").unwrap(), "2025-12-01T21:00:00Z");
    assert_eq!(d.get_array("reservas_activas").unwrap().len(), 0);

    // A batch import writes the same shape as one `crear`.
    let r = UsuarioStore::importar(
        &s,
        vec![usuario("c@example.com", None)],
        ModoImport::Insertar,
    )
    .await
    .unwrap();
    assert_eq!(r.insertados, 1);
    let d = env
        .mongo()
        .await
        .collection::<Document>("usuarios")
        .find_one(doc! { "email": "c@example.com" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.get_array("historial_compras").unwrap().len(), 0);
    assert!(d.get_object_id("_id").is_ok());
}

#[tokio::test]
async fn usuario_sin_documento_se_guarda_sin_esos_campos() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let u = UsuarioStore::crear(&s, usuario("ana@example.com", None))
        .await
        .unwrap();
    let d = crudo(&env, "usuarios", u.id.as_str()).await;
    assert!(!d.contains_key("tipo_documento") && !d.contains_key("nro_documento"));
    assert_eq!(
        UsuarioStore::ver(&s, &u.id).await.unwrap().documento(),
        None
    );
}

#[tokio::test]
async fn un_documento_danado_da_inconsistencia_con_id_y_campo() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let e = EventoStore::crear(&s, evento("Concierto", 10))
        .await
        .unwrap();
    env.mongo()
        .await
        .collection::<Document>("eventos")
        .update_one(
            doc! { "_id": e.id.oid() },
            doc! { "$set": { "fecha": "mañana" } },
        )
        .await
        .unwrap();
    let err = EventoStore::ver(&s, &e.id).await.unwrap_err();
    assert!(matches!(err, Error::Inconsistencia(_)), "{err}");
    let texto = err.to_string();
    assert!(
        texto.contains(e.id.as_str()) && texto.contains("fecha"),
        "{texto}"
    );
}

#[tokio::test]
async fn conectar_dos_veces_no_falla_y_ping_da_la_version() {
    let env = Entorno::nuevo();
    let _primero = store(&env).await;
    let s = store(&env).await;
    let v = s.ping().await.unwrap();
    assert!(v.starts_with("MongoDB "), "{v}");
}

/// Connects to a server that is down; the error. The time bound guards against the
/// driver's 30 s default, not speed: the 2 s selection deadline plus whatever a loaded
/// machine adds stays far below it.
async fn conectar_caido(uri: &Uri) -> Error {
    let inicio = Instant::now();
    let err = MongoStore::conectar(uri, "eventflow")
        .await
        .err()
        .expect("un servidor caído no conecta");
    assert!(
        inicio.elapsed() < Duration::from_secs(20),
        "{:?}",
        inicio.elapsed()
    );
    err
}

#[tokio::test]
async fn servidor_caido_da_backend_caido_sin_la_contrasena() {
    let uri = Uri::new("mongodb://u:secreto@127.0.0.1:1/?serverSelectionTimeoutMS=2000");
    let err = conectar_caido(&uri).await;
    assert!(
        matches!(
            err,
            Error::BackendCaido {
                backend: "MongoDB",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.exit_code(), 7);
    let texto = format!("{err} {err:?}");
    assert!(!texto.contains("secreto"), "{texto}");
    assert!(texto.contains("127.0.0.1:1"), "{texto}");
}

#[tokio::test]
async fn servidor_caido_sin_plazo_en_la_uri_no_espera_los_30_s_del_driver() {
    let uri = Uri::new("mongodb://u:secreto@127.0.0.1:1/");
    let err = conectar_caido(&uri).await;
    assert!(err.es_backend_caido(), "{err}");
    assert!(!format!("{err} {err:?}").contains("secreto"));
}
