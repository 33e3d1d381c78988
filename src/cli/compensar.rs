//! `eventflow compensar`: finishes purchases left half done whose hold has expired
//! (or the one named with `--reserva --forzar`), refunding and releasing their seats.

use clap::Args;

use crate::cli::{Ctx, output, reservar::reservador};
use crate::compra::{Compensacion, OpcionesCompensar};
use crate::domain::ReservaId;
use crate::error::Result;

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
    let hechas = crate::compra::compensar(
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
    fn columnas() -> &'static [output::Columna] {
        use output::Columna;
        const C: &[Columna] = &[
            Columna::fija("reserva_id"),
            Columna::fija("evento_id").prescindible(2),
            Columna::fija("usuario_id").prescindible(3),
            Columna::fija("entradas"),
            Columna::fija("paso"),
            Columna::fija("estado_anterior").titulo("antes"),
            Columna::fija("estado_final").titulo("después"),
            Columna::fija("expira").prescindible(1),
        ];
        C
    }
}
