//! Tenant migrations: the migration set, run options, filters and reports.
//!
//! These types are backend-neutral; the Postgres runner lives in
//! [`PgTenantManager`](crate::PgTenantManager).

mod filter;
mod migrations;
mod options;
mod report;
mod run;

pub use filter::TenantFilter;
pub use migrations::TenantMigrations;
pub use options::{MigrateOptions, MigrationProgress};
pub use report::{MigrationReport, MigrationStatus, TenantMigration};
pub(crate) use run::migrate_each;
