//! The MongoDB store against a real server (or NX-27017): CRUD, uniqueness, literal
//! storage of operator-looking text, idempotent read-model updates, batch import, and
//! a server that is down.

use std::time::{Duration, Instant};

use eventflow::Error;
use eventflow::config::Uri;
use eventflow::domain::{
    Aforo, CambiosEvento, CambiosUsuario, Compra, Documento, Email, Entradas, EventoId, Fecha,
    NroDocumento, NuevoEvento, NuevoUsuario, Precio, ReservaId, Texto, TipoDocumento, UsuarioId,
};
use eventflow::store::mongo::MongoStore;
use eventflow::store::{EventoStore, ModoImport, Salud, UsuarioStore};
use mongodb::bson::{Document, doc};

use crate::helpers::Entorno;

async fn store(env: &Entorno) -> MongoStore {
    MongoStore::conectar(&Uri::new(env.mongo_uri.clone()), &env.db)
        .await
        .expect("conectar con MongoDB de prueba")
}

fn texto(s: &str) -> Texto {
    Texto::parse("nombre", s).unwrap()
}

fn usuario(email: &str, documento: Option<(&str, &str)>) -> NuevoUsuario {
    NuevoUsuario {
        nombre: texto("Juan"),
        apellido: texto("Pérez"),
        email: Email::parse(email).unwrap(),
        documento: documento.map(|(t, n)| Documento {
            tipo: TipoDocumento::parse(t).unwrap(),
            nro: NroDocumento::parse(n).unwrap(),
        }),
    }
}

fn evento(nombre: &str, aforo: i64) -> NuevoEvento {
    NuevoEvento {
        nombre: texto(nombre),
        fecha: Fecha::parse("2025-12-01T21:00:00Z").unwrap(),
        lugar: texto("Estadio Centenario"),
        aforo: Aforo::new(aforo).unwrap(),
        precio: Precio::new(2500).unwrap(),
    }
}

fn compra(evento: &EventoId, entradas: i64) -> Compra {
    Compra {
        evento_id: evento.clone(),
        reserva_id: ReservaId::generar(),
        fecha_compra: Fecha::parse("2025-10-01T12:30:00.250Z").unwrap(),
        entradas: Entradas::new(entradas).unwrap(),
    }
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
async fn crear_y_ver_usuario_devuelve_lo_guardado() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let creado = UsuarioStore::crear(&s, usuario("juan@example.com", Some(("DNI", "12345678"))))
        .await
        .unwrap();
    let visto = UsuarioStore::ver(&s, &creado.id).await.unwrap();
    assert_eq!(visto, creado);
    assert_eq!(visto.documento().unwrap().to_string(), "DNI 12345678");
    assert!(visto.historial_compras.is_empty());

    let d = crudo(&env, "usuarios", creado.id.as_str()).await;
    assert!(d.get_object_id("_id").is_ok());
    assert_eq!(d.get_array("historial_compras").unwrap().len(), 0);
    assert_eq!(d.get_str("email").unwrap(), "juan@example.com");
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
async fn ver_usuario_inexistente_da_no_encontrado() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let id = UsuarioId::generar();
    let e = UsuarioStore::ver(&s, &id).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::NoEncontrado {
                entidad: "usuario",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains(id.as_str()));
}

#[tokio::test]
async fn listar_usuarios_pagina_por_id() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let u = UsuarioStore::crear(&s, usuario(&format!("u{i}@example.com"), None))
            .await
            .unwrap();
        ids.push(u.id);
    }
    ids.sort();
    let primera = UsuarioStore::listar(&s, 2, None).await.unwrap();
    assert_eq!(
        primera.iter().map(|u| u.id.clone()).collect::<Vec<_>>(),
        ids[..2]
    );
    let resto = UsuarioStore::listar(&s, 10, Some(&primera[1].id))
        .await
        .unwrap();
    assert_eq!(
        resto.iter().map(|u| u.id.clone()).collect::<Vec<_>>(),
        ids[2..]
    );
    assert!(UsuarioStore::listar(&s, 0, None).await.unwrap().is_empty());
}

#[tokio::test]
async fn actualizar_usuario_cambia_solo_los_campos_dados() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let u = UsuarioStore::crear(&s, usuario("juan@example.com", None))
        .await
        .unwrap();
    let cambios = CambiosUsuario {
        apellido: Some(texto("Gómez")),
        documento: Some(Documento {
            tipo: TipoDocumento::parse("PASAPORTE").unwrap(),
            nro: NroDocumento::parse("ab123").unwrap(),
        }),
        ..CambiosUsuario::default()
    };
    let nuevo = UsuarioStore::actualizar(&s, &u.id, cambios).await.unwrap();
    assert_eq!(nuevo.nombre, u.nombre);
    assert_eq!(nuevo.email, u.email);
    assert_eq!(nuevo.apellido.as_str(), "Gómez");
    assert_eq!(nuevo.documento().unwrap().to_string(), "PASAPORTE AB123");
    assert_eq!(UsuarioStore::ver(&s, &u.id).await.unwrap(), nuevo);

    let vacio = UsuarioStore::actualizar(&s, &u.id, CambiosUsuario::default())
        .await
        .unwrap();
    assert_eq!(vacio, nuevo);
}

#[tokio::test]
async fn actualizar_usuario_inexistente_da_no_encontrado() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let cambios = CambiosUsuario {
        nombre: Some(texto("Otro")),
        ..CambiosUsuario::default()
    };
    let e = UsuarioStore::actualizar(&s, &UsuarioId::generar(), cambios)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::NoEncontrado {
                entidad: "usuario",
                ..
            }
        ),
        "{e}"
    );
}

#[tokio::test]
async fn actualizar_usuario_con_email_o_documento_ajeno_da_duplicado() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    UsuarioStore::crear(&s, usuario("juan@example.com", Some(("DNI", "12345678"))))
        .await
        .unwrap();
    let otro = UsuarioStore::crear(&s, usuario("ana@example.com", None))
        .await
        .unwrap();

    let e = UsuarioStore::actualizar(
        &s,
        &otro.id,
        CambiosUsuario {
            email: Some(Email::parse("juan@example.com").unwrap()),
            ..CambiosUsuario::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::Duplicado { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "ya existe un usuario con el email juan@example.com"
    );

    let e = UsuarioStore::actualizar(
        &s,
        &otro.id,
        CambiosUsuario {
            documento: Some(Documento {
                tipo: TipoDocumento::parse("DNI").unwrap(),
                nro: NroDocumento::parse("12345678").unwrap(),
            }),
            ..CambiosUsuario::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "ya existe un usuario con el documento DNI 12345678"
    );
    // Nothing changed.
    assert_eq!(UsuarioStore::ver(&s, &otro.id).await.unwrap(), otro);

    // Setting one's own email again is no clash.
    let mismo = UsuarioStore::actualizar(
        &s,
        &otro.id,
        CambiosUsuario {
            email: Some(otro.email.clone()),
            ..CambiosUsuario::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(mismo, otro);
}

#[tokio::test]
async fn crear_usuario_con_email_duplicado_da_duplicado() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    UsuarioStore::crear(&s, usuario("juan@example.com", None))
        .await
        .unwrap();
    let e = UsuarioStore::crear(&s, usuario("Juan@Example.com", Some(("DNI", "1"))))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Duplicado { .. }), "{e}");
    assert_eq!(e.exit_code(), 4);
    assert_eq!(
        e.to_string(),
        "ya existe un usuario con el email juan@example.com"
    );
}

#[tokio::test]
async fn crear_usuario_con_documento_duplicado_da_duplicado() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    UsuarioStore::crear(&s, usuario("juan@example.com", Some(("DNI", "12345678"))))
        .await
        .unwrap();
    let e = UsuarioStore::crear(&s, usuario("otro@example.com", Some(("dni", "12345678"))))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Duplicado { .. }), "{e}");
    assert_eq!(
        e.to_string(),
        "ya existe un usuario con el documento DNI 12345678"
    );
    // Same number, other type: a different document.
    UsuarioStore::crear(&s, usuario("tres@example.com", Some(("CI", "12345678"))))
        .await
        .unwrap();
}

#[tokio::test]
async fn dos_usuarios_sin_documento_se_aceptan() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    UsuarioStore::crear(&s, usuario("a@example.com", None))
        .await
        .unwrap();
    UsuarioStore::crear(&s, usuario("b@example.com", None))
        .await
        .unwrap();
    assert_eq!(UsuarioStore::listar(&s, 10, None).await.unwrap().len(), 2);
}

#[tokio::test]
async fn nombres_con_operadores_se_guardan_literalmente() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    UsuarioStore::crear(&s, usuario("normal@example.com", None))
        .await
        .unwrap();
    let mut raro = usuario("raro@example.com", None);
    raro.nombre = texto(r#"{"$gt": ""}"#);
    raro.apellido = texto("$where");
    let u = UsuarioStore::crear(&s, raro).await.unwrap();
    let visto = UsuarioStore::ver(&s, &u.id).await.unwrap();
    assert_eq!(visto.nombre.as_str(), r#"{"$gt": ""}"#);
    assert_eq!(visto.apellido.as_str(), "$where");
    let d = crudo(&env, "usuarios", u.id.as_str()).await;
    assert_eq!(d.get_str("nombre").unwrap(), r#"{"$gt": ""}"#);

    let actualizado = UsuarioStore::actualizar(
        &s,
        &u.id,
        CambiosUsuario {
            nombre: Some(texto("$set")),
            ..CambiosUsuario::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(actualizado.nombre.as_str(), "$set");

    // An event named like an operator matches only itself.
    let e = EventoStore::crear(&s, evento(r#"{"$gt": ""}"#, 10))
        .await
        .unwrap();
    EventoStore::crear(&s, evento("Concierto", 10))
        .await
        .unwrap();
    let hallado = EventoStore::por_nombre_fecha(&s, &texto(r#"{"$gt": ""}"#), &e.fecha)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hallado, e);
    assert!(
        EventoStore::por_nombre_fecha(&s, &texto("$where"), &e.fecha)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn por_email_encuentra_solo_ese_email() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let u = UsuarioStore::crear(&s, usuario("juan@example.com", None))
        .await
        .unwrap();
    let hallado = s
        .por_email(&Email::parse("JUAN@example.com").unwrap())
        .await
        .unwrap();
    assert_eq!(hallado, Some(u));
    assert!(
        s.por_email(&Email::parse("nadie@example.com").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn registrar_compra_dos_veces_deja_una_entrada() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let u = UsuarioStore::crear(&s, usuario("juan@example.com", None))
        .await
        .unwrap();
    let c = compra(&EventoId::generar(), 2);
    s.registrar_compra(&u.id, &c).await.unwrap();
    s.registrar_compra(&u.id, &c).await.unwrap();
    let visto = UsuarioStore::ver(&s, &u.id).await.unwrap();
    assert_eq!(visto.historial_compras, vec![c.clone()]);

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
}

#[tokio::test]
async fn registrar_compra_de_usuario_inexistente_da_no_encontrado() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let e = s
        .registrar_compra(&UsuarioId::generar(), &compra(&EventoId::generar(), 1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::NoEncontrado {
                entidad: "usuario",
                ..
            }
        ),
        "{e}"
    );
}

#[tokio::test]
async fn quitar_compra_la_borra_y_es_idempotente() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let u = UsuarioStore::crear(&s, usuario("juan@example.com", None))
        .await
        .unwrap();
    let ev = EventoId::generar();
    let (a, b) = (compra(&ev, 1), compra(&ev, 3));
    s.registrar_compra(&u.id, &a).await.unwrap();
    s.registrar_compra(&u.id, &b).await.unwrap();
    s.quitar_compra(&u.id, &a.reserva_id).await.unwrap();
    s.quitar_compra(&u.id, &a.reserva_id).await.unwrap();
    assert_eq!(
        UsuarioStore::ver(&s, &u.id)
            .await
            .unwrap()
            .historial_compras,
        vec![b]
    );
    // A user that is gone has nothing to remove.
    s.quitar_compra(&UsuarioId::generar(), &a.reserva_id)
        .await
        .unwrap();
}

#[tokio::test]
async fn eliminar_usuario_con_compras_da_conflicto() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let u = UsuarioStore::crear(&s, usuario("juan@example.com", None))
        .await
        .unwrap();
    let c = compra(&EventoId::generar(), 2);
    s.registrar_compra(&u.id, &c).await.unwrap();
    let e = UsuarioStore::eliminar(&s, &u.id).await.unwrap_err();
    assert!(matches!(e, Error::Conflicto(_)), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "el usuario {} tiene 1 compras en su historial; cancele sus reservas antes de eliminarlo",
            u.id
        )
    );
    s.quitar_compra(&u.id, &c.reserva_id).await.unwrap();
    UsuarioStore::eliminar(&s, &u.id).await.unwrap();
    let e = UsuarioStore::eliminar(&s, &u.id).await.unwrap_err();
    assert!(matches!(e, Error::NoEncontrado { .. }), "{e}");
}

#[tokio::test]
async fn compras_de_evento_devuelve_solo_las_de_ese_evento() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let a = UsuarioStore::crear(&s, usuario("a@example.com", None))
        .await
        .unwrap();
    let b = UsuarioStore::crear(&s, usuario("b@example.com", None))
        .await
        .unwrap();
    UsuarioStore::crear(&s, usuario("c@example.com", None))
        .await
        .unwrap();
    let (ev, otro) = (EventoId::generar(), EventoId::generar());
    let a1 = compra(&ev, 1);
    let a2 = compra(&otro, 4);
    let a3 = compra(&ev, 2);
    let b1 = compra(&ev, 5);
    for (u, c) in [(&a.id, &a1), (&a.id, &a2), (&a.id, &a3), (&b.id, &b1)] {
        s.registrar_compra(u, c).await.unwrap();
    }
    let mut esperado = vec![(a.id.clone(), a1), (a.id.clone(), a3), (b.id.clone(), b1)];
    esperado.sort_by(|x, y| (&x.0, &x.1.reserva_id).cmp(&(&y.0, &y.1.reserva_id)));
    assert_eq!(s.compras_de_evento(&ev).await.unwrap(), esperado);
    assert_eq!(
        s.compras_de_evento(&otro).await.unwrap(),
        vec![(a.id.clone(), a2)]
    );
    assert!(
        s.compras_de_evento(&EventoId::generar())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn crear_ver_y_listar_eventos() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let e = EventoStore::crear(&s, evento("Concierto Rock", 1000))
        .await
        .unwrap();
    assert_eq!(e.entradas_disponibles, 1000);
    assert_eq!(EventoStore::ver(&s, &e.id).await.unwrap(), e);
    let d = crudo(&env, "eventos", e.id.as_str()).await;
    assert_eq!(d.get_str("fecha").unwrap(), "2025-12-01T21:00:00Z");
    assert_eq!(d.get_array("reservas_activas").unwrap().len(), 0);

    let f = EventoStore::crear(&s, evento("Teatro", 50)).await.unwrap();
    let todos = EventoStore::listar(&s, 10, None).await.unwrap();
    assert_eq!(todos.len(), 2);
    let primero = todos[0].id.clone();
    let despues = EventoStore::listar(&s, 10, Some(&primero)).await.unwrap();
    assert_eq!(despues.len(), 1);
    assert!(despues[0].id == e.id || despues[0].id == f.id);
    assert_ne!(despues[0].id, primero);

    let e2 = EventoStore::ver(&s, &EventoId::generar())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e2,
            Error::NoEncontrado {
                entidad: "evento",
                ..
            }
        ),
        "{e2}"
    );
}

#[tokio::test]
async fn actualizar_evento_con_aforo_mueve_las_disponibles() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let e = EventoStore::crear(&s, evento("Concierto", 100))
        .await
        .unwrap();
    s.aplicar_venta(&e.id, &ReservaId::generar(), Entradas::new(30).unwrap())
        .await
        .unwrap();
    let cambios = CambiosEvento {
        aforo: Some(Aforo::new(120).unwrap()),
        lugar: Some(texto("Otro lugar")),
        ..CambiosEvento::default()
    };
    let nuevo = EventoStore::actualizar(&s, &e.id, cambios, e.aforo_total)
        .await
        .unwrap();
    assert_eq!(nuevo.aforo_total.get(), 120);
    assert_eq!(nuevo.entradas_disponibles, 90);
    assert_eq!(nuevo.lugar.as_str(), "Otro lugar");
    assert_eq!(nuevo.nombre, e.nombre);

    // A stale `aforo_anterior` means someone else moved it: nothing changes.
    let cambios = CambiosEvento {
        aforo: Some(Aforo::new(80).unwrap()),
        ..CambiosEvento::default()
    };
    let err = EventoStore::actualizar(&s, &e.id, cambios.clone(), e.aforo_total)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflicto(_)), "{err}");
    assert!(err.to_string().contains(e.id.as_str()));
    assert_eq!(EventoStore::ver(&s, &e.id).await.unwrap(), nuevo);

    let err = EventoStore::actualizar(&s, &EventoId::generar(), cambios, e.aforo_total)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoEncontrado { .. }), "{err}");

    let precio = CambiosEvento {
        precio: Some(Precio::new(0).unwrap()),
        fecha: Some(Fecha::parse("2026-01-02T03:04:05-03:00").unwrap()),
        ..CambiosEvento::default()
    };
    let nuevo = EventoStore::actualizar(&s, &e.id, precio, nuevo.aforo_total)
        .await
        .unwrap();
    assert_eq!(nuevo.precio.get(), 0);
    assert_eq!(nuevo.fecha.to_string(), "2026-01-02T06:04:05Z");
    assert_eq!(nuevo.entradas_disponibles, 90);
}

#[tokio::test]
async fn eliminar_evento_lo_borra() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let e = EventoStore::crear(&s, evento("Concierto", 10))
        .await
        .unwrap();
    EventoStore::eliminar(&s, &e.id).await.unwrap();
    let err = EventoStore::ver(&s, &e.id).await.unwrap_err();
    assert!(matches!(err, Error::NoEncontrado { .. }));
    let err = EventoStore::eliminar(&s, &e.id).await.unwrap_err();
    assert!(matches!(err, Error::NoEncontrado { .. }));
}

#[tokio::test]
async fn aplicar_venta_dos_veces_descuenta_una_vez() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let e = EventoStore::crear(&s, evento("Concierto", 100))
        .await
        .unwrap();
    let r = ReservaId::generar();
    let n = Entradas::new(3).unwrap();
    s.aplicar_venta(&e.id, &r, n).await.unwrap();
    s.aplicar_venta(&e.id, &r, n).await.unwrap();
    let visto = EventoStore::ver(&s, &e.id).await.unwrap();
    assert_eq!(visto.entradas_disponibles, 97);
    assert_eq!(visto.reservas_activas, vec![r]);
}

#[tokio::test]
async fn aplicar_venta_a_evento_inexistente_da_no_encontrado() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let err = s
        .aplicar_venta(
            &EventoId::generar(),
            &ReservaId::generar(),
            Entradas::new(1).unwrap(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::NoEncontrado {
                entidad: "evento",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn revertir_venta_dos_veces_restaura_una_vez() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let e = EventoStore::crear(&s, evento("Concierto", 100))
        .await
        .unwrap();
    let (r1, r2) = (ReservaId::generar(), ReservaId::generar());
    let n = Entradas::new(4).unwrap();
    s.aplicar_venta(&e.id, &r1, n).await.unwrap();
    s.aplicar_venta(&e.id, &r2, n).await.unwrap();
    s.revertir_venta(&e.id, &r1, n).await.unwrap();
    s.revertir_venta(&e.id, &r1, n).await.unwrap();
    let visto = EventoStore::ver(&s, &e.id).await.unwrap();
    assert_eq!(visto.entradas_disponibles, 96);
    assert_eq!(visto.reservas_activas, vec![r2]);
    // Reverting on an event that is gone is a no-op, like any repeat.
    s.revertir_venta(&EventoId::generar(), &r1, n)
        .await
        .unwrap();
}

#[tokio::test]
async fn fijar_modelo_lectura_sobrescribe_ambos_campos() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let e = EventoStore::crear(&s, evento("Concierto", 100))
        .await
        .unwrap();
    s.aplicar_venta(&e.id, &ReservaId::generar(), Entradas::new(5).unwrap())
        .await
        .unwrap();
    let activas = vec![ReservaId::generar(), ReservaId::generar()];
    s.fijar_modelo_lectura(&e.id, 42, &activas).await.unwrap();
    let visto = EventoStore::ver(&s, &e.id).await.unwrap();
    assert_eq!(visto.entradas_disponibles, 42);
    assert_eq!(visto.reservas_activas, activas);
    let err = s
        .fijar_modelo_lectura(&EventoId::generar(), 1, &[])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoEncontrado { .. }));
}

#[tokio::test]
async fn importar_usuarios_insertar_rechaza_duplicados_del_lote_y_de_la_base() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    UsuarioStore::crear(&s, usuario("existe@example.com", Some(("DNI", "9"))))
        .await
        .unwrap();
    let lote = vec![
        usuario("a@example.com", None),
        usuario("a@example.com", None),
        usuario("existe@example.com", None),
        usuario("b@example.com", Some(("DNI", "9"))),
        usuario("c@example.com", None),
    ];
    let r = UsuarioStore::importar(&s, lote, ModoImport::Insertar)
        .await
        .unwrap();
    assert_eq!(r.insertados, 2);
    assert_eq!(r.actualizados, 0);
    assert_eq!(
        r.rechazados,
        vec![
            (
                1,
                "ya existe un usuario con el email a@example.com".to_owned()
            ),
            (
                2,
                "ya existe un usuario con el email existe@example.com".to_owned()
            ),
            (3, "ya existe un usuario con el documento DNI 9".to_owned()),
        ]
    );
    assert!(r.insertados_ids.is_empty());
    assert_eq!(UsuarioStore::listar(&s, 10, None).await.unwrap().len(), 3);
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
async fn importar_usuarios_upsert_dos_veces_actualiza_y_no_inserta() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let previo = UsuarioStore::crear(&s, usuario("existe@example.com", None))
        .await
        .unwrap();
    s.registrar_compra(&previo.id, &compra(&EventoId::generar(), 1))
        .await
        .unwrap();
    let mut cambiado = usuario("existe@example.com", Some(("DNI", "7")));
    cambiado.nombre = texto("Nuevo");
    let lote = vec![
        usuario("a@example.com", None),
        cambiado,
        usuario("b@example.com", Some(("DNI", "8"))),
    ];
    let r = UsuarioStore::importar(&s, lote.clone(), ModoImport::Upsert)
        .await
        .unwrap();
    assert_eq!((r.insertados, r.actualizados), (2, 1), "{r:?}");
    assert!(r.rechazados.is_empty(), "{r:?}");

    let r = UsuarioStore::importar(&s, lote, ModoImport::Upsert)
        .await
        .unwrap();
    assert_eq!((r.insertados, r.actualizados), (0, 3), "{r:?}");
    assert_eq!(UsuarioStore::listar(&s, 10, None).await.unwrap().len(), 3);

    let visto = UsuarioStore::ver(&s, &previo.id).await.unwrap();
    assert_eq!(visto.nombre.as_str(), "Nuevo");
    assert_eq!(visto.documento().unwrap().to_string(), "DNI 7");
    assert_eq!(
        visto.historial_compras.len(),
        1,
        "the history survives an upsert"
    );
    let nuevo = s
        .por_email(&Email::parse("a@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(nuevo.historial_compras.is_empty());

    // A row whose document belongs to someone else is rejected, the rest go in.
    let lote = vec![
        usuario("c@example.com", Some(("DNI", "8"))),
        usuario("d@example.com", None),
    ];
    let r = UsuarioStore::importar(&s, lote, ModoImport::Upsert)
        .await
        .unwrap();
    assert_eq!(r.insertados, 1);
    assert_eq!(
        r.rechazados,
        vec![(0, "ya existe un usuario con el documento DNI 8".to_owned())]
    );
}

#[tokio::test]
async fn importar_eventos_insertar_devuelve_los_ids() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let lote = vec![evento("A", 10), evento("B", 20)];
    let r = EventoStore::importar(&s, lote, ModoImport::Insertar)
        .await
        .unwrap();
    assert_eq!(r.insertados, 2);
    assert_eq!(r.insertados_ids.len(), 2);
    for (i, id) in &r.insertados_ids {
        let e = EventoStore::ver(&s, &EventoId::parse(id).unwrap())
            .await
            .unwrap();
        assert_eq!(e.nombre.as_str(), ["A", "B"][*i]);
        assert_eq!(e.entradas_disponibles, i64::from(e.aforo_total.get()));
    }
}

#[tokio::test]
async fn importar_eventos_upsert_no_toca_aforo_ni_ventas() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let lote = vec![evento("A", 10), evento("B", 20)];
    let r = EventoStore::importar(&s, lote.clone(), ModoImport::Upsert)
        .await
        .unwrap();
    assert_eq!((r.insertados, r.actualizados), (2, 0), "{r:?}");
    assert_eq!(r.insertados_ids.len(), 2);
    let a = EventoId::parse(&r.insertados_ids.iter().find(|x| x.0 == 0).unwrap().1).unwrap();
    let reserva = ReservaId::generar();
    s.aplicar_venta(&a, &reserva, Entradas::new(3).unwrap())
        .await
        .unwrap();

    let mut otra_vez = lote;
    otra_vez[0].aforo = Aforo::new(500).unwrap();
    otra_vez[0].lugar = texto("Nuevo lugar");
    otra_vez.push(evento("C", 5));
    let r = EventoStore::importar(&s, otra_vez, ModoImport::Upsert)
        .await
        .unwrap();
    assert_eq!((r.insertados, r.actualizados), (1, 2), "{r:?}");
    assert_eq!(r.insertados_ids.len(), 1);
    assert_eq!(r.insertados_ids[0].0, 2);

    let visto = EventoStore::ver(&s, &a).await.unwrap();
    assert_eq!(visto.lugar.as_str(), "Nuevo lugar");
    assert_eq!(visto.aforo_total.get(), 10);
    assert_eq!(visto.entradas_disponibles, 7);
    assert_eq!(visto.reservas_activas, vec![reserva]);
    assert_eq!(EventoStore::listar(&s, 10, None).await.unwrap().len(), 3);
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

#[tokio::test]
async fn servidor_caido_da_backend_caido_sin_la_contrasena() {
    let uri = Uri::new("mongodb://u:secreto@127.0.0.1:1/?serverSelectionTimeoutMS=2000");
    let inicio = Instant::now();
    let err = MongoStore::conectar(&uri, "eventflow")
        .await
        .err()
        .expect("un servidor caído no conecta");
    assert!(
        inicio.elapsed() < Duration::from_secs(6),
        "{:?}",
        inicio.elapsed()
    );
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
async fn servidor_caido_sin_plazo_en_la_uri_falla_en_dos_segundos() {
    let uri = Uri::new("mongodb://u:secreto@127.0.0.1:1/");
    let inicio = Instant::now();
    let err = MongoStore::conectar(&uri, "eventflow")
        .await
        .err()
        .expect("un servidor caído no conecta");
    assert!(
        inicio.elapsed() < Duration::from_secs(6),
        "{:?}",
        inicio.elapsed()
    );
    assert!(err.es_backend_caido(), "{err}");
    assert!(!format!("{err} {err:?}").contains("secreto"));
}

#[tokio::test]
async fn importar_upsert_con_la_misma_clave_dos_veces_en_el_lote_aplica_en_orden() {
    let env = Entorno::nuevo();
    let s = store(&env).await;
    let primero = usuario("x@example.com", None);
    let mut segundo = usuario("x@example.com", Some(("DNI", "5")));
    segundo.nombre = texto("Segundo");
    let r = UsuarioStore::importar(&s, vec![primero, segundo], ModoImport::Upsert)
        .await
        .unwrap();
    assert_eq!((r.insertados, r.actualizados), (1, 1), "{r:?}");
    let u = s
        .por_email(&Email::parse("x@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.nombre.as_str(), "Segundo");
    assert_eq!(u.documento().unwrap().to_string(), "DNI 5");

    let mut otro = evento("A", 10);
    otro.lugar = texto("Segundo lugar");
    let r = EventoStore::importar(&s, vec![evento("A", 10), otro], ModoImport::Upsert)
        .await
        .unwrap();
    assert_eq!((r.insertados, r.actualizados), (1, 1), "{r:?}");
    assert_eq!(r.insertados_ids.len(), 1);
    assert_eq!(r.insertados_ids[0].0, 0);
    let e = EventoStore::ver(&s, &EventoId::parse(&r.insertados_ids[0].1).unwrap())
        .await
        .unwrap();
    assert_eq!(e.lugar.as_str(), "Segundo lugar");
}
