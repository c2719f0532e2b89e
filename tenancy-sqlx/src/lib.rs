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
//!
//! Backend-neutral pieces — [`RegistryTenant`], [`Storage`], [`NewTenant`],
//! [`TenantMigrations`], [`MigrateOptions`], [`TenantFilter`],
//! [`MigrationReport`], identifiers ([`Ident`], [`SchemaName`],
//! [`SchemaNaming`]) — compile without any backend feature. Features `mysql`
//! and `sqlite` are reserved: they enable sqlx's drivers and nothing else yet.
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

// The crate docs link to the Postgres items; without the feature they are absent.
#![cfg_attr(not(feature = "postgres"), allow(rustdoc::broken_intra_doc_links))]

mod access;
mod error;
mod ident;
mod lifecycle;
mod migrate;
#[cfg(feature = "postgres")]
mod postgres;
mod registry;
mod tenant;

pub use access::TenantAccess;
pub use error::{MigrationError, is_unavailable};
pub use ident::{Ident, InvalidIdentifier, MAX_IDENT_LEN, SchemaName, SchemaNaming, TenantSchema};
pub use lifecycle::TenantLifecycle;
pub use migrate::{
    MigrateOptions, MigrationProgress, MigrationReport, MigrationStatus, TenantFilter,
    TenantMigration, TenantMigrations,
};
#[cfg(feature = "postgres")]
pub use postgres::manager::PgTenantManager;
#[cfg(feature = "postgres")]
pub use postgres::registry::{NotifyListener, PgRegistry, RegistryConfig};
#[cfg(feature = "postgres")]
pub use postgres::schema::{SchemaPool, StatementCache, TenantSession, TenantTransaction};
pub use registry::TenantRegistry;
pub use tenant::{NewTenant, RegistryTenant, RegistryTenantBuilder, Storage};
