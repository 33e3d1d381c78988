//! Docs that must stay true, checked against the tree at test time: every top-level module
//! of `src/` (a folder, or a `.rs` file) is named in `docs/architecture.md`.

use std::path::Path;

/// Whether `doc` names `ruta` (e.g. `store/`, `error.rs`) as a path of its own, not as the
/// tail of a longer name.
fn nombra(doc: &str, ruta: &str) -> bool {
    doc.match_indices(ruta).any(|(i, _)| {
        doc[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
    })
}

#[test]
fn architecture_md_nombra_cada_modulo_de_primer_nivel_de_src() {
    let raiz = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(raiz.join("docs/architecture.md")).unwrap();
    let mut faltan = Vec::new();
    let mut vistos = 0;
    for entrada in std::fs::read_dir(raiz.join("src")).unwrap() {
        let entrada = entrada.unwrap();
        let nombre = entrada.file_name().to_string_lossy().into_owned();
        let (modulo, formas) = if entrada.file_type().unwrap().is_dir() {
            (nombre.clone(), vec![format!("{nombre}/")])
        } else if let Some(m) = nombre.strip_suffix(".rs") {
            // A file module may grow into a folder: either form names it.
            (m.to_owned(), vec![nombre.clone(), format!("{m}/")])
        } else {
            continue;
        };
        vistos += 1;
        if !formas.iter().any(|f| nombra(&doc, f)) {
            faltan.push(modulo);
        }
    }
    assert!(vistos >= 8, "src/ casi vacío: {vistos} módulos");
    assert!(
        faltan.is_empty(),
        "docs/architecture.md no menciona estos módulos de src/: {faltan:?}"
    );
}

#[test]
fn nombra_no_confunde_un_modulo_con_el_final_de_otro_nombre() {
    assert!(nombra("├── store/   x", "store/"));
    assert!(nombra("`error.rs`", "error.rs"));
    assert!(!nombra("datastore/", "store/"));
    assert!(!nombra("mi_error.rs", "error.rs"));
}

/// Issue 13: the core never reads the environment and never prints; only the fronts
/// (`cli/`, `main.rs`) and the settings (`config/`) do. Checked on the source text.
#[test]
fn el_nucleo_no_lee_el_entorno_ni_imprime() {
    fn recorrer(dir: &Path, fuera: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let ruta = e.unwrap().path();
            if ruta.is_dir() {
                recorrer(&ruta, fuera);
                continue;
            }
            if ruta.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let texto = std::fs::read_to_string(&ruta).unwrap();
            for (n, linea) in texto.lines().enumerate() {
                let codigo = linea.split("//").next().unwrap_or_default();
                for prohibido in [
                    "std::env",
                    "env::var",
                    "println!",
                    "eprintln!",
                    "print!(",
                    "eprint!(",
                ] {
                    if codigo.contains(prohibido) {
                        fuera.push(format!("{}:{}: {}", ruta.display(), n + 1, linea.trim()));
                    }
                }
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut fuera = Vec::new();
    for e in std::fs::read_dir(&src).unwrap() {
        let ruta = e.unwrap().path();
        let nombre = ruta.file_name().unwrap().to_string_lossy().into_owned();
        if ["cli", "config", "main.rs"].contains(&nombre.as_str()) {
            continue;
        }
        if ruta.is_dir() {
            recorrer(&ruta, &mut fuera);
        } else if nombre.ends_with(".rs") {
            let texto = std::fs::read_to_string(&ruta).unwrap();
            if texto.contains("std::env") || texto.contains("println!") {
                fuera.push(ruta.display().to_string());
            }
        }
    }
    assert!(
        fuera.is_empty(),
        "el núcleo lee el entorno o imprime:\n{}",
        fuera.join("\n")
    );
}
