//! Use cases that span more than one store, shared by the CLI and the REST API so that
//! neither front holds business logic. Single-store reads go straight to the traits.

pub mod eventos;
pub mod tokens;
pub mod usuarios;
