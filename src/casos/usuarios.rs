//! Users live in the document store, but their purchases in flight live in the
//! reservation store: deleting one checks the other first.

use crate::domain::UsuarioId;
use crate::error::{Error, Result};
use crate::store::Almacen;

/// Deletes a user, refusing (`Conflicto`, exit 4) while they have a purchase in flight,
/// which is named. A purchase that starts after the check and reaches its history step
/// finds the user gone and is compensated whole, as any failed purchase.
pub async fn eliminar(alm: &Almacen, id: &UsuarioId) -> Result<()> {
    // The user is not read: a damaged row must still be removable by id.
    if let Some(reserva) = alm.reservas.en_curso_de_usuario(id).await? {
        return Err(Error::Conflicto(format!(
            "el usuario {id} tiene la compra {reserva} en curso; espere a que termine (o a que \
             `eventflow compensar` la deshaga si quedó colgada) y vuelva a intentarlo"
        )));
    }
    alm.usuarios.eliminar(id).await
}
