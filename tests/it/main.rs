//! The integration tests: one binary, one module per feature. Each test runs in its own
//! MongoDB database and Redis prefix, or its own SQLite file (see `helpers`); the
//! feature suites run the same bodies on both backends (`en_ambos_backends!`).

#[macro_use]
mod helpers;

mod acceso;
mod api;
mod carreras;
mod cli_robusta;
mod contrato;
mod embedded;
mod entrada;
mod escala;
mod eventos;
mod fallos;
mod fixtures;
mod importar;
mod intercalaciones;
mod limites;
mod reservar;
mod simular;
mod store_mongo;
mod store_redis;
mod store_reservas;
mod usuarios;
