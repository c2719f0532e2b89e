//! Schema per tenant (Postgres, feature `postgres`): every tenant's tables
//! in a schema of its own, one shared pool.
//!
//! - [`SchemaPool`]: one pool scoped per tenant schema.
//!   [`begin`](SchemaPool::begin) sets `search_path` for one transaction only
//!   (in the same round trip as `BEGIN`) and returns a [`TenantTransaction`];
//!   [`session`](SchemaPool::session) is the opt-in session mode
//!   ([`TenantSession`]); [`qualified`](SchemaPool::qualified) writes the
//!   schema into the SQL instead ([`QualifiedSchema`]).
//! - [`StatementCache`]: tenants on one migration version share cached
//!   statements, tenants on different versions do not, so any mix of
//!   versions shares a pool without Postgres error 0A000 and the cache does
//!   not grow with the number of tenants.
//! - With thousands of tenants: [`SchemaPool::hot_schemas`] prepares
//!   qualified statements only for the most used schemas, and
//!   [`SchemaPool::affinity`] serves each schema from one of several
//!   sub-pools, so a Postgres connection's catalog caches (which never
//!   shrink) hold only a share of the schemas.
//! - [`SchemaManager`]: the lifecycle — atomic create (optionally from
//!   pre-provisioned spare schemas), migrate-all with bounded concurrency and
//!   per-schema locks, rename, activate / deactivate, idempotent delete.
//! - [`SchemaTenancy`]: all of the above wired in one call (registry, cache,
//!   invalidation, listener), handing back a [`Gate`](tenancy_core::Gate)
//!   for the framework middleware and the manager.
//! - [`SchemaName`] and [`SchemaNaming`] (tenant id → schema name, one to
//!   one), and [`TenantSchema`] (anything that names a schema) are
//!   backend-neutral and compile without any feature.
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn example(registry: tenancy_sqlx::PgRegistry) -> Result<(), Box<dyn std::error::Error>> {
//! use tenancy_core::TenantId;
//! use tenancy_sqlx::schema::{SchemaManager, SchemaPool};
//! use tenancy_sqlx::{NewTenant, TenantMigrations};
//!
//! let migrations = TenantMigrations::from_sql([
//!     (1, "items", "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)"),
//! ])?;
//! let schemas = SchemaPool::for_registry(&registry);
//! let manager = SchemaManager::new(registry, schemas, migrations);
//! let acme = manager.create(NewTenant::new(TenantId::new("acme")?, "Acme Corp")).await?;
//! let mut tx = manager.schemas().begin(&acme).await?; // search_path = "tenant_acme"
//! sqlx::query("INSERT INTO items (name) VALUES ('first')").execute(&mut tx).await?;
//! tx.commit().await?;
//! # Ok(()) }
//! ```

#[cfg(feature = "postgres")]
mod affinity;
#[cfg(feature = "postgres")]
mod cache;
#[cfg(feature = "postgres")]
mod executor;
#[cfg(feature = "postgres")]
mod hot;
#[cfg(feature = "postgres")]
mod manager;
#[cfg(feature = "postgres")]
pub(crate) mod pool;
#[cfg(feature = "postgres")]
mod qualified;
#[cfg(feature = "postgres")]
mod scope;
#[cfg(feature = "postgres")]
mod session;
#[cfg(feature = "postgres")]
mod transaction;
#[cfg(feature = "postgres")]
mod versions;
#[cfg(feature = "postgres")]
mod wired;

#[cfg(feature = "postgres")]
pub use cache::StatementCache;
#[cfg(feature = "postgres")]
pub use manager::SchemaManager;
#[cfg(feature = "postgres")]
pub use pool::SchemaPool;
#[cfg(feature = "postgres")]
pub use qualified::{QualifiedSchema, SCHEMA_PLACEHOLDER};
#[cfg(feature = "postgres")]
pub use session::TenantSession;
#[cfg(feature = "postgres")]
pub use transaction::TenantTransaction;
#[cfg(feature = "postgres")]
pub use wired::{SchemaStore, SchemaTenancy, SchemaTenancyBuilder};

pub use crate::storage::{SchemaName, SchemaNaming, TenantSchema};
