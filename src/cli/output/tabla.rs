//! How a row becomes text: the plain values scripts read (CSV, tab-separated, `-o id`)
//! and the table people read on a terminal, fitted to its width.
//!
//! The rules, written once (`docs/cli.md`, "Salida"):
//! - A row's values come from its JSON form, so CSV and tab-separated rows carry the same
//!   field names and values as `-o json`. An empty field is `null` in JSON and an empty
//!   cell everywhere else.
//! - Plain values: text as is, numbers without units, `true`/`false`, lists and objects
//!   as compact JSON.
//! - On a terminal: lists show their length and booleans `sí`/`no`. Id, date, state and
//!   number columns never wrap and are never shortened; only free-text columns are cut,
//!   with `…`. When the terminal is narrow, low-value columns are dropped first;
//!   `-o wide` shows every column, whole.

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde_json::Value;
use unicode_width::UnicodeWidthStr;

/// Whether a column may be shortened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clase {
    /// Ids, dates, states, numbers, emails: shown whole or not at all.
    Fija,
    /// Free text (names, places): cut with `…` to fit.
    Texto,
    /// A short list (permissions): shown joined by commas, cut like text.
    Lista,
}

/// One column of a listing: its JSON field (dotted for a nested one, `pago.estado`), the
/// title a terminal table gives it, and when it may be dropped (0: never; the highest
/// number goes first).
#[derive(Debug, Clone, Copy)]
pub struct Columna {
    pub campo: &'static str,
    pub titulo: &'static str,
    pub clase: Clase,
    pub prescindible: u8,
    /// The column `-o id` prints (the first one when none is marked).
    pub es_id: bool,
}

impl Columna {
    pub const fn fija(campo: &'static str) -> Self {
        Self {
            campo,
            titulo: campo,
            clase: Clase::Fija,
            prescindible: 0,
            es_id: false,
        }
    }
    pub const fn texto(campo: &'static str) -> Self {
        Self {
            clase: Clase::Texto,
            ..Self::fija(campo)
        }
    }
    pub const fn lista(campo: &'static str) -> Self {
        Self {
            clase: Clase::Lista,
            ..Self::fija(campo)
        }
    }
    /// A shorter title for terminal tables (scripts always see the field name).
    pub const fn titulo(self, titulo: &'static str) -> Self {
        Self { titulo, ..self }
    }
    /// Droppable when the terminal is narrow; higher goes first.
    pub const fn prescindible(self, orden: u8) -> Self {
        Self {
            prescindible: orden,
            ..self
        }
    }
    pub const fn id(self) -> Self {
        Self {
            es_id: true,
            ..self
        }
    }
}

/// The value at a dotted path of `v`; `Null` when absent.
pub fn valor<'a>(v: &'a Value, campo: &str) -> &'a Value {
    campo
        .split('.')
        .try_fold(v, |v, parte| v.get(parte))
        .unwrap_or(&Value::Null)
}

/// The plain value scripts read: text as is, numbers without units, `true`/`false`,
/// `null` as empty, lists and objects as compact JSON.
pub fn plano(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        otro => otro.to_string(),
    }
}

/// A plain value fit for one tab-separated cell: tabs and line breaks become spaces.
pub fn celda_tsv(v: &Value) -> String {
    plano(v).replace(['\t', '\n', '\r'], " ")
}

/// The value of column `c` as a person reads it in a terminal table.
pub fn humano_en(c: &Columna, v: &Value) -> String {
    match (c.clase, v) {
        (Clase::Lista, Value::Array(a)) => a.iter().map(plano).collect::<Vec<_>>().join(","),
        _ => humano(v),
    }
}

/// The value as a person reads it in a terminal table: lists by their length.
pub fn humano(v: &Value) -> String {
    match v {
        Value::Bool(true) => "sí".into(),
        Value::Bool(false) => "no".into(),
        Value::Array(a) => a.len().to_string(),
        otro => plano(otro).replace(['\t', '\n', '\r'], " "),
    }
}

/// The column `-o id` prints.
pub fn columna_id(columnas: &[Columna]) -> &'static str {
    columnas
        .iter()
        .find(|c| c.es_id)
        .or(columnas.first())
        .map_or("id", |c| c.campo)
}

/// A line of tab-separated cells.
pub fn linea_tsv<I: IntoIterator<Item = String>>(celdas: I) -> String {
    let mut l = celdas.into_iter().collect::<Vec<_>>().join("\t");
    l.push('\n');
    l
}

/// The narrowest a free-text column is cut to, in terminal cells.
const MINIMO_TEXTO: usize = 6;
/// The width below which a free-text column is worth more than a droppable column.
const TEXTO_LEGIBLE: usize = 12;

/// Cells a table adds around `n` columns with `UTF8_FULL_CONDENSED`: a border on each
/// side, one space of padding on each side of every cell, one separator between cells.
fn marco(n: usize) -> usize {
    3 * n + 1
}

fn ancho(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// Which columns to show and how wide each free-text column may be (`None`: whole).
/// `terminal` is the width to fit (`None`: no limit, as with `-o wide`).
fn disponer(
    columnas: &[Columna], filas: &[Vec<String>], terminal: Option<usize>,
) -> (Vec<usize>, Vec<Option<usize>>) {
    let natural: Vec<usize> = columnas
        .iter()
        .enumerate()
        .map(|(i, c)| {
            filas
                .iter()
                .map(|f| ancho(&f[i]))
                .chain([ancho(c.titulo)])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut visibles: Vec<usize> = (0..columnas.len()).collect();
    let mut limites = vec![None; columnas.len()];
    let Some(total) = terminal else {
        return (visibles, limites);
    };
    let necesario = |vis: &[usize]| -> usize {
        vis.iter()
            .map(|&i| match columnas[i].clase {
                Clase::Fija => natural[i],
                Clase::Texto | Clase::Lista => natural[i].min(TEXTO_LEGIBLE),
            })
            .sum::<usize>()
            + marco(vis.len())
    };
    while necesario(&visibles) > total {
        let quitar = visibles
            .iter()
            .enumerate()
            .filter(|(_, i)| columnas[**i].prescindible > 0)
            .max_by_key(|(pos, i)| (columnas[**i].prescindible, *pos))
            .map(|(pos, _)| pos);
        match quitar {
            Some(pos) => {
                visibles.remove(pos);
            }
            // Nothing left to drop: the line runs past the edge rather than break an id.
            None => break,
        }
    }
    let fijas: usize = visibles
        .iter()
        .filter(|i| columnas[**i].clase == Clase::Fija)
        .map(|i| natural[*i])
        .sum();
    let mut resto = total.saturating_sub(fijas + marco(visibles.len()));
    let mut textos: Vec<usize> = visibles
        .iter()
        .copied()
        .filter(|i| columnas[*i].clase != Clase::Fija)
        .collect();
    // Narrowest first: each takes what it needs up to an even share of what is left.
    textos.sort_by_key(|i| natural[*i]);
    let mut quedan = textos.len();
    for i in textos {
        let parte = (resto / quedan.max(1)).max(MINIMO_TEXTO.min(natural[i]));
        let w = natural[i].min(parte);
        limites[i] = Some(w);
        resto = resto.saturating_sub(w);
        quedan -= 1;
    }
    (visibles, limites)
}

/// `s` cut to `max` terminal cells, ending in `…` when it was cut.
pub fn recortar(s: &str, max: usize) -> String {
    if ancho(s) <= max {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if w + cw + 1 > max {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

/// A terminal table of `filas` (human cells, one per column), fitted to `terminal` cells
/// when given. Never wraps a cell.
pub fn tabla_terminal(
    columnas: &[Columna], filas: &[Vec<String>], terminal: Option<usize>, encabezado: bool,
) -> String {
    let (visibles, limites) = disponer(columnas, filas, terminal);
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    if encabezado {
        t.set_header(visibles.iter().map(|i| columnas[*i].titulo));
    }
    for f in filas {
        t.add_row(visibles.iter().map(|&i| match limites[i] {
            Some(max) => recortar(&f[i], max),
            None => f[i].clone(),
        }));
    }
    format!("{t}\n")
}

/// A two-column `campo | valor` table for one entity or a report; long values wrap
/// within the terminal's width.
pub fn tabla_campos(filas: &[(String, String)], encabezado: bool) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    if encabezado {
        t.set_header(vec!["campo", "valor"]);
    }
    for (k, v) in filas {
        t.add_row(vec![k.as_str(), v.as_str()]);
    }
    format!("{t}\n")
}

/// The leaves of a JSON report as `(path, plain value)`: object keys and list indexes
/// joined by dots (`componentes.0.nombre`); an empty list or object is one leaf.
pub fn aplanar(v: &Value) -> Vec<(String, String)> {
    fn ir(prefijo: &str, v: &Value, out: &mut Vec<(String, String)>) {
        let ruta = |k: &str| {
            if prefijo.is_empty() {
                k.to_owned()
            } else {
                format!("{prefijo}.{k}")
            }
        };
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, v) in m {
                    ir(&ruta(k), v, out);
                }
            }
            Value::Array(a) if !a.is_empty() => {
                for (i, v) in a.iter().enumerate() {
                    ir(&ruta(&i.to_string()), v, out);
                }
            }
            otro => out.push((prefijo.to_owned(), plano(otro))),
        }
    }
    let mut out = Vec::new();
    ir("", v, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLS: [Columna; 3] = [
        Columna::fija("id"),
        Columna::texto("nombre"),
        Columna::fija("fecha").prescindible(1),
    ];

    fn filas() -> Vec<Vec<String>> {
        vec![vec![
            "0123456789abcdef01234567".into(),
            "Concierto de la orquesta sinfónica".into(),
            "2025-12-01T21:00:00Z".into(),
        ]]
    }

    #[test]
    fn las_columnas_fijas_no_se_cortan_y_el_texto_lleva_elipsis() {
        let t = tabla_terminal(&COLS, &filas(), Some(70), true);
        for l in t.lines() {
            assert!(ancho(l) <= 70, "{l}");
        }
        assert!(t.contains("0123456789abcdef01234567"), "{t}");
        assert!(t.contains("2025-12-01T21:00:00Z"), "{t}");
        assert!(t.contains('…'), "{t}");
    }

    #[test]
    fn sin_sitio_se_quita_primero_la_prescindible() {
        let t = tabla_terminal(&COLS, &filas(), Some(40), true);
        assert!(!t.contains("fecha"), "{t}");
        assert!(t.contains("0123456789abcdef01234567"), "{t}");
        let ancha = tabla_terminal(&COLS, &filas(), None, true);
        assert!(
            ancha.contains("Concierto de la orquesta sinfónica"),
            "{ancha}"
        );
    }

    #[test]
    fn valores_planos_y_humanos() {
        let v = serde_json::json!({"a": null, "b": true, "c": [1, 2], "d": {"e": 3}});
        assert_eq!(plano(valor(&v, "a")), "");
        assert_eq!(plano(valor(&v, "b")), "true");
        assert_eq!(plano(valor(&v, "c")), "[1,2]");
        assert_eq!(plano(valor(&v, "d.e")), "3");
        assert_eq!(humano(valor(&v, "b")), "sí");
        assert_eq!(humano(valor(&v, "c")), "2");
        assert_eq!(recortar("abcdef", 4), "abc…");
    }
}
