//! `eventflow serve` as a test fixture: started on port 0 with the bound address read from
//! its stderr (never a sleep), an `admin` token made with the real CLI, killed on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::Entorno;

/// A running `eventflow serve`, killed when dropped. `get`/`post` send an `admin` token
/// (made with `eventflow tokens crear`); `http` is the bare client.
pub(crate) struct Servidor {
    hijo: Child,
    pub base: String,
    registro: Arc<Mutex<Vec<String>>>,
    pub http: reqwest::Client,
    /// The secret of an `admin` token.
    pub admin: String,
}

/// Limits high enough that no functional test meets them; limit tests lower them.
const SIN_LIMITES: &[(&str, &str)] = &[
    ("EVENTFLOW_LIMITE_IP", "100000"),
    ("EVENTFLOW_RAFAGA_IP", "100000"),
    ("EVENTFLOW_LIMITE_TOKEN", "100000"),
    ("EVENTFLOW_RAFAGA_TOKEN", "100000"),
];

/// Makes a token with the real CLI and returns its secret.
pub(crate) fn token_cli(env: &Entorno, permisos: &str) -> String {
    let out = env
        .cmd()
        .args(["-o", "json", "tokens", "crear", "--nombre", "pruebas"])
        .args(["--permisos", permisos])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tokens crear falló: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    crate::helpers::json(&out.stdout)["secreto"]
        .as_str()
        .unwrap()
        .to_owned()
}

impl Servidor {
    pub(crate) fn arrancar(env: &Entorno) -> Self {
        Self::con(env, &[])
    }

    pub(crate) fn con(env: &Entorno, vars: &[(&str, &str)]) -> Self {
        let admin = token_cli(env, "admin");
        let mut c = env.cmd_std();
        c.args(["serve", "--addr", "127.0.0.1:0"])
            .envs(SIN_LIMITES.iter().copied())
            .envs(vars.iter().copied())
            .env("EVENTFLOW_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut hijo = c.spawn().expect("arrancar eventflow serve");
        let stderr = hijo.stderr.take().unwrap();
        let registro = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let lineas = registro.clone();
        // Keeps draining stderr after the address line, so request logs never fill the pipe.
        std::thread::spawn(move || {
            for linea in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(dir) = linea.strip_prefix("escuchando en ") {
                    let _ = tx.send(dir.trim().to_owned());
                }
                lineas.lock().unwrap().push(linea);
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(b) => b,
            Err(e) => {
                let _ = hijo.kill();
                panic!(
                    "eventflow serve no anunció su dirección ({e}):\n{}",
                    registro.lock().unwrap().join("\n")
                );
            }
        };
        Self {
            hijo,
            base,
            registro,
            http: reqwest::Client::new(),
            admin,
        }
    }

    pub(crate) fn url(&self, ruta: &str) -> String {
        format!("{}{ruta}", self.base)
    }

    pub(crate) fn get(&self, ruta: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(ruta)).bearer_auth(&self.admin)
    }

    pub(crate) fn post(&self, ruta: &str, cuerpo: Value) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(ruta))
            .json(&cuerpo)
            .bearer_auth(&self.admin)
    }

    pub(crate) fn delete(&self, ruta: &str) -> reqwest::RequestBuilder {
        self.http.delete(self.url(ruta)).bearer_auth(&self.admin)
    }

    /// The address the server listens on, for raw sockets.
    pub(crate) fn direccion(&self) -> String {
        self.base.trim_start_matches("http://").to_owned()
    }

    pub(crate) fn registro(&self) -> String {
        self.registro.lock().unwrap().join("\n")
    }

    pub(crate) fn sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.hijo.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -TERM falló");
    }

    /// Waits for the process to exit on its own, within `plazo`.
    pub(crate) fn esperar_salida(&mut self, plazo: Duration) -> ExitStatus {
        let inicio = Instant::now();
        loop {
            if let Some(s) = self.hijo.try_wait().unwrap() {
                return s;
            }
            assert!(
                inicio.elapsed() < plazo,
                "el servidor no terminó tras {plazo:?}:\n{}",
                self.registro()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Servidor {
    fn drop(&mut self) {
        let _ = self.hijo.kill();
        let _ = self.hijo.wait();
    }
}

pub(crate) async fn cuerpo(r: reqwest::Response) -> (StatusCode, Value) {
    let estado = r.status();
    let texto = r.text().await.unwrap();
    let v = serde_json::from_str(&texto)
        .unwrap_or_else(|e| panic!("la respuesta {estado} no es JSON ({e}): {texto:?}"));
    (estado, v)
}

/// Every error body is exactly `{"error": {"codigo", "mensaje"}}`, with a lowercase message.
#[track_caller]
pub(crate) fn es_error(v: &Value, codigo: &str) -> String {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("no es un objeto: {v}"));
    assert_eq!(obj.len(), 1, "{v}");
    let e = v["error"].as_object().unwrap_or_else(|| panic!("{v}"));
    // `codigo` and `mensaje`, and the kind's own fields (`docs/api.md`).
    assert!(e.len() >= 2, "{v}");
    assert_eq!(e["codigo"], codigo, "{v}");
    let m = e["mensaje"].as_str().unwrap();
    let primera = m.chars().next().expect("mensaje vacío");
    assert!(!primera.is_uppercase(), "mensaje en mayúscula: {m}");
    m.to_owned()
}
