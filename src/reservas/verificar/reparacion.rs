//! The repairs `verificar --reparar` applies, each through the saga's own guarded,
//! idempotent store operations, so a repair running beside live sales never undoes them.

use super::diagnostico::{Accion, Instantanea, cobro_restaurado};
use crate::domain::CambiosEvento;
use crate::error::{Error, Result};
use crate::reservas::Reservador;
use crate::reservas::compensar::tomar_y_deshacer;
use crate::store::Reclamo;

pub(super) async fn aplicar(r: &Reservador, s: &Instantanea, accion: &Accion) -> Result<String> {
    let alm = &r.almacen;
    let e = &s.evento_id;
    Ok(match accion {
        Accion::Compensar(id) => match tomar_y_deshacer(r, id, &Reclamo::Vencida, None).await? {
            Some(_) => format!("compensada la compra {id}"),
            None => format!("la compra {id} ya la estaba terminando otro proceso"),
        },
        Accion::Reembolsar(id) => {
            let reg = s
                .registros
                .iter()
                .find(|reg| &reg.reserva.id == id)
                .ok_or_else(|| Error::no_encontrado("reserva", id))?;
            let c = r.pasarela.reembolsar(reg).await?;
            format!(
                "reembolsado el cobro huérfano de la reserva {id} ({} en unidades mínimas)",
                c.map_or(0, |c| c.importe)
            )
        }
        Accion::AlinearAforo(Some(a)) => {
            let anterior = s
                .evento
                .as_ref()
                .map(|ev| ev.aforo_total)
                .ok_or_else(|| Error::no_encontrado("evento", e))?;
            let cambios = CambiosEvento {
                aforo: Some(*a),
                ..CambiosEvento::default()
            };
            alm.eventos.actualizar(e, cambios, anterior).await?;
            format!("aforo_total del evento {e}: {anterior} → {a}, como en el almacén de reservas")
        }
        Accion::AlinearAforo(None) => {
            let a = s
                .evento
                .as_ref()
                .map(|ev| ev.aforo_total)
                .ok_or_else(|| Error::no_encontrado("evento", e))?;
            alm.reservas.ajustar_aforo(e, a, a).await?;
            format!("el almacén de reservas guarda ahora el aforo {a} del evento {e}")
        }
        Accion::Restaurar(reg) => {
            alm.reservas
                .restaurar(reg, Some(&cobro_restaurado(reg)))
                .await?;
            format!(
                "restaurado el registro de la compra confirmada {}",
                reg.reserva.id
            )
        }
        Accion::FijarContador(v) => {
            let antes = s.contador;
            if !alm.reservas.fijar_contador(e, antes, *v).await? {
                return Ok(format!(
                    "el contador del evento {e} cambió durante la reparación (hay ventas en curso); se vuelve a calcular"
                ));
            }
            match antes {
                Some(a) => format!("contador del evento {e}: {a} → {v}"),
                None => format!("contador del evento {e} recreado con {v}"),
            }
        }
        Accion::AplicarVenta(id, n) => {
            alm.eventos.aplicar_venta(e, id, *n).await?;
            format!("añadida la venta {id} al evento {e}")
        }
        Accion::RevertirVenta(id, n) => {
            alm.eventos.revertir_venta(e, id, *n).await?;
            format!("quitada la venta {id} del evento {e}")
        }
        Accion::FijarModeloLectura {
            disponibles,
            activas,
        } => {
            alm.eventos
                .fijar_modelo_lectura(e, *disponibles, activas)
                .await?;
            format!(
                "modelo de lectura del evento {e}: entradas_disponibles = {disponibles}, {} reservas activas",
                activas.len()
            )
        }
        Accion::RegistrarCompra(u, c) => {
            alm.usuarios.registrar_compra(u, c).await?;
            format!(
                "añadida la compra {} al historial del usuario {u}",
                c.reserva_id
            )
        }
        Accion::QuitarCompra(u, id) => {
            alm.usuarios.quitar_compra(u, id).await?;
            format!("quitada la compra {id} del historial del usuario {u}")
        }
    })
}
