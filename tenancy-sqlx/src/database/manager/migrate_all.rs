//! [`DatabaseManager::migrate_all`]: every tenant database, bounded
//! concurrency, a report at the end.

use tenancy_core::{TenancyError, TenantId};

use super::DatabaseManager;
use crate::database::backend::DatabaseBackend;
use crate::migrate::{MigrateOptions, MigrationReport, migrate_each};
use crate::tenant::RegistryTenant;

impl<B: DatabaseBackend> DatabaseManager<B> {
    /// Applies pending migrations to every selected tenant database.
    ///
    /// Each database is migrated on its own connection under its own
    /// migration lock (sqlx's, which is per database), at most
    /// [`concurrency`](MigrateOptions::concurrency) at once (default: the
    /// per-tenant pool limit). A failing tenant is reported and does not stop
    /// the run; a second run reports every tenant up to date. On Postgres and
    /// SQLite each tenant's migrations run in a transaction; MySQL commits
    /// DDL implicitly, so a migration failing half-way leaves that tenant
    /// marked dirty (reported as failed until fixed by hand), as with sqlx.
    /// The Postgres template databases are migrated first, so tenants created
    /// afterwards start up to date.
    ///
    /// Tenants whose storage is not a database of a server of this backend
    /// are counted as skipped. Fails as a whole only when the registry
    /// cannot be listed.
    pub async fn migrate_all(
        &self,
        options: MigrateOptions,
    ) -> Result<MigrationReport, TenancyError> {
        let backend = self.backend();
        backend.forget_prepared();
        let tenants = self.inner.registry.list().await?;
        let default_concurrency = self.pools().config().get_max_connections_per_tenant() as usize;
        let on_this_backend = |tenant: &RegistryTenant| {
            tenant
                .storage()
                .database()
                .is_some_and(|location| backend.has_server(location.server()))
        };
        Ok(migrate_each(
            tenants,
            on_this_backend,
            &options,
            default_concurrency,
            |tenant| async move { self.migrate_tenant(&tenant).await },
        )
        .await)
    }

    /// Applies pending migrations to one tenant; returns the applied versions.
    pub async fn migrate(&self, id: &TenantId) -> Result<Vec<i64>, TenancyError> {
        let tenant = self.inner.registry.require(id).await?;
        self.migrate_tenant(&tenant).await
    }

    async fn migrate_tenant(&self, tenant: &RegistryTenant) -> Result<Vec<i64>, TenancyError> {
        let id = tenant.id();
        let location = tenant
            .storage()
            .database()
            .ok_or_else(|| TenancyError::Migration {
                tenant: id.clone(),
                source: "the tenant has no database of its own".into(),
            })?;
        let backend = self.backend();
        let migrated = match backend
            .prepare(location.server(), &self.inner.migrations)
            .await
        {
            Ok(()) => backend.migrate(location, &self.inner.migrations).await,
            Err(error) => Err(error),
        };
        migrated.map_err(|error| {
            crate::error::step_error(error, |source| TenancyError::Migration {
                tenant: id.clone(),
                source,
            })
        })
    }
}
