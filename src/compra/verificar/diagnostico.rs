//! The pure half of `verificar`: a snapshot of one event in, the problems found and the
//! repairs that fix them out. No I/O, so every rule is unit-tested without servers.

use std::collections::{BTreeMap, BTreeSet};

use crate::domain::{Aforo, Compra, Estado, Evento, EventoId, Fecha, ReservaId, UsuarioId};
use crate::store::{Cobro, Fase, Paso, RegistroSaga};

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
pub fn diagnosticar(s: &Instantanea) -> (Vec<String>, Vec<Accion>, Recuento) {
    let mut h = Hallazgos::default();
    let Some(evento) = &s.evento else {
        if s.contador.is_some()
            || s.registros
                .iter()
                .any(|r| r.reserva.estado.retiene_entradas())
        {
            h.problemas.push(format!(
                "el evento {} no existe en el almacén de eventos pero tiene contador o reservas en el de reservas",
                s.evento_id
            ));
        }
        return h.con(Recuento::default());
    };
    let mut resumen = Recuento::de(&s.registros, s.ahora);
    if aforo_distinto(s, evento, &mut h) || a_medias(s, evento, &mut h) {
        return h.con(resumen);
    }
    let por_id: BTreeMap<&ReservaId, &RegistroSaga> =
        s.registros.iter().map(|r| (&r.reserva.id, r)).collect();
    dinero(s, &por_id, &mut resumen, &mut h.problemas, &mut h.acciones);
    contador(s, evento, &resumen, &mut h);
    let ventas = Ventas::de(s);
    modelo_de_lectura(s, evento, &por_id, &ventas, &mut h);
    historiales(s, &ventas, &mut h);
    h.con(resumen)
}

/// What the rules found so far.
#[derive(Default)]
struct Hallazgos {
    problemas: Vec<String>,
    acciones: Vec<Accion>,
}

impl Hallazgos {
    fn con(self, resumen: Recuento) -> (Vec<String>, Vec<Accion>, Recuento) {
        (self.problemas, self.acciones, resumen)
    }
}

/// The confirmed purchases, split by whether their saga finished.
struct Ventas<'a> {
    terminadas: BTreeMap<&'a ReservaId, &'a RegistroSaga>,
    en_vuelo: BTreeSet<&'a ReservaId>,
}

impl<'a> Ventas<'a> {
    fn de(s: &'a Instantanea) -> Self {
        let confirmadas = || {
            s.registros
                .iter()
                .filter(|r| r.reserva.estado == Estado::Confirmada)
        };
        Self {
            terminadas: confirmadas()
                .filter(|r| r.terminada)
                .map(|r| (&r.reserva.id, r))
                .collect(),
            en_vuelo: confirmadas()
                .filter(|r| !r.terminada)
                .map(|r| &r.reserva.id)
                .collect(),
        }
    }
}

/// Rule 0: Both stores must agree on the capacity before seats can be counted against it. The
/// reservation store's moved together with its counter, so it wins: a capacity change that
/// stopped half way is rolled forward. True when they disagree (nothing else is checked).
fn aforo_distinto(s: &Instantanea, evento: &Evento, h: &mut Hallazgos) -> bool {
    if s.aforo_reservas == Some(evento.aforo_total) {
        return false;
    }
    let e = &s.evento_id;
    h.problemas.push(match s.aforo_reservas {
        Some(a) => format!(
            "el aforo del evento {e} es {a} en el almacén de reservas y {} en el de eventos (un cambio de aforo quedó a medias)",
            evento.aforo_total
        ),
        None => format!("el almacén de reservas no guarda el aforo del evento {e}"),
    });
    h.acciones.push(Accion::AlinearAforo(s.aforo_reservas));
    true
}

/// Rule 1: Purchases left half done whose hold ran out, and rule 2: confirmed purchases MongoDB
/// knows of but the reservation store lost. A half-done purchase that the histories already
/// hold was sold: its buyer was told `confirmada` and the reservation store lost its last
/// steps (a Redis `kill -9` loses up to a second of writes), so it is rolled forward from
/// the history, never compensated, unless a compensator already took it over. True when
/// any was found: they change what the other rules expect, so they are repaired alone.
fn a_medias(s: &Instantanea, evento: &Evento, h: &mut Hallazgos) -> bool {
    let segun_historial: BTreeMap<&ReservaId, (&UsuarioId, &Compra)> = s
        .compras
        .iter()
        .map(|(u, c)| (&c.reserva_id, (u, c)))
        .collect();
    let (vendidas, vencidas): (Vec<&RegistroSaga>, Vec<&RegistroSaga>) = s
        .registros
        .iter()
        .filter(|r| r.en_curso() && r.expira < s.ahora)
        .partition(|r| r.toma.is_none() && segun_historial.contains_key(&r.reserva.id));
    for r in &vendidas {
        let (usuario, _) = segun_historial[&r.reserva.id];
        h.problemas.push(format!(
            "la compra {} está en el historial del usuario {usuario} pero su registro quedó a medias (estado {}); se completa desde el historial",
            r.reserva.id, r.reserva.estado
        ));
        h.acciones.push(Accion::Compensar(r.reserva.id.clone()));
    }
    if !vencidas.is_empty() {
        h.problemas.push(format!(
            "{} compra(s) a medio terminar con la retención vencida: {} (eventflow compensar las termina)",
            vencidas.len(),
            lista(vencidas.iter().map(|r| &r.reserva.id))
        ));
        h.acciones.extend(
            vencidas
                .iter()
                .map(|r| Accion::Compensar(r.reserva.id.clone())),
        );
    }
    let conocidas: BTreeSet<&ReservaId> = s.registros.iter().map(|r| &r.reserva.id).collect();
    for (usuario, compra) in &s.compras {
        if !conocidas.contains(&compra.reserva_id) {
            h.problemas.push(format!(
                "la compra {} del usuario {usuario} está en su historial pero no en el almacén de reservas",
                compra.reserva_id
            ));
            h.acciones
                .push(Accion::Restaurar(Box::new(registro_restaurado(
                    evento, usuario, compra,
                ))));
        }
    }
    !h.acciones.is_empty()
}

/// Rule 3: The seat invariant: aforo_total = counter + held + sold.
fn contador(s: &Instantanea, evento: &Evento, resumen: &Recuento, h: &mut Hallazgos) {
    let aforo = i64::from(evento.aforo_total.get());
    let esperado = aforo - resumen.retenidas - resumen.vendidas;
    match s.contador {
        None => h.problemas.push(format!(
            "falta el contador de entradas del evento {} (debería valer {esperado})",
            s.evento_id
        )),
        Some(c) if c != esperado => h.problemas.push(format!(
            "aforo_total {aforo} ≠ contador {c} + retenidas {} + vendidas {} (el contador debería valer {esperado})",
            resumen.retenidas, resumen.vendidas
        )),
        Some(_) => return,
    }
    h.acciones.push(Accion::FijarContador(esperado));
}

/// Rule 4: The event's read model against the finished confirmed purchases. Purchases still in
/// flight may or may not be in it yet. Set differences are repaired with the saga's own
/// guarded, idempotent updates, so a repair running beside live sales never overwrites
/// them; only a read model edited by hand is rebuilt whole.
fn modelo_de_lectura(
    s: &Instantanea, evento: &Evento, por_id: &BTreeMap<&ReservaId, &RegistroSaga>, v: &Ventas<'_>,
    h: &mut Hallazgos,
) {
    let e = &s.evento_id;
    let aforo = i64::from(evento.aforo_total.get());
    let activas: BTreeSet<&ReservaId> = evento.reservas_activas.iter().collect();
    let faltan: Vec<&RegistroSaga> = v
        .terminadas
        .iter()
        .filter(|(id, _)| !activas.contains(*id))
        .map(|(_, r)| *r)
        .collect();
    let sobran: Vec<&ReservaId> = activas
        .iter()
        .filter(|id| !v.terminadas.contains_key(*id) && !v.en_vuelo.contains(*id))
        .copied()
        .collect();
    if !faltan.is_empty() {
        h.problemas.push(format!(
            "reservas_activas del evento {e} no incluye {} compra(s) confirmada(s): {}",
            faltan.len(),
            lista(faltan.iter().map(|r| &r.reserva.id))
        ));
    }
    if !sobran.is_empty() {
        h.problemas.push(format!(
            "reservas_activas del evento {e} incluye {} reserva(s) no confirmada(s): {}",
            sobran.len(),
            lista(sobran.iter().copied())
        ));
    }
    for r in &faltan {
        h.acciones.push(Accion::AplicarVenta(
            r.reserva.id.clone(),
            r.reserva.entradas,
        ));
    }
    let mut sin_registro = false;
    for id in &sobran {
        match por_id.get(id) {
            Some(r) => h
                .acciones
                .push(Accion::RevertirVenta((*id).clone(), r.reserva.entradas)),
            None => sin_registro = true,
        }
    }
    let vendidas = |ids: &mut dyn Iterator<Item = &ReservaId>| -> i64 {
        ids.filter_map(|id| por_id.get(id))
            .map(|r| i64::from(r.reserva.entradas.get()))
            .sum()
    };
    let esperadas = aforo - vendidas(&mut activas.iter().copied());
    let descuadre =
        faltan.is_empty() && sobran.is_empty() && evento.entradas_disponibles != esperadas;
    if descuadre {
        h.problemas.push(format!(
            "entradas_disponibles del evento {e} vale {} y debería valer {esperadas}",
            evento.entradas_disponibles
        ));
    }
    if sin_registro || descuadre {
        let mut activas: Vec<ReservaId> = v.terminadas.keys().map(|id| (*id).clone()).collect();
        activas.extend(
            v.en_vuelo
                .iter()
                .filter(|id| evento.reservas_activas.contains(id))
                .map(|id| (*id).clone()),
        );
        h.acciones.push(Accion::FijarModeloLectura {
            disponibles: aforo - vendidas(&mut activas.iter()),
            activas,
        });
    }
}

/// Rule 5: The users' histories: each finished sale once, in its buyer's history, and nothing
/// that is not a sale.
fn historiales(s: &Instantanea, v: &Ventas<'_>, h: &mut Hallazgos) {
    let mut por_reserva: BTreeMap<&ReservaId, Vec<(&UsuarioId, &Compra)>> = BTreeMap::new();
    for (u, c) in &s.compras {
        por_reserva.entry(&c.reserva_id).or_default().push((u, c));
    }
    for (id, r) in &v.terminadas {
        let esperada = r.compra();
        let ok = por_reserva.get(id).is_some_and(|v| {
            v.len() == 1
                && *v[0].0 == r.reserva.usuario_id
                && Some(v[0].1.entradas) == esperada.as_ref().map(|c| c.entradas)
        });
        if ok {
            continue;
        }
        h.problemas.push(format!(
            "el historial_compras del usuario {} no refleja la compra confirmada {id}",
            r.reserva.usuario_id
        ));
        for (u, _) in por_reserva.get(id).into_iter().flatten() {
            h.acciones
                .push(Accion::QuitarCompra((*u).clone(), (*id).clone()));
        }
        if let Some(c) = esperada {
            h.acciones
                .push(Accion::RegistrarCompra(r.reserva.usuario_id.clone(), c));
        }
    }
    for (id, compras) in &por_reserva {
        if v.terminadas.contains_key(id) || v.en_vuelo.contains(id) {
            continue;
        }
        for (u, _) in compras {
            h.problemas.push(format!(
                "el historial_compras del usuario {u} incluye la reserva {id}, que no está confirmada"
            ));
            h.acciones
                .push(Accion::QuitarCompra((*u).clone(), (*id).clone()));
        }
    }
}

/// The money invariant, over finished purchases (one in flight may be charged and not yet
/// confirmed): every approved charge belongs to a confirmed purchase or was refunded, every
/// confirmed purchase was charged its `importe`, so `cobrado - reembolsado =
/// importe_confirmado`. An approved charge of a purchase that ended without a sale is
/// refunded by `--reparar`, through the same idempotent gateway call as compensation.
fn dinero(
    s: &Instantanea, por_id: &BTreeMap<&ReservaId, &RegistroSaga>, resumen: &mut Recuento,
    problemas: &mut Vec<String>, acciones: &mut Vec<Accion>,
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
pub struct Recuento {
    pub retenidas: i64,
    pub vendidas: i64,
    pub en_curso: usize,
    pub cobrado: i64,
    pub reembolsado: i64,
    pub importe_confirmado: i64,
}

impl Recuento {
    fn de(registros: &[RegistroSaga], ahora: Fecha) -> Self {
        let mut r = Recuento::default();
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
pub(super) fn registro_restaurado(
    evento: &Evento, usuario: &UsuarioId, c: &Compra,
) -> RegistroSaga {
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

/// A record the history shows as sold, completed from that history: confirmed with the
/// history's `fecha_compra`, finished, no take-over; the record's own amounts are kept.
pub(crate) fn completada_desde(reg: &RegistroSaga, c: &Compra) -> RegistroSaga {
    let mut r = reg.clone();
    r.reserva.estado = Estado::Confirmada;
    r.reserva.actualizada = c.fecha_compra;
    r.paso = Paso::Historial;
    r.fase = Fase::Hecho;
    r.fecha_compra = Some(c.fecha_compra);
    r.terminada = true;
    r.toma = None;
    r.reclamada_hasta = None;
    r.fallo = None;
    r
}

/// The ledger entry a restored confirmed purchase stands for: it was charged its importe.
pub(crate) fn cobro_restaurado(r: &RegistroSaga) -> Cobro {
    Cobro {
        reserva_id: r.reserva.id.clone(),
        importe: r.reserva.importe,
        aprobado: true,
        cobrado: r.fecha_compra.unwrap_or(r.reserva.creada),
        reembolsado: None,
    }
}

#[cfg(test)]
#[path = "pruebas.rs"]
mod tests;
