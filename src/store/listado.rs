//! Listings that survive a corrupt row. A backend reads raw pages (each row with its
//! cursor, its id as stored, and the row parsed or the reason it does not parse); this
//! module walks them so a listing skips a corrupt row with a warning naming its id,
//! instead of failing every page that holds it, and `verificar` can list them all.

use std::future::Future;

use serde::Serialize;

use crate::error::{Error, Result};

/// A stored row that does not read back through the domain parsers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilaDanada {
    /// `usuario` or `evento`.
    pub entidad: &'static str,
    /// The id as stored (a 24-hex ObjectId unless the id itself is the damage).
    pub id: String,
    /// What is wrong with it, naming the field.
    pub motivo: String,
}

/// One raw row of a page: `cursor` continues the walk after it.
pub(crate) struct Cruda<C, T> {
    pub cursor: C,
    pub id: String,
    pub leida: Result<T>,
}

/// Rows asked of the backend at a time when a page has to be topped up.
const PAGINA_MAX: u32 = 1000;

/// Reads rows after `inicio` through `pagina(cursor, n)` until `limite` good rows are in
/// (kept only when `guardar`) or the rows run out. A row that fails with `Inconsistencia`
/// is set aside as a [`FilaDanada`]; any other error ends the walk.
pub(crate) async fn recorrer<C, T, F, Fut>(
    entidad: &'static str, limite: u32, inicio: C, guardar: bool, mut pagina: F,
) -> Result<(Vec<T>, Vec<FilaDanada>)>
where
    F: FnMut(C, u32) -> Fut,
    Fut: Future<Output = Result<Vec<Cruda<C, T>>>>,
    C: Clone,
{
    let (mut buenas, mut contadas, mut danadas) = (Vec::new(), 0u32, Vec::new());
    let mut cursor = inicio;
    while contadas < limite {
        let pedir = (limite - contadas).min(PAGINA_MAX);
        let filas = pagina(cursor.clone(), pedir).await?;
        let leidas = filas.len();
        for c in filas {
            cursor = c.cursor;
            match c.leida {
                Ok(t) => {
                    contadas += 1;
                    if guardar {
                        buenas.push(t);
                    }
                }
                Err(Error::Inconsistencia(motivo)) => danadas.push(FilaDanada {
                    entidad,
                    id: c.id,
                    motivo,
                }),
                Err(e) => return Err(e),
            }
        }
        if leidas < pedir as usize {
            break;
        }
    }
    Ok((buenas, danadas))
}

/// The rows of a listing that read back, in order; a row whose read is an
/// `Inconsistencia` is skipped with a warning naming `entidad` and its stored id (on
/// stderr through the log). Any other error ends the listing. For listings read whole
/// (reservations), not paged.
pub(crate) fn sin_danadas<T>(
    entidad: &'static str, filas: impl IntoIterator<Item = (String, Result<T>)>,
) -> Result<Vec<T>> {
    let mut buenas = Vec::new();
    for (id, leida) in filas {
        match leida {
            Ok(t) => buenas.push(t),
            Err(Error::Inconsistencia(motivo)) => tracing::warn!(
                "se omite {entidad} {id} del listado porque está dañada: {motivo}; `eventflow verificar` la informa"
            ),
            Err(e) => return Err(e),
        }
    }
    Ok(buenas)
}

/// A listing's page, its corrupt rows skipped with a warning (on stderr through the log).
pub(crate) async fn listar<C, T, F, Fut>(
    entidad: &'static str, limite: u32, inicio: C, pagina: F,
) -> Result<Vec<T>>
where
    F: FnMut(C, u32) -> Fut,
    Fut: Future<Output = Result<Vec<Cruda<C, T>>>>,
    C: Clone,
{
    let (buenas, danadas) = recorrer(entidad, limite, inicio, true, pagina).await?;
    for d in &danadas {
        tracing::warn!(
            "se omite el {} {} del listado porque está dañado: {}; `eventflow verificar` lo informa y `eventflow {}s eliminar {}` lo borra",
            d.entidad,
            d.id,
            d.motivo,
            d.entidad,
            d.id
        );
    }
    Ok(buenas)
}

/// Every corrupt row, for `verificar`.
pub(crate) async fn danadas<C, T, F, Fut>(
    entidad: &'static str, inicio: C, pagina: F,
) -> Result<Vec<FilaDanada>>
where
    F: FnMut(C, u32) -> Fut,
    Fut: Future<Output = Result<Vec<Cruda<C, T>>>>,
    C: Clone,
{
    Ok(recorrer(entidad, u32::MAX, inicio, false, pagina).await?.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows 0..n; the ones in `malas` do not parse.
    async fn pagina(desde: u32, n: u32, total: u32, malas: &[u32]) -> Result<Vec<Cruda<u32, u32>>> {
        Ok((desde..total)
            .take(n as usize)
            .map(|i| Cruda {
                cursor: i + 1,
                id: i.to_string(),
                leida: if malas.contains(&i) {
                    Err(Error::Inconsistencia(format!("fila {i} dañada")))
                } else {
                    Ok(i)
                },
            })
            .collect())
    }

    #[tokio::test]
    async fn una_fila_danada_se_salta_y_la_pagina_se_completa() {
        let malas = [1, 2];
        let (buenas, danadas) = recorrer("evento", 3, 0, true, |d, n| pagina(d, n, 10, &malas))
            .await
            .unwrap();
        assert_eq!(buenas, vec![0, 3, 4]);
        assert_eq!(danadas.len(), 2);
        assert_eq!(danadas[0].id, "1");
        let todas = super::danadas("evento", 0, |d, n| pagina(d, n, 3000, &[2500]))
            .await
            .unwrap();
        assert_eq!(todas.len(), 1);
        assert_eq!(todas[0].motivo, "fila 2500 dañada");
    }

    #[tokio::test]
    async fn otro_error_corta_el_listado() {
        let r: Result<(Vec<u32>, _)> = recorrer("usuario", 5, 0u32, true, |_, _| async {
            Err(Error::BackendCaido {
                backend: "SQLite",
                direccion: "x".into(),
                detalle: "y".into(),
            })
        })
        .await;
        assert_eq!(r.unwrap_err().exit_code(), 7);
    }
}
