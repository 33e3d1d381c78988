//! `eventflow reservas …`: list, show and cancel purchases. Cancelling a confirmed
//! purchase refunds it, puts its seats back and removes it from the read model.

use clap::Subcommand;

use crate::cli::ayuda::ConValores;
use crate::cli::pagina::{self, ArgsPagina};
use crate::cli::{Ctx, output, reservar::reservador};
use crate::domain::{Estado, EventoId, Reserva, ReservaId, UsuarioId};
use crate::error::Result;
use crate::store::FiltroReservas;

pub const EJEMPLOS: &str = "\
Ejemplos:
  eventflow reservas listar --evento $EVENTO --estado confirmada
  eventflow reservas ver $RESERVA
  eventflow reservas cancelar $RESERVA";

#[derive(Debug, Subcommand)]
pub enum Accion {
    /// Lista reservas por evento y orden de compra, opcionalmente de un evento, de un usuario o en un estado.
    #[command(after_help = "\
Ejemplos:
  eventflow reservas listar --evento $EVENTO
  eventflow reservas listar --usuario $USUARIO --estado confirmada
  eventflow -o json reservas listar --estado pendiente")]
    Listar {
        /// Solo las reservas de este evento.
        #[arg(long)]
        evento: Option<EventoId>,
        /// Solo las reservas de este usuario.
        #[arg(long)]
        usuario: Option<UsuarioId>,
        /// Solo las reservas en este estado.
        #[arg(long, value_parser = ConValores::new(Estado::parse, Estado::TODOS.map(Estado::as_str)))]
        estado: Option<Estado>,
        #[command(flatten)]
        pagina: ArgsPagina<ReservaId>,
    },
    /// Muestra una reserva, con su pago.
    #[command(after_help = "\
Ejemplos:
  eventflow reservas ver $RESERVA
  eventflow -o json reservas ver 65f1c2a4e1b2c3d4e5f6a7b8")]
    Ver {
        /// Id de la reserva (lo imprime `reservar` y lo lista `reservas listar`).
        id: ReservaId,
    },
    /// Cancela una compra confirmada: reembolsa y libera las entradas.
    #[command(after_help = "\
Ejemplos:
  eventflow reservas cancelar $RESERVA")]
    Cancelar {
        /// Id de la reserva a cancelar.
        id: ReservaId,
    },
}

pub async fn run(accion: Accion, ctx: &Ctx) -> Result<()> {
    let f = ctx.formato;
    match accion {
        Accion::Listar {
            evento,
            usuario,
            estado,
            pagina: args,
        } => {
            let alm = ctx.almacen().await?;
            if let Some(e) = &evento {
                // An unknown event is a typo, not an empty list.
                alm.eventos.ver(e).await?;
            }
            let filtro = FiltroReservas {
                evento,
                usuario,
                estado,
            };
            let filtro = &filtro;
            pagina::listar(
                f,
                args,
                "reservas",
                |despues, n| async move {
                    let p = alm.reservas.pagina(filtro, n, despues.as_ref()).await?;
                    Ok(p.into_iter().map(|r| r.reserva).collect())
                },
                |r: &Reserva| r.id.clone(),
            )
            .await
        }
        Accion::Ver { id } => {
            let alm = ctx.almacen().await?;
            let r = crate::store::reserva_con_pago(alm.reservas.as_ref(), &id).await?;
            output::uno(f, &r)
        }
        Accion::Cancelar { id } => {
            let r = reservador(ctx).await?;
            let reserva = crate::compra::cancelar(&r, &id).await?;
            output::uno(f, &reserva)
        }
    }
}
