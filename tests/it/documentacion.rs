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
