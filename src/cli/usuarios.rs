//! `eventflow usuarios …`: create, read, list, update and delete users, and show a
//! user's purchase history.

use clap::Subcommand;

use crate::cli::pagina::{self, ArgsPagina};
use crate::cli::{Ctx, output};
use crate::domain::{
    CambiosUsuario, Compra, Documento, Email, NroDocumento, NuevoUsuario, ParseError, ReservaId,
    Texto, TipoDocumento, Usuario, UsuarioId,
};
use crate::error::{Error, Result};

pub(crate) fn nombre(s: &str) -> Result<Texto, ParseError> {
    Texto::parse("nombre", s)
}
pub(crate) fn apellido(s: &str) -> Result<Texto, ParseError> {
    Texto::parse("apellido", s)
}

#[derive(Debug, Subcommand)]
pub enum Accion {
    /// Crea un usuario.
    Crear {
        #[arg(long, value_parser = nombre)]
        nombre: Texto,
        #[arg(long, value_parser = apellido)]
        apellido: Texto,
        #[arg(long)]
        email: Email,
        /// Tipo de documento (DNI, PASAPORTE, …); requiere --nro-documento.
        #[arg(long, requires = "nro_documento")]
        tipo_documento: Option<TipoDocumento>,
        /// Número de documento; requiere --tipo-documento.
        #[arg(long, requires = "tipo_documento")]
        nro_documento: Option<NroDocumento>,
    },
    /// Muestra un usuario, por id o por email.
    Ver {
        #[arg(required_unless_present = "email")]
        id: Option<UsuarioId>,
        /// Busca el usuario por su email en lugar de por id.
        #[arg(long, conflicts_with = "id")]
        email: Option<Email>,
    },
    /// Lista usuarios por orden de alta.
    Listar(#[command(flatten)] ArgsPagina<UsuarioId>),
    /// Cambia los campos indicados de un usuario.
    Actualizar {
        id: UsuarioId,
        #[arg(long, value_parser = nombre)]
        nombre: Option<Texto>,
        #[arg(long, value_parser = apellido)]
        apellido: Option<Texto>,
        #[arg(long)]
        email: Option<Email>,
        #[arg(long, requires = "nro_documento")]
        tipo_documento: Option<TipoDocumento>,
        #[arg(long, requires = "tipo_documento")]
        nro_documento: Option<NroDocumento>,
    },
    /// Elimina un usuario sin compras.
    Eliminar { id: UsuarioId },
    /// Muestra el historial de compras de un usuario.
    Historial {
        id: UsuarioId,
        #[command(flatten)]
        pagina: ArgsPagina<ReservaId>,
    },
    /// Importa usuarios de un archivo CSV, JSON Lines o JSON.
    Importar(crate::cli::importar::ArgsImportar),
}

pub async fn run(accion: Accion, ctx: &Ctx) -> Result<()> {
    let f = ctx.formato;
    match accion {
        Accion::Crear {
            nombre,
            apellido,
            email,
            tipo_documento,
            nro_documento,
        } => {
            let documento = Documento::from_partes(tipo_documento, nro_documento)?;
            let u = ctx
                .almacen()
                .await?
                .usuarios
                .crear(NuevoUsuario {
                    nombre,
                    apellido,
                    email,
                    documento,
                })
                .await?;
            output::uno(f, &u)
        }
        Accion::Ver { id, email } => {
            let alm = ctx.almacen().await?;
            let u = match (id, email) {
                (Some(id), _) => alm.usuarios.ver(&id).await?,
                (None, Some(email)) => alm
                    .usuarios
                    .por_email(&email)
                    .await?
                    .ok_or_else(|| Error::no_encontrado("usuario con el email", &email))?,
                (None, None) => unreachable!("clap pide el id o --email"),
            };
            output::uno(f, &u)
        }
        Accion::Listar(args) => {
            let alm = ctx.almacen().await?;
            pagina::listar(
                f,
                args,
                "usuarios",
                |despues, n| async move { alm.usuarios.listar(n, despues.as_ref()).await },
                |u: &Usuario| u.id.clone(),
            )
            .await
        }
        Accion::Actualizar {
            id,
            nombre,
            apellido,
            email,
            tipo_documento,
            nro_documento,
        } => {
            let cambios = CambiosUsuario {
                nombre,
                apellido,
                email,
                documento: Documento::from_partes(tipo_documento, nro_documento)?,
            };
            if cambios.es_vacio() {
                return Err(Error::Invalido(
                    "no hay nada que actualizar: indique al menos un campo (por ejemplo --email)"
                        .into(),
                ));
            }
            let u = ctx
                .almacen()
                .await?
                .usuarios
                .actualizar(&id, cambios)
                .await?;
            output::uno(f, &u)
        }
        Accion::Eliminar { id } => {
            crate::servicios::usuarios::eliminar(ctx.almacen().await?, &id).await?;
            output::aviso(&format!("usuario {id} eliminado"));
            output::eliminado(f, id.as_str())
        }
        Accion::Historial { id, pagina: args } => {
            // The history is part of the user's document: it is read whole and paged here.
            let u = ctx.almacen().await?.usuarios.ver(&id).await?;
            let compras = &u.historial_compras;
            pagina::listar(
                f,
                args,
                "compras",
                |despues, n| {
                    let p = pagina::en_memoria(compras, despues.as_ref(), n, |c: &Compra| {
                        c.reserva_id.clone()
                    });
                    async move { Ok(p) }
                },
                |c: &Compra| c.reserva_id.clone(),
            )
            .await
        }
        Accion::Importar(args) => {
            crate::cli::importar::run(crate::import::Entidad::Usuarios, args, ctx).await
        }
    }
}
