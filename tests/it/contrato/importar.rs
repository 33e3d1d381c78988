//! The stores' batch import, on every backend: `insertar` rejects duplicates within the
//! batch and against the store, `upsert` matches by email (users) or name and date
//! (events), keeps histories, capacity and sales, and applies a batch in order.

use eventflow::domain::{Aforo, Email, Entradas, EventoId, ReservaId};
use eventflow::store::ModoImport;

use crate::crudo;
use crate::fixtures::{compra, evento, texto, usuario};
use crate::helpers::Entorno;

async fn importar_usuarios_insertar_rechaza_duplicados_del_lote_y_de_la_base(env: Entorno) {
    let alm = env.almacen().await;
    let usuarios = alm.usuarios.as_ref();
    usuarios
        .crear(usuario("existe@example.com", Some(("DNI", "9"))))
        .await
        .unwrap();
    let lote = vec![
        usuario("a@example.com", None),
        usuario("a@example.com", None),
        usuario("existe@example.com", None),
        usuario("b@example.com", Some(("DNI", "9"))),
        usuario("c@example.com", None),
    ];
    let r = usuarios.importar(lote, ModoImport::Insertar).await.unwrap();
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
    assert_eq!(usuarios.listar(10, None).await.unwrap().len(), 3);
    let guardados: Vec<String> = crudo::usuarios_crudos(&env)
        .await
        .into_iter()
        .map(|(email, _)| email)
        .collect();
    assert_eq!(
        guardados,
        ["a@example.com", "c@example.com", "existe@example.com"]
    );
    assert!(crudo::historiales_crudos(&env).await.is_empty());
}

async fn importar_usuarios_upsert_dos_veces_actualiza_y_no_inserta(env: Entorno) {
    let alm = env.almacen().await;
    let usuarios = alm.usuarios.as_ref();
    let previo = usuarios
        .crear(usuario("existe@example.com", None))
        .await
        .unwrap();
    usuarios
        .registrar_compra(&previo.id, &compra(&EventoId::generar(), 1))
        .await
        .unwrap();
    let mut cambiado = usuario("existe@example.com", Some(("DNI", "7")));
    cambiado.nombre = texto("nombre", "Nuevo");
    let lote = vec![
        usuario("a@example.com", None),
        cambiado,
        usuario("b@example.com", Some(("DNI", "8"))),
    ];
    let r = usuarios
        .importar(lote.clone(), ModoImport::Upsert)
        .await
        .unwrap();
    assert_eq!((r.insertados, r.actualizados), (2, 1), "{r:?}");
    assert!(r.rechazados.is_empty(), "{r:?}");

    let r = usuarios.importar(lote, ModoImport::Upsert).await.unwrap();
    assert_eq!((r.insertados, r.actualizados), (0, 3), "{r:?}");
    assert_eq!(usuarios.listar(10, None).await.unwrap().len(), 3);

    let visto = usuarios.ver(&previo.id).await.unwrap();
    assert_eq!(visto.nombre.as_str(), "Nuevo");
    assert_eq!(visto.documento().unwrap().to_string(), "DNI 7");
    assert_eq!(
        visto.historial_compras.len(),
        1,
        "the history survives an upsert"
    );
    let nuevo = usuarios
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
    let r = usuarios.importar(lote, ModoImport::Upsert).await.unwrap();
    assert_eq!(r.insertados, 1);
    assert_eq!(
        r.rechazados,
        vec![(0, "ya existe un usuario con el documento DNI 8".to_owned())]
    );
}

async fn importar_eventos_insertar_devuelve_los_ids(env: Entorno) {
    let alm = env.almacen().await;
    let eventos = alm.eventos.as_ref();
    let lote = vec![evento("A", 10), evento("B", 20)];
    let r = eventos.importar(lote, ModoImport::Insertar).await.unwrap();
    assert_eq!(r.insertados, 2);
    assert_eq!(r.insertados_ids.len(), 2);
    for (i, id) in &r.insertados_ids {
        let e = eventos.ver(&EventoId::parse(id).unwrap()).await.unwrap();
        assert_eq!(e.nombre.as_str(), ["A", "B"][*i]);
        assert_eq!(e.entradas_disponibles, i64::from(e.aforo_total.get()));
    }
}

async fn importar_eventos_upsert_no_toca_aforo_ni_ventas(env: Entorno) {
    let alm = env.almacen().await;
    let eventos = alm.eventos.as_ref();
    let lote = vec![evento("A", 10), evento("B", 20)];
    let r = eventos
        .importar(lote.clone(), ModoImport::Upsert)
        .await
        .unwrap();
    assert_eq!((r.insertados, r.actualizados), (2, 0), "{r:?}");
    assert_eq!(r.insertados_ids.len(), 2);
    let a = EventoId::parse(&r.insertados_ids.iter().find(|x| x.0 == 0).unwrap().1).unwrap();
    let reserva = ReservaId::generar();
    eventos
        .aplicar_venta(&a, &reserva, Entradas::new(3).unwrap())
        .await
        .unwrap();

    let mut otra_vez = lote;
    otra_vez[0].aforo = Aforo::new(500).unwrap();
    otra_vez[0].lugar = texto("lugar", "Nuevo lugar");
    otra_vez.push(evento("C", 5));
    let r = eventos
        .importar(otra_vez, ModoImport::Upsert)
        .await
        .unwrap();
    assert_eq!((r.insertados, r.actualizados), (1, 2), "{r:?}");
    assert_eq!(r.insertados_ids.len(), 1);
    assert_eq!(r.insertados_ids[0].0, 2);

    let visto = eventos.ver(&a).await.unwrap();
    assert_eq!(visto.lugar.as_str(), "Nuevo lugar");
    assert_eq!(visto.aforo_total.get(), 10);
    assert_eq!(visto.entradas_disponibles, 7);
    assert_eq!(visto.reservas_activas, vec![reserva]);
    assert_eq!(eventos.listar(10, None).await.unwrap().len(), 3);
    // `insertar` never matches existing events: the same name and date is a new one.
    let r = eventos
        .importar(vec![evento("A", 1)], ModoImport::Insertar)
        .await
        .unwrap();
    assert_eq!(r.insertados_ids.len(), 1);
    assert_eq!(crudo::eventos_crudos(&env).await.len(), 4);
}

async fn importar_upsert_con_la_misma_clave_dos_veces_en_el_lote_aplica_en_orden(env: Entorno) {
    let alm = env.almacen().await;
    let (usuarios, eventos) = (alm.usuarios.as_ref(), alm.eventos.as_ref());
    let primero = usuario("x@example.com", None);
    let mut segundo = usuario("x@example.com", Some(("DNI", "5")));
    segundo.nombre = texto("nombre", "Segundo");
    let r = usuarios
        .importar(vec![primero, segundo], ModoImport::Upsert)
        .await
        .unwrap();
    assert_eq!((r.insertados, r.actualizados), (1, 1), "{r:?}");
    let u = usuarios
        .por_email(&Email::parse("x@example.com").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(u.nombre.as_str(), "Segundo");
    assert_eq!(u.documento().unwrap().to_string(), "DNI 5");

    let mut otro = evento("A", 10);
    otro.lugar = texto("lugar", "Segundo lugar");
    let r = eventos
        .importar(vec![evento("A", 10), otro], ModoImport::Upsert)
        .await
        .unwrap();
    assert_eq!((r.insertados, r.actualizados), (1, 1), "{r:?}");
    assert_eq!(r.insertados_ids.len(), 1);
    assert_eq!(r.insertados_ids[0].0, 0);
    let e = eventos
        .ver(&EventoId::parse(&r.insertados_ids[0].1).unwrap())
        .await
        .unwrap();
    assert_eq!(e.lugar.as_str(), "Segundo lugar");
}

en_ambos_backends!(
    importar_usuarios_insertar_rechaza_duplicados_del_lote_y_de_la_base,
    importar_usuarios_upsert_dos_veces_actualiza_y_no_inserta,
    importar_eventos_insertar_devuelve_los_ids,
    importar_eventos_upsert_no_toca_aforo_ni_ventas,
    importar_upsert_con_la_misma_clave_dos_veces_en_el_lote_aplica_en_orden,
);
