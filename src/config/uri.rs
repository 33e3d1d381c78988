//! Connection URIs and their secrets: `Uri` never prints its password, and the helpers
//! here find the password and the secret options of any URI, however it is written, so
//! output, errors and logs can be redacted.

use std::fmt;

use crate::error::{Error, Result};

/// A connection URI whose password never reaches output, logs or errors.
#[derive(Clone, PartialEq, Eq)]
pub struct Uri(String);

impl Uri {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The real URI, for the driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URI with any password replaced by `***`.
    pub fn redactada(&self) -> String {
        redactar(&self.0)
    }
}

impl fmt::Debug for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uri({:?})", self.redactada())
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redactada())
    }
}

/// Query parameters whose value is a secret (MongoDB and Redis URI options), compared
/// without regard to case as the drivers do.
const PARAMETROS_SECRETOS: &[&str] = &[
    "password",
    "authmechanismproperties",
    "aws_session_token",
    "tlscertificatekeyfilepassword",
];

/// The parts of a URI that matter for redaction, as byte ranges of the original text.
struct Partes {
    /// The password inside the userinfo, if any.
    password: Option<std::ops::Range<usize>>,
    /// Values of secret query parameters.
    secretos: Vec<std::ops::Range<usize>>,
}

/// Splits `scheme://[userinfo@]hosts[/path][?query]` without trusting the password to be
/// percent-encoded: the userinfo ends at the **last** `@` before the host part, so a
/// password holding `/`, `?`, `#` or `@` is still taken whole. Works for multi-host
/// MongoDB URIs, which `url` cannot parse.
fn partes(uri: &str) -> Partes {
    let Some(inicio) = uri.find("://").map(|i| i + 3) else {
        return Partes {
            password: None,
            secretos: Vec::new(),
        };
    };
    let resto = &uri[inicio..];
    // An `@` can only belong to the host part's userinfo: hosts, paths and the options we
    // write never hold one. When in doubt, redacting too much is the safe side.
    let password = resto.rfind('@').and_then(|arroba| {
        let userinfo = &resto[..arroba];
        userinfo
            .find(':')
            .map(|i| inicio + i + 1..inicio + arroba)
            .filter(|r| !r.is_empty())
    });
    // Secret options are looked for wherever `?key=` or `&key=` appears, not only after
    // the first `?`: a password may hold a `?`, and an option value an `@`.
    let minusculas = uri.to_ascii_lowercase();
    let mut secretos = Vec::new();
    for clave in PARAMETROS_SECRETOS {
        for sep in ["?", "&"] {
            let patron = format!("{sep}{clave}=");
            let mut desde = inicio;
            while let Some(i) = minusculas[desde..].find(&patron) {
                let valor = desde + i + patron.len();
                let fin = uri[valor..].find('&').map_or(uri.len(), |f| valor + f);
                if fin > valor {
                    secretos.push(valor..fin);
                }
                desde = valor;
            }
        }
    }
    Partes { password, secretos }
}

/// Replaces the password of `scheme://user:password@host...`, and the value of every
/// secret query parameter (`password`, `authMechanismProperties`, `AWS_SESSION_TOKEN`,
/// `tlsCertificateKeyFilePassword`), with `***`.
pub fn redactar(uri: &str) -> String {
    let p = partes(uri);
    let mut rangos: Vec<_> = p.password.into_iter().chain(p.secretos).collect();
    rangos.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(uri.len());
    let mut desde = 0;
    for r in rangos {
        if r.start >= desde {
            out.push_str(&uri[desde..r.start]);
            out.push_str("***");
            desde = r.end;
        } else {
            // Overlaps the previous range: nothing of either is printed.
            desde = desde.max(r.end);
        }
    }
    out.push_str(&uri[desde..]);
    out
}

/// Also redacts any URI-looking substring of free text (driver error messages): the URIs
/// themselves, and each secret they hold, as written and percent-decoded.
pub fn redactar_texto(texto: &str, uris: &[&Uri]) -> String {
    let mut t = texto.to_owned();
    for u in uris {
        t = t.replace(u.expose(), &u.redactada());
        for secreto in secretos(u.expose()) {
            t = t.replace(&secreto, "***");
        }
    }
    t
}

/// Refuses a URI whose password holds `/`, `?` or `#` unencoded: no driver reads it as
/// meant (they end the host part there), and their errors would quote pieces of it.
pub fn validar_uri(nombre: &str, uri: &Uri) -> Result<()> {
    let crudo = uri.expose();
    match partes(crudo).password {
        Some(r) if crudo[r.clone()].contains(['/', '?', '#']) => Err(Error::Invalido(format!(
            "la contraseña de {nombre} {} contiene «/», «?» o «#» sin codificar; \
             escríbalos como %2F, %3F y %23",
            uri.redactada()
        ))),
        _ => Ok(()),
    }
}

/// Every secret of `uri`, in the forms a driver may print it, longest first so a
/// shorter form never leaves part of a longer one behind. A driver that split the
/// password at a delimiter may print a piece of it, so pieces of three or more
/// characters count too.
fn secretos(uri: &str) -> Vec<String> {
    let p = partes(uri);
    let mut v: Vec<String> = Vec::new();
    for r in p.password.into_iter().chain(p.secretos) {
        let crudo = &uri[r];
        v.push(crudo.to_owned());
        v.push(
            percent_encoding::percent_decode_str(crudo)
                .decode_utf8_lossy()
                .into_owned(),
        );
        v.extend(
            crudo
                .split(['/', '?', '#', '@', ':'])
                .filter(|t| t.chars().count() >= 3)
                .map(str::to_owned),
        );
    }
    v.retain(|s| !s.is_empty() && s != "***");
    v.sort_by_key(|s| std::cmp::Reverse(s.len()));
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacta_la_contrasena() {
        assert_eq!(
            redactar("mongodb://root:s3cr3t@mongo:27017/?authSource=admin"),
            "mongodb://root:***@mongo:27017/?authSource=admin"
        );
        assert_eq!(
            redactar("mongodb://u:p@a:1,b:2/db"),
            "mongodb://u:***@a:1,b:2/db"
        );
        assert_eq!(
            redactar("redis://:pw@localhost:6379/0"),
            "redis://:***@localhost:6379/0"
        );
        assert_eq!(redactar("redis://localhost:6379"), "redis://localhost:6379");
        assert_eq!(
            redactar("mongodb://us@er:p@ss@h/"),
            "mongodb://us@er:***@h/"
        );
        let u = Uri::new("redis://:pw@h:1");
        assert!(!format!("{u:?}{u}").contains("pw"));
    }

    #[test]
    fn redacta_contrasenas_con_barra_o_interrogacion_sin_codificar() {
        // Issue 10: the userinfo ends at the last `@`, not at the first `/` or `?`.
        assert_eq!(
            redactar("redis://:S3cr/tPw@host:6379/0"),
            "redis://:***@host:6379/0"
        );
        assert_eq!(
            redactar("mongodb://root:a?b/c#d@m1:1,m2:2/db?authSource=admin"),
            "mongodb://root:***@m1:1,m2:2/db?authSource=admin"
        );
        let u = Uri::new("redis://:S3cr/tPw@host");
        let texto = redactar_texto("fallo al conectar a host con S3cr/tPw", &[&u]);
        assert!(!texto.contains("S3cr"), "{texto}");
    }

    #[test]
    fn redacta_los_parametros_secretos() {
        assert_eq!(
            redactar(
                "mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:tok&appName=x"
            ),
            "mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=***&appName=x"
        );
        assert_eq!(
            redactar("mongodb://h/?tlsCertificateKeyFilePassword=k&PASSWORD=p&aws_session_token=t"),
            "mongodb://h/?tlsCertificateKeyFilePassword=***&PASSWORD=***&aws_session_token=***"
        );
    }

    proptest::proptest! {
        /// No printable password survives redaction, as written or percent-decoded.
        /// Passwords holding `*` are left out (`***` next to the host could spell them),
        /// and so is `&`, which ends an option's value by definition.
        #[test]
        fn ninguna_contrasena_imprimible_sobrevive(
            pw in "[ -%'-)+-~]{6,24}|[^*&\\p{C}]{6,12}",
            plantilla in 0usize..4,
        ) {
            let (antes, despues) = [
                ("redis://:", "@127.0.0.1:6379/0"),
                ("mongodb://raiz:", "@m1:27017,m2:27018/db?authSource=admin"),
                ("mongodb://m1/?authMechanismProperties=", "&appName=ef"),
                ("rediss://usuario:", "@cache"),
            ][plantilla];
            let uri = format!("{antes}{pw}{despues}");
            proptest::prop_assume!(!format!("{antes}{despues}").contains(&pw));
            let u = Uri::new(uri.clone());
            let decodificado = percent_encoding::percent_decode_str(&pw).decode_utf8_lossy().into_owned();
            for salida in [
                u.redactada(),
                format!("{u:?}"),
                redactar_texto(&format!("error en {uri}: clave {pw} / {decodificado}"), &[&u]),
            ] {
                proptest::prop_assert!(!salida.contains(&pw), "{salida}");
                proptest::prop_assert!(!salida.contains(&decodificado), "{salida}");
            }
        }
    }
}
