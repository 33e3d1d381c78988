//! Spanish agreement for messages built from a field name and an adjective: `fecha
//! inválida`, `entradas inválidas`, `permisos inválidos`, never `fecha inválido`.

/// Gender and number of a field name, taken from its head noun (the first word).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Genero {
    MasculinoSingular,
    FemeninoSingular,
    MasculinoPlural,
    FemeninoPlural,
}

fn genero(campo: &str) -> Genero {
    let nucleo = campo.split([' ', '_']).next().unwrap_or(campo);
    match nucleo.to_lowercase().as_str() {
        "fecha" | "clave" | "probabilidad" | "latencia" | "dirección" | "uri" | "url" | "ruta"
        | "fila" | "línea" | "concurrencia" | "semilla" => Genero::FemeninoSingular,
        "entradas" | "filas" | "fechas" => Genero::FemeninoPlural,
        "permisos" | "compradores" | "eventos" | "usuarios" | "ids" => Genero::MasculinoPlural,
        _ => Genero::MasculinoSingular,
    }
}

/// `adjetivo` (given in masculine singular, ending in `o`: `inválido`, `vacío`) in the
/// gender and number of `campo`. Adjectives of another shape are returned unchanged.
pub fn concordar(campo: &str, adjetivo: &str) -> String {
    let Some(raiz) = adjetivo.strip_suffix('o') else {
        return adjetivo.to_owned();
    };
    match genero(campo) {
        Genero::MasculinoSingular => adjetivo.to_owned(),
        Genero::FemeninoSingular => format!("{raiz}a"),
        Genero::MasculinoPlural => format!("{adjetivo}s"),
        Genero::FemeninoPlural => format!("{raiz}as"),
    }
}

#[cfg(test)]
mod tests {
    use super::concordar;

    #[test]
    fn el_adjetivo_concuerda_con_el_campo() {
        assert_eq!(concordar("fecha", "inválido"), "inválida");
        assert_eq!(concordar("entradas", "inválido"), "inválidas");
        assert_eq!(concordar("entradas por compra", "inválido"), "inválidas");
        assert_eq!(concordar("clave de idempotencia", "inválido"), "inválida");
        assert_eq!(concordar("permisos", "inválido"), "inválidos");
        assert_eq!(concordar("email", "inválido"), "inválido");
        assert_eq!(concordar("id de evento", "inválido"), "inválido");
        assert_eq!(concordar("aforo_total", "vacío"), "vacío");
        assert_eq!(concordar("fecha", "vacío"), "vacía");
    }

    #[test]
    fn los_mensajes_de_campo_concuerdan() {
        let e = crate::domain::Fecha::parse("2025-12").unwrap_err();
        assert!(e.to_string().starts_with("fecha inválida "), "{e}");
        let e = crate::domain::Entradas::parse("cero").unwrap_err();
        assert!(e.to_string().starts_with("entradas inválidas "), "{e}");
    }
}
