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

    /// The node URLs of a Redis Cluster list (`redis://a:7000,redis://b:7001`), or this
    /// URI alone when it is not a list. A list selects Redis Cluster (`docs/consistency.md`).
    pub fn nodos(&self) -> Vec<Uri> {
        match lista_redis(&self.0) {
            Some(piezas) => piezas.into_iter().map(Uri::new).collect(),
            None => vec![self.clone()],
        }
    }

    /// True when this is a comma-separated list of Redis node URLs.
    pub fn es_lista(&self) -> bool {
        lista_redis(&self.0).is_some()
    }
}

/// The pieces of a comma-separated list of `redis://`/`rediss://` URLs, trimmed; `None`
/// when `uri` holds no comma or a piece is not a Redis URL (then it is one URI, whose
/// password may hold a comma, and is redacted whole).
fn lista_redis(uri: &str) -> Option<Vec<&str>> {
    if !uri.contains(',') {
        return None;
    }
    let piezas: Vec<&str> = uri.split(',').map(str::trim).collect();
    piezas
        .iter()
        .all(|p| p.starts_with("redis://") || p.starts_with("rediss://"))
        .then_some(piezas)
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
    match lista_redis(uri) {
        Some(piezas) => piezas
            .into_iter()
            .map(redactar_una)
            .collect::<Vec<_>>()
            .join(","),
        None => redactar_una(uri),
    }
}

fn redactar_una(uri: &str) -> String {
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
    for nodo in uri.nodos() {
        let crudo = nodo.expose();
        if let Some(r) = partes(crudo).password
            && crudo[r].contains(['/', '?', '#'])
        {
            return Err(Error::Invalido(format!(
                "la contraseña de {nombre} {} contiene «/», «?» o «#» sin codificar; \
                 escríbalos como %2F, %3F y %23",
                uri.redactada()
            )));
        }
    }
    Ok(())
}

/// Checks a Redis address: one URL, or a Redis Cluster list whose every piece is a
/// `redis://`/`rediss://` URL with the same user and password (the cluster client
/// authenticates to every node alike) and no database but 0 (a cluster has no other).
pub fn validar_redis(nombre: &str, uri: &Uri) -> Result<()> {
    validar_uri(nombre, uri)?;
    let crudo = uri.expose();
    if crudo.split(',').any(|p| p.trim().starts_with("rediss://")) {
        return Err(Error::Invalido(format!(
            "{nombre} usa TLS (rediss://) en {}, que esta compilación de eventflow no incluye: \
             use redis:// dentro de una red privada o detrás de un túnel TLS",
            uri.redactada()
        )));
    }
    if !crudo.contains(',') {
        return Ok(());
    }
    let Some(piezas) = lista_redis(crudo) else {
        return Err(Error::Invalido(format!(
            "lista de nodos de {nombre} inválida {}: cada elemento debe empezar por redis://, \
             por ejemplo redis://10.0.0.1:7000,redis://10.0.0.2:7000; una coma de \
             la contraseña se escribe %2C",
            uri.redactada()
        )));
    };
    let credenciales = |p: &str| {
        let resto = &p[p.find("://").map_or(0, |i| i + 3)..];
        resto.rfind('@').map(|a| resto[..a].to_owned())
    };
    if piezas
        .iter()
        .any(|p| credenciales(p) != credenciales(piezas[0]))
    {
        return Err(Error::Invalido(format!(
            "los nodos de {nombre} {} usan usuarios o contraseñas distintos: Redis Cluster \
             autentica igual en todos los nodos; use las mismas credenciales en cada URL",
            uri.redactada()
        )));
    }
    for p in &piezas {
        let resto = &p[p.find("://").map_or(0, |i| i + 3)..];
        let anfitrion = &resto[resto.rfind('@').map_or(0, |a| a + 1)..];
        let ruta = anfitrion.find('/').map_or("", |i| &anfitrion[i..]);
        let db = ruta.split('?').next().unwrap_or("").trim_matches('/');
        if !(db.is_empty() || db == "0") {
            return Err(Error::Invalido(format!(
                "el nodo {} de {nombre} pide la base de datos {db}: Redis Cluster solo tiene \
                 la 0; quite «/{db}» de la URL",
                redactar_una(p)
            )));
        }
    }
    Ok(())
}

/// Every secret of `uri`, in the forms a driver may print it, longest first so a
/// shorter form never leaves part of a longer one behind. A driver that split the
/// password at a delimiter may print a piece of it, so pieces of three or more
/// characters count too.
fn secretos(uri: &str) -> Vec<String> {
    let piezas = lista_redis(uri).unwrap_or_else(|| vec![uri]);
    let mut v: Vec<String> = Vec::new();
    for pieza in piezas {
        secretos_de(pieza, &mut v);
    }
    v.retain(|s| !s.is_empty() && s != "***");
    v.sort_by_key(|s| std::cmp::Reverse(s.len()));
    v.dedup();
    v
}

fn secretos_de(uri: &str, v: &mut Vec<String>) {
    let p = partes(uri);
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

    #[test]
    fn una_lista_de_nodos_redis_se_redacta_nodo_a_nodo() {
        let u = Uri::new("redis://app:pw1@a:7000, redis://app:pw1@b:7001,rediss://:x%2Cy@c:7002");
        assert_eq!(
            u.redactada(),
            "redis://app:***@a:7000,redis://app:***@b:7001,rediss://:***@c:7002"
        );
        assert!(u.es_lista());
        assert_eq!(u.nodos().len(), 3);
        assert_eq!(u.nodos()[1].expose(), "redis://app:pw1@b:7001");
        let t = redactar_texto("fallo en b:7001 con pw1 y x,y", &[&u]);
        assert!(!t.contains("pw1") && !t.contains("x,y"), "{t}");
        // A comma inside one URL's password is not a list: the whole URI is redacted.
        let una = Uri::new("redis://:a,b@h:1");
        assert!(!una.es_lista());
        assert_eq!(una.redactada(), "redis://:***@h:1");
        assert!(validar_uri("x", &Uri::new("redis://:a/b@h:1,redis://h:2")).is_err());
    }

    #[test]
    fn una_lista_de_nodos_invalida_se_explica_sin_secretos() {
        let ok = Uri::new("redis://u:pw@a:1,redis://u:pw@b:2/0");
        assert!(validar_redis("EVENTFLOW_REDIS_URL", &ok).is_ok());
        for (mala, pista) in [
            ("redis://u:pw@a:1,b:2", "cada elemento"),
            ("redis://u:pw@a:1,redis://u:otra@b:2", "mismas credenciales"),
            ("redis://u:pw@a:1/2,redis://u:pw@b:2", "base de datos 2"),
        ] {
            let e = validar_redis("EVENTFLOW_REDIS_URL", &Uri::new(mala)).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            let m = e.to_string();
            assert!(
                m.contains(pista) && !m.contains("pw") && !m.contains("otra"),
                "{m}"
            );
        }
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
