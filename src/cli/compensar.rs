//! `eventflow compensar`: finishes purchases left half done whose hold has expired
//! (or the one named with `--reserva --forzar`), refunding and releasing their seats.

use clap::Args;

use crate::cli::{Ctx, output, reservar::reservador};
use crate::domain::ReservaId;
use crate::error::Result;
use crate::reservas::{Compensacion, OpcionesCompensar};

pub const EJEMPLOS: &str = "\
Ejemplos:
  # Qué se compensaría, sin cambiar nada
  eventflow compensar --dry-run
  eventflow compensar
  # Una compra concreta, aunque su retención no haya vencido
  eventflow compensar --reserva $RESERVA --forzar";

#[derive(Debug, Args)]
pub struct ArgsCompensar {
    /// Solo esta reserva.
    #[arg(long)]
    pub reserva: Option<ReservaId>,
    /// Compensa la reserva indicada aunque su retención no haya vencido.
    #[arg(long, requires = "reserva")]
    pub forzar: bool,
    /// Muestra lo que haría sin cambiar nada.
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(a: ArgsCompensar, ctx: &Ctx) -> Result<()> {
    let r = reservador(ctx).await?;
    let hechas = crate::reservas::compensar(
        &r,
        &OpcionesCompensar {
            reserva: a.reserva,
            forzar: a.forzar,
            dry_run: a.dry_run,
        },
    )
    .await?;
    if hechas.is_empty() {
        output::aviso("nada que compensar");
    } else if a.dry_run {
        output::aviso(&format!(
            "{} compra(s) se compensarían (--dry-run: no se cambió nada)",
            hechas.len()
        ));
    } else {
        output::aviso(&format!("{} compra(s) compensada(s)", hechas.len()));
    }
    output::lista(ctx.formato, &hechas)
}

impl output::Fila for Compensacion {
    fn columnas() -> &'static [&'static str] {
        &[
            "reserva_id",
            "evento_id",
            "usuario_id",
            "entradas",
            "paso",
            "estado_anterior",
            "estado_final",
            "expira",
        ]
    }
    fn celdas(&self) -> Vec<String> {
        vec![
            self.reserva_id.to_string(),
            self.evento_id.to_string(),
            self.usuario_id.to_string(),
            self.entradas.to_string(),
            self.paso.as_str().to_owned(),
            self.estado_anterior.to_string(),
            self.estado_final
                .map(|e| e.to_string())
                .unwrap_or_else(|| "(dry-run)".into()),
            self.expira.to_string(),
        ]
    }
}
