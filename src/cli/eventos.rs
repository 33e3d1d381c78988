//! `eventflow eventos …`: create, read, list, update and delete events. Creating an event
//! also creates its seat counter; capacity changes move the counter.

use clap::Subcommand;

use crate::cli::{Ctx, output};
use crate::domain::{
    Aforo, CambiosEvento, EventoId, Fecha, NuevoEvento, ParseError, Precio, Texto,
};
use crate::error::Result;
use crate::servicios;

pub(crate) fn nombre(s: &str) -> Result<Texto, ParseError> {
    Texto::parse("nombre", s)
}
pub(crate) fn lugar(s: &str) -> Result<Texto, ParseError> {
    Texto::parse("lugar", s)
}

#[derive(Debug, Subcommand)]
pub enum Accion {
    /// Crea un evento y su contador de entradas.
    Crear {
        #[arg(long, value_parser = nombre)]
        nombre: Texto,
        /// Fecha y hora RFC 3339, por ejemplo 2025-12-01T21:00:00Z.
        #[arg(long)]
        fecha: Fecha,
        #[arg(long, value_parser = lugar)]
        lugar: Texto,
        /// Aforo total (entradas a la venta), al menos 1.
        #[arg(long, allow_negative_numbers = true)]
        aforo: Aforo,
        /// Precio por entrada en unidades menores (2500 = 25,00).
        #[arg(long, default_value = "0", allow_negative_numbers = true)]
        precio: Precio,
    },
    /// Muestra un evento.
    Ver { id: EventoId },
    /// Lista eventos por orden de alta.
    Listar {
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        limite: u32,
        #[arg(long)]
        despues_de: Option<EventoId>,
    },
    /// Cambia los campos indicados. Subir el aforo suma entradas; bajarlo solo se permite sin ventas.
    Actualizar {
        id: EventoId,
        #[arg(long, value_parser = nombre)]
        nombre: Option<Texto>,
        #[arg(long)]
        fecha: Option<Fecha>,
        #[arg(long, value_parser = lugar)]
        lugar: Option<Texto>,
        #[arg(long, allow_negative_numbers = true)]
        aforo: Option<Aforo>,
        #[arg(long, allow_negative_numbers = true)]
        precio: Option<Precio>,
    },
    /// Elimina un evento sin entradas vendidas ni retenidas.
    Eliminar { id: EventoId },
    /// Importa eventos de un archivo CSV, JSON Lines o JSON y crea sus contadores.
    Importar(crate::cli::importar::ArgsImportar),
}

pub async fn run(accion: Accion, ctx: &Ctx) -> Result<()> {
    let f = ctx.formato;
    match accion {
        Accion::Crear {
            nombre,
            fecha,
            lugar,
            aforo,
            precio,
        } => {
            let alm = ctx.almacen().await?;
            let e = servicios::eventos::crear(
                alm,
                NuevoEvento {
                    nombre,
                    fecha,
                    lugar,
                    aforo,
                    precio,
                },
            )
            .await?;
            output::uno(f, &e)
        }
        Accion::Ver { id } => output::uno(f, &ctx.almacen().await?.eventos_ap.ver(&id).await?),
        Accion::Listar { limite, despues_de } => {
            let l = ctx
                .almacen()
                .await?
                .eventos_ap
                .listar(limite, despues_de.as_ref())
                .await?;
            output::lista(f, &l)
        }
        Accion::Actualizar {
            id,
            nombre,
            fecha,
            lugar,
            aforo,
            precio,
        } => {
            let cambios = CambiosEvento {
                nombre,
                fecha,
                lugar,
                aforo,
                precio,
            };
            let e = servicios::eventos::actualizar(ctx.almacen().await?, &id, cambios).await?;
            output::uno(f, &e)
        }
        Accion::Eliminar { id } => {
            servicios::eventos::eliminar(ctx.almacen().await?, &id).await?;
            output::aviso(&format!("evento {id} eliminado"));
            if f == output::Formato::Json {
                output::informe(f, &serde_json::json!({"id": id, "eliminado": true}), &[])?;
            }
            Ok(())
        }
        Accion::Importar(args) => {
            crate::cli::importar::run(crate::import::Entidad::Eventos, args, ctx).await
        }
    }
}
