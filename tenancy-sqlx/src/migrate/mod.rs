//! Tenant migrations, whatever the mode: the migration set
//! ([`TenantMigrations`]), the options of a migrate-all run
//! ([`MigrateOptions`]: concurrency, a [`TenantFilter`], a progress callback
//! receiving [`MigrationProgress`]) and its [`MigrationReport`] (one
//! [`TenantOutcome`] per tenant, with its [`MigrationStatus`]).
//!
//! [`MigrationState`] is where one tenant stands (applied, pending, drift),
//! read from its [`HistoryEntry`] rows by
//! [`TenantManager::migration_states`](crate::TenantManager::migration_states).
//!
//! These types are backend-neutral. Each mode's manager runs them:
//! [`SchemaManager::migrate_all`](crate::schema::SchemaManager::migrate_all)
//! (every tenant schema, concurrently, each under its own lock),
//! [`DatabaseManager::migrate_all`](crate::database::DatabaseManager::migrate_all)
//! (every tenant database), and in shared mode
//! [`RlsManager::migrate_all`](crate::shared::rls::RlsManager::migrate_all) /
//! [`SharedManager::migrate_all`](crate::shared::keyed::SharedManager::migrate_all)
//! (the shared tables once, reported for every tenant). A failing tenant is
//! reported and does not stop the run; [`MigrationError`] is the source of a
//! migration failure.
//!
//! ```
//! use tenancy_sqlx::migrate::{MigrateOptions, TenantFilter, TenantMigrations};
//!
//! let migrations = TenantMigrations::from_sql([
//!     (1, "items", "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL)"),
//!     (2, "item prices", "ALTER TABLE items ADD COLUMN price_cents bigint"),
//! ])?;
//! assert_eq!(migrations.latest(), Some(2));
//! let options = MigrateOptions::new().concurrency(8).filter(TenantFilter::all());
//! # let _ = options;
//! # Ok::<(), tenancy_core::TenancyError>(())
//! ```

// The module docs link to every mode's manager; without its feature it is absent.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(rustdoc::broken_intra_doc_links)
)]

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub(crate) mod apply;
mod filter;
mod migrations;
mod options;
mod report;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod run;
mod state;

pub use filter::TenantFilter;
pub use migrations::TenantMigrations;
#[cfg(feature = "postgres")]
pub(crate) use migrations::default_history_table;
pub use options::{MigrateOptions, MigrationProgress};
pub use report::{MigrationReport, MigrationStatus, TenantOutcome};
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub(crate) use run::migrate_each;
pub use state::{HistoryEntry, MigrationState};

pub use crate::error::MigrationError;
