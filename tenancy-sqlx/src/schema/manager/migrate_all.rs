//! [`SchemaManager::migrate_all`]: every tenant, bounded concurrency, one
//! transaction and one advisory lock per schema, a report at the end.

use sqlx::{AssertSqlSafe, SqlSafeStr};
use tenancy_core::{TenancyError, TenantId};

use super::SchemaManager;
use crate::error::{MigrationError, step_error, store_error};
use crate::migrate::{MigrateOptions, MigrationReport, migrate_each};
use crate::postgres::lock;
use crate::postgres::migrate::apply_pending;
use crate::postgres::tx::PgTx;
use crate::schema::pool::begin_statement;
use crate::storage::SchemaName;
use crate::tenant::RegistryTenant;

impl SchemaManager {
    /// Applies pending migrations to every selected tenant.
    ///
    /// - Each tenant is migrated in its own transaction under a per-schema
    ///   advisory lock (never sqlx's database-wide lock), so schemas migrate in
    ///   parallel and two runs on one schema wait for each other.
    /// - At most [`concurrency`](MigrateOptions::concurrency) tenants at once
    ///   (default: the pool's maximum size).
    /// - A failing tenant is rolled back, reported, and does not stop the run;
    ///   the run is resumable: completed tenants are up to date on the next run,
    ///   and [`TenantFilter::after`](crate::migrate::TenantFilter::after) restarts from a checkpoint.
    ///
    /// Fails as a whole only when the registry cannot be listed.
    pub async fn migrate_all(
        &self,
        options: MigrateOptions,
    ) -> Result<MigrationReport, TenancyError> {
        let tenants = self.inner.registry.list().await?;
        let default_concurrency = self.pool().options().get_max_connections() as usize;
        Ok(migrate_each(
            tenants,
            |_| true,
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
        let schema = tenant
            .schema()
            .ok_or_else(|| migration_error(id, "the tenant has no schema"))?;
        self.migrate_schema(id, schema).await
    }

    /// Migrates `schema` in one transaction under its advisory lock.
    pub(super) async fn migrate_schema(
        &self,
        id: &TenantId,
        schema: &SchemaName,
    ) -> Result<Vec<i64>, TenancyError> {
        // One round trip: BEGIN, search_path and the per-schema lock.
        let begin = format!(
            "{}; {}",
            begin_statement(schema, &[]),
            lock::schema_lock(schema)
        );
        let mut tx = PgTx::begin(self.pool(), Some(AssertSqlSafe(begin).into_sql_str()))
            .await
            .map_err(store_error)?;
        let versions = apply_pending(&mut tx, &self.inner.migrations)
            .await
            .map_err(|error| migration(id, error))?;
        tx.commit()
            .await
            .map_err(|error| migration(id, MigrationError::Database(error)))?;
        Ok(versions)
    }
}

fn migration(id: &TenantId, error: MigrationError) -> TenancyError {
    step_error(error, |source| TenancyError::Migration {
        tenant: id.clone(),
        source,
    })
}

fn migration_error(id: &TenantId, message: &'static str) -> TenancyError {
    TenancyError::Migration {
        tenant: id.clone(),
        source: message.into(),
    }
}
