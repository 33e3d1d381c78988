//! `eventflow usuarios …`: create, read, list, update and delete users, and show a
//! user's purchase history.

use clap::Subcommand;

use crate::cli::{Ctx, output};
use crate::domain::{
    CambiosUsuario, Documento, Email, NroDocumento, NuevoUsuario, ParseError, Texto, TipoDocumento,
    UsuarioId,
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
    /// Muestra un usuario.
    Ver { id: UsuarioId },
    /// Lista usuarios por orden de alta.
    Listar {
        /// Máximo de usuarios a mostrar.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        limite: u32,
        /// Continúa tras este id (paginación).
        #[arg(long)]
        despues_de: Option<UsuarioId>,
    },
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
    Historial { id: UsuarioId },
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
        Accion::Ver { id } => output::uno(f, &ctx.almacen().await?.usuarios_ap.ver(&id).await?),
        Accion::Listar { limite, despues_de } => {
            let l = ctx
                .almacen()
                .await?
                .usuarios_ap
                .listar(limite, despues_de.as_ref())
                .await?;
            output::lista(f, &l)
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
            if f == output::Formato::Json {
                output::informe(f, &serde_json::json!({"id": id, "eliminado": true}), &[])?;
            }
            Ok(())
        }
        Accion::Historial { id } => {
            let u = ctx.almacen().await?.usuarios_ap.ver(&id).await?;
            output::lista(f, &u.historial_compras)
        }
        Accion::Importar(args) => {
            crate::cli::importar::run(crate::import::Entidad::Usuarios, args, ctx).await
        }
    }
}
