//! [`SchemaManager`]: the tenant lifecycle for schema-per-tenant Postgres,
//! the [`TenantManager`] over [`SchemaPool`].

mod clone;
mod create;
mod migrate_all;
mod rename;
mod spares;
mod storage;

pub(crate) use spares::SpareTable;

use tenancy_core::{TenancyError, TenantId};

use super::pool::SchemaPool;
use crate::lifecycle::TenantManager;
use crate::registry::TenantRegistry;
use crate::registry::require;

/// Creates, migrates, renames, (de)activates and deletes tenants whose data
/// lives in a schema each: the [`TenantManager`] over [`SchemaPool`], with any
/// registry (usually a [`PgRegistry`](crate::registry::PgRegistry) in the
/// same database, with [`SchemaPool::for_registry`]).
///
/// - Create: the schema, its migrations and the seed in one transaction (a
///   [spare schema](Self::replenish_spares), when one is ready, is claimed
///   with a rename instead); `SchemaCreation` when the schema name is taken
///   by a schema or a role, or too long for the prefix.
/// - Rename: `ALTER SCHEMA … RENAME` under both schemas' advisory locks, so
///   the name keeps following the id.
/// - Delete: `DROP SCHEMA … CASCADE` under the schema's lock.
/// - Migrate-all: each tenant in its own transaction under a per-schema
///   advisory lock (never sqlx's database-wide lock), at most
///   [`concurrency`](crate::MigrateOptions::concurrency) at once (default: the
///   pool's maximum size); a failing tenant is rolled back and reported, and
///   the run is resumable.
///
/// ```no_run
/// use tenancy_core::TenantId;
/// use tenancy_sqlx::{MigrateOptions, NewTenant, PgRegistry, SchemaManager, SchemaPool, TenantMigrations};
///
/// # async fn example(registry: PgRegistry) -> Result<(), Box<dyn std::error::Error>> {
/// let migrations = TenantMigrations::from_sql([
///     (1, "items", "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)"),
/// ])?;
/// let schemas = SchemaPool::for_registry(&registry);
/// let manager = SchemaManager::new(registry, schemas, migrations);
/// let acme = manager.create(NewTenant::new(TenantId::new("acme")?, "Acme Corp")).await?;
///
/// let mut tx = manager.schemas().begin(&acme).await?;
/// sqlx::query("INSERT INTO items (name) VALUES ('first')").execute(&mut tx).await?;
/// tx.commit().await?;
///
/// let report = manager.migrate_all(MigrateOptions::new()).await?;
/// assert!(report.is_success());
/// manager.delete(acme.id()).await?;
/// # Ok(()) }
/// ```
pub type SchemaManager<R = crate::registry::PgRegistry> = TenantManager<SchemaPool, R>;

impl<R: TenantRegistry> TenantManager<SchemaPool, R> {
    /// Scoped access to tenant schemas.
    pub fn schemas(&self) -> &SchemaPool {
        self.storage()
    }

    /// Applies pending migrations to one tenant; returns the applied versions
    /// (and reports [`TenantEvent::Migrated`](tenancy_core::TenantEvent::Migrated)
    /// when there were any).
    pub async fn migrate(&self, id: &TenantId) -> Result<Vec<i64>, TenancyError> {
        let tenant = require(self.registry(), id).await?;
        let applied = self
            .schemas()
            .migrate_tenant(&tenant, self.migrations())
            .await?;
        if !applied.is_empty() {
            self.report_migrated(std::iter::once(id)).await;
        }
        Ok(applied)
    }
}
