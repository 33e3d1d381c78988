//! API tokens: what a token may do (`Permiso`, as in pretix), the token as stored and
//! listed (`Token`, never its secret), and the secret itself (`Secreto`), which exists
//! only when it is made and when a client presents it. Only its SHA-256 is stored.

use std::fmt;
use std::str::FromStr;

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{EventoId, Fecha, ParseError, Texto, TokenId};

/// One permission. `Admin` covers every other one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Permiso {
    EventosLeer,
    EventosEscribir,
    UsuariosLeer,
    UsuariosEscribir,
    ReservasCrear,
    ReservasLeer,
    ReservasCancelar,
    Admin,
}

impl Permiso {
    pub const TODOS: [Permiso; 8] = [
        Permiso::EventosLeer,
        Permiso::EventosEscribir,
        Permiso::UsuariosLeer,
        Permiso::UsuariosEscribir,
        Permiso::ReservasCrear,
        Permiso::ReservasLeer,
        Permiso::ReservasCancelar,
        Permiso::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permiso::EventosLeer => "eventos:leer",
            Permiso::EventosEscribir => "eventos:escribir",
            Permiso::UsuariosLeer => "usuarios:leer",
            Permiso::UsuariosEscribir => "usuarios:escribir",
            Permiso::ReservasCrear => "reservas:crear",
            Permiso::ReservasLeer => "reservas:leer",
            Permiso::ReservasCancelar => "reservas:cancelar",
            Permiso::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let t = raw.trim();
        Self::TODOS
            .into_iter()
            .find(|p| p.as_str() == t)
            .ok_or_else(|| {
                let todos: Vec<&str> = Self::TODOS.iter().map(|p| p.as_str()).collect();
                ParseError::new("permiso", raw, format!("se admiten: {}", todos.join(", ")))
            })
    }
}

impl FromStr for Permiso {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}
impl TryFrom<String> for Permiso {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse(&s)
    }
}
impl From<Permiso> for String {
    fn from(p: Permiso) -> String {
        p.as_str().to_owned()
    }
}
impl fmt::Display for Permiso {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A non-empty set of permissions, sorted and without repeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Permiso>", into = "Vec<Permiso>")]
pub struct Permisos(Vec<Permiso>);

impl Permisos {
    pub fn new(mut v: Vec<Permiso>) -> Result<Self, ParseError> {
        v.sort();
        v.dedup();
        if v.is_empty() {
            return Err(ParseError::new(
                "permisos",
                "",
                "indique al menos uno, por ejemplo --permisos reservas:crear,eventos:leer",
            ));
        }
        Ok(Self(v))
    }

    /// `"a,b"`, as `--permisos` takes it.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let v = raw
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(Permiso::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(v)
    }

    /// Whether these permissions allow `p` (`admin` allows everything).
    pub fn cubre(&self, p: Permiso) -> bool {
        self.0.contains(&Permiso::Admin) || self.0.contains(&p)
    }

    pub fn iter(&self) -> impl Iterator<Item = Permiso> + '_ {
        self.0.iter().copied()
    }
}

impl TryFrom<Vec<Permiso>> for Permisos {
    type Error = ParseError;
    fn try_from(v: Vec<Permiso>) -> Result<Self, ParseError> {
        Self::new(v)
    }
}
impl From<Permisos> for Vec<Permiso> {
    fn from(p: Permisos) -> Self {
        p.0
    }
}
impl FromStr for Permisos {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        Self::parse(s)
    }
}
impl fmt::Display for Permisos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v: Vec<&str> = self.0.iter().map(|p| p.as_str()).collect();
        f.write_str(&v.join(","))
    }
}

/// What `tokens crear` is asked for.
#[derive(Debug, Clone)]
pub struct NuevoToken {
    pub nombre: Texto,
    pub permisos: Permisos,
    /// Empty: every event.
    pub eventos: Vec<EventoId>,
    pub expira: Option<Fecha>,
}

/// A token as stored and listed. It never holds the secret, only who may do what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub id: TokenId,
    pub nombre: Texto,
    pub permisos: Permisos,
    /// The events this token is limited to; empty means all of them.
    pub eventos: Vec<EventoId>,
    pub creado: Fecha,
    pub expira: Option<Fecha>,
    pub revocado: Option<Fecha>,
}

impl Token {
    /// Whether it may act on `evento` (purchases, reservations, event writes).
    pub fn alcanza(&self, evento: &EventoId) -> bool {
        self.eventos.is_empty() || self.eventos.contains(evento)
    }

    /// Why it can no longer be used at `ahora`, if it cannot.
    pub fn inactivo(&self, ahora: Fecha) -> Option<&'static str> {
        if self.revocado.is_some() {
            Some("revocado")
        } else if self.expira.is_some_and(|e| e <= ahora) {
            Some("caducado")
        } else {
            None
        }
    }
}

const PREFIJO: &str = "ef_";

/// A token's secret as the client holds it: `ef_<id>_<64 hex digits>`, 256 random bits.
/// The id inside lets the server find the stored hash without scanning; the random part
/// is what proves possession. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secreto(String);

impl fmt::Debug for Secreto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secreto(<oculto>)")
    }
}

impl Secreto {
    /// A fresh secret for `id`, from the operating system's CSPRNG (via `ThreadRng`,
    /// a ChaCha generator seeded and reseeded from it).
    pub fn generar(id: &TokenId) -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(format!("{PREFIJO}{id}_{}", hex::encode(bytes)))
    }

    /// Reads what a client sent. Errors never repeat the value: it may be a real secret
    /// with a typo.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let malo = || {
            ParseError::new(
                "token",
                "<oculto>",
                "debe tener la forma ef_<id>_<64 dígitos hexadecimales>, como lo imprime `eventflow tokens crear`",
            )
        };
        let resto = raw.strip_prefix(PREFIJO).ok_or_else(malo)?;
        let (id, azar) = resto.split_once('_').ok_or_else(malo)?;
        TokenId::parse(id).map_err(|_| malo())?;
        if azar.len() != 64 || !azar.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malo());
        }
        Ok(Self(raw.to_owned()))
    }

    /// The id it names (not proof of anything until [`Secreto::coincide`] says so).
    pub fn id(&self) -> TokenId {
        let id = &self.0[PREFIJO.len()..PREFIJO.len() + 24];
        TokenId::parse(id).expect("checked at parse")
    }

    /// What is stored: SHA-256 of the whole secret, in hex.
    pub fn huella(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// Whether this secret's hash is `guardada`, compared in constant time.
    pub fn coincide(&self, guardada: &str) -> bool {
        let propia = self.huella();
        propia.len() == guardada.len() && bool::from(propia.as_bytes().ct_eq(guardada.as_bytes()))
    }

    /// The secret itself, for printing once at creation.
    pub fn exponer(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permisos_se_leen_ordenados_y_sin_repetir() {
        let p = Permisos::parse("reservas:crear,eventos:leer,reservas:crear").unwrap();
        assert_eq!(p.to_string(), "eventos:leer,reservas:crear");
        assert!(p.cubre(Permiso::EventosLeer));
        assert!(!p.cubre(Permiso::UsuariosLeer));
        assert!(
            Permisos::parse("admin")
                .unwrap()
                .cubre(Permiso::ReservasCancelar)
        );
        let e = Permisos::parse("eventos:borrar").unwrap_err().to_string();
        assert!(
            e.contains("eventos:borrar") && e.contains("eventos:leer"),
            "{e}"
        );
        assert!(Permisos::parse("").is_err());
    }

    #[test]
    fn el_secreto_tiene_256_bits_y_se_comprueba_por_su_huella() {
        let id = TokenId::generar();
        let s = Secreto::generar(&id);
        assert!(s.exponer().starts_with("ef_"));
        assert_eq!(s.exponer().len(), 3 + 24 + 1 + 64);
        assert_eq!(Secreto::parse(s.exponer()).unwrap().id(), id);
        assert!(s.coincide(&s.huella()));
        let otro = Secreto::generar(&id);
        assert_ne!(s, otro);
        assert!(!otro.coincide(&s.huella()));
        assert!(!format!("{s:?}").contains(s.exponer()));
    }

    #[test]
    fn un_secreto_mal_formado_no_se_repite_en_el_error() {
        for raw in ["", "ef_", "xx_0123", "ef_0123456789abcdef01234567_zz"] {
            let e = Secreto::parse(raw).unwrap_err().to_string();
            assert!(raw.len() < 4 || !e.contains(raw), "{e}");
        }
        let casi = format!("ef_{}_{}", TokenId::generar(), "a".repeat(63));
        let e = Secreto::parse(&casi).unwrap_err().to_string();
        assert!(!e.contains(&casi), "{e}");
    }

    #[test]
    fn un_token_revocado_o_caducado_esta_inactivo() {
        let ahora = Fecha::ahora();
        let mut t = Token {
            id: TokenId::generar(),
            nombre: Texto::parse("nombre", "t").unwrap(),
            permisos: Permisos::parse("admin").unwrap(),
            eventos: vec![],
            creado: ahora,
            expira: None,
            revocado: None,
        };
        assert_eq!(t.inactivo(ahora), None);
        t.expira = Some(Fecha::from_millis(ahora.millis() - 1));
        assert_eq!(t.inactivo(ahora), Some("caducado"));
        t.revocado = Some(ahora);
        assert_eq!(t.inactivo(ahora), Some("revocado"));
        let e = EventoId::generar();
        assert!(t.alcanza(&e));
        t.eventos = vec![EventoId::generar()];
        assert!(!t.alcanza(&e));
    }
}
