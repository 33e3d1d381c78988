//! `eventflow usuarios|eventos importar` through the real binary (issue #4): each bad
//! row is rejected on its own line while the rest import, exit codes 0/2/7/8, seat
//! counters for events, upsert re-runs, and MongoDB dying half-way.

use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use mongodb::bson::{Bson, Document, doc};
use redis::AsyncCommands;
use serde_json::{Value, json};

use crate::helpers::{Entorno, NxPropio, json};

const CABECERA_USUARIOS: &str = "tipo_documento,nro_documento,nombre,apellido,email\n";
const CABECERA_EVENTOS: &str = "nombre,fecha,lugar,aforo_total,precio\n";

fn archivo(env: &Entorno, nombre: &str, contenido: impl AsRef<[u8]>) -> PathBuf {
    let ruta = env.dir.path().join(nombre);
    std::fs::write(&ruta, contenido).unwrap();
    ruta
}

struct Salida {
    codigo: i32,
    stdout: String,
    stderr: String,
}

impl Salida {
    fn json(&self) -> Value {
        json(self.stdout.as_bytes())
    }
}

/// Runs `eventflow -o json <entidad> importar <args…>`.
fn importar(env: &Entorno, entidad: &str, args: &[&str]) -> Salida {
    let out = env
        .cmd()
        .args(["-o", "json", entidad, "importar"])
        .args(args)
        .output()
        .unwrap();
    Salida {
        codigo: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ruta(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

/// The stored users or events as documents with an `_id`, read through the backend's
/// own store, so the same assertions hold on MongoDB and on the embedded backend.
async fn documentos(env: &Entorno, coleccion: &str) -> Vec<Document> {
    let alm = env.almacen().await;
    let valores: Vec<Value> = match coleccion {
        "usuarios" => alm
            .usuarios
            .listar(100_000, None)
            .await
            .unwrap()
            .iter()
            .map(|u| serde_json::to_value(u).unwrap())
            .collect(),
        "eventos" => alm
            .eventos
            .listar(100_000, None)
            .await
            .unwrap()
            .iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect(),
        otra => panic!("colección desconocida {otra}"),
    };
    valores
        .into_iter()
        .map(|v| {
            let mut d = mongodb::bson::to_document(&v).unwrap();
            let id = d.remove("id").unwrap();
            let id = mongodb::bson::oid::ObjectId::parse_str(id.as_str().unwrap()).unwrap();
            d.insert("_id", id);
            d
        })
        .collect()
}

async fn emails(env: &Entorno) -> Vec<String> {
    let mut v: Vec<String> = documentos(env, "usuarios")
        .await
        .iter()
        .map(|d| d.get_str("email").unwrap().to_owned())
        .collect();
    v.sort();
    v
}

async fn contador(env: &Entorno, evento: &str) -> Option<i64> {
    env.contador(&eventflow::domain::EventoId::parse(evento).unwrap())
        .await
}

fn assert_rechazo(s: &Salida, linea: u64, campo: Option<&str>) {
    let esperado = match campo {
        Some(c) => format!("línea {linea}, campo {c}: "),
        None => format!("línea {linea}: "),
    };
    assert!(
        s.stderr.lines().any(|l| l.starts_with(&esperado)),
        "falta «{esperado}…» en stderr:\n{}",
        s.stderr
    );
}

async fn una_linea_jsonl_mal_formada_se_rechaza_y_el_resto_se_importa(env: Entorno) {
    let f = archivo(
        &env,
        "u.jsonl",
        "{\"nombre\":\"Ana\",\"apellido\":\"Gil\",\"email\":\"ana@example.com\"}\n\
         {\"nombre\":\"Roto\",\"apellido\":\n\
         {\"nombre\":\"Luis\",\"apellido\":\"Paz\",\"email\":\"luis@example.com\"}\n",
    );
    let s = importar(&env, "usuarios", &[ruta(&f)]);
    assert_eq!(s.codigo, 8, "{}", s.stderr);
    assert_rechazo(&s, 2, None);
    assert!(s.stderr.contains("json inválido"), "{}", s.stderr);
    let r = s.json();
    assert_eq!(
        (r["leidas"].as_u64(), r["insertadas"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(r["rechazadas"], 1);
    assert_eq!(emails(&env).await, ["ana@example.com", "luis@example.com"]);
}

async fn una_fila_csv_con_columnas_de_menos_o_de_mas_se_rechaza_sola(env: Entorno) {
    let f = archivo(
        &env,
        "u.csv",
        format!(
            "{CABECERA_USUARIOS}\
             ,,Ana,Gil,ana@example.com\n\
             ,,Corta,corta@example.com\n\
             ,,Larga,Sí,larga@example.com,de más\n\
             ,,Luis,Paz,luis@example.com\n"
        ),
    );
    let s = importar(&env, "usuarios", &[ruta(&f)]);
    assert_eq!(s.codigo, 8, "{}", s.stderr);
    assert_rechazo(&s, 3, None);
    assert_rechazo(&s, 4, None);
    assert!(
        s.stderr
            .contains("la fila tiene 4 columnas y la cabecera 5"),
        "{}",
        s.stderr
    );
    assert!(
        s.stderr.contains("la fila tiene 6 columnas"),
        "{}",
        s.stderr
    );
    assert_eq!(emails(&env).await, ["ana@example.com", "luis@example.com"]);
}

async fn un_campo_obligatorio_vacio_se_rechaza_nombrando_el_campo(env: Entorno) {
    let f = archivo(
        &env,
        "u.csv",
        format!("{CABECERA_USUARIOS},,Ana,,ana@example.com\n,,Luis,Paz,luis@example.com\n"),
    );
    let s = importar(&env, "usuarios", &[ruta(&f)]);
    assert_eq!(s.codigo, 8);
    assert_rechazo(&s, 2, Some("apellido"));
    assert!(
        s.stderr.contains("falta el campo obligatorio apellido"),
        "{}",
        s.stderr
    );
    assert_eq!(emails(&env).await, ["luis@example.com"]);
}

async fn un_email_invalido_se_rechaza_con_su_linea_y_su_valor(env: Entorno) {
    let f = archivo(
        &env,
        "u.csv",
        format!(
            "{CABECERA_USUARIOS},,Ana,Gil,ana@example.com\n,,Tomás,Vega,tomas.vega@example\n,,Luis,Paz,luis@example.com\n"
        ),
    );
    let s = importar(&env, "usuarios", &[ruta(&f)]);
    assert_eq!(s.codigo, 8);
    assert_rechazo(&s, 3, Some("email"));
    assert!(s.stderr.contains("\"tomas.vega@example\""), "{}", s.stderr);
    assert_eq!(emails(&env).await, ["ana@example.com", "luis@example.com"]);
}

async fn un_aforo_negativo_se_rechaza_y_los_demas_eventos_se_importan(env: Entorno) {
    let f = archivo(
        &env,
        "e.csv",
        format!(
            "{CABECERA_EVENTOS}\
             Rock,2025-12-01T21:00:00Z,Estadio,100,500\n\
             Jazz,2025-12-02T21:00:00Z,Teatro,-5,500\n\
             Tango,2025-12-03T21:00:00Z,Club,50,\n"
        ),
    );
    let s = importar(&env, "eventos", &[ruta(&f)]);
    assert_eq!(s.codigo, 8, "{}", s.stderr);
    assert_rechazo(&s, 3, Some("aforo_total"));
    let docs = documentos(&env, "eventos").await;
    let nombres: Vec<&str> = docs.iter().map(|d| d.get_str("nombre").unwrap()).collect();
    assert_eq!(nombres.len(), 2);
    assert!(nombres.contains(&"Rock") && nombres.contains(&"Tango"));
}

async fn una_fecha_ilegible_se_rechaza(env: Entorno) {
    let f = archivo(
        &env,
        "e.jsonl",
        "{\"nombre\":\"Rock\",\"fecha\":\"1 de diciembre\",\"lugar\":\"Estadio\",\"aforo_total\":10}\n\
         {\"nombre\":\"Jazz\",\"fecha\":\"2025-12-02T21:00:00-03:00\",\"lugar\":\"Teatro\",\"aforo_total\":10}\n",
    );
    let s = importar(&env, "eventos", &[ruta(&f)]);
    assert_eq!(s.codigo, 8);
    assert_rechazo(&s, 1, Some("fecha"));
    assert!(s.stderr.contains("RFC 3339"), "{}", s.stderr);
    let docs = documentos(&env, "eventos").await;
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].get_str("fecha").unwrap(), "2025-12-03T00:00:00Z");
}

async fn un_email_repetido_en_el_archivo_se_rechaza_en_modo_insertar(env: Entorno) {
    let f = archivo(
        &env,
        "u.csv",
        format!(
            "{CABECERA_USUARIOS},,Ana,Gil,ana@example.com\n,,Otra,Ana,ANA@example.com\n,,Luis,Paz,luis@example.com\n"
        ),
    );
    let s = importar(&env, "usuarios", &[ruta(&f)]);
    assert_eq!(s.codigo, 8);
    assert_rechazo(&s, 3, Some("email"));
    assert!(
        s.stderr.contains("ya aparece en la línea 2"),
        "{}",
        s.stderr
    );
    assert_eq!(emails(&env).await, ["ana@example.com", "luis@example.com"]);
    let ana = documentos(&env, "usuarios").await;
    assert!(ana.iter().any(|d| d.get_str("nombre").unwrap() == "Ana"));
}

async fn en_modo_upsert_la_ultima_fila_repetida_gana(env: Entorno) {
    let f = archivo(
        &env,
        "u.csv",
        format!(
            "{CABECERA_USUARIOS},,Primera,Gil,ana@example.com\n,,Luis,Paz,luis@example.com\n,,Segunda,Gil,ana@example.com\n"
        ),
    );
    let s = importar(&env, "usuarios", &[ruta(&f), "--modo", "upsert"]);
    assert_eq!(s.codigo, 0, "{}", s.stderr);
    let r = s.json();
    assert_eq!(
        (r["insertadas"].as_u64(), r["actualizadas"].as_u64()),
        (Some(2), Some(1))
    );
    let docs = documentos(&env, "usuarios").await;
    assert_eq!(docs.len(), 2);
    let ana = docs
        .iter()
        .find(|d| d.get_str("email").unwrap() == "ana@example.com")
        .unwrap();
    assert_eq!(ana.get_str("nombre").unwrap(), "Segunda");
}

async fn un_usuario_que_ya_existe_en_la_base_se_rechaza(env: Entorno) {
    crate::usuarios::crear_usuario(&env, "ana@example.com");
    let f = archivo(
        &env,
        "u.jsonl",
        "{\"nombre\":\"Ana\",\"apellido\":\"Gil\",\"email\":\"Ana@Example.com\"}\n\
         {\"nombre\":\"Luis\",\"apellido\":\"Paz\",\"email\":\"luis@example.com\"}\n",
    );
    let s = importar(&env, "usuarios", &[ruta(&f)]);
    assert_eq!(s.codigo, 8, "{}", s.stderr);
    assert_rechazo(&s, 1, Some("email"));
    assert!(
        s.stderr
            .contains("ya existe un usuario con el email ana@example.com"),
        "{}",
        s.stderr
    );
    assert_eq!(emails(&env).await, ["ana@example.com", "luis@example.com"]);
    let docs = documentos(&env, "usuarios").await;
    let ana = docs
        .iter()
        .find(|d| d.get_str("email").unwrap() == "ana@example.com")
        .unwrap();
    assert_eq!(
        ana.get_str("nombre").unwrap(),
        "Juan",
        "el existente no cambia"
    );
}

async fn un_evento_que_ya_existe_se_rechaza_en_modo_insertar(env: Entorno) {
    let e = crate::eventos::crear_evento(&env, 100, 0);
    let f = archivo(
        &env,
        "e.csv",
        format!(
            "{CABECERA_EVENTOS}Concierto Rock,2025-12-01T18:00:00-03:00,Otro lugar,5,1\nJazz,2025-12-02T21:00:00Z,Teatro,10,0\n"
        ),
    );
    let s = importar(&env, "eventos", &[ruta(&f)]);
    assert_eq!(s.codigo, 8, "{}", s.stderr);
    assert_rechazo(&s, 2, Some("nombre+fecha"));
    assert!(s.stderr.contains(e["id"].as_str().unwrap()), "{}", s.stderr);
    assert_eq!(documentos(&env, "eventos").await.len(), 2);
    assert_eq!(contador(&env, e["id"].as_str().unwrap()).await, Some(100));
}

async fn un_csv_con_bom_y_crlf_se_importa_limpio(env: Entorno) {
    let f = archivo(
        &env,
        "u.csv",
        "\u{FEFF}tipo_documento,nro_documento,nombre,apellido,email\r\n\
         DNI,123,Ana,Gil,ana@example.com\r\n\
         ,,Multi,\"Línea\r\nPartida\",multi@example.com\r\n\
         ,,Eva,Sol,mala\r\n\
         ,,Luis,Paz,luis@example.com\r\n",
    );
    let s = importar(&env, "usuarios", &[ruta(&f)]);
    assert_eq!(s.codigo, 8, "{}", s.stderr);
    // The quoted field spans lines 3-4 (and a line break is no valid name), so the
    // next row is line 5.
    assert_rechazo(&s, 3, Some("apellido"));
    assert_rechazo(&s, 5, Some("email"));
    let docs = documentos(&env, "usuarios").await;
    assert_eq!(docs.len(), 2);
    let ana = docs
        .iter()
        .find(|d| d.get_str("email").unwrap() == "ana@example.com")
        .unwrap();
    assert_eq!(ana.get_str("tipo_documento").unwrap(), "DNI");
    assert_eq!(ana.get_str("nro_documento").unwrap(), "123");
    for d in &docs {
        for (_, v) in d {
            if let Some(s) = v.as_str() {
                assert!(!s.contains('\u{FEFF}') && !s.ends_with('\r'), "{d}");
            }
        }
    }
}

async fn un_archivo_vacio_no_importa_nada_y_sale_con_0(env: Entorno) {
    for nombre in ["vacio.csv", "vacio.jsonl", "vacio.json"] {
        let f = archivo(&env, nombre, "");
        let s = importar(&env, "usuarios", &[ruta(&f)]);
        assert_eq!(s.codigo, 0, "{nombre}: {}", s.stderr);
        assert_eq!(s.json()["leidas"], 0);
    }
    let f = archivo(&env, "solo_cabecera.csv", CABECERA_USUARIOS);
    assert_eq!(importar(&env, "usuarios", &[ruta(&f)]).codigo, 0);
    assert!(documentos(&env, "usuarios").await.is_empty());
}

async fn un_archivo_que_no_existe_sale_con_2_nombrando_la_ruta(env: Entorno) {
    let f = env.dir.path().join("no_esta.csv");
    let s = importar(&env, "usuarios", &[ruta(&f)]);
    assert_eq!(s.codigo, 2);
    assert!(s.stderr.contains(ruta(&f)), "{}", s.stderr);
    assert!(
        crate::helpers::es_solo_error(s.stdout.as_bytes()),
        "{}",
        s.stdout
    );
}

async fn la_entrada_estandar_sin_formato_sale_con_2_y_con_formato_se_importa(env: Entorno) {
    let s = importar(&env, "usuarios", &["-"]);
    assert_eq!(s.codigo, 2);
    assert!(s.stderr.contains("--formato"), "{}", s.stderr);

    let out = env
        .cmd()
        .args([
            "-o",
            "json",
            "usuarios",
            "importar",
            "-",
            "--formato",
            "csv",
        ])
        .write_stdin(format!("{CABECERA_USUARIOS},,Ana,Gil,ana@example.com\n"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(emails(&env).await, ["ana@example.com"]);
}

async fn repetir_en_modo_upsert_no_cambia_ni_duplica_nada(env: Entorno) {
    let f = archivo(
        &env,
        "u.csv",
        format!("{CABECERA_USUARIOS}DNI,1,Ana,Gil,ana@example.com\n,,Luis,Paz,luis@example.com\n"),
    );
    assert_eq!(importar(&env, "usuarios", &[ruta(&f)]).codigo, 0);
    let antes = documentos(&env, "usuarios").await;
    let e = archivo(
        &env,
        "e.json",
        r#"[{"nombre":"Rock","fecha":"2025-12-01T21:00:00Z","lugar":"Estadio","aforo_total":100}]"#,
    );
    assert_eq!(importar(&env, "eventos", &[ruta(&e)]).codigo, 0);
    let eventos_antes = documentos(&env, "eventos").await;

    for _ in 0..2 {
        let s = importar(&env, "usuarios", &[ruta(&f), "--modo", "upsert"]);
        assert_eq!(s.codigo, 0, "{}", s.stderr);
        let r = s.json();
        assert_eq!(
            (r["insertadas"].as_u64(), r["actualizadas"].as_u64()),
            (Some(0), Some(2))
        );
        let s = importar(&env, "eventos", &[ruta(&e), "--modo", "upsert"]);
        assert_eq!(s.codigo, 0, "{}", s.stderr);
    }
    assert_eq!(documentos(&env, "usuarios").await, antes);
    assert_eq!(documentos(&env, "eventos").await, eventos_antes);
}

async fn importar_eventos_crea_sus_contadores_y_un_upsert_no_los_reinicia(env: Entorno) {
    let f = archivo(
        &env,
        "e.json",
        r#"[
            {"nombre":"Rock","fecha":"2025-12-01T21:00:00Z","lugar":"Estadio","aforo_total":100,"precio":500},
            {"nombre":"Jazz","fecha":"2025-12-02T21:00:00Z","lugar":"Teatro","aforo_total":"30"}
        ]"#,
    );
    let s = importar(&env, "eventos", &[ruta(&f)]);
    assert_eq!(s.codigo, 0, "{}", s.stderr);
    let docs = documentos(&env, "eventos").await;
    assert_eq!(docs.len(), 2);
    for d in &docs {
        let id = d.get_object_id("_id").unwrap().to_hex();
        // NX hands small Int64 values back as Int32.
        let aforo = match d.get("aforo_total") {
            Some(Bson::Int32(n)) => i64::from(*n),
            Some(Bson::Int64(n)) => *n,
            otro => panic!("aforo_total {otro:?}"),
        };
        assert_eq!(contador(&env, &id).await, Some(aforo), "{d}");
    }
    // Seats sold since: an upsert of the same file must leave the counter alone.
    let rock = docs
        .iter()
        .find(|d| d.get_str("nombre").unwrap() == "Rock")
        .unwrap()
        .get_object_id("_id")
        .unwrap()
        .to_hex();
    // Seven seats sold since (set through the store, as a sale would leave it).
    let rock_id = eventflow::domain::EventoId::parse(&rock).unwrap();
    let alm = env.almacen().await;
    assert!(
        alm.reservas
            .fijar_contador(&rock_id, Some(100), 93)
            .await
            .unwrap()
    );
    let s = importar(&env, "eventos", &[ruta(&f), "--modo", "upsert"]);
    assert_eq!(s.codigo, 0, "{}", s.stderr);
    assert_eq!(s.json()["actualizadas"], 2);
    assert_eq!(contador(&env, &rock).await, Some(93));
    assert_eq!(documentos(&env, "eventos").await.len(), 2);
}

async fn dry_run_valida_sin_escribir_nada(env: Entorno) {
    let u = archivo(
        &env,
        "u.csv",
        format!("{CABECERA_USUARIOS},,Ana,Gil,ana@example.com\n,,Eva,Sol,mala\n"),
    );
    let e = archivo(
        &env,
        "e.csv",
        format!("{CABECERA_EVENTOS}Rock,2025-12-01T21:00:00Z,Estadio,100,\n"),
    );
    let s = importar(&env, "usuarios", &[ruta(&u), "--dry-run"]);
    assert_eq!(s.codigo, 8, "{}", s.stderr);
    assert_rechazo(&s, 3, Some("email"));
    let r = s.json();
    assert_eq!(
        (r["validas"].as_u64(), r["insertadas"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(r["dry_run"], true);
    let s = importar(&env, "eventos", &[ruta(&e), "--dry-run"]);
    assert_eq!(s.codigo, 0, "{}", s.stderr);
    assert!(documentos(&env, "usuarios").await.is_empty());
    assert!(documentos(&env, "eventos").await.is_empty());
    // No seat counter either.
    let alm = env.almacen().await;
    assert!(alm.reservas.eventos().await.unwrap().is_empty());
    if env.es_mongo() {
        let claves: Vec<String> = env
            .redis()
            .await
            .keys(format!("{}*", env.prefijo))
            .await
            .unwrap();
        assert!(claves.is_empty(), "{claves:?}");
    }
}

async fn el_archivo_de_rechazos_tiene_cada_fila_lista_para_corregir_y_reimportar(env: Entorno) {
    crate::usuarios::crear_usuario(&env, "existe@example.com");
    let mut filas = String::from(CABECERA_USUARIOS);
    filas.push_str(",,Ana,Gil,ana@example.com\n"); // 2
    filas.push_str(",,Eva,Sol,eva@\n"); // 3
    filas.push_str(",,Yo,Otra,existe@example.com\n"); // 4
    for i in 0..12 {
        filas.push_str(&format!(",,Sin,,s{i}@example.com\n")); // 5..16
    }
    let u = archivo(&env, "u.csv", filas);
    let rech = env.dir.path().join("rechazos.jsonl");
    let s = importar(
        &env,
        "usuarios",
        &[ruta(&u), "--rechazos", ruta(&rech), "--lote", "3"],
    );
    assert_eq!(s.codigo, 8, "{}", s.stderr);
    // The first ten on stderr, the rest summarised.
    assert_eq!(
        s.stderr.lines().filter(|l| l.starts_with("línea ")).count(),
        10
    );
    assert!(s.stderr.contains("y 4 rechazos más"), "{}", s.stderr);

    let lineas: Vec<Value> = std::fs::read_to_string(&rech)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lineas.len(), 14);
    let posiciones: Vec<u64> = lineas
        .iter()
        .map(|l| l["linea"].as_u64().unwrap())
        .collect();
    assert_eq!(posiciones, (3..=16).collect::<Vec<u64>>());
    assert_eq!(lineas[0]["campo"], "email");
    assert!(lineas[0]["motivo"].as_str().unwrap().contains("eva@"));
    assert_eq!(
        lineas[0]["registro"],
        json!({"tipo_documento": "", "nro_documento": "", "nombre": "Eva", "apellido": "Sol", "email": "eva@"})
    );
    assert_eq!(lineas[1]["campo"], "email");
    assert!(lineas[1]["motivo"].as_str().unwrap().contains("ya existe"));
    assert_eq!(lineas[1]["registro"]["email"], "existe@example.com");
    assert_eq!(lineas[2]["campo"], "apellido");

    // Fixed with jq-like edits, the rejections import as JSON Lines.
    let arreglado: String = lineas
        .iter()
        .skip(2)
        .map(|l| {
            let mut r = l["registro"].clone();
            r["apellido"] = json!("Arreglado");
            format!("{r}\n")
        })
        .collect();
    let f = archivo(&env, "arreglado.jsonl", arreglado);
    let s = importar(&env, "usuarios", &[ruta(&f)]);
    assert_eq!(s.codigo, 0, "{}", s.stderr);
    assert_eq!(s.json()["insertadas"], 12);
}

async fn un_array_json_numera_los_registros_y_rechaza_lo_que_no_es_objeto(env: Entorno) {
    let f = archivo(
        &env,
        "u.json",
        r#"[{"nombre":"Ana","apellido":"Gil","email":"ana@example.com"},
            42,
            {"nombre":"Luis","apellido":"Paz","email":"luis@example.com","edad":3}]"#,
    );
    let s = importar(&env, "usuarios", &[ruta(&f)]);
    assert_eq!(s.codigo, 8);
    assert_rechazo(&s, 2, None);
    assert_rechazo(&s, 3, Some("edad"));
    assert_eq!(emails(&env).await, ["ana@example.com"]);
}

#[tokio::test]
async fn si_mongodb_cae_a_mitad_sale_con_7_y_dice_cuantas_filas_se_guardaron() {
    let mut nx = NxPropio::arrancar();
    let env = Entorno::con_mongo(&nx.uri());
    let ruta_csv = env.dir.path().join("grande.csv");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&ruta_csv).unwrap());
        w.write_all(CABECERA_USUARIOS.as_bytes()).unwrap();
        for i in 0..200_000 {
            writeln!(w, ",,Nombre{i},Apellido{i},u{i}@example.com").unwrap();
        }
    }
    let hijo = env
        .cmd_std()
        .args(["usuarios", "importar", ruta(&ruta_csv)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let usuarios = mongodb::Client::with_uri_str(nx.uri())
        .await
        .unwrap()
        .database(&env.db)
        .collection::<Document>("usuarios");
    let inicio = Instant::now();
    loop {
        if usuarios.count_documents(doc! {}).await.unwrap_or(0) > 0 {
            break;
        }
        assert!(
            inicio.elapsed() < Duration::from_secs(60),
            "no se guardó ninguna fila"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    nx.matar();

    let out = tokio::task::spawn_blocking(move || hijo.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(
        stderr.contains("no se puede conectar con MongoDB"),
        "{stderr}"
    );
    assert!(
        stderr.contains("la importación se detuvo tras guardar"),
        "{stderr}"
    );
    assert!(stderr.contains("--modo upsert"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "sin resumen: la importación no terminó"
    );
}

en_ambos_backends!(
    una_linea_jsonl_mal_formada_se_rechaza_y_el_resto_se_importa,
    una_fila_csv_con_columnas_de_menos_o_de_mas_se_rechaza_sola,
    un_campo_obligatorio_vacio_se_rechaza_nombrando_el_campo,
    un_email_invalido_se_rechaza_con_su_linea_y_su_valor,
    un_aforo_negativo_se_rechaza_y_los_demas_eventos_se_importan,
    una_fecha_ilegible_se_rechaza,
    un_email_repetido_en_el_archivo_se_rechaza_en_modo_insertar,
    en_modo_upsert_la_ultima_fila_repetida_gana,
    un_usuario_que_ya_existe_en_la_base_se_rechaza,
    un_evento_que_ya_existe_se_rechaza_en_modo_insertar,
    un_csv_con_bom_y_crlf_se_importa_limpio,
    un_archivo_vacio_no_importa_nada_y_sale_con_0,
    un_archivo_que_no_existe_sale_con_2_nombrando_la_ruta,
    la_entrada_estandar_sin_formato_sale_con_2_y_con_formato_se_importa,
    repetir_en_modo_upsert_no_cambia_ni_duplica_nada,
    importar_eventos_crea_sus_contadores_y_un_upsert_no_los_reinicia,
    dry_run_valida_sin_escribir_nada,
    el_archivo_de_rechazos_tiene_cada_fila_lista_para_corregir_y_reimportar,
    un_array_json_numera_los_registros_y_rechaza_lo_que_no_es_objeto,
);
