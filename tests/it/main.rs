//! The integration tests: one binary, one module per feature, each test in its own
//! MongoDB database and Redis prefix (see `helpers`).

mod api;
mod embedded;
mod eventos;
mod helpers;
mod importar;
mod reservar;
mod simular;
mod store_redis;
