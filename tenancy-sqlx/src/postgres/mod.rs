//! PostgreSQL: registry, schema-per-tenant isolation and tenant lifecycle.

pub(crate) mod database;
mod dyn_impls;
pub(crate) mod lock;
pub(crate) mod manager;
pub(crate) mod migrate;
pub(crate) mod pooler;
pub(crate) mod registry;
pub(crate) mod schema;
pub(crate) mod tx;
