//! The contract suite: every guarantee a store gives the core, written once and run on
//! every backend configuration (`en_ambos_backends!`). What a store wrote is judged by
//! reading the raw store (`crudo`), not through the store under test. Only what is truly
//! one driver's own (key names, killed servers, file locks) lives in `backend_*`.

mod carreras;
mod eventos;
mod importar;
mod registros;
mod reservas;
mod transiciones;
mod usuarios;
