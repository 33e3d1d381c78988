//! `eventflow simular`: a flash sale against the configured backend. This module turns
//! flags into [`SimulationOptions`], draws the progress bar on stderr (only on a terminal) and
//! prints the report; the run itself is [`crate::simulacion`]. Exits 8 when an invariant
//! failed, 4 when the stores hold real data (unless `--permitir-datos-existentes`).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::{Ctx, output};
use crate::domain::{Aforo, Precio};
use crate::error::{Error, Result};
use crate::simulacion::{
    Etapa, Informe, Limpieza, Probabilidad, RangoEntradas, Resultado, SimulationOptions,
    SimulationProgress, simular,
};

pub const EJEMPLOS: &str = "\
Ejemplos:
  eventflow simular
  eventflow simular --aforo 100 --compradores 2000 --concurrencia 128 --entradas-por-compra 1-4
  # La misma semilla repite la misma venta; --limpiar borra lo creado
  eventflow simular --semilla 42 --rechazo-pago 0.2 --limpiar";

#[derive(Debug, Args)]
pub struct ArgsSimular {
    /// Aforo del evento simulado.
    #[arg(long, default_value = "1000", allow_negative_numbers = true)]
    pub aforo: Aforo,
    /// Compradores que compiten; cada uno intenta una compra.
    #[arg(long, default_value_t = 5000, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub compradores: u32,
    /// Compras en curso a la vez.
    #[arg(long, default_value_t = 64, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrencia: u32,
    /// Entradas de cada compra: un número (2) o un rango (1-4) del que cada comprador saca
    /// las suyas.
    #[arg(long, default_value = "1", allow_negative_numbers = true)]
    pub entradas_por_compra: RangoEntradas,
    /// Probabilidad de que la pasarela rechace un pago, entre 0 y 1.
    #[arg(
        long,
        default_value = "0.1",
        env = "EVENTFLOW_PAGO_RECHAZO",
        allow_negative_numbers = true
    )]
    pub rechazo_pago: Probabilidad,
    /// Latencia simulada de cada cobro, en milisegundos.
    #[arg(long, default_value_t = 0, env = "EVENTFLOW_PAGO_LATENCIA_MS")]
    pub latencia_pago: u64,
    /// Precio de cada entrada, en céntimos.
    #[arg(long, default_value = "2500", allow_negative_numbers = true)]
    pub precio: Precio,
    /// Semilla: la misma semilla repite los rechazos de pago y las entradas de cada
    /// comprador [por defecto: una al azar, que el informe muestra].
    #[arg(long)]
    pub semilla: Option<u64>,
    /// Simula aunque la base de datos tenga usuarios o eventos que no son de una simulación.
    #[arg(long)]
    pub permitir_datos_existentes: bool,
    /// Al terminar, borra lo creado: cancela las compras, elimina el evento y los compradores.
    #[arg(long)]
    pub limpiar: bool,
}

pub async fn run(a: ArgsSimular, ctx: &Ctx) -> Result<()> {
    // Bad fault settings are usage errors: fail before connecting.
    let fallos = ctx.config.fallos()?;
    let alm = ctx.almacen().await?;
    let opciones = SimulationOptions {
        aforo: a.aforo,
        compradores: a.compradores,
        concurrencia: a.concurrencia as usize,
        entradas: a.entradas_por_compra,
        rechazo_pago: a.rechazo_pago,
        latencia_pago: Duration::from_millis(a.latencia_pago),
        precio: a.precio,
        semilla: a.semilla,
        permitir_datos_existentes: a.permitir_datos_existentes,
        limpiar: a.limpiar,
        ttl: ctx.config.reserva_ttl()?,
        fallos,
    };
    let barra = Barra::new();
    let resultado = simular(alm, &opciones, &barra).await;
    barra.pb.finish_and_clear();
    let mut informe = resultado?;
    output::informe(ctx.formato, &informe, &filas(&informe))?;
    if !informe.invariantes_ok {
        return Err(Error::Inconsistencia(format!(
            "la simulación rompió {} invariante(s): {}",
            informe.fallos.len(),
            informe.fallos.join("; ")
        )));
    }
    if let Some(causa) = informe.limpieza.as_mut().and_then(|l| l.causa.take()) {
        output::aviso(&format!(
            "la limpieza quedó a medias; los datos que quedan llevan la marca de la corrida {}",
            informe.corrida
        ));
        return Err(causa);
    }
    Ok(())
}

/// The table rows of the report; `-o json` prints the same report whole.
fn filas(i: &Informe) -> Vec<(String, String)> {
    let mut f: Vec<(&str, String)> = vec![
        ("evento", format!("{} ({})", i.evento_id, i.evento)),
        ("corrida", i.corrida.clone()),
        ("aforo", i.aforo.to_string()),
        ("compradores", i.compradores.to_string()),
        ("concurrencia", i.concurrencia.to_string()),
        ("entradas por compra", i.entradas_por_compra.to_string()),
        (
            "rechazo de pago",
            format!("{} (latencia {} ms)", i.rechazo_pago, i.latencia_pago_ms),
        ),
        ("semilla", i.semilla.to_string()),
        ("confirmadas", i.confirmadas.to_string()),
        ("agotadas (sin entradas)", i.agotadas.to_string()),
        ("pagos rechazados", i.rechazadas.to_string()),
        ("compensadas", i.compensadas.to_string()),
        ("otros errores", otros_errores(i)),
        (
            "entradas vendidas / aforo",
            format!("{} / {}", i.entradas_vendidas, i.aforo),
        ),
        (
            "contador final",
            i.verificar
                .contador
                .map_or_else(|| "-".to_owned(), |c| c.to_string()),
        ),
        ("duración de las compras", format!("{:.2} s", i.segundos)),
        ("etapas (s)", etapas(i)),
        ("compras/s", format!("{:.1}", i.compras_por_segundo)),
        (
            "latencia p50 / p95 / p99 / máx",
            format!(
                "{:.1} / {:.1} / {:.1} / {:.1} ms",
                i.latencia_ms.p50, i.latencia_ms.p95, i.latencia_ms.p99, i.latencia_ms.max
            ),
        ),
        (
            "verificar",
            if i.verificar.consistente {
                "consistente".to_owned()
            } else {
                format!("inconsistente: {}", i.verificar.problemas.join("; "))
            },
        ),
        (
            "invariantes",
            if i.invariantes_ok {
                "se cumplen".to_owned()
            } else {
                i.fallos.join("; ")
            },
        ),
    ];
    if let Some(l) = &i.limpieza {
        f.push(("limpieza", limpieza(l)));
    }
    f.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// The wall time of each stage, in seconds, on one line.
fn etapas(i: &Informe) -> String {
    format!(
        "comprobación {:.1} · alta {:.1} · lectura de ids {:.1} · compras {:.1} · verificación {:.1}{}",
        i.tiempos.comprobacion,
        i.tiempos.alta,
        i.tiempos.lectura_ids,
        i.tiempos.compras,
        i.tiempos.verificacion,
        if i.limpieza.is_some() {
            format!(" · limpieza {:.1}", i.tiempos.limpieza)
        } else {
            String::new()
        }
    )
}

/// What `--limpiar` removed, and what it failed to, on one line.
fn limpieza(l: &Limpieza) -> String {
    format!(
        "{} compras canceladas, evento {}, {} compradores eliminados{}",
        l.compras_canceladas,
        if l.evento_eliminado {
            "eliminado"
        } else {
            "sin eliminar"
        },
        l.compradores_eliminados,
        if l.errores.is_empty() {
            String::new()
        } else {
            format!("; errores: {}", l.errores.join("; "))
        }
    )
}

fn otros_errores(i: &Informe) -> String {
    if i.errores.is_empty() {
        return "0".to_owned();
    }
    let tipos: Vec<String> = i
        .errores
        .iter()
        .map(|t| format!("{} × {} (p. ej. {})", t.veces, t.codigo, t.ejemplo))
        .collect();
    format!("{}: {}", i.otros_errores, tipos.join("; "))
}

/// The progress bar. Hidden when stderr is not a terminal, so scripts and `-o json`
/// pipelines see only the report.
struct Barra {
    pb: ProgressBar,
    confirmadas: AtomicU64,
    agotadas: AtomicU64,
    rechazadas: AtomicU64,
    errores: AtomicU64,
}

impl Barra {
    fn new() -> Self {
        let pb = if std::io::stderr().is_terminal() {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        Self {
            pb,
            confirmadas: AtomicU64::new(0),
            agotadas: AtomicU64::new(0),
            rechazadas: AtomicU64::new(0),
            errores: AtomicU64::new(0),
        }
    }
}

impl SimulationProgress for Barra {
    fn etapa(&self, etapa: Etapa, total: u64) {
        self.pb.reset();
        self.pb.set_prefix(etapa.descripcion());
        self.pb.set_message("");
        if total == 0 {
            self.pb.set_style(
                ProgressStyle::with_template("{spinner} {prefix} {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            self.pb.unset_length();
            self.pb.enable_steady_tick(Duration::from_millis(120));
        } else {
            self.pb.disable_steady_tick();
            self.pb.set_style(
                ProgressStyle::with_template(
                    "{prefix:>11} [{bar:30}] {pos}/{len} {per_sec:>10} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            self.pb.set_length(total);
        }
    }

    fn avance(&self, n: u64) {
        self.pb.inc(n);
    }

    fn compra(&self, resultado: &Resultado) {
        let contador = match resultado {
            Resultado::Confirmada { .. } => &self.confirmadas,
            Resultado::Agotada => &self.agotadas,
            Resultado::Rechazada => &self.rechazadas,
            Resultado::Error { .. } => &self.errores,
        };
        contador.fetch_add(1, Ordering::Relaxed);
        self.pb.inc(1);
        if !self.pb.is_hidden() {
            self.pb.set_message(format!(
                "confirmadas {} · agotadas {} · rechazadas {} · errores {}",
                self.confirmadas.load(Ordering::Relaxed),
                self.agotadas.load(Ordering::Relaxed),
                self.rechazadas.load(Ordering::Relaxed),
                self.errores.load(Ordering::Relaxed),
            ));
        }
    }
}
