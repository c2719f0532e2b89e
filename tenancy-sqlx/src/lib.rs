//! sqlx integration for tenancy-rs: tenant registries, three isolation modes
//! on three backends, and the tenant lifecycle.
//!
//! | mode | Postgres (feature `postgres`) | MySQL / MariaDB (`mysql`) | SQLite (`sqlite`) |
//! |---|---|---|---|
//! | [`schema`]: a schema per tenant | [`SchemaPool`], [`SchemaManager`] | — (a MySQL schema is a database) | — |
//! | [`database`]: a database per tenant | [`TenantPools`], [`DatabaseManager`] over [`PgDatabases`](database::PgDatabases) | over [`MySqlDatabases`](database::MySqlDatabases) | over [`SqliteDatabases`](database::SqliteDatabases) (a file each) |
//! | [`shared`]: shared tables, a tenant column | [`shared::rls`]: [`RlsPool`], row-level security | [`shared::keyed`]: scoped helpers | [`shared::keyed`] |
//!
//! - [`registry`]: where tenants and their domains are listed —
//!   [`PgRegistry`] (with cross-process invalidation through
//!   `LISTEN/NOTIFY`), [`MySqlRegistry`](registry::MySqlRegistry),
//!   [`SqliteRegistry`](registry::SqliteRegistry), or [`AnyRegistry`] chosen
//!   from a URL at run time; each is a
//!   [`TenantStore`](tenancy_core::TenantStore) for the request path and a
//!   [`TenantRegistry`], configured by a [`RegistryConfig`]. A tenant as
//!   stored is a [`RegistryTenant`], whose [`Storage`] says where its data
//!   lives; [`NewTenant`] is a tenant to create.
//! - [`lifecycle`]: one [`TenantManager`] for every mode, over any
//!   [`TenantRegistry`] and the mode's storage: create with undo,
//!   migrate-all with a per-tenant report, rename, activate / deactivate,
//!   idempotent delete, keeping the registry and the tenants' storage in
//!   step; each mode's manager (`SchemaManager`, …) is it, and a
//!   [`TenantLifecycle`].
//! - Each mode's access type is a [`TenantAccess`]: what the framework
//!   adapters' database extractors open for the request's tenant.
//! - [`migrate`]: the tenant migrations ([`TenantMigrations`]), the options of
//!   a migrate-all run ([`MigrateOptions`]) and its [`MigrationReport`].
//! - `testing` (feature `testing`): the conformance kit — registry, lifecycle
//!   and isolation suites that a registry or isolation mode of your own runs
//!   with one macro call each, and an in-memory reference registry.
//! - [`postgres`]: connections behind a transaction pooler (PgBouncer with
//!   `pool_mode = transaction`, Supavisor, RDS Proxy):
//!   [`PgConnections`](postgres::PgConnections),
//!   [`Pooler`](postgres::Pooler).
//!
//! The registry, storage, identifier and migration types ([`Ident`],
//! [`Storage`], [`RegistryTenant`], [`RegistryConfig`], [`TenantMigrations`],
//! the naming types of each mode, ...) are backend-neutral and compile
//! without any backend feature.
//!
//! # Example
//!
//! ```no_run
//! # #[cfg(feature = "postgres")]
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use sqlx::postgres::PgPoolOptions;
//! use tenancy_core::{CachedStore, SubdomainResolver, Tenancy, TenantId};
//! use tenancy_sqlx::{MigrateOptions, NewTenant, PgRegistry, RegistryConfig, SchemaManager, SchemaPool, TenantMigrations};
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
//! let manager = SchemaManager::new(registry.clone(), SchemaPool::for_registry(&registry), migrations);
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
pub mod lifecycle;
pub mod migrate;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod registry;
pub mod schema;
pub mod shared;
mod storage;
mod tenant;
#[cfg(feature = "testing")]
pub mod testing;

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub use database::{DatabaseManager, TenantPools};
pub use error::is_unavailable;
pub use ident::{Ident, InvalidIdentifier};
pub use lifecycle::{TenantLifecycle, TenantManager, TenantResult};
pub use migrate::{MigrateOptions, MigrationReport, TenantMigrations};
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub use registry::AnyRegistry;
#[cfg(feature = "postgres")]
pub use registry::PgRegistry;
pub use registry::{RegistryConfig, TenantRegistry};
#[cfg(feature = "postgres")]
pub use schema::{SchemaManager, SchemaPool};
#[cfg(feature = "postgres")]
pub use shared::rls::RlsPool;
pub use storage::Storage;
/// Re-exported from `tenancy-core`: implemented by every isolation mode here.
pub use tenancy_core::TenantAccess;
pub use tenant::{NewTenant, RegistryTenant};
