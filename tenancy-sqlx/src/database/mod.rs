//! Database per tenant: names and locations (backend-neutral), and for each
//! enabled backend the provisioning, lifecycle manager and per-tenant pools.

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub(crate) mod backend;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod manager;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub(crate) mod migrate;
pub(crate) mod name;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod pools;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub(crate) mod servers;

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub use backend::{BackendConnectOptions, BackendConnection, DatabaseBackend};
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub use manager::DatabaseManager;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub(crate) use name::naming_error;
pub use name::{DatabaseLocation, DatabaseName, DatabaseNaming};
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub use pools::{PoolConfig, PoolStats, TenantConnection, TenantPools};
