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
    /// Muestra un usuario, por id o por email.
    #[command(after_help = "\
Ejemplos:
  eventflow usuarios ver 65f1c2a4e1b2c3d4e5f6a7b8
  eventflow usuarios ver --email ana@example.com
  eventflow -o json usuarios ver $USUARIO")]
    #[command(group(clap::ArgGroup::new("quien").required(true).args(["id", "email"])))]
    Ver {
        /// Id del usuario (24 dígitos hexadecimales, como lo muestra `listar`).
        id: Option<UsuarioId>,
        /// Busca el usuario por su email en lugar de por id.
        #[arg(long)]
        email: Option<Email>,
    },
    /// Lista usuarios por orden de alta.
    #[command(after_help = "\
Ejemplos:
  eventflow usuarios listar
  # La página siguiente empieza tras el último id mostrado
  eventflow usuarios listar --limite 50 --despues-de $ULTIMO_ID
  # Todos, aunque sean millones, sin cargarlos en memoria
  eventflow -o csv usuarios listar --todos > usuarios.csv")]
    Listar(#[command(flatten)] ArgsPagina<UsuarioId>),
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
        #[command(flatten)]
        pagina: ArgsPagina<ReservaId>,
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

/// Runs one `usuarios` action.
pub async fn run(accion: Accion, ctx: &Ctx) -> Result<()> {
    match accion {
        Accion::Crear {
            nombre,
            apellido,
            email,
            tipo_documento,
            nro_documento,
        } => {
            let documento = Documento::from_partes(tipo_documento, nro_documento)?;
            let nuevo = NuevoUsuario {
                nombre,
                apellido,
                email,
                documento,
            };
            crear(nuevo, ctx).await
        }
        Accion::Ver { id, email } => ver(id, email, ctx).await,
        Accion::Listar(args) => listar(args, ctx).await,
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
            actualizar(&id, cambios, ctx).await
        }
        Accion::Eliminar { id } => eliminar(&id, ctx).await,
        Accion::Historial { id, pagina: args } => historial(&id, args, ctx).await,
        Accion::Importar(args) => {
            crate::cli::importar::run(crate::import::Entidad::Usuarios, args, ctx).await
        }
    }
}

/// `usuarios crear`: prints the user created.
async fn crear(nuevo: NuevoUsuario, ctx: &Ctx) -> Result<()> {
    let u = ctx.almacen().await?.usuarios.crear(nuevo).await?;
    output::uno(ctx.formato, &u)
}

/// `usuarios ver`: by id, or by email (clap asks for one of them).
async fn ver(id: Option<UsuarioId>, email: Option<Email>, ctx: &Ctx) -> Result<()> {
    let alm = ctx.almacen().await?;
    let u = match (id, email) {
        (Some(id), _) => alm.usuarios_ap.ver(&id).await?,
        (None, Some(email)) => alm
            .usuarios_ap
            .por_email(&email)
            .await?
            .ok_or_else(|| Error::no_encontrado("usuario con el email", &email))?,
        (None, None) => unreachable!("clap pide el id o --email"),
    };
    output::uno(ctx.formato, &u)
}

/// `usuarios listar`: page by page, in order of creation.
async fn listar(args: ArgsPagina<UsuarioId>, ctx: &Ctx) -> Result<()> {
    let alm = ctx.almacen().await?;
    pagina::listar(
        ctx.formato,
        args,
        "usuarios",
        |despues, n| async move { alm.usuarios_ap.listar(n, despues.as_ref()).await },
        |u: &Usuario| u.id.clone(),
    )
    .await
}

/// `usuarios actualizar`: refuses (`Invalido`) a change of nothing, before connecting.
async fn actualizar(id: &UsuarioId, cambios: CambiosUsuario, ctx: &Ctx) -> Result<()> {
    if cambios.es_vacio() {
        return Err(Error::Invalido(
            "no hay nada que actualizar: indique al menos un campo (por ejemplo --email)".into(),
        ));
    }
    let u = ctx
        .almacen()
        .await?
        .usuarios
        .actualizar(id, cambios)
        .await?;
    output::uno(ctx.formato, &u)
}

/// `usuarios eliminar`: a notice on stderr, the id for scripts.
async fn eliminar(id: &UsuarioId, ctx: &Ctx) -> Result<()> {
    crate::casos::usuarios::eliminar(ctx.almacen().await?, id).await?;
    output::aviso(&format!("usuario {id} eliminado"));
    output::eliminado(ctx.formato, id.as_str())
}

/// `usuarios historial`: the user's purchases, page by page.
async fn historial(id: &UsuarioId, args: ArgsPagina<ReservaId>, ctx: &Ctx) -> Result<()> {
    // The history is part of the user's document: it is read whole and paged here.
    let u = ctx.almacen().await?.usuarios_ap.ver(id).await?;
    let compras = &u.historial_compras;
    pagina::listar(
        ctx.formato,
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
