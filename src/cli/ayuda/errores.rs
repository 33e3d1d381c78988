//! Usage errors in Spanish. clap hands us the error's kind and context (the bad argument,
//! the value, the suggestions, the usage line); this writes the message around them. The
//! reasons our own value parsers give are already Spanish; clap's built-in parsers' are
//! translated here.

use std::fmt::Write as _;
use std::num::{IntErrorKind, ParseIntError};

use clap::builder::{StyledStr, Styles};
use clap::error::{ContextKind, ContextValue, ErrorFormatter, ErrorKind};

const SANGRIA: &str = "  ";

type Fallo = clap::error::Error<Espanol>;

/// clap's `RichFormatter`, in Spanish.
pub struct Espanol;

impl ErrorFormatter for Espanol {
    fn format_error(e: &Fallo) -> StyledStr {
        let estilos = Styles::styled();
        let error = estilos.get_error();
        let mut s = String::new();
        let _ = write!(s, "{error}error:{error:#} {}", mensaje(e, &estilos));
        let sugerencias = sugerencias(e, &estilos);
        if !sugerencias.is_empty() {
            s.push('\n');
            for l in sugerencias {
                let _ = write!(s, "\n{SANGRIA}{l}");
            }
        }
        let mut ayuda = "--help".to_owned();
        if let Some(ContextValue::StyledStr(uso)) = e.get(ContextKind::Usage) {
            let uso = uso.ansi().to_string().replacen("Usage:", "Uso:", 1);
            let _ = write!(s, "\n\n{}", traducir_uso(&uso));
            if let Some(c) = comando_del_uso(&uso.to_string()) {
                ayuda = format!("{c} --help");
            }
        }
        if !matches!(
            e.kind(),
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::Io
        ) {
            let literal = estilos.get_literal();
            let _ = write!(
                s,
                "\n\nPara más información, pruebe '{literal}{ayuda}{literal:#}'."
            );
        }
        s.push('\n');
        StyledStr::from(s)
    }
}

/// clap's usage line with its English placeholders in Spanish.
pub(super) fn traducir_uso(uso: &str) -> String {
    uso.replace("[OPTIONS]", "[OPCIONES]")
        .replace("<COMMAND>", "<COMANDO>")
        .replace("[COMMAND]", "[COMANDO]")
}

/// `eventflow usuarios crear` from `Uso: eventflow usuarios crear [OPCIONES] --nombre …`.
fn comando_del_uso(uso: &str) -> Option<String> {
    let plano = StyledStr::from(uso.to_owned()).to_string();
    let palabras: Vec<&str> = plano
        .split_whitespace()
        .skip(1)
        .take_while(|p| !p.starts_with(['[', '<', '-']))
        .collect();
    (!palabras.is_empty()).then(|| palabras.join(" "))
}

fn texto(e: &Fallo, k: ContextKind) -> Option<&str> {
    match e.get(k) {
        Some(ContextValue::String(s)) => Some(s),
        _ => None,
    }
}

fn lista(e: &Fallo, k: ContextKind) -> Vec<String> {
    match e.get(k) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(v)) => v.clone(),
        _ => Vec::new(),
    }
}

fn numero(e: &Fallo, k: ContextKind) -> isize {
    match e.get(k) {
        Some(ContextValue::Number(n)) => *n,
        _ => 0,
    }
}

/// The first line: what was wrong.
fn mensaje(e: &Fallo, estilos: &Styles) -> String {
    let malo = estilos.get_invalid();
    let bueno = estilos.get_valid();
    let arg = texto(e, ContextKind::InvalidArg).unwrap_or("");
    let valor = texto(e, ContextKind::InvalidValue).unwrap_or("");
    match e.kind() {
        ErrorKind::InvalidValue if valor.is_empty() => {
            format!("falta el valor de '{malo}{arg}{malo:#}'")
        }
        ErrorKind::InvalidValue => {
            let mut m = format!("valor no válido '{malo}{valor}{malo:#}' para '{arg}'");
            let validos = lista(e, ContextKind::ValidValue);
            if !validos.is_empty() {
                let _ = write!(m, "\n{SANGRIA}[valores posibles: {}]", validos.join(", "));
            }
            m
        }
        ErrorKind::ValueValidation => {
            let motivo = std::error::Error::source(e)
                .map(|c| motivo(c, valor))
                .unwrap_or_else(|| format!("valor no válido '{valor}'"));
            format!("{arg}: {motivo}")
        }
        ErrorKind::UnknownArgument if arg.starts_with('-') => {
            format!("opción desconocida '{malo}{arg}{malo:#}'")
        }
        ErrorKind::UnknownArgument => format!("argumento de más '{malo}{arg}{malo:#}'"),
        ErrorKind::InvalidSubcommand => {
            let sub = texto(e, ContextKind::InvalidSubcommand).unwrap_or("");
            format!("comando desconocido '{malo}{sub}{malo:#}'")
        }
        ErrorKind::MissingRequiredArgument => {
            let faltan = lista(e, ContextKind::InvalidArg);
            let titulo = if faltan.len() == 1 {
                "falta un argumento obligatorio:"
            } else {
                "faltan argumentos obligatorios:"
            };
            let mut m = titulo.to_owned();
            for f in faltan {
                let _ = write!(m, "\n{SANGRIA}{bueno}{f}{bueno:#}");
            }
            m
        }
        ErrorKind::MissingSubcommand => {
            let sub = texto(e, ContextKind::InvalidSubcommand).unwrap_or("");
            let mut m = format!("'{sub}' necesita un comando");
            let validos = lista(e, ContextKind::ValidSubcommand);
            if !validos.is_empty() {
                let _ = write!(m, "\n{SANGRIA}[comandos: {}]", validos.join(", "));
            }
            m
        }
        ErrorKind::ArgumentConflict => conflicto(e, arg),
        ErrorKind::NoEquals => format!("'{arg}' necesita su valor tras un signo ="),
        ErrorKind::TooManyValues => {
            format!("valor de más '{malo}{valor}{malo:#}' para '{arg}'")
        }
        ErrorKind::TooFewValues => format!(
            "'{arg}' necesita {} valores y se dieron {}",
            numero(e, ContextKind::MinValues),
            numero(e, ContextKind::ActualNumValues)
        ),
        ErrorKind::WrongNumberOfValues => format!(
            "'{arg}' necesita {} valores y se dieron {}",
            numero(e, ContextKind::ExpectedNumValues),
            numero(e, ContextKind::ActualNumValues)
        ),
        ErrorKind::InvalidUtf8 => "un argumento no es texto UTF-8 válido".to_owned(),
        ErrorKind::Io | ErrorKind::Format => "no se pudo escribir la salida".to_owned(),
        _ => std::error::Error::source(e)
            .map(|c| c.to_string())
            .unwrap_or_else(|| "la línea de órdenes no es válida".to_owned()),
    }
}

fn conflicto(e: &Fallo, arg: &str) -> String {
    let previos = lista(e, ContextKind::PriorArg);
    if previos.len() == 1 && previos[0] == arg {
        return format!("'{arg}' no se puede indicar más de una vez");
    }
    let que = if arg.is_empty() {
        texto(e, ContextKind::InvalidSubcommand)
            .unwrap_or("")
            .to_owned()
    } else {
        arg.to_owned()
    };
    match previos.as_slice() {
        [] => format!("'{que}' no se puede usar con las otras opciones indicadas"),
        [uno] => format!("'{que}' no se puede usar junto con '{uno}'"),
        varios => format!("'{que}' no se puede usar junto con: {}", varios.join(", ")),
    }
}

/// Why a value was refused. Our parsers already say it in Spanish (and name the field);
/// clap's built-in integer parsers say it in English, so those are translated.
fn motivo(causa: &(dyn std::error::Error + 'static), valor: &str) -> String {
    if let Some(e) = causa.downcast_ref::<ParseIntError>() {
        let por_que = match e.kind() {
            IntErrorKind::Empty => "está vacío; escriba un número entero",
            IntErrorKind::PosOverflow => "es demasiado grande",
            IntErrorKind::NegOverflow => "es demasiado pequeño",
            _ => "no es un número entero (ejemplo: 10)",
        };
        return format!("valor no válido '{valor}': {por_que}");
    }
    let texto = causa.to_string();
    // RangedI64ValueParser / RangedU64ValueParser: "{value} is not in {min}..={max}".
    if let Some((_, rango)) = texto.split_once(" is not in ") {
        return format!("valor no válido '{valor}': {}", rango_es(rango));
    }
    if texto == "value was not a boolean" {
        return format!("valor no válido '{valor}': debe ser true o false");
    }
    texto
}

/// `1..=100000` → "debe ser un número entero entre 1 y 100000".
fn rango_es(rango: &str) -> String {
    let (min, max) = match rango.split_once("..=") {
        Some((a, b)) => (a.to_owned(), b.to_owned()),
        None => match rango.split_once("..") {
            Some((a, b)) => (
                a.to_owned(),
                b.parse::<i128>()
                    .map(|n| (n - 1).to_string())
                    .unwrap_or_else(|_| b.to_owned()),
            ),
            None => return format!("está fuera del rango {rango}"),
        },
    };
    let sin_tope = max.parse::<i128>().is_ok_and(|n| n >= i128::from(u32::MAX));
    if sin_tope {
        format!("debe ser un número entero mayor o igual que {min}")
    } else {
        format!("debe ser un número entero entre {min} y {max}")
    }
}

/// The "tip:" lines, in Spanish.
fn sugerencias(e: &Fallo, estilos: &Styles) -> Vec<String> {
    let bueno = estilos.get_valid();
    let tip = format!("{bueno}sugerencia:{bueno:#}");
    let mut v = Vec::new();
    let parecidos = |clase_una: &str, clase_varias: &str, cuales: Vec<String>| -> Option<String> {
        let citados: Vec<String> = cuales
            .iter()
            .map(|c| format!("'{bueno}{c}{bueno:#}'"))
            .collect();
        match citados.len() {
            0 => None,
            1 => Some(format!("{tip} existe {clase_una} parecido: {}", citados[0])),
            _ => Some(format!(
                "{tip} hay {clase_varias} parecidos: {}",
                citados.join(", ")
            )),
        }
    };
    v.extend(parecidos(
        "un comando",
        "comandos",
        lista(e, ContextKind::SuggestedSubcommand),
    ));
    v.extend(
        parecidos(
            "un argumento",
            "argumentos",
            lista(e, ContextKind::SuggestedArg),
        )
        .map(|s| s.replace("existe un argumento parecido", "existe una opción parecida")),
    );
    v.extend(parecidos(
        "un valor",
        "valores",
        lista(e, ContextKind::SuggestedValue),
    ));
    if let Some(ContextValue::StyledStrs(otras)) = e.get(ContextKind::Suggested) {
        for o in otras {
            v.push(format!("{tip} {}", sugerencia_es(&o.to_string())));
        }
    }
    v
}

/// clap's free-text suggestions, which come in a few fixed English shapes.
fn sugerencia_es(s: &str) -> String {
    let citas: Vec<&str> = s.split('\'').skip(1).step_by(2).collect();
    if s.starts_with("to pass ") && citas.len() == 2 {
        format!(
            "para pasar '{}' como valor, escriba '{}'",
            citas[0], citas[1]
        )
    } else if s.starts_with("subcommand ") && citas.len() == 2 {
        format!(
            "existe el comando '{}': para usarlo, quite el '--' de delante",
            citas[0]
        )
    } else if s.ends_with("' exists") && citas.len() == 1 {
        format!("existe '{}'", citas[0])
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn los_rangos_de_clap_se_dicen_en_castellano() {
        assert_eq!(
            rango_es("1..=100000"),
            "debe ser un número entero entre 1 y 100000"
        );
        assert_eq!(
            rango_es("1..=4294967295"),
            "debe ser un número entero mayor o igual que 1"
        );
        assert_eq!(rango_es("1..10"), "debe ser un número entero entre 1 y 9");
    }

    #[test]
    fn las_sugerencias_de_clap_se_dicen_en_castellano() {
        assert_eq!(
            sugerencia_es("to pass '-x' as a value, use '-- -x'"),
            "para pasar '-x' como valor, escriba '-- -x'"
        );
        assert_eq!(
            sugerencia_es("subcommand 'ver' exists; to use it, remove the '--' before it"),
            "existe el comando 'ver': para usarlo, quite el '--' de delante"
        );
        assert_eq!(
            sugerencia_es("'usuarios --nombre' exists"),
            "existe 'usuarios --nombre'"
        );
    }
}
