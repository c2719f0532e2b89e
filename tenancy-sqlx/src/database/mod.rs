//! Database per tenant: every tenant in a database of its own, on Postgres,
//! MySQL / MariaDB or SQLite (one file per tenant).
//!
//! - [`DatabaseManager`]: the lifecycle (create, migrate-all, rename,
//!   activate / deactivate, delete) over any registry and the
//!   [`TenantPools`] of one [`DatabaseBackend`]:
//!   [`PgDatabases`] (copies of a migrated template database, on several
//!   named servers; feature `postgres`), [`MySqlDatabases`] (feature
//!   `mysql`) or [`SqliteDatabases`] (one WAL file per tenant; feature
//!   `sqlite`). The registry records each tenant's [`DatabaseLocation`].
//! - [`TenantPools`]: requests are served from one lazily created pool per
//!   tenant, LRU-evicted, under one global connection budget
//!   ([`PoolConfig`], [`PoolStats`]); a handler receives a
//!   [`TenantConnection`].
//! - [`DatabaseName`], [`DatabaseLocation`] and [`DatabaseNaming`] (tenant
//!   id → database name, one to one) are backend-neutral and compile without
//!   any feature, as does [`DatabaseUrlTemplate`] (where tenant databases
//!   live, as one URL with a `{tenant}` placeholder).
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # async fn example(registry: tenancy_sqlx::AnyRegistry) -> Result<(), Box<dyn std::error::Error>> {
//! use tenancy_core::TenantId;
//! use tenancy_sqlx::database::{DatabaseManager, PoolConfig, SqliteDatabases, TenantPools};
//! use tenancy_sqlx::{NewTenant, TenantMigrations};
//!
//! let migrations = TenantMigrations::from_sql([
//!     (1, "items", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"),
//! ])?;
//! let databases = SqliteDatabases::new("./data/tenants")?;
//! let manager = DatabaseManager::new(registry, TenantPools::new(databases, PoolConfig::new()), migrations);
//! let acme = manager.create(NewTenant::new(TenantId::new("acme")?, "Acme Corp")).await?;
//! let mut conn = manager.connect(&acme).await?; // acme's own database
//! sqlx::query("INSERT INTO items (name) VALUES ('first')").execute(&mut *conn).await?;
//! # Ok(()) }
//! ```

// The module docs link to every backend's items; without its feature they are absent.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(rustdoc::broken_intra_doc_links)
)]

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod backend;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod copy;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod manager;
#[cfg(feature = "mysql")]
mod mysql;
pub(crate) mod name;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod pools;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod servers;
#[cfg(feature = "sqlite")]
mod sqlite;
mod template;

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub use backend::{BackendConnectOptions, BackendConnection, DatabaseBackend};
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub use manager::DatabaseManager;
#[cfg(feature = "mysql")]
pub use mysql::MySqlDatabases;
pub use name::DatabaseNaming;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub use pools::{PoolConfig, PoolStats, TenantConnection, TenantPools};
#[cfg(feature = "postgres")]
pub use postgres::PgDatabases;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteDatabases;
pub use template::{DatabaseUrlTemplate, UrlBackend, maintenance_url};

pub use crate::storage::{DatabaseLocation, DatabaseName};
