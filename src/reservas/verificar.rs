//! `verificar`: checks, per event, that no seat is lost or double sold and that the
//! MongoDB read model agrees with the confirmed purchases; `--reparar` brings the stores
//! back into agreement. Diagnosis is a pure function of a snapshot, so it is unit-tested
//! without servers; repairs are the same idempotent operations the saga uses.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::Reservador;
use super::compensar::tomar_y_deshacer;
use crate::domain::{
    Aforo, CambiosEvento, Compra, Estado, Evento, EventoId, Fecha, ReservaId, UsuarioId,
};
use crate::error::{Error, Result};
use crate::store::{Cobro, Fase, Paso, Reclamo, RegistroSaga};

/// The result for one event.
#[derive(Debug, Clone, Serialize)]
pub struct InformeEvento {
    pub evento_id: EventoId,
    pub aforo_total: Option<u32>,
    /// The live seat counter.
    pub contador: Option<i64>,
    /// Seats held by purchases in flight (`pendiente`).
    pub retenidas: i64,
    /// Seats of confirmed purchases.
    pub vendidas: i64,
    /// Purchases still in flight (not expired).
    pub en_curso: usize,
    /// The money of the event's finished purchases, in minor units: approved charges,
    /// what of them was refunded, and the `importe` of the confirmed purchases. The money
    /// invariant is `cobrado - reembolsado = importe_confirmado`.
    pub cobrado: i64,
    pub reembolsado: i64,
    pub importe_confirmado: i64,
    pub problemas: Vec<String>,
    /// What `--reparar` changed.
    pub reparaciones: Vec<String>,
    pub consistente: bool,
}

/// Everything `verificar` reads about one event, at about the same moment.
#[derive(Debug, Clone)]
pub struct Instantanea {
    pub evento_id: EventoId,
    pub evento: Option<Evento>,
    pub contador: Option<i64>,
    /// The capacity the reservation store accounts seats against.
    pub aforo_reservas: Option<Aforo>,
    pub registros: Vec<RegistroSaga>,
    pub cobros: Vec<Cobro>,
    pub compras: Vec<(UsuarioId, Compra)>,
    pub ahora: Fecha,
}

/// One repair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accion {
    Compensar(ReservaId),
    /// Refunds an approved charge whose purchase ended without a sale.
    Reembolsar(ReservaId),
    /// Brings the event's `aforo_total` to the reservation store's capacity (`Some`), or
    /// records the event's capacity in a reservation store that lacks it (`None`).
    AlinearAforo(Option<Aforo>),
    Restaurar(Box<RegistroSaga>),
    FijarContador(i64),
    AplicarVenta(ReservaId, crate::domain::Entradas),
    RevertirVenta(ReservaId, crate::domain::Entradas),
    FijarModeloLectura {
        disponibles: i64,
        activas: Vec<ReservaId>,
    },
    RegistrarCompra(UsuarioId, Compra),
    QuitarCompra(UsuarioId, ReservaId),
}

/// Diagnoses a snapshot: the problems found and the repairs that fix them. Compensations
/// and restored records come first and alone, because they change what the rest expects.
pub fn diagnosticar(s: &Instantanea) -> (Vec<String>, Vec<Accion>, Resumen) {
    let mut problemas = Vec::new();
    let mut acciones = Vec::new();
    let e = &s.evento_id;
    let Some(evento) = &s.evento else {
        if s.contador.is_some()
            || s.registros
                .iter()
                .any(|r| r.reserva.estado.retiene_entradas())
        {
            problemas.push(format!(
                "el evento {e} no existe en el almacén de eventos pero tiene contador o reservas en el de reservas"
            ));
        }
        return (problemas, acciones, Resumen::default());
    };
    let aforo = i64::from(evento.aforo_total.get());
    let por_id: BTreeMap<&ReservaId, &RegistroSaga> =
        s.registros.iter().map(|r| (&r.reserva.id, r)).collect();

    // 0. Both stores must agree on the capacity before seats can be counted against it.
    //    The reservation store's moved together with its counter, so it wins: a capacity
    //    change that stopped half way is rolled forward.
    if s.aforo_reservas != Some(evento.aforo_total) {
        problemas.push(match s.aforo_reservas {
            Some(a) => format!(
                "el aforo del evento {e} es {a} en el almacén de reservas y {aforo} en el de eventos (un cambio de aforo quedó a medias)"
            ),
            None => format!("el almacén de reservas no guarda el aforo del evento {e}"),
        });
        acciones.push(Accion::AlinearAforo(s.aforo_reservas));
        return (problemas, acciones, Resumen::de(&s.registros, s.ahora));
    }

    // 1. Purchases left half done whose hold ran out.
    let vencidas: Vec<&RegistroSaga> = s
        .registros
        .iter()
        .filter(|r| r.en_curso() && r.expira < s.ahora)
        .collect();
    if !vencidas.is_empty() {
        problemas.push(format!(
            "{} compra(s) a medio terminar con la retención vencida: {} (eventflow compensar las termina)",
            vencidas.len(),
            lista(vencidas.iter().map(|r| &r.reserva.id))
        ));
        acciones.extend(
            vencidas
                .iter()
                .map(|r| Accion::Compensar(r.reserva.id.clone())),
        );
    }

    // 2. Confirmed purchases MongoDB knows of but the reservation store lost.
    for (usuario, compra) in &s.compras {
        if !por_id.contains_key(&compra.reserva_id) {
            problemas.push(format!(
                "la compra {} del usuario {usuario} está en su historial pero no en el almacén de reservas",
                compra.reserva_id
            ));
            acciones.push(Accion::Restaurar(Box::new(registro_restaurado(
                evento, usuario, compra,
            ))));
        }
    }
    let mut resumen = Resumen::de(&s.registros, s.ahora);
    if !acciones.is_empty() {
        return (problemas, acciones, resumen);
    }
    dinero(s, &por_id, &mut resumen, &mut problemas, &mut acciones);

    // 3. The seat invariant: aforo_total = counter + held + sold.
    let esperado = aforo - resumen.retenidas - resumen.vendidas;
    match s.contador {
        None => {
            problemas.push(format!(
                "falta el contador de entradas del evento {e} (debería valer {esperado})"
            ));
            acciones.push(Accion::FijarContador(esperado));
        }
        Some(c) if c != esperado => {
            problemas.push(format!(
                "aforo_total {aforo} ≠ contador {c} + retenidas {} + vendidas {} (el contador debería valer {esperado})",
                resumen.retenidas, resumen.vendidas
            ));
            acciones.push(Accion::FijarContador(esperado));
        }
        Some(_) => {}
    }

    // 4. The event's read model against the finished confirmed purchases. Purchases
    //    still in flight may or may not be in it yet.
    let terminadas: BTreeMap<&ReservaId, &RegistroSaga> = s
        .registros
        .iter()
        .filter(|r| r.reserva.estado == Estado::Confirmada && r.terminada)
        .map(|r| (&r.reserva.id, r))
        .collect();
    let en_vuelo: BTreeSet<&ReservaId> = s
        .registros
        .iter()
        .filter(|r| r.reserva.estado == Estado::Confirmada && !r.terminada)
        .map(|r| &r.reserva.id)
        .collect();
    let activas: BTreeSet<&ReservaId> = evento.reservas_activas.iter().collect();
    let faltan: Vec<&&RegistroSaga> = terminadas
        .iter()
        .filter(|(id, _)| !activas.contains(*id))
        .map(|(_, r)| r)
        .collect();
    let sobran: Vec<&ReservaId> = activas
        .iter()
        .filter(|id| !terminadas.contains_key(*id) && !en_vuelo.contains(*id))
        .copied()
        .collect();
    if !faltan.is_empty() {
        problemas.push(format!(
            "reservas_activas del evento {e} no incluye {} compra(s) confirmada(s): {}",
            faltan.len(),
            lista(faltan.iter().map(|r| &r.reserva.id))
        ));
    }
    if !sobran.is_empty() {
        problemas.push(format!(
            "reservas_activas del evento {e} incluye {} reserva(s) no confirmada(s): {}",
            sobran.len(),
            lista(sobran.iter().copied())
        ));
    }
    // Set differences are repaired with the saga's own guarded, idempotent updates, so a
    // repair running beside live sales never overwrites them.
    for r in &faltan {
        acciones.push(Accion::AplicarVenta(
            r.reserva.id.clone(),
            r.reserva.entradas,
        ));
    }
    let mut sin_registro = false;
    for id in &sobran {
        match por_id.get(id) {
            Some(r) => acciones.push(Accion::RevertirVenta((*id).clone(), r.reserva.entradas)),
            None => sin_registro = true,
        }
    }
    let vendidas_modelo: i64 = activas
        .iter()
        .filter_map(|id| por_id.get(id))
        .map(|r| i64::from(r.reserva.entradas.get()))
        .sum();
    let disponibles_esperadas = aforo - vendidas_modelo;
    if faltan.is_empty()
        && sobran.is_empty()
        && evento.entradas_disponibles != disponibles_esperadas
    {
        problemas.push(format!(
            "entradas_disponibles del evento {e} vale {} y debería valer {disponibles_esperadas}",
            evento.entradas_disponibles
        ));
    }
    if sin_registro
        || (faltan.is_empty()
            && sobran.is_empty()
            && evento.entradas_disponibles != disponibles_esperadas)
    {
        // Only a read model edited by hand gets here: rebuild it whole.
        let mut activas: Vec<ReservaId> = terminadas.keys().map(|id| (*id).clone()).collect();
        activas.extend(
            en_vuelo
                .iter()
                .filter(|id| evento.reservas_activas.contains(id))
                .map(|id| (*id).clone()),
        );
        let vendidas: i64 = activas
            .iter()
            .filter_map(|id| por_id.get(id))
            .map(|r| i64::from(r.reserva.entradas.get()))
            .sum();
        acciones.push(Accion::FijarModeloLectura {
            disponibles: aforo - vendidas,
            activas,
        });
    }

    // 5. The users' histories.
    let mut historiales: BTreeMap<&ReservaId, Vec<(&UsuarioId, &Compra)>> = BTreeMap::new();
    for (u, c) in &s.compras {
        historiales.entry(&c.reserva_id).or_default().push((u, c));
    }
    for (id, r) in &terminadas {
        let esperada = r.compra();
        let ok = historiales.get(id).is_some_and(|v| {
            v.len() == 1
                && *v[0].0 == r.reserva.usuario_id
                && Some(v[0].1.entradas) == esperada.as_ref().map(|c| c.entradas)
        });
        if !ok {
            problemas.push(format!(
                "el historial_compras del usuario {} no refleja la compra confirmada {id}",
                r.reserva.usuario_id
            ));
            for (u, _) in historiales.get(id).into_iter().flatten() {
                acciones.push(Accion::QuitarCompra((*u).clone(), (*id).clone()));
            }
            if let Some(c) = esperada {
                acciones.push(Accion::RegistrarCompra(r.reserva.usuario_id.clone(), c));
            }
        }
    }
    for (id, v) in &historiales {
        if terminadas.contains_key(id) || en_vuelo.contains(id) {
            continue;
        }
        for (u, _) in v {
            problemas.push(format!(
                "el historial_compras del usuario {u} incluye la reserva {id}, que no está confirmada"
            ));
            acciones.push(Accion::QuitarCompra((*u).clone(), (*id).clone()));
        }
    }
    (problemas, acciones, resumen)
}

/// The money invariant, over finished purchases (one in flight may be charged and not yet
/// confirmed): every approved charge belongs to a confirmed purchase or was refunded, every
/// confirmed purchase was charged its `importe`, so `cobrado - reembolsado =
/// importe_confirmado`. An approved charge of a purchase that ended without a sale is
/// refunded by `--reparar`, through the same idempotent gateway call as compensation.
fn dinero(
    s: &Instantanea,
    por_id: &BTreeMap<&ReservaId, &RegistroSaga>,
    resumen: &mut Resumen,
    problemas: &mut Vec<String>,
    acciones: &mut Vec<Accion>,
) {
    let e = &s.evento_id;
    let cobros: BTreeMap<&ReservaId, &Cobro> =
        s.cobros.iter().map(|c| (&c.reserva_id, c)).collect();
    for c in s.cobros.iter().filter(|c| c.aprobado) {
        let Some(r) = por_id.get(&c.reserva_id) else {
            if c.reembolsado.is_none() {
                problemas.push(format!(
                    "el cobro aprobado de la reserva {} ({} en unidades mínimas) no tiene compra en el almacén de reservas",
                    c.reserva_id, c.importe
                ));
            }
            continue;
        };
        if r.en_curso() {
            continue;
        }
        resumen.cobrado += c.importe;
        if c.reembolsado.is_some() {
            resumen.reembolsado += c.importe;
        } else if r.reserva.estado != Estado::Confirmada {
            problemas.push(format!(
                "la reserva {} está {} pero su cobro aprobado de {} no se reembolsó",
                c.reserva_id, r.reserva.estado, c.importe
            ));
            acciones.push(Accion::Reembolsar(c.reserva_id.clone()));
        }
    }
    for r in s
        .registros
        .iter()
        .filter(|r| r.reserva.estado == Estado::Confirmada && !r.en_curso())
    {
        resumen.importe_confirmado += r.reserva.importe;
        let en_pie = cobros.get(&r.reserva.id).is_some_and(|c| {
            c.aprobado && c.reembolsado.is_none() && c.importe == r.reserva.importe
        });
        if !en_pie {
            problemas.push(format!(
                "la compra confirmada {} no tiene un cobro aprobado de {} en el libro de pagos del evento {e}",
                r.reserva.id, r.reserva.importe
            ));
        }
    }
    let neto = resumen.cobrado - resumen.reembolsado;
    if neto != resumen.importe_confirmado && problemas.is_empty() {
        problemas.push(format!(
            "dinero del evento {e}: cobrado {} − reembolsado {} ≠ importe confirmado {}",
            resumen.cobrado, resumen.reembolsado, resumen.importe_confirmado
        ));
    }
}

/// Seat and money totals of a set of records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resumen {
    pub retenidas: i64,
    pub vendidas: i64,
    pub en_curso: usize,
    pub cobrado: i64,
    pub reembolsado: i64,
    pub importe_confirmado: i64,
}

impl Resumen {
    fn de(registros: &[RegistroSaga], ahora: Fecha) -> Self {
        let mut r = Resumen::default();
        for reg in registros {
            let n = i64::from(reg.reserva.entradas.get());
            match reg.reserva.estado {
                Estado::Pendiente => r.retenidas += n,
                Estado::Confirmada => r.vendidas += n,
                _ => {}
            }
            if reg.en_curso() && reg.expira >= ahora {
                r.en_curso += 1;
            }
        }
        r
    }
}

fn lista<'a>(ids: impl Iterator<Item = &'a ReservaId>) -> String {
    let ids: Vec<String> = ids.map(|i| i.to_string()).collect();
    if ids.len() > 5 {
        format!("{} y {} más", ids[..5].join(", "), ids.len() - 5)
    } else {
        ids.join(", ")
    }
}

/// The record of a confirmed purchase rebuilt from the user's history.
fn registro_restaurado(evento: &Evento, usuario: &UsuarioId, c: &Compra) -> RegistroSaga {
    RegistroSaga {
        reserva: crate::domain::Reserva {
            id: c.reserva_id.clone(),
            evento_id: evento.id.clone(),
            usuario_id: usuario.clone(),
            entradas: c.entradas,
            estado: Estado::Confirmada,
            importe: evento.precio.importe(c.entradas),
            creada: c.fecha_compra,
            actualizada: Fecha::ahora(),
        },
        paso: Paso::Historial,
        fase: Fase::Hecho,
        expira: c.fecha_compra,
        clave: None,
        fecha_compra: Some(c.fecha_compra),
        terminada: true,
        toma: None,
        reclamada_hasta: None,
        fallo: None,
    }
}

/// The ledger entry a restored confirmed purchase stands for: it was charged its importe.
fn cobro_restaurado(r: &RegistroSaga) -> Cobro {
    Cobro {
        reserva_id: r.reserva.id.clone(),
        importe: r.reserva.importe,
        aprobado: true,
        cobrado: r.fecha_compra.unwrap_or(r.reserva.creada),
        reembolsado: None,
    }
}

async fn instantanea(r: &Reservador, id: &EventoId) -> Result<Instantanea> {
    let alm = &r.almacen;
    let (evento, contador, aforo_reservas, registros, cobros, compras, ahora) = tokio::join!(
        alm.eventos.ver(id),
        alm.reservas.contador(id),
        alm.reservas.aforo(id),
        alm.reservas.de_evento(id),
        alm.reservas.cobros_de_evento(id),
        alm.usuarios.compras_de_evento(id),
        alm.reservas.reloj(),
    );
    let evento = match evento {
        Ok(e) => Some(e),
        Err(Error::NoEncontrado { .. }) => None,
        Err(e) => return Err(e),
    };
    Ok(Instantanea {
        evento_id: id.clone(),
        evento,
        contador: contador?,
        aforo_reservas: aforo_reservas?,
        registros: registros?,
        cobros: cobros?,
        compras: compras?,
        ahora: ahora?,
    })
}

async fn aplicar(r: &Reservador, s: &Instantanea, accion: &Accion) -> Result<String> {
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

/// Checks one event and, with `reparar`, repairs it (a few rounds at most, since a
/// repair can reveal the next problem) and checks it again.
pub async fn verificar_evento(
    r: &Reservador,
    id: &EventoId,
    reparar: bool,
) -> Result<InformeEvento> {
    let mut reparaciones = Vec::new();
    let mut s = instantanea(r, id).await?;
    let (mut problemas, mut acciones, mut resumen) = diagnosticar(&s);
    if reparar {
        for _ in 0..4 {
            if acciones.is_empty() {
                break;
            }
            for a in &acciones {
                reparaciones.push(aplicar(r, &s, a).await?);
            }
            s = instantanea(r, id).await?;
            (problemas, acciones, resumen) = diagnosticar(&s);
        }
    }
    Ok(InformeEvento {
        evento_id: id.clone(),
        aforo_total: s.evento.as_ref().map(|e| e.aforo_total.get()),
        contador: s.contador,
        retenidas: resumen.retenidas,
        vendidas: resumen.vendidas,
        en_curso: resumen.en_curso,
        cobrado: resumen.cobrado,
        reembolsado: resumen.reembolsado,
        importe_confirmado: resumen.importe_confirmado,
        consistente: problemas.is_empty(),
        problemas,
        reparaciones,
    })
}

/// Checks one event, or every event both stores know of.
pub async fn verificar(
    r: &Reservador,
    evento: Option<&EventoId>,
    reparar: bool,
) -> Result<Vec<InformeEvento>> {
    let ids: Vec<EventoId> = match evento {
        Some(id) => {
            // An id neither store knows is a typo, not a clean bill of health.
            let s = instantanea(r, id).await?;
            if s.evento.is_none() && s.contador.is_none() && s.registros.is_empty() {
                return Err(Error::no_encontrado("evento", id));
            }
            vec![id.clone()]
        }
        None => {
            let mut ids: BTreeSet<EventoId> =
                r.almacen.reservas.eventos().await?.into_iter().collect();
            let mut despues: Option<EventoId> = None;
            loop {
                let pagina = r.almacen.eventos.listar(1000, despues.as_ref()).await?;
                let Some(ultimo) = pagina.last() else { break };
                despues = Some(ultimo.id.clone());
                ids.extend(pagina.into_iter().map(|e| e.id));
            }
            ids.into_iter().collect()
        }
    };
    let mut informes = Vec::with_capacity(ids.len());
    for id in &ids {
        informes.push(verificar_evento(r, id, reparar).await?);
    }
    Ok(informes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Aforo, Entradas, Precio, Reserva, Texto};

    fn evento(aforo: u32, activas: &[&ReservaId], disponibles: i64) -> Evento {
        Evento {
            id: EventoId::parse("aaaaaaaaaaaaaaaaaaaaaaaa").unwrap(),
            nombre: Texto::parse("nombre", "E").unwrap(),
            fecha: Fecha::from_millis(0),
            lugar: Texto::parse("lugar", "L").unwrap(),
            aforo_total: Aforo::new(aforo.into()).unwrap(),
            entradas_disponibles: disponibles,
            reservas_activas: activas.iter().map(|r| (*r).clone()).collect(),
            precio: Precio::new(10).unwrap(),
        }
    }

    fn registro(n: u32, estado: Estado, terminada: bool, expira_ms: i64) -> RegistroSaga {
        RegistroSaga {
            reserva: Reserva {
                id: ReservaId::generar(),
                evento_id: EventoId::parse("aaaaaaaaaaaaaaaaaaaaaaaa").unwrap(),
                usuario_id: UsuarioId::generar(),
                entradas: Entradas::new(n.into()).unwrap(),
                estado,
                importe: 10 * i64::from(n),
                creada: Fecha::from_millis(0),
                actualizada: Fecha::from_millis(0),
            },
            paso: Paso::Historial,
            fase: Fase::Hecho,
            expira: Fecha::from_millis(expira_ms),
            clave: None,
            fecha_compra: Some(Fecha::from_millis(1)),
            terminada,
            toma: None,
            reclamada_hasta: None,
            fallo: None,
        }
    }

    fn instantanea(
        evento: Evento,
        contador: Option<i64>,
        registros: Vec<RegistroSaga>,
        compras: Vec<(UsuarioId, Compra)>,
    ) -> Instantanea {
        let cobros = registros
            .iter()
            .filter(|r| r.reserva.estado == Estado::Confirmada)
            .map(cobro_restaurado)
            .collect();
        Instantanea {
            aforo_reservas: Some(evento.aforo_total),
            evento_id: evento.id.clone(),
            evento: Some(evento),
            contador,
            registros,
            cobros,
            compras,
            ahora: Fecha::from_millis(1_000),
        }
    }

    fn compra_de(r: &RegistroSaga) -> (UsuarioId, Compra) {
        (r.reserva.usuario_id.clone(), r.compra().unwrap())
    }

    #[test]
    fn un_evento_coherente_no_tiene_problemas() {
        let vendida = registro(3, Estado::Confirmada, true, 10);
        let pendiente = registro(2, Estado::Pendiente, false, 5_000);
        let s = instantanea(
            evento(10, &[&vendida.reserva.id], 7),
            Some(5),
            vec![vendida.clone(), pendiente],
            vec![compra_de(&vendida)],
        );
        let (problemas, acciones, resumen) = diagnosticar(&s);
        assert!(problemas.is_empty(), "{problemas:?}");
        assert!(acciones.is_empty());
        assert_eq!(
            (resumen.vendidas, resumen.retenidas, resumen.en_curso),
            (3, 2, 1)
        );
    }

    #[test]
    fn un_contador_que_no_cuadra_se_fija_al_valor_del_invariante() {
        let vendida = registro(3, Estado::Confirmada, true, 10);
        let s = instantanea(
            evento(10, &[&vendida.reserva.id], 7),
            Some(9),
            vec![vendida.clone()],
            vec![compra_de(&vendida)],
        );
        let (problemas, acciones, _) = diagnosticar(&s);
        assert_eq!(problemas.len(), 1, "{problemas:?}");
        assert_eq!(acciones, vec![Accion::FijarContador(7)]);
    }

    #[test]
    fn una_compra_vencida_a_medio_hacer_se_compensa_antes_que_nada() {
        let colgada = registro(2, Estado::Pendiente, false, 500);
        let s = instantanea(evento(10, &[], 10), Some(1), vec![colgada.clone()], vec![]);
        let (problemas, acciones, _) = diagnosticar(&s);
        assert!(problemas[0].contains("retención vencida"), "{problemas:?}");
        assert_eq!(acciones, vec![Accion::Compensar(colgada.reserva.id)]);
    }

    #[test]
    fn una_compra_que_redis_perdio_se_restaura_desde_el_historial() {
        let perdida = registro(4, Estado::Confirmada, true, 10);
        let s = instantanea(
            evento(10, &[&perdida.reserva.id], 6),
            Some(10),
            vec![],
            vec![compra_de(&perdida)],
        );
        let (_, acciones, _) = diagnosticar(&s);
        let [Accion::Restaurar(r)] = acciones.as_slice() else {
            panic!("{acciones:?}")
        };
        assert_eq!(r.reserva.id, perdida.reserva.id);
        assert_eq!(r.reserva.estado, Estado::Confirmada);
        assert_eq!(r.reserva.importe, 40);
    }

    #[test]
    fn el_modelo_de_lectura_y_los_historiales_se_reparan_por_diferencias() {
        let vendida = registro(3, Estado::Confirmada, true, 10);
        let cancelada = registro(1, Estado::Cancelada, true, 10);
        let s = instantanea(
            evento(10, &[&cancelada.reserva.id], 9),
            Some(7),
            vec![vendida.clone(), cancelada.clone()],
            vec![compra_de(&cancelada)],
        );
        let (problemas, acciones, _) = diagnosticar(&s);
        assert!(problemas.len() >= 3, "{problemas:?}");
        assert!(acciones.contains(&Accion::AplicarVenta(
            vendida.reserva.id.clone(),
            vendida.reserva.entradas
        )));
        assert!(acciones.contains(&Accion::RevertirVenta(
            cancelada.reserva.id.clone(),
            cancelada.reserva.entradas
        )));
        assert!(acciones.contains(&Accion::RegistrarCompra(
            vendida.reserva.usuario_id.clone(),
            vendida.compra().unwrap()
        )));
        assert!(acciones.contains(&Accion::QuitarCompra(
            cancelada.reserva.usuario_id.clone(),
            cancelada.reserva.id.clone()
        )));
    }

    #[test]
    fn una_compra_confirmada_en_vuelo_puede_estar_o_no_en_el_modelo() {
        let en_vuelo = registro(2, Estado::Confirmada, false, 5_000);
        for activas in [vec![], vec![&en_vuelo.reserva.id]] {
            let disponibles = 10 - 2 * activas.len() as i64;
            let s = instantanea(
                evento(10, &activas, disponibles),
                Some(8),
                vec![en_vuelo.clone()],
                vec![],
            );
            let (problemas, _, _) = diagnosticar(&s);
            assert!(problemas.is_empty(), "{problemas:?}");
        }
    }
}
