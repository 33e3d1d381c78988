//! `eventflow tokens crear|listar|revocar`: API tokens for the REST front. `crear`
//! prints the secret once (it is stored only as a hash); `listar` never shows secrets.

use clap::Subcommand;
use serde::Serialize;

use crate::cli::ayuda::ConValores;
use crate::cli::output::{self, Columna, Fila};
use crate::cli::pagina::{self, ArgsPagina};
use crate::cli::{Ctx, OutputFormat};
use crate::domain::{EventoId, Fecha, NuevoToken, Permiso, Permisos, Texto, Token, TokenId};
use crate::error::Result;

pub const EJEMPLOS: &str = "\
Ejemplos:
  eventflow tokens crear --nombre tienda --permisos eventos:leer,reservas:crear
  eventflow tokens listar
  eventflow tokens revocar $TOKEN";

#[derive(Debug, Subcommand)]
pub enum Accion {
    /// Crea un token e imprime su secreto (ef_…) una sola vez.
    #[command(after_help = "\
Ejemplos:
  eventflow tokens crear --nombre tienda --permisos eventos:leer,reservas:crear
  # Solo para un evento y con caducidad
  eventflow tokens crear --nombre taquilla --permisos reservas:crear,reservas:leer --eventos $EVENTO --expira 2026-12-31T23:59:59Z
  eventflow tokens crear --nombre operaciones --permisos admin")]
    Crear {
        /// Para qué o para quién es (p. ej. tienda).
        #[arg(long, value_parser = |s: &str| Texto::parse("nombre", s))]
        nombre: Texto,
        /// Permisos separados por comas: eventos:leer, eventos:escribir, usuarios:leer,
        /// usuarios:escribir, reservas:crear, reservas:leer, reservas:cancelar, admin.
        #[arg(long, value_parser = ConValores::new(Permisos::parse, Permiso::TODOS.map(Permiso::as_str)))]
        permisos: Permisos,
        /// Limita el token a estos eventos (ids separados por comas) para comprar, leer
        /// y cancelar reservas y modificar eventos.
        #[arg(long, value_delimiter = ',')]
        eventos: Vec<EventoId>,
        /// Fecha de caducidad, RFC 3339 (p. ej. 2026-12-31T23:59:59Z).
        #[arg(long)]
        expira: Option<Fecha>,
    },
    /// Lista los tokens (sin sus secretos), revocados y caducados incluidos.
    #[command(after_help = "\
Ejemplos:
  eventflow tokens listar
  eventflow -o json tokens listar --todos")]
    Listar(#[command(flatten)] ArgsPagina<TokenId>),
    /// Revoca un token: deja de valer en la siguiente petición.
    #[command(after_help = "\
Ejemplos:
  eventflow tokens revocar $TOKEN")]
    Revocar {
        /// Id del token (no su secreto), como lo muestra `tokens listar`.
        id: TokenId,
    },
}

/// A token just made, with its secret: the only time the secret is shown.
#[derive(Serialize)]
struct TokenCreado {
    #[serde(flatten)]
    token: Token,
    secreto: String,
}

/// The columns of a token, shared by `Token` and `TokenCreado`.
const TOKEN: [Columna; 7] = [
    Columna::fija("id"),
    Columna::texto("nombre"),
    Columna::lista("permisos").prescindible(2),
    Columna::lista("eventos").prescindible(4),
    Columna::fija("creado").prescindible(3),
    Columna::fija("expira").prescindible(1),
    Columna::fija("revocado"),
];

impl Fila for Token {
    fn columnas() -> &'static [Columna] {
        &TOKEN
    }
}

impl Fila for TokenCreado {
    fn columnas() -> &'static [Columna] {
        const C: &[Columna] = &[
            TOKEN[0],
            TOKEN[1],
            TOKEN[2],
            TOKEN[3],
            TOKEN[4],
            TOKEN[5],
            TOKEN[6],
            Columna::fija("secreto"),
        ];
        C
    }
}

pub async fn run(accion: Accion, ctx: &Ctx) -> Result<()> {
    let f = ctx.formato;
    let alm = ctx.almacen().await?;
    match accion {
        Accion::Crear {
            nombre,
            permisos,
            eventos,
            expira,
        } => {
            let nuevo = NuevoToken {
                nombre,
                permisos,
                eventos,
                expira,
            };
            let (token, secreto) = crate::casos::tokens::crear(alm, nuevo).await?;
            let creado = TokenCreado {
                token,
                secreto: secreto.exponer().to_owned(),
            };
            output::uno(f, &creado)?;
            if f == OutputFormat::Table {
                output::aviso(
                    "guarde el secreto ahora: no se puede volver a mostrar (solo se guarda su hash)",
                );
            }
            Ok(())
        }
        Accion::Listar(args) => {
            pagina::listar(
                f,
                args,
                "tokens",
                |despues, n| async move { alm.tokens.listar(n, despues.as_ref()).await },
                |t: &Token| t.id.clone(),
            )
            .await
        }
        Accion::Revocar { id } => {
            let t = alm.tokens.revocar(&id, Fecha::ahora()).await?;
            output::uno(f, &t)
        }
    }
}
