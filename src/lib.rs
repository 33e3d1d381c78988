//! EventFlow: event-ticketing administration and booking.
//!
//! The crate is the shared core; the `eventflow` binary and the REST API are fronts on it.
//!
//! - [`domain`]: users, events, reservations and the newtypes that make them valid.
//! - [`store`]: the storage traits, with one folder per backend (`mongo/` + `redis/`, the
//!   production pair, and `embedded/`, SQLite for zero setup).
//! - [`casos`]: the use cases every front shares (create an event and its counter, ...).
//! - [`compra`]: the purchase saga, its chain of handlers and the payment simulator, plus
//!   recovery (`recuperacion`: take over, then compensate), `compensar`, `cancelar` and
//!   `verificar`.
//! - [`simulacion`]: `simular`, a flash sale of simulated buyers through the real saga.
//! - [`import`]: bulk import of users and events from CSV, JSON Lines or JSON, in batches.
//! - [`api`]: the REST front (`eventflow serve`), on the same core.
//! - [`config`]: layered settings with redacted secrets.
//! - [`cli`]: the command-line front, the only module that prints.
//! - [`error`]: the domain errors and their exit codes.

pub mod api;
pub mod casos;
pub mod cli;
pub mod compra;
pub mod config;
pub mod domain;
pub mod error;
pub mod import;
pub mod simulacion;
pub mod store;

pub use error::{Error, Result};
