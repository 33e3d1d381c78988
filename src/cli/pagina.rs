//! The paging flags every listing takes (`--limite`, `--despues-de`, `--todos`) and the
//! loop that walks a listing page by page, writing each page as it arrives: memory holds
//! one page whatever the length, and a listing cut by `--limite` says so on stderr with
//! the `--despues-de` value that continues it.

use std::future::Future;
use std::str::FromStr;

use clap::Args;

use crate::cli::output::{self, Fila, Lista, OutputFormat};
use crate::domain::ParseError;
use crate::error::Result;

/// Rows asked of the store at a time. The API's maximum page (`api::pagina`) too.
pub const PAGINA: u32 = crate::api::pagina::LIMITE_MAXIMO;

/// `--limite N | --todos` and `--despues-de ID`, for a listing of ids of type `I`.
#[derive(Debug, Clone, Args)]
pub struct ArgsPagina<I>
where
    I: FromStr<Err = ParseError> + Clone + Send + Sync + 'static,
{
    /// Máximo de filas a mostrar, de 1 a 100000.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000), conflicts_with = "todos")]
    pub limite: u32,
    /// Continúa tras este id (el último de la página anterior).
    #[arg(long, value_parser = |s: &str| I::from_str(s))]
    pub despues_de: Option<I>,
    /// Muestra todas las filas, leídas y escritas página a página.
    #[arg(long)]
    pub todos: bool,
}

/// A listing to walk: `entidad` names its rows in the notice (`usuarios`, `reservas`…),
/// `pagina(despues_de, n)` reads up to `n` rows after a cursor, in the store's order,
/// and `cursor` gives the cursor of a row.
pub async fn listar<I, T, F, Fut>(
    formato: OutputFormat, args: ArgsPagina<I>, entidad: &str, mut pagina: F,
    cursor: impl Fn(&T) -> I,
) -> Result<()>
where
    I: FromStr<Err = ParseError> + Clone + Send + Sync + std::fmt::Display + 'static,
    T: Fila,
    F: FnMut(Option<I>, u32) -> Fut,
    Fut: Future<Output = Result<Vec<T>>>,
{
    let mut salida = Lista::<T>::new(formato);
    let mut restan: Option<u64> = (!args.todos).then_some(u64::from(args.limite));
    let mut despues = args.despues_de;
    loop {
        let pedir = restan.map_or(PAGINA, |r| r.min(u64::from(PAGINA)) as u32);
        // One row more than is shown tells whether more exist.
        let mut filas = pagina(despues.clone(), pedir + 1).await?;
        let hay_mas = filas.len() > pedir as usize;
        filas.truncate(pedir as usize);
        salida.pagina(&filas)?;
        if let Some(u) = filas.last() {
            despues = Some(cursor(u));
        }
        if let Some(r) = restan.as_mut() {
            *r -= filas.len() as u64;
        }
        if !hay_mas {
            break;
        }
        if restan == Some(0) {
            if let Some(d) = &despues {
                output::aviso(&format!(
                    "hay más {entidad}: continúe con --despues-de {d}, o use --todos para verlos todos"
                ));
            }
            break;
        }
    }
    salida.cerrar()
}

/// The page of `filas` (already in memory, in order) after `despues_de` by `cursor`, for
/// listings read whole from their store (a user's purchase history).
pub fn en_memoria<I: PartialEq, T: Clone>(
    filas: &[T], despues_de: Option<&I>, n: u32, cursor: impl Fn(&T) -> I,
) -> Vec<T> {
    let inicio = match despues_de {
        Some(d) => filas
            .iter()
            .position(|f| &cursor(f) == d)
            .map_or(filas.len(), |p| p + 1),
        None => 0,
    };
    filas
        .iter()
        .skip(inicio)
        .take(n as usize)
        .cloned()
        .collect()
}
