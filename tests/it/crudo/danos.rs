//! Raw writers: the damage a crash, a lost write or a hand edit leaves, staged straight
//! in the stores so `verificar` and the readers have something real to find.

use mongodb::bson::doc;
use redis::AsyncCommands;

use super::{CompraCruda, clave_contador, clave_pago, clave_registro, coleccion, oid, redis};
use crate::helpers::Entorno;

/// Sets the live counter to `valor`, or deletes it.
pub async fn fijar_contador_crudo(env: &Entorno, e: &str, valor: Option<i64>) {
    if env.es_mongo() {
        let mut con = redis(env).await;
        let () = match valor {
            Some(v) => con.set(clave_contador(env, e), v).await.unwrap(),
            None => con.del(clave_contador(env, e)).await.unwrap(),
        };
    } else {
        let con = env.sqlite();
        match valor {
            Some(v) => con.execute(
                "UPDATE contadores SET entradas = ?2 WHERE evento_id = ?1",
                rusqlite::params![e, v],
            ),
            None => con.execute("DELETE FROM contadores WHERE evento_id = ?1", [e]),
        }
        .unwrap();
    }
}

/// Loses the counter together with the capacity it is accounted against (on SQLite one
/// row holds both).
pub async fn perder_contador_crudo(env: &Entorno, e: &str) {
    if env.es_mongo() {
        let () = redis(env)
            .await
            .del(&[
                clave_contador(env, e),
                env.clave(&format!("evento:{{{e}}}:aforo")),
            ])
            .await
            .unwrap();
    } else {
        fijar_contador_crudo(env, e, None).await;
    }
}

/// Overwrites the event's read model.
pub async fn fijar_modelo_crudo(env: &Entorno, e: &str, disponibles: i64, activas: &[&str]) {
    if env.es_mongo() {
        coleccion(env, "eventos")
            .await
            .update_one(
                doc! { "_id": oid(e) },
                doc! { "$set": { "entradas_disponibles": disponibles, "reservas_activas": activas } },
            )
            .await
            .unwrap();
    } else {
        let mut con = env.sqlite();
        let tx = con.transaction().unwrap();
        tx.execute(
            "UPDATE eventos SET entradas_disponibles = ?2 WHERE id = ?1",
            rusqlite::params![e, disponibles],
        )
        .unwrap();
        tx.execute("DELETE FROM reservas_activas WHERE evento_id = ?1", [e])
            .unwrap();
        for r in activas {
            tx.execute(
                "INSERT INTO reservas_activas (evento_id, reserva_id) VALUES (?1, ?2)",
                [e, r],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
}

/// Removes purchase `reserva` from user `usuario`'s history.
pub async fn quitar_compra_cruda(env: &Entorno, usuario: &str, reserva: &str) {
    if env.es_mongo() {
        coleccion(env, "usuarios")
            .await
            .update_one(
                doc! { "_id": oid(usuario) },
                doc! { "$pull": { "historial_compras": { "reserva_id": reserva } } },
            )
            .await
            .unwrap();
    } else {
        env.sqlite()
            .execute(
                "DELETE FROM historial WHERE usuario_id = ?1 AND reserva_id = ?2",
                [usuario, reserva],
            )
            .unwrap();
    }
}

/// Adds `c` to its user's history, as the history step writes it (`$addToSet`: NX-27017
/// stores a `$push`ed subdocument as a JSON string).
pub async fn anadir_compra_cruda(env: &Entorno, c: &CompraCruda) {
    let fecha = "2025-10-01T12:30:00.000Z";
    if env.es_mongo() {
        coleccion(env, "usuarios")
            .await
            .update_one(
                doc! { "_id": oid(&c.usuario) },
                doc! { "$addToSet": { "historial_compras": {
                    "evento_id": &c.evento, "reserva_id": &c.reserva,
                    "fecha_compra": fecha, "entradas": c.entradas,
                } } },
            )
            .await
            .unwrap();
    } else {
        env.sqlite()
            .execute(
                "INSERT INTO historial (usuario_id, reserva_id, evento_id, fecha_compra, entradas) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![c.usuario, c.reserva, c.evento, fecha, c.entradas],
            )
            .unwrap();
    }
}

/// Loses purchase `r` of event `e` from the reservation store, record and ledger entry,
/// as a Redis `kill -9` inside its fsync window does.
pub async fn perder_registro_crudo(env: &Entorno, e: &str, r: &str) {
    if env.es_mongo() {
        let mut con = redis(env).await;
        let () = con
            .del(&[
                clave_registro(env, e, r),
                clave_pago(env, e, r),
                env.clave(&format!("reserva-evento:{r}")),
            ])
            .await
            .unwrap();
        let () = con
            .srem(env.clave(&format!("evento:{{{e}}}:reservas")), r)
            .await
            .unwrap();
        let () = con
            .zrem(env.clave(&format!("evento:{{{e}}}:retenidas")), r)
            .await
            .unwrap();
    } else {
        let con = env.sqlite();
        con.execute("DELETE FROM reservas WHERE id = ?1", [r])
            .unwrap();
        con.execute("DELETE FROM pagos WHERE reserva_id = ?1", [r])
            .unwrap();
    }
}

/// Moves the hold of purchase `r` of event `e` into the past, as if its TTL ran out.
pub async fn vencer_retencion_cruda(env: &Entorno, e: &str, r: &str) {
    let pasado: i64 = 1_000;
    if env.es_mongo() {
        let mut con = redis(env).await;
        let () = con
            .hset(clave_registro(env, e, r), "expira", pasado)
            .await
            .unwrap();
        let () = con
            .zadd(env.clave(&format!("evento:{{{e}}}:retenidas")), r, pasado)
            .await
            .unwrap();
    } else {
        env.sqlite()
            .execute(
                "UPDATE reservas SET expira = ?2 WHERE id = ?1",
                rusqlite::params![r, pasado],
            )
            .unwrap();
    }
}

/// Makes the finished purchase `r` of event `e` unfinished again, with its hold expired:
/// what is left when the store loses the sale's last write.
pub async fn reabrir_registro_crudo(env: &Entorno, e: &str, r: &str) {
    if env.es_mongo() {
        let () = redis(env)
            .await
            .hset(clave_registro(env, e, r), "terminada", "0")
            .await
            .unwrap();
    } else {
        env.sqlite()
            .execute("UPDATE reservas SET terminada = 0 WHERE id = ?1", [r])
            .unwrap();
    }
    vencer_retencion_cruda(env, e, r).await;
}

/// Writes `valor` into text field `campo` of the stored event, as a hand edit would.
pub async fn estropear_evento_crudo(env: &Entorno, e: &str, campo: &str, valor: &str) {
    if env.es_mongo() {
        coleccion(env, "eventos")
            .await
            .update_one(doc! { "_id": oid(e) }, doc! { "$set": { campo: valor } })
            .await
            .unwrap();
    } else {
        env.sqlite()
            .execute(
                &format!("UPDATE eventos SET {campo} = ?2 WHERE id = ?1"),
                [e, valor],
            )
            .unwrap();
    }
}

/// Writes `valor` into field `campo` of the stored record, and returns where it lives
/// (the Redis key, or the SQLite row) as an error message would name it.
pub async fn estropear_registro_crudo(
    env: &Entorno, e: &str, r: &str, campo: &str, valor: &str,
) -> String {
    if env.es_mongo() {
        let clave = clave_registro(env, e, r);
        let () = redis(env).await.hset(&clave, campo, valor).await.unwrap();
        clave
    } else {
        env.sqlite()
            .execute(
                &format!("UPDATE reservas SET {campo} = ?2 WHERE id = ?1"),
                [r, valor],
            )
            .unwrap();
        r.to_owned()
    }
}
