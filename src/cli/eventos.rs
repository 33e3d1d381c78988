//! `eventflow eventos …`: create, read, list, update and delete events. Creating an event
//! also creates its seat counter; capacity changes move the counter.

use clap::Subcommand;

use crate::casos;
use crate::cli::pagina::{self, ArgsPagina};
use crate::cli::{Ctx, output};
use crate::domain::{
    Aforo, CambiosEvento, Evento, EventoId, Fecha, NuevoEvento, ParseError, Precio, Texto,
};
use crate::error::Result;

pub(crate) fn nombre(s: &str) -> Result<Texto, ParseError> {
    Texto::parse("nombre", s)
}
pub(crate) fn lugar(s: &str) -> Result<Texto, ParseError> {
    Texto::parse("lugar", s)
}

pub const EJEMPLOS: &str = "\
Ejemplos:
  eventflow eventos crear --nombre Gala --fecha 2026-12-01T21:00:00Z --lugar Teatro --aforo 500
  eventflow eventos listar
  eventflow eventos actualizar $EVENTO --aforo 600
  eventflow eventos importar eventos.csv";

#[derive(Debug, Subcommand)]
pub enum Accion {
    /// Crea un evento y su contador de entradas.
    #[command(after_help = "\
Ejemplos:
  eventflow eventos crear --nombre Gala --fecha 2026-12-01T21:00:00Z --lugar Teatro --aforo 500
  # Precio en céntimos: 2500 son 25,00; la hora puede llevar zona
  eventflow eventos crear --nombre \"Jazz en el patio\" --fecha 2026-07-10T22:00:00+02:00 --lugar \"Patio Norte\" --aforo 120 --precio 2500")]
    Crear {
        /// Nombre del evento.
        #[arg(long, value_parser = nombre)]
        nombre: Texto,
        /// Fecha y hora RFC 3339, por ejemplo 2025-12-01T21:00:00Z.
        #[arg(long)]
        fecha: Fecha,
        /// Dónde se celebra.
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
    #[command(after_help = "\
Ejemplos:
  eventflow eventos ver 65f1c2a4e1b2c3d4e5f6a7b8
  eventflow -o json eventos ver $EVENTO")]
    Ver {
        /// Id del evento (24 dígitos hexadecimales, como lo muestra `listar`).
        id: EventoId,
    },
    /// Lista eventos por orden de alta.
    #[command(after_help = "\
Ejemplos:
  eventflow eventos listar
  # La página siguiente empieza tras el último id mostrado
  eventflow eventos listar --limite 50 --despues-de $ULTIMO_ID
  # Todos, una fila JSON por evento
  eventflow -o jsonl eventos listar --todos")]
    Listar(#[command(flatten)] ArgsPagina<EventoId>),
    /// Cambia los campos indicados. Subir el aforo suma entradas; bajarlo solo se permite sin ventas.
    #[command(after_help = "\
Ejemplos:
  eventflow eventos actualizar $EVENTO --aforo 600
  eventflow eventos actualizar $EVENTO --fecha 2026-12-02T21:00:00Z --lugar \"Teatro Real\"")]
    Actualizar {
        /// Id del evento a cambiar.
        id: EventoId,
        /// Nuevo nombre.
        #[arg(long, value_parser = nombre)]
        nombre: Option<Texto>,
        /// Nueva fecha y hora, RFC 3339 (por ejemplo 2026-12-01T21:00:00Z).
        #[arg(long)]
        fecha: Option<Fecha>,
        /// Nuevo lugar.
        #[arg(long, value_parser = lugar)]
        lugar: Option<Texto>,
        /// Nuevo aforo total: subirlo pone entradas a la venta; bajarlo exige que no haya ventas.
        #[arg(long, allow_negative_numbers = true)]
        aforo: Option<Aforo>,
        /// Nuevo precio por entrada, en unidades menores (2500 = 25,00).
        #[arg(long, allow_negative_numbers = true)]
        precio: Option<Precio>,
    },
    /// Elimina un evento sin entradas vendidas ni retenidas.
    #[command(after_help = "\
Ejemplos:
  eventflow eventos eliminar $EVENTO")]
    Eliminar {
        /// Id del evento a eliminar.
        id: EventoId,
    },
    /// Importa eventos de un archivo CSV, JSON Lines o JSON y crea sus contadores.
    #[command(after_help = "\
Ejemplos:
  # CSV con cabecera: nombre,fecha,lugar,aforo_total[,precio]
  eventflow eventos importar eventos.csv
  eventflow eventos importar eventos.json --modo upsert
  eventflow eventos importar eventos.csv --dry-run")]
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
            let e = casos::eventos::crear(
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
        Accion::Listar(args) => {
            let alm = ctx.almacen().await?;
            pagina::listar(
                f,
                args,
                "eventos",
                |despues, n| async move { alm.eventos_ap.listar(n, despues.as_ref()).await },
                |e: &Evento| e.id.clone(),
            )
            .await
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
            let e = casos::eventos::actualizar(ctx.almacen().await?, &id, cambios).await?;
            output::uno(f, &e)
        }
        Accion::Eliminar { id } => {
            casos::eventos::eliminar(ctx.almacen().await?, &id).await?;
            output::aviso(&format!("evento {id} eliminado"));
            output::eliminado(f, id.as_str())
        }
        Accion::Importar(args) => {
            crate::cli::importar::run(crate::import::Entidad::Eventos, args, ctx).await
        }
    }
}
