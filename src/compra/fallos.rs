//! Fault injection for tests, demos and drills: `EVENTFLOW_FAULT=<crash|error>@<paso>`
//! (the setting is read by `config`).
//! `crash` aborts the process right after the step's effects are stored; `error` makes
//! the step fail (`error@pago` is a declined payment).

use crate::error::{Error, Result};
use crate::store::Paso;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallo {
    Crash,
    Error,
}

/// The configured fault, if any.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fallos(Option<(Fallo, Paso)>);

impl Fallos {
    pub fn ninguno() -> Self {
        Self(None)
    }

    /// Parses `<crash|error>@<paso>`; an empty string is no fault. `origen` names the
    /// setting in the error (e.g. `EVENTFLOW_FAULT`).
    pub fn parse(raw: &str, origen: &str) -> Result<Self> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(Self(None));
        }
        let err = || {
            Error::Invalido(format!(
                "{origen} inválido {raw:?}: use <crash|error>@<datos|inventario|pago|confirmacion|historial>, por ejemplo crash@pago"
            ))
        };
        let (tipo, paso) = raw.split_once('@').ok_or_else(err)?;
        let tipo = match tipo {
            "crash" => Fallo::Crash,
            "error" => Fallo::Error,
            _ => return Err(err()),
        };
        let paso = Paso::parse(paso).ok_or_else(err)?;
        Ok(Self(Some((tipo, paso))))
    }

    /// Whether `paso` must fail instead of running.
    pub fn falla(&self, paso: Paso) -> bool {
        self.0 == Some((Fallo::Error, paso))
    }

    /// Aborts the process if a crash is configured right after `paso`.
    pub fn tras(&self, paso: Paso) {
        if self.0 == Some((Fallo::Crash, paso)) {
            // Logged, not printed: the core never prints (the default filter shows errors).
            tracing::error!("EVENTFLOW_FAULT: abortando tras el paso {}", paso.as_str());
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallos_se_parsean_y_rechazan_basura() {
        assert!(Fallos::parse("crash@pago", "f").unwrap().0.is_some());
        assert!(
            Fallos::parse("error@historial", "f")
                .unwrap()
                .falla(Paso::Historial)
        );
        assert!(Fallos::parse("", "f").unwrap().0.is_none());
        for bad in ["crash", "boom@pago", "crash@cobro", "@"] {
            assert_eq!(Fallos::parse(bad, "f").unwrap_err().exit_code(), 2, "{bad}");
        }
    }
}
