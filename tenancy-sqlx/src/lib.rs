//! sqlx integration for tenancy-rs: a tenant registry, schema-per-tenant
//! isolation and the tenant lifecycle, on PostgreSQL (feature `postgres`).
//!
//! - [`PgRegistry`]: tenants and domains in Postgres tables; a
//!   [`TenantStore`](tenancy_core::TenantStore) whose mutations invalidate
//!   subscribed caches at once, and other processes' caches through
//!   `LISTEN/NOTIFY` ([`NotifyListener`]).
//! - [`SchemaPool`]: one shared pool, scoped per tenant schema.
//!   [`begin`](SchemaPool::begin) sets `search_path` for one transaction only
//!   (in the same round trip as `BEGIN`); [`session`](SchemaPool::session) is
//!   the opt-in session mode. Statements are cached per schema
//!   ([`StatementCache`]), so tenants on different migration versions can share
//!   a pool without Postgres error 0A000.
//! - [`PgTenantManager`]: atomic create (optionally from pre-provisioned
//!   spare schemas), migrate-all with bounded concurrency, per-schema locks and
//!   a [`MigrationReport`], rename, deactivate / reactivate, idempotent drop.
//! - Shared-schema mode (all tenants in the same tables, a tenant column
//!   holding a stable [`SharedKey`]): on Postgres [`RlsPool`] enforces
//!   isolation with row-level security through a restricted role (even for a
//!   superuser login) and [`RlsPool::audit`] refuses unsafe setups; on MySQL /
//!   MariaDB and SQLite, which have no row-level security, isolation rests on
//!   the scoped helpers of `SharedPool` / `SharedTransaction`. The lifecycle:
//!   [`PgSharedManager`] and `SharedManager`.
//!
//! - Behind a transaction pooler (PgBouncer with `pool_mode = transaction`,
//!   Supavisor, RDS Proxy): build the registry, [`SchemaPool`] and
//!   [`RlsPool`] from [`PgConnections::pooled`] (with
//!   [`with_direct`](PgConnections::with_direct) for `LISTEN/NOTIFY`), and
//!   [`PgDatabases::through_pooler`] for database mode. Every statement the
//!   library sends is then unnamed and inside an explicit transaction; see
//!   [`Pooler`] for what your own code must avoid there.
//! - Registries on every backend: [`MySqlRegistry`] (feature `mysql`) and
//!   [`SqliteRegistry`] (feature `sqlite`) have the semantics of
//!   [`PgRegistry`], but no `LISTEN/NOTIFY`: other processes see changes
//!   when their cache entries expire (the `CachedStore` TTL). [`AnyRegistry`]
//!   picks the backend from a URL at run time.
//! - Database per tenant on Postgres, MySQL / MariaDB and SQLite:
//!   [`DatabaseManager`] over [`PgDatabases`] (copies of a migrated template
//!   database, on several named servers), [`MySqlDatabases`] or
//!   [`SqliteDatabases`] (one WAL file per tenant); the registry records
//!   each tenant's [`DatabaseLocation`]. Requests are served by
//!   [`TenantPools`]: one lazily created pool per tenant, LRU-evicted, under
//!   one global connection budget.
//!
//! Backend-neutral pieces — [`RegistryTenant`], [`Storage`], [`NewTenant`],
//! [`TenantMigrations`], [`MigrateOptions`], [`TenantFilter`],
//! [`MigrationReport`], identifiers ([`Ident`], [`SchemaName`],
//! [`SchemaNaming`], [`DatabaseName`], [`DatabaseNaming`]) — compile without
//! any backend feature.
//!
//! # Example
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use sqlx::postgres::PgPoolOptions;
//! use tenancy_core::{CachedStore, SubdomainResolver, Tenancy, TenantId};
//! use tenancy_sqlx::{MigrateOptions, NewTenant, PgRegistry, PgTenantManager, RegistryConfig, TenantMigrations};
//!
//! let pool = PgPoolOptions::new().max_connections(10).connect("postgres://localhost/app").await?;
//!
//! // The registry, a cache in front of it, and cross-process invalidation.
//! let registry = PgRegistry::connect(pool, RegistryConfig::default()).await?;
//! let cache = Arc::new(CachedStore::new(registry.clone()));
//! registry.subscribe(cache.clone());
//! let _listener = registry.listen();
//! let tenancy = Tenancy::new(SubdomainResolver::new(["example.com"])?, cache);
//!
//! // The lifecycle: tenant schemas get these migrations.
//! let migrations = TenantMigrations::from_sql([(
//!     1,
//!     "items",
//!     "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)",
//! )])?;
//! let manager = PgTenantManager::new(registry, migrations);
//! manager.create(NewTenant::new(TenantId::new("acme")?, "Acme Corp")).await?;
//!
//! // A request for acme.example.com: resolve, then query inside its schema.
//! let request = http::Request::builder().header("host", "acme.example.com").body(())?;
//! let tenant = tenancy.resolve(&request).await?.expect("a tenant").into_tenant();
//! let mut tx = manager.schemas().begin(&tenant).await?;
//! sqlx::query("INSERT INTO items (name) VALUES ($1)").bind("pen").execute(&mut tx).await?;
//! tx.commit().await?;
//!
//! // Deploying a new migration: every tenant, concurrently, with a report.
//! let report = manager.migrate_all(MigrateOptions::new()).await?;
//! assert!(report.is_success(), "{report}");
//! # Ok(()) }
//! ```

// The crate docs link to every backend's items; without its feature they are absent.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(rustdoc::broken_intra_doc_links)
)]

pub mod database;
mod error;
mod ident;
mod lifecycle;
pub mod migrate;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod registry;
pub mod schema;
pub mod shared;
mod storage;
mod tenant;

#[cfg(feature = "mysql")]
pub use database::MySqlDatabases;
#[cfg(feature = "postgres")]
pub use database::PgDatabases;
#[cfg(feature = "sqlite")]
pub use database::SqliteDatabases;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub use database::{
    BackendConnectOptions, BackendConnection, DatabaseBackend, DatabaseManager, PoolConfig,
    PoolStats, TenantConnection, TenantPools,
};
pub use database::{DatabaseLocation, DatabaseName, DatabaseNaming};
pub use error::{MigrationError, is_unavailable};
pub use ident::{Ident, InvalidIdentifier, MAX_IDENT_LEN};
pub use lifecycle::TenantLifecycle;
pub use migrate::{
    MigrateOptions, MigrationProgress, MigrationReport, MigrationStatus, TenantFilter,
    TenantMigration, TenantMigrations,
};
#[cfg(feature = "postgres")]
pub use postgres::{PgConnections, Pooler};
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub use registry::AnyRegistry;
#[cfg(feature = "mysql")]
pub use registry::MySqlRegistry;
#[cfg(any(feature = "mysql", feature = "sqlite"))]
pub use registry::RegistryTables;
#[cfg(feature = "sqlite")]
pub use registry::SqliteRegistry;
pub use registry::TenantRegistry;
#[cfg(feature = "postgres")]
pub use registry::{NotifyListener, PgRegistry, RegistryConfig};
#[cfg(feature = "postgres")]
pub use schema::{
    PgTenantManager, QualifiedSchema, SCHEMA_PLACEHOLDER, SchemaPool, StatementCache,
    TenantSession, TenantTransaction,
};
pub use schema::{SchemaName, SchemaNaming, TenantSchema};
pub use shared::SharedKey;
#[cfg(any(feature = "mysql", feature = "sqlite"))]
pub use shared::keyed::{
    AsOutput, QueryOutput, RowsOutput, ScalarOutput, SharedBackend, SharedInsert, SharedManager,
    SharedPool, SharedQuery, SharedQueryError, SharedTransaction,
};
#[cfg(feature = "mysql")]
pub use shared::keyed::{MySqlSharedManager, MySqlSharedPool, MySqlSharedTransaction};
#[cfg(feature = "sqlite")]
pub use shared::keyed::{SqliteSharedManager, SqliteSharedPool, SqliteSharedTransaction};
#[cfg(feature = "postgres")]
pub use shared::rls::{PgSharedManager, RlsAudit, RlsPool, RlsTransaction};
pub use storage::Storage;
/// Re-exported from `tenancy-core`: implemented by every isolation mode here.
pub use tenancy_core::TenantAccess;
pub use tenant::{NewTenant, RegistryTenant, RegistryTenantBuilder};
