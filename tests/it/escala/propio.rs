//! `ClusterPropio`: a private six-node Redis Cluster (three primaries, one replica each,
//! AOF on, `--cluster-node-timeout 1000`) for tests that kill nodes; the shared cluster of
//! `scripts/test` must not lose a primary under other tests. Its users are those of
//! `docker-compose.cluster.yml`: the default user off, an admin (replication, `redis-cli`)
//! and the app's ACL user limited to the commands eventflow sends, so the tests prove
//! that list is enough.

use std::collections::HashSet;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::esperar_puerto;

/// The app's ACL user (the default user is off, as in production).
pub const USUARIO: &str = "eventflow";
pub const CLAVE: &str = "clave-de-prueba";
const ADMIN: &str = "admin";
const CLAVE_ADMIN: &str = "clave-de-admin";
pub struct ClusterPropio {
    pub puertos: Vec<u16>,
    dir: tempfile::TempDir,
    hijos: Vec<Option<Child>>,
}

/// Six ports of 55535 or less whose cluster bus port (+10000) is free too.
fn puertos_libres() -> Vec<u16> {
    let libre = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
    let mut usados = HashSet::new();
    let mut puertos = Vec::new();
    let mut semilla = u64::from(std::process::id()) ^ Instant::now().elapsed().as_nanos() as u64;
    while puertos.len() < 6 {
        semilla = semilla
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let p = 20_000 + (semilla >> 33) as u16 % 35_536;
        if usados.contains(&p) || usados.contains(&(p + 10_000)) || !libre(p) || !libre(p + 10_000)
        {
            continue;
        }
        usados.extend([p, p + 10_000]);
        puertos.push(p);
    }
    puertos
}

impl ClusterPropio {
    pub fn arrancar() -> Self {
        let mut c = Self {
            puertos: puertos_libres(),
            dir: tempfile::tempdir().expect("tempdir"),
            hijos: Vec::new(),
        };
        for i in 0..6 {
            let h = c.lanzar(i);
            c.hijos.push(Some(h));
        }
        let nodos: Vec<String> = c.puertos.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let salida = Command::new("redis-cli")
            .args(["--user", ADMIN, "--pass", CLAVE_ADMIN, "--no-auth-warning"])
            .args(["--cluster", "create"])
            .args(&nodos)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("redis-cli no está instalado: scripts/test instala redis con apt");
        assert!(
            salida.status.success(),
            "redis-cli --cluster create falló: {}",
            String::from_utf8_lossy(&salida.stdout)
        );
        c.esperar_sano(Duration::from_secs(30));
        c
    }

    fn lanzar(&self, i: usize) -> Child {
        let p = self.puertos[i];
        let dir = self.dir.path().join(p.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        let h = Command::new("redis-server")
            .args(["--port", &p.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
            ])
            .args(["--cluster-node-timeout", "1000"])
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
            ])
            .args(["--user", "default", "off"])
            .args([
                "--user",
                ADMIN,
                "on",
                &format!(">{CLAVE_ADMIN}"),
                "~*",
                "&*",
                "+@all",
            ])
            .args(usuario_acl_del_despliegue())
            .args(["--masteruser", ADMIN, "--masterauth", CLAVE_ADMIN])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server no está instalado");
        esperar_puerto(p, Duration::from_secs(20));
        h
    }

    /// Comma-separated node URLs with the ACL user, as `EVENTFLOW_REDIS_URL` takes them.
    pub fn url(&self) -> String {
        self.puertos
            .iter()
            .map(|p| format!("redis://{USUARIO}:{CLAVE}@127.0.0.1:{p}/"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `redis-cli` as the admin user on `puerto`: its stdout, `None` if it failed.
    pub fn cli(&self, puerto: u16, args: &[&str]) -> Option<String> {
        cli(puerto, Some((ADMIN, CLAVE_ADMIN)), args)
    }

    pub fn vivos(&self) -> impl Iterator<Item = u16> + '_ {
        self.puertos
            .iter()
            .zip(&self.hijos)
            .filter(|(_, h)| h.is_some())
            .map(|(p, _)| *p)
    }

    /// Waits until every live node sees the cluster ok and every live replica is in sync.
    pub fn esperar_sano(&self, plazo: Duration) {
        let inicio = Instant::now();
        loop {
            let sano = self.vivos().all(|p| {
                let info = self.cli(p, &["cluster", "info"]).unwrap_or_default();
                let repl = self.cli(p, &["info", "replication"]).unwrap_or_default();
                info.contains("cluster_state:ok")
                    && (!repl.contains("role:slave") || repl.contains("master_link_status:up"))
            });
            if sano {
                return;
            }
            assert!(
                inicio.elapsed() < plazo,
                "el cluster no quedó sano en {plazo:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The port of the primary that serves `clave`'s slot now, as the live nodes see it;
    /// `None` while the slot's primary is failing and no replica has taken over yet.
    pub fn primario_de(&self, clave: &str) -> Option<u16> {
        let vivos: Vec<u16> = self.vivos().collect();
        primario_si_hay(&vivos, Some((ADMIN, CLAVE_ADMIN)), clave)
    }

    /// `kill -9` of the node on `puerto`: no shutdown, no final fsync.
    pub fn matar(&mut self, puerto: u16) {
        let i = self.puertos.iter().position(|p| *p == puerto).unwrap();
        if let Some(mut h) = self.hijos[i].take() {
            let _ = h.kill();
            let _ = h.wait();
        }
    }

    /// Starts the node on `puerto` again from its own AOF and `nodes.conf`, as a
    /// supervisor would: it rejoins as a replica of whoever took its slots over.
    pub fn reiniciar(&mut self, puerto: u16) {
        let i = self.puertos.iter().position(|p| *p == puerto).unwrap();
        assert!(self.hijos[i].is_none(), "el nodo {puerto} sigue vivo");
        let h = self.lanzar(i);
        self.hijos[i] = Some(h);
    }
}

impl Drop for ClusterPropio {
    fn drop(&mut self) {
        for h in self.hijos.iter_mut().filter_map(Option::take) {
            let mut h = h;
            let _ = h.kill();
            let _ = h.wait();
        }
    }
}

/// The ACL rule of the app's Redis user in `docker-compose.cluster.yml`, as
/// redis-server arguments (`--user eventflow on >… ~* …`): the tests run with exactly
/// what the deployment grants, so a command the store starts sending without adding it
/// there fails them.
fn usuario_acl_del_despliegue() -> Vec<String> {
    let ruta = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docker-compose.cluster.yml");
    let compose = std::fs::read_to_string(ruta).unwrap();
    let mut regla = String::new();
    for l in compose
        .lines()
        .skip_while(|l| !l.contains("--user eventflow"))
    {
        regla.push_str(l.trim().trim_end_matches('\\'));
        regla.push(' ');
        if !l.trim_end().ends_with('\\') {
            break;
        }
    }
    let (_, regla) = regla
        .split_once("--user")
        .expect("regla ACL en docker-compose.cluster.yml");
    let mut args = vec!["--user".to_owned()];
    for t in regla.split_whitespace() {
        // The shell's quoting and escapes, as the container's shell would strip them.
        let t = t.replace("\\|", "|").replace('"', "");
        args.push(t.replace(">$$REDIS_APP_PASSWORD", &format!(">{CLAVE}")));
    }
    assert_eq!(args.get(1).map(String::as_str), Some(USUARIO), "{args:?}");
    args
}

/// `redis-cli -p <puerto> [auth] <args>`: its stdout, `None` if it failed.
fn cli(puerto: u16, auth: Option<(&str, &str)>, args: &[&str]) -> Option<String> {
    let mut c = Command::new("redis-cli");
    c.args(["-p", &puerto.to_string()]);
    if let Some((u, p)) = auth {
        c.args(["--user", u, "--pass", p, "--no-auth-warning"]);
    }
    let salida = c.args(args).output().ok()?;
    salida
        .status
        .success()
        .then(|| String::from_utf8_lossy(&salida.stdout).into_owned())
}

/// The port of the primary that serves `clave`'s slot, asking the first of `puertos`
/// that answers (`CLUSTER KEYSLOT`, then the slot ranges of `CLUSTER NODES`; a primary
/// flagged `fail` serves nothing).
pub fn primario_de(puertos: &[u16], auth: Option<(&str, &str)>, clave: &str) -> u16 {
    primario_si_hay(puertos, auth, clave).expect("ningún primario sirve la clave")
}

fn primario_si_hay(puertos: &[u16], auth: Option<(&str, &str)>, clave: &str) -> Option<u16> {
    let (slot, nodos) = puertos
        .iter()
        .find_map(|p| {
            let slot: u16 = cli(*p, auth, &["cluster", "keyslot", clave])?
                .trim()
                .parse()
                .ok()?;
            Some((slot, cli(*p, auth, &["cluster", "nodes"])?))
        })
        .expect("ningún nodo del cluster responde");
    for l in nodos.lines() {
        let c: Vec<&str> = l.split_whitespace().collect();
        if c.len() < 9 || !c[2].contains("master") || c[2].contains("fail") {
            continue;
        }
        let sirve = c[8..].iter().any(|r| match r.split_once('-') {
            Some((a, b)) => match (a.parse::<u16>(), b.parse::<u16>()) {
                (Ok(a), Ok(b)) => (a..=b).contains(&slot),
                _ => false,
            },
            None => r.parse() == Ok(slot),
        });
        if sirve {
            let dir = c[1].split('@').next()?;
            return dir.rsplit_once(':')?.1.parse().ok();
        }
    }
    None
}
