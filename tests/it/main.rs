//! The integration tests: one binary, one module per feature. Each test runs in its own
//! MongoDB database and Redis prefix, or its own SQLite file (see `helpers`); the
//! feature suites run the same bodies on both backends (`en_ambos_backends!`). Store
//! guarantees live once in `contrato`; `backend_*` hold only what is one driver's own;
//! `crudo` reads the raw stores to judge outcomes independently of the code under test.

#[macro_use]
mod helpers;

mod acceso;
mod api;
mod ayuda;
mod backend_embedded;
mod backend_mongo;
mod backend_redis;
mod carreras;
mod cli_robusta;
mod configuracion;
mod contrato;
mod crudo;
mod documentacion;
mod entrada;
mod escala;
mod eventos;
mod fallos;
mod fixtures;
mod idioma;
mod importar;
mod intercalaciones;
mod inyeccion;
mod limites;
mod listados;
mod reparar;
mod reservar;
mod salida;
mod simular;
mod usuarios;
