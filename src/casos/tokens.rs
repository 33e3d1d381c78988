//! API tokens: making one (its secret is returned once and only its hash is stored) and
//! telling whether a presented secret is a live token. The CLI makes and revokes them;
//! the REST API authenticates with them.

use crate::domain::{Fecha, NuevoToken, Secreto, Token, TokenId};
use crate::error::{Error, Result};
use crate::store::Almacen;

/// Stores a new token and returns it with its secret, which exists nowhere else.
/// Every event it is limited to must exist.
pub async fn crear(alm: &Almacen, nuevo: NuevoToken) -> Result<(Token, Secreto)> {
    for e in &nuevo.eventos {
        alm.eventos.ver(e).await?;
    }
    let ahora = Fecha::ahora();
    if let Some(expira) = nuevo.expira
        && expira <= ahora
    {
        return Err(Error::Invalido(format!(
            "la fecha de caducidad {expira} ya pasó; indique una fecha futura con --expira"
        )));
    }
    let id = TokenId::generar();
    let secreto = Secreto::generar(&id);
    let token = Token {
        id,
        nombre: nuevo.nombre,
        permisos: nuevo.permisos,
        eventos: nuevo.eventos,
        // Stored as milliseconds: keep what is returned equal to what is read back.
        creado: Fecha::from_millis(ahora.millis()),
        expira: nuevo.expira,
        revocado: None,
    };
    alm.tokens.crear(&token, &secreto.huella()).await?;
    Ok((token, secreto))
}

/// Why a presented secret does not authenticate. None of them repeats the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rechazo {
    /// Not of the form `ef_<id>_<hex>`.
    Malformado,
    /// No token has that id, or the secret is not its secret.
    Desconocido,
    /// Revoked or expired (`motivo`), with the token's id for the log.
    Inactivo { id: TokenId, motivo: &'static str },
}

/// The live token whose secret is `raw`, or why there is none. The hash comparison is
/// constant-time; the lookup is by the id the secret carries, never by the secret.
pub async fn autenticar(
    alm: &Almacen, raw: &str, ahora: Fecha,
) -> Result<std::result::Result<Token, Rechazo>> {
    let Ok(secreto) = Secreto::parse(raw) else {
        return Ok(Err(Rechazo::Malformado));
    };
    let Some((token, huella)) = alm.tokens.buscar(&secreto.id()).await? else {
        return Ok(Err(Rechazo::Desconocido));
    };
    if !secreto.coincide(&huella) {
        return Ok(Err(Rechazo::Desconocido));
    }
    if let Some(motivo) = token.inactivo(ahora) {
        return Ok(Err(Rechazo::Inactivo {
            id: token.id,
            motivo,
        }));
    }
    Ok(Ok(token))
}
