//! Driver errors → domain errors. Unreachable servers become `BackendCaido`, duplicate
//! keys (code 11000) are told apart by the unique index they hit, and no message that
//! leaves this module carries the URI's password.

use mongodb::error::{Error as ErrorMongo, ErrorKind, WriteFailure};

use crate::config::{Uri, redactar_texto};
use crate::domain::{Documento, Email};
use crate::error::Error;

const CLAVE_DUPLICADA: i32 = 11000;

/// Which unique index a duplicate-key error hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Choque {
    Email,
    Documento,
    /// The message named no index we know; the caller must look at the data.
    Desconocido,
}

/// Maps an error with no domain meaning at the call site.
pub(super) fn mapear(e: ErrorMongo, uri: &Uri) -> Error {
    let detalle = redactar_texto(&e.to_string(), &[uri]);
    match *e.kind {
        ErrorKind::ServerSelection { .. }
        | ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::DnsResolve { .. }
        | ErrorKind::Authentication { .. }
        | ErrorKind::Shutdown => Error::caido("MongoDB", uri.redactada(), &detalle),
        _ => Error::Interno(anyhow::anyhow!("error de MongoDB: {detalle}")),
    }
}

/// The unique index a single-document write clashed with, if the error is a duplicate key.
pub(super) fn choque(e: &ErrorMongo) -> Option<Choque> {
    match &*e.kind {
        ErrorKind::Write(WriteFailure::WriteError(w)) if w.code == CLAVE_DUPLICADA => {
            Some(choque_de_mensaje(&w.message))
        }
        ErrorKind::InsertMany(im) => im
            .write_errors
            .iter()
            .flatten()
            .find(|w| w.code == CLAVE_DUPLICADA)
            .map(|w| choque_de_mensaje(&w.message)),
        ErrorKind::BulkWrite(bw) => bw
            .write_errors
            .values()
            .find(|w| w.code == CLAVE_DUPLICADA)
            .map(|w| choque_de_mensaje(&w.message)),
        _ => None,
    }
}

pub(super) fn es_clave_duplicada(codigo: i32) -> bool {
    codigo == CLAVE_DUPLICADA
}

/// Reads the index name out of the server's message. MongoDB says
/// `E11000 duplicate key error collection: db.usuarios index: email_1 dup key: {...}`;
/// NX says `UNIQUE constraint failed: index 'idx_usuarios_email'` (it ignores the names
/// we could give, so neither can be relied on to be ours). Only the index name is read:
/// the dup-key part holds user text that could contain anything.
pub(super) fn choque_de_mensaje(mensaje: &str) -> Choque {
    let nombre = if let Some(i) = mensaje.find("index: ") {
        mensaje[i + 7..].split_whitespace().next()
    } else if let Some(i) = mensaje.find("index '") {
        mensaje[i + 7..].split('\'').next()
    } else {
        None
    };
    match nombre {
        Some(n) if n.contains("tipo_documento") || n.contains("nro_documento") => Choque::Documento,
        Some(n) if n.contains("email") => Choque::Email,
        _ => Choque::Desconocido,
    }
}

/// What `Error::Duplicado` says for each clash: "ya existe un usuario con el email …",
/// with the id of the user that holds it when it is known.
pub(super) fn duplicado_email(email: &Email, existente: Option<String>) -> Error {
    Error::Duplicado {
        que: format!("un usuario con el email {email}"),
        campo: Some("email"),
        existente,
    }
}

pub(super) fn duplicado_documento(documento: &Documento, existente: Option<String>) -> Error {
    Error::Duplicado {
        que: format!("un usuario con el documento {documento}"),
        campo: Some("documento"),
        existente,
    }
}

/// When the index is unknown and the data no longer shows the clash (a concurrent
/// delete), say what could have clashed.
pub(super) fn duplicado_generico(email: Option<&Email>, documento: Option<&Documento>) -> Error {
    let que = match (email, documento) {
        (Some(e), Some(d)) => format!("un usuario con el email {e} o el documento {d}"),
        (Some(e), None) => format!("un usuario con el email {e}"),
        (None, Some(d)) => format!("un usuario con el documento {d}"),
        (None, None) => "un usuario con esos datos".to_owned(),
    };
    Error::Duplicado {
        que,
        campo: None,
        existente: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn el_choque_se_lee_del_nombre_del_indice() {
        assert_eq!(
            choque_de_mensaje("UNIQUE constraint failed: index 'idx_usuarios_email'"),
            Choque::Email
        );
        assert_eq!(
            choque_de_mensaje(
                "UNIQUE constraint failed: index 'idx_usuarios_tipo_documento_nro_documento'"
            ),
            Choque::Documento
        );
        assert_eq!(
            choque_de_mensaje(
                r#"E11000 duplicate key error collection: ef.usuarios index: email_1 dup key: { email: "tipo_documento@x.com" }"#
            ),
            Choque::Email
        );
        assert_eq!(
            choque_de_mensaje(
                r#"E11000 duplicate key error collection: ef.usuarios index: tipo_documento_1_nro_documento_1 dup key: { tipo_documento: "DNI", nro_documento: "1" }"#
            ),
            Choque::Documento
        );
        assert_eq!(
            choque_de_mensaje("duplicate key: email"),
            Choque::Desconocido
        );
    }

    #[test]
    fn el_detalle_de_un_servidor_caido_no_lleva_la_contrasena() {
        let uri = Uri::new("mongodb://u:secreto@127.0.0.1:1/");
        let e = ErrorMongo::custom(String::from(
            "fallo conectando a mongodb://u:secreto@127.0.0.1:1/",
        ));
        let texto = mapear(e, &uri).to_string();
        assert!(!texto.contains("secreto"), "{texto}");
    }
}
