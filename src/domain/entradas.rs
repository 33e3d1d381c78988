//! Counts and money: tickets per purchase, capacity, and prices in integer minor units.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ParseError;

/// `Some(Ok(n))` for an integer that fits in i64, `Some(Err(()))` for an integer written
/// in decimal digits that does not, `None` for anything that is not an integer.
fn entero(raw: &str) -> Option<Result<i64, ()>> {
    let t = raw.trim();
    let digitos = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digitos.is_empty() || !digitos.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(t.parse().map_err(|_| ()))
}

fn fuera_de_rango(campo: &'static str, raw: &str, min: i64, max: i64, hint: &str) -> ParseError {
    ParseError::new(campo, raw, format!("debe estar entre {min} y {max}{hint}"))
}

macro_rules! conteo {
    ($(#[$doc:meta])* $name:ident, $campo:literal, $min:expr, $max:expr, $hint:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "i64", into = "u32")]
        pub struct $name(u32);

        impl $name {
            pub const MIN: u32 = $min;
            pub const MAX: u32 = $max;

            pub fn new(n: i64) -> Result<Self, ParseError> {
                if n < i64::from(Self::MIN) || n > i64::from(Self::MAX) {
                    return Err(fuera_de_rango(
                        $campo,
                        &n.to_string(),
                        Self::MIN.into(),
                        Self::MAX.into(),
                        $hint,
                    ));
                }
                Ok(Self(n as u32))
            }

            pub fn parse(raw: &str) -> Result<Self, ParseError> {
                match entero(raw) {
                    Some(Ok(n)) => Self::new(n),
                    Some(Err(())) => Err(fuera_de_rango($campo, raw, Self::MIN.into(), Self::MAX.into(), $hint)),
                    None => Err(ParseError::new($campo, raw, "no es un número entero (ejemplo: 2)")),
                }
            }

            pub fn get(self) -> u32 {
                self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                Self::parse(s)
            }
        }
        impl TryFrom<i64> for $name {
            type Error = ParseError;
            fn try_from(n: i64) -> Result<Self, ParseError> {
                Self::new(n)
            }
        }
        impl From<$name> for u32 {
            fn from(v: $name) -> u32 {
                v.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

conteo!(
    /// Tickets in one purchase: at least 1.
    Entradas, "entradas", 1, 100_000, ""
);
conteo!(
    /// An event's total capacity: at least 1 seat.
    Aforo, "aforo_total", 1, 10_000_000, " (el aforo de un evento es al menos 1)"
);

/// A price in integer minor units (cents): never negative, never a float.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(try_from = "i64", into = "i64")]
pub struct Precio(i64);

impl Precio {
    pub const MAX: i64 = 100_000_000_000;

    pub fn new(n: i64) -> Result<Self, ParseError> {
        if !(0..=Self::MAX).contains(&n) {
            return Err(fuera_de_rango(
                "precio",
                &n.to_string(),
                0,
                Self::MAX,
                " (unidades menores: céntimos)",
            ));
        }
        Ok(Self(n))
    }

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match entero(raw) {
            Some(Ok(n)) => Self::new(n),
            Some(Err(())) => Err(fuera_de_rango(
                "precio",
                raw,
                0,
                Self::MAX,
                " (unidades menores: céntimos)",
            )),
            None => Err(ParseError::new(
                "precio",
                raw,
                "debe ser un entero en unidades menores (ejemplo: 2500 para 25,00)",
            )),
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// The amount of a purchase: `entradas × precio`, exact in i64.
    pub fn importe(self, entradas: Entradas) -> i64 {
        self.0 * i64::from(entradas.get())
    }
}

impl std::str::FromStr for Precio {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}
impl TryFrom<i64> for Precio {
    type Error = ParseError;
    fn try_from(n: i64) -> Result<Self, ParseError> {
        Self::new(n)
    }
}
impl From<Precio> for i64 {
    fn from(p: Precio) -> i64 {
        p.0
    }
}
impl fmt::Display for Precio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn entradas_cero_o_negativas_se_rechazan() {
        assert!(Entradas::parse("0").is_err());
        let e = Entradas::parse("-3").unwrap_err();
        assert!(e.to_string().contains("\"-3\""), "{e}");
        assert!(Entradas::parse("dos").is_err());
        assert_eq!(Entradas::parse(" 2 ").unwrap().get(), 2);
    }

    #[test]
    fn aforo_negativo_o_cero_se_rechaza() {
        assert!(Aforo::parse("0").is_err());
        assert!(Aforo::parse("-10").is_err());
        assert_eq!(Aforo::parse("1000").unwrap().get(), 1000);
    }

    #[test]
    fn importe_es_entradas_por_precio() {
        let p = Precio::parse("2500").unwrap();
        assert_eq!(p.importe(Entradas::new(3).unwrap()), 7500);
        assert!(Precio::parse("12.5").is_err());
        assert!(Precio::parse("-1").is_err());
    }

    #[test]
    fn los_mensajes_dicen_la_verdad_sobre_el_rango() {
        // Issue 10: an integer out of range is not "not an integer" nor "negative".
        let e = Precio::parse("100000000001").unwrap_err();
        assert!(e.motivo.contains("entre 0 y 100000000000"), "{e}");
        let e = Entradas::parse("99999999999999999999").unwrap_err();
        assert!(e.motivo.contains("debe estar entre 1 y 100000"), "{e}");
        let e = Entradas::parse("-99999999999999999999").unwrap_err();
        assert!(e.motivo.contains("debe estar entre 1 y 100000"), "{e}");
        let e = Aforo::parse("0").unwrap_err();
        assert!(e.motivo.contains("entre 1 y 10000000"), "{e}");
        assert!(
            Entradas::parse("2.5")
                .unwrap_err()
                .motivo
                .contains("no es un número entero")
        );
    }

    proptest! {
        #[test]
        fn conteos_aceptados_se_releen_igual(s in "[+-]?[0-9]{0,25}|\\PC{0,12}") {
            if let Ok(v) = Entradas::parse(&s) {
                prop_assert_eq!(Entradas::parse(&v.to_string()).unwrap(), v);
            }
            if let Ok(v) = Aforo::parse(&s) {
                prop_assert_eq!(Aforo::parse(&v.to_string()).unwrap(), v);
            }
            if let Ok(v) = Precio::parse(&s) {
                prop_assert_eq!(Precio::parse(&v.to_string()).unwrap(), v);
            }
        }

        #[test]
        fn entradas_acepta_exactamente_el_rango(n in any::<i64>()) {
            let ok = Entradas::new(n).is_ok();
            prop_assert_eq!(ok, (1..=i64::from(Entradas::MAX)).contains(&n));
        }

        #[test]
        fn importe_no_desborda(p in 0..=Precio::MAX, e in 1u32..=Entradas::MAX) {
            let imp = Precio::new(p).unwrap().importe(Entradas::new(e.into()).unwrap());
            prop_assert!(imp >= 0);
        }
    }
}
