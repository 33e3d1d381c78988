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

pub const EJEMPLOS: &str = "\
Ejemplos:
  eventflow usuarios crear --nombre Ana --apellido Gil --email ana@example.com
  eventflow usuarios listar
  eventflow usuarios historial $USUARIO
  eventflow usuarios importar usuarios.csv";

#[derive(Debug, Subcommand)]
pub enum Accion {
    /// Crea un usuario.
    #[command(after_help = "\
Ejemplos:
  eventflow usuarios crear --nombre Ana --apellido Gil --email ana@example.com
  eventflow usuarios crear --nombre Luis --apellido Paz --email luis@example.com --tipo-documento DNI --nro-documento 30111222
  # Para scripts: el id del usuario creado
  eventflow -o json usuarios crear --nombre Eva --apellido Sanz --email eva@example.com | jq -r .id")]
    Crear {
        /// Nombre de pila.
        #[arg(long, value_parser = nombre)]
        nombre: Texto,
        /// Apellido o apellidos.
        #[arg(long, value_parser = apellido)]
        apellido: Texto,
        /// Dirección de correo, única entre los usuarios.
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
    #[command(after_help = "\
Ejemplos:
  eventflow usuarios ver 65f1c2a4e1b2c3d4e5f6a7b8
  eventflow -o json usuarios ver $USUARIO")]
    Ver {
        /// Id del usuario (24 dígitos hexadecimales, como lo muestra `listar`).
        id: UsuarioId,
    },
    /// Lista usuarios por orden de alta.
    #[command(after_help = "\
Ejemplos:
  eventflow usuarios listar
  # La página siguiente empieza tras el último id mostrado
  eventflow usuarios listar --limite 50 --despues-de $ULTIMO_ID
  eventflow -o csv usuarios listar > usuarios.csv")]
    Listar {
        /// Máximo de usuarios a mostrar.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        limite: u32,
        /// Continúa tras este id (paginación).
        #[arg(long)]
        despues_de: Option<UsuarioId>,
    },
    /// Cambia los campos indicados de un usuario.
    #[command(after_help = "\
Ejemplos:
  eventflow usuarios actualizar $USUARIO --email ana.gil@example.com
  eventflow usuarios actualizar $USUARIO --tipo-documento PASAPORTE --nro-documento X1234567")]
    Actualizar {
        /// Id del usuario a cambiar.
        id: UsuarioId,
        /// Nuevo nombre de pila.
        #[arg(long, value_parser = nombre)]
        nombre: Option<Texto>,
        /// Nuevo apellido.
        #[arg(long, value_parser = apellido)]
        apellido: Option<Texto>,
        /// Nuevo email (no puede tenerlo otro usuario).
        #[arg(long)]
        email: Option<Email>,
        /// Nuevo tipo de documento; requiere --nro-documento.
        #[arg(long, requires = "nro_documento")]
        tipo_documento: Option<TipoDocumento>,
        /// Nuevo número de documento; requiere --tipo-documento.
        #[arg(long, requires = "tipo_documento")]
        nro_documento: Option<NroDocumento>,
    },
    /// Elimina un usuario sin compras.
    #[command(after_help = "\
Ejemplos:
  eventflow usuarios eliminar $USUARIO")]
    Eliminar {
        /// Id del usuario a eliminar.
        id: UsuarioId,
    },
    /// Muestra el historial de compras de un usuario.
    #[command(after_help = "\
Ejemplos:
  eventflow usuarios historial $USUARIO
  eventflow -o csv usuarios historial $USUARIO > compras.csv")]
    Historial {
        /// Id del usuario.
        id: UsuarioId,
    },
    /// Importa usuarios de un archivo CSV, JSON Lines o JSON.
    #[command(after_help = "\
Ejemplos:
  # CSV con cabecera: nombre,apellido,email[,tipo_documento,nro_documento]
  eventflow usuarios importar usuarios.csv
  eventflow usuarios importar usuarios.jsonl --modo upsert --rechazos rechazados.jsonl
  # Validar sin escribir nada
  eventflow usuarios importar usuarios.csv --dry-run
  cat usuarios.jsonl | eventflow usuarios importar - --formato jsonl")]
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
        Accion::Ver { id } => output::uno(f, &ctx.almacen().await?.usuarios.ver(&id).await?),
        Accion::Listar { limite, despues_de } => {
            let l = ctx
                .almacen()
                .await?
                .usuarios
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
            let u = ctx.almacen().await?.usuarios.ver(&id).await?;
            output::lista(f, &u.historial_compras)
        }
        Accion::Importar(args) => {
            crate::cli::importar::run(crate::import::Entidad::Usuarios, args, ctx).await
        }
    }
}
