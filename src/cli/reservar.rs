//! `eventflow reservar`: one purchase through the saga. Prints the reservation, which is
//! `confirmada` on success; failures exit with the contract's code (5 sold out,
//! 6 payment declined and compensated, 7 backend down, …).

use clap::Args;

use crate::cli::{Ctx, output};
use crate::compra::{Reservador, Solicitud};
use crate::domain::{ClaveIdempotencia, Entradas, EventoId, UsuarioId};
use crate::error::Result;

pub const EJEMPLOS: &str = "\
Ejemplos:
  eventflow reservar --evento $EVENTO --usuario $USUARIO --entradas 2
  # Reintentar con la misma clave no compra dos veces: devuelve la misma reserva
  eventflow reservar --evento $EVENTO --usuario $USUARIO --entradas 2 --clave-idempotencia pedido-1234
  # Para scripts: el código de salida dice qué pasó (5 agotado, 6 pago rechazado…)
  eventflow -o json reservar --evento $EVENTO --usuario $USUARIO --entradas 1";

#[derive(Debug, Args)]
pub struct ArgsReservar {
    /// Id del evento (24 dígitos hexadecimales).
    #[arg(long)]
    pub evento: EventoId,
    /// Id del usuario que compra.
    #[arg(long)]
    pub usuario: UsuarioId,
    /// Entradas a comprar (al menos 1).
    #[arg(long, allow_negative_numbers = true)]
    pub entradas: Entradas,
    /// Repetir la petición con la misma clave devuelve la misma reserva.
    #[arg(long)]
    pub clave_idempotencia: Option<ClaveIdempotencia>,
}

pub async fn run(a: ArgsReservar, ctx: &Ctx) -> Result<()> {
    let r = reservador(ctx).await?;
    let reserva = r
        .reservar(Solicitud {
            evento: a.evento,
            usuario: a.usuario,
            entradas: a.entradas,
            clave: a.clave_idempotencia,
        })
        .await?;
    output::uno(ctx.formato, &reserva)
}

/// The saga wired to this command line's stores and settings.
pub async fn reservador(ctx: &Ctx) -> Result<Reservador> {
    // Parse the fault and payment settings before connecting: bad settings are usage errors.
    ctx.config.fallos()?;
    let alm = ctx.almacen().await?.clone();
    ctx.config.reservador(alm)
}
