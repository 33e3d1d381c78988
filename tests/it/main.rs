//! The integration tests: one binary, one module per feature, each test in its own
//! MongoDB database and Redis prefix (see `helpers`).

mod helpers;
mod store_redis;
