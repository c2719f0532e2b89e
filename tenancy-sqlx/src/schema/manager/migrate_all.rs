//! Tenant schemas migrated: every tenant, bounded concurrency, one
//! transaction and one advisory lock per schema, a report at the end.

use sqlx::{AssertSqlSafe, SqlSafeStr};
use tenancy_core::{TenancyError, TenantId};

use crate::error::{MigrationError, step_error, store_error};
use crate::migrate::{MigrateOptions, MigrationReport, TenantMigrations, migrate_each};
use crate::postgres::lock;
use crate::postgres::migrate::apply_pending;
use crate::postgres::tx::PgTx;
use crate::schema::pool::{SchemaPool, begin_statement};
use crate::storage::SchemaName;
use crate::tenant::RegistryTenant;

impl SchemaPool {
    /// Migrates every selected tenant, at most
    /// [`concurrency`](MigrateOptions::concurrency) at once (default: the
    /// pool's maximum size), continuing past failures.
    pub(super) async fn migrate_schemas(
        &self,
        tenants: Vec<RegistryTenant>,
        migrations: &TenantMigrations,
        options: MigrateOptions,
    ) -> MigrationReport {
        let default_concurrency = self.pool().options().get_max_connections() as usize;
        migrate_each(
            tenants,
            |_| true,
            &options,
            default_concurrency,
            |tenant| async move { self.migrate_tenant(&tenant, migrations).await },
        )
        .await
    }

    /// Applies pending migrations to one tenant's schema.
    pub(super) async fn migrate_tenant(
        &self,
        tenant: &RegistryTenant,
        migrations: &TenantMigrations,
    ) -> Result<Vec<i64>, TenancyError> {
        let id = tenant.id();
        let schema = tenant.schema().ok_or_else(|| TenancyError::Migration {
            tenant: id.clone(),
            source: "the tenant has no schema".into(),
        })?;
        self.migrate_schema(id, schema, migrations).await
    }

    /// Migrates `schema` in one transaction under its advisory lock.
    async fn migrate_schema(
        &self,
        id: &TenantId,
        schema: &SchemaName,
        migrations: &TenantMigrations,
    ) -> Result<Vec<i64>, TenancyError> {
        // One round trip: BEGIN, search_path and the per-schema lock.
        let begin = format!(
            "{}; {}",
            begin_statement(schema, &[]),
            lock::schema_lock(schema)
        );
        let mut tx = PgTx::begin(
            self.pool_for(schema),
            Some(AssertSqlSafe(begin).into_sql_str()),
        )
        .await
        .map_err(store_error)?;
        let versions = apply_pending(&mut tx, migrations)
            .await
            .map_err(|error| migration(id, error))?;
        tx.commit()
            .await
            .map_err(|error| migration(id, MigrationError::Database(error)))?;
        if !versions.is_empty() {
            // Its statements now belong with the new version's.
            self.forget_version(schema);
        }
        Ok(versions)
    }
}

fn migration(id: &TenantId, error: MigrationError) -> TenancyError {
    step_error(error, |source| TenancyError::Migration {
        tenant: id.clone(),
        source,
    })
}
