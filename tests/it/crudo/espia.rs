//! Index definitions, and a wire tap between the binary and MongoDB: a loopback TCP relay
//! that keeps every byte the client sends. It shows what the app asks the server for even
//! where the test server ignores part of it (NX-27017 drops `partialFilterExpression`).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures::TryStreamExt;
use mongodb::bson::{Document, doc};

use crate::helpers::Entorno;

/// Runs the binary with `args` through the tap; returns everything it sent to MongoDB.
pub fn enviado_a_mongo(env: &Entorno, args: &[&str]) -> Vec<u8> {
    let uri = &env.mongo_uri;
    let resto = uri.strip_prefix("mongodb://").expect("URI mongodb://");
    let (autoridad, ruta) = resto.split_at(resto.find('/').unwrap_or(resto.len()));
    let destino = autoridad.rsplit('@').next().unwrap().to_owned();
    let credenciales = autoridad[..autoridad.len() - destino.len()].to_owned();
    let escucha = TcpListener::bind("127.0.0.1:0").unwrap();
    let puerto = escucha.local_addr().unwrap().port();
    let enviado = Arc::new(Mutex::new(Vec::new()));
    let fin = Arc::new(AtomicBool::new(false));
    let aceptador = {
        let (enviado, fin) = (enviado.clone(), fin.clone());
        std::thread::spawn(move || {
            for cliente in escucha.incoming() {
                if fin.load(Ordering::SeqCst) {
                    break;
                }
                let cliente = cliente.unwrap();
                let servidor = TcpStream::connect(&destino).unwrap();
                let (c2, s2) = (cliente.try_clone().unwrap(), servidor.try_clone().unwrap());
                let copia = enviado.clone();
                std::thread::spawn(move || reenviar(cliente, servidor, Some(copia)));
                std::thread::spawn(move || reenviar(s2, c2, None));
            }
        })
    };
    let por_el_espia = format!("mongodb://{credenciales}127.0.0.1:{puerto}{ruta}");
    let out = env
        .cmd()
        .env("EVENTFLOW_MONGO_URI", por_el_espia)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    fin.store(true, Ordering::SeqCst);
    let _ = TcpStream::connect(("127.0.0.1", puerto));
    aceptador.join().unwrap();
    enviado.lock().unwrap().clone()
}

fn reenviar(mut de: TcpStream, mut a: TcpStream, copia: Option<Arc<Mutex<Vec<u8>>>>) {
    let mut buf = [0u8; 16 * 1024];
    while let Ok(n) = de.read(&mut buf) {
        if n == 0 {
            break;
        }
        if let Some(c) = &copia {
            c.lock().unwrap().extend_from_slice(&buf[..n]);
        }
        if a.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = a.shutdown(Shutdown::Write);
}

/// The definition of the unique index on the user's document pair. On MongoDB: the
/// `createIndexes` the app sends for it (read off the wire, since NX-27017 forgets the
/// partial filter), checked against `listIndexes` for the fields and uniqueness. On
/// SQLite: its `sqlite_master` row. As text, to assert on.
pub async fn indice_del_documento(env: &Entorno) -> String {
    if env.es_mongo() {
        let enviado = enviado_a_mongo(env, &["usuarios", "listar"]);
        let inicio = buscar(&enviado, b"createIndexes").expect("createIndexes en el cable");
        let pedido = String::from_utf8_lossy(&enviado[inicio..]).into_owned();
        let indices: Vec<Document> = env
            .mongo()
            .await
            .run_cursor_command(doc! { "listIndexes": "usuarios" })
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        let pares: Vec<&Document> = indices
            .iter()
            .filter(|i| {
                i.get_document("key")
                    .is_ok_and(|k| k.contains_key("tipo_documento"))
            })
            .collect();
        assert_eq!(pares.len(), 1, "{indices:?}");
        // The wire bytes with BSON's control bytes dropped, keeping the field names.
        let legible: String = pedido
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        format!("{} | pedido: {legible}", pares[0])
    } else {
        env.sqlite()
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usuarios' \
                 AND sql LIKE '%tipo_documento%'",
                [],
                |f| f.get(0),
            )
            .unwrap()
    }
}

fn buscar(pajar: &[u8], aguja: &[u8]) -> Option<usize> {
    pajar.windows(aguja.len()).position(|w| w == aguja)
}
