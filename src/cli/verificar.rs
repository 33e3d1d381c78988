//! `eventflow verificar`: checks the invariants of every event (or one) and exits 8 when
//! any fails; `--reparar` brings the stores back into agreement and says what it changed.

use clap::Args;

use crate::cli::{Ctx, output, reservar::reservador};
use crate::compra::InformeEvento;
use crate::domain::EventoId;
use crate::error::{Error, Result};

pub const EJEMPLOS: &str = "\
Ejemplos:
  eventflow verificar
  eventflow verificar --evento $EVENTO
  # Repara y vuelve a verificar; dice qué cambió
  eventflow verificar --reparar";

#[derive(Debug, Args)]
pub struct ArgsVerificar {
    /// Solo este evento.
    #[arg(long)]
    pub evento: Option<EventoId>,
    /// Repara lo que encuentre y vuelve a verificar.
    #[arg(long)]
    pub reparar: bool,
}

/// Stored users and events that do not read back. `--reparar` cannot rebuild them: the
/// message says how to remove each by id.
async fn danados(ctx: &Ctx) -> Result<usize> {
    let alm = ctx.almacen().await?;
    let mut filas = alm.eventos.danados().await?;
    filas.extend(alm.usuarios.danados().await?);
    for d in &filas {
        output::aviso(&format!(
            "inconsistencia: el {} {} está dañado y los listados lo omiten: {}; \
             --reparar no puede reconstruirlo: corríjalo en el almacén o bórrelo con `eventflow {}s eliminar {}`",
            d.entidad, d.id, d.motivo, d.entidad, d.id
        ));
    }
    Ok(filas.len())
}

pub async fn run(a: ArgsVerificar, ctx: &Ctx) -> Result<()> {
    let danados = if a.evento.is_none() {
        danados(ctx).await?
    } else {
        0
    };
    let r = if a.reparar {
        reservador(ctx).await?
    } else {
        ctx.config
            .reservador_sin_pagos(ctx.almacen().await?.clone())?
    };
    let informes = crate::compra::verificar(&r, a.evento.as_ref(), a.reparar).await?;
    for i in &informes {
        for rep in &i.reparaciones {
            output::aviso(&format!("reparado: {rep}"));
        }
        for p in &i.problemas {
            output::aviso(&format!("inconsistencia: {p}"));
        }
    }
    output::lista(ctx.formato, &informes)?;
    let malos = informes.iter().filter(|i| !i.consistente).count();
    if danados > 0 {
        return Err(Error::Inconsistencia(format!(
            "{danados} usuario(s) o evento(s) guardados dañados y {malos} de {} evento(s) con inconsistencias",
            informes.len()
        )));
    }
    if malos > 0 {
        return Err(Error::Inconsistencia(format!(
            "{malos} de {} evento(s) con inconsistencias",
            informes.len()
        )));
    }
    Ok(())
}

impl output::Fila for InformeEvento {
    fn columnas() -> &'static [output::Columna] {
        use output::Columna;
        const C: &[Columna] = &[
            Columna::fija("evento_id"),
            Columna::fija("aforo_total").titulo("aforo"),
            Columna::fija("contador"),
            Columna::fija("retenidas"),
            Columna::fija("vendidas"),
            Columna::fija("en_curso").prescindible(2),
            Columna::fija("cobrado").prescindible(4),
            Columna::fija("reembolsado").prescindible(5),
            Columna::fija("importe_confirmado")
                .titulo("importe")
                .prescindible(3),
            Columna::fija("consistente"),
            Columna::fija("problemas").prescindible(1),
            Columna::fija("reparaciones").prescindible(6),
        ];
        C
    }
}
