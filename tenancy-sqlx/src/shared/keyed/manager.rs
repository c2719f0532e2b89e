//! [`SharedManager`]: the tenant lifecycle in shared-table mode on MySQL /
//! MariaDB and SQLite, the [`TenantManager`] over [`SharedPool`].

use std::time::Instant;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{AssertSqlSafe, SqlSafeStr};
use tenancy_core::TenancyError;

use super::backend::SharedBackend;
use super::pool::SharedPool;
use super::transaction::SharedTransaction;
use crate::error::{step_error, store_error};
use crate::lifecycle::{Seed, StorageMode, TenantManager};
use crate::migrate::{HistoryEntry, MigrateOptions, MigrationReport, TenantMigrations};
use crate::registry::TenantRegistry;
use crate::registry::sql::dialect::{Value, arguments};
use crate::shared::report::{fan_out, migration_failed, partial_run_refused, stopped};
use crate::storage::{SharedKey, Storage};
use crate::tenant::{NewTenant, RegistryTenant};

/// Creates, migrates, renames, (de)activates and deletes tenants whose rows
/// share tables, on MySQL / MariaDB ([`MySqlSharedManager`](crate::shared::keyed::MySqlSharedManager))
/// or SQLite ([`SqliteSharedManager`](crate::shared::keyed::SqliteSharedManager)):
/// the [`TenantManager`] over [`SharedPool`], with any registry.
///
/// It works like [`RlsManager`](crate::shared::rls::RlsManager): a random
/// [`SharedKey`] per tenant, registered as [`Storage::Shared`]; the
/// [seed](TenantManager::with_seed) runs scoped to the new tenant; rename
/// changes the registry only (rows carry the key, not the id); delete removes
/// the tenant's rows from every declared table (children first: reverse
/// declaration order) in one transaction, then its registry row; migrations
/// apply once to the shared tables, with a report entry per tenant.
///
/// On MySQL / MariaDB, DDL commits implicitly, so a migration that fails
/// half-way leaves its earlier statements applied (the history records it as
/// failed); keep one statement per migration there. Cheap to clone.
///
/// ```no_run
/// # #[cfg(feature = "sqlite")] mod example {
/// use tenancy_core::TenantId;
/// use tenancy_sqlx::{Ident, NewTenant, TenantMigrations};
/// use tenancy_sqlx::shared::keyed::{SqliteSharedManager, SqliteSharedPool};
///
/// # async fn example(registry: tenancy_sqlx::registry::SqliteRegistry) -> Result<(), Box<dyn std::error::Error>> {
/// let migrations = TenantMigrations::from_sql([(
///     1,
///     "items",
///     "CREATE TABLE items (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL); \
///      CREATE INDEX items_tenant ON items (tenant_id, id)",
/// )])?;
/// let shared = SqliteSharedPool::new(registry.pool().clone()).tables([Ident::new("items")?]);
/// let manager = SqliteSharedManager::new(registry, shared, migrations);
/// manager.setup().await?;
///
/// let acme = manager.create(NewTenant::new(TenantId::new("acme")?, "Acme Corp")).await?;
/// let mut tx = manager.shared().begin(&acme).await?;
/// tx.insert("items").value("name", "first").execute().await?;
/// tx.commit().await?;
/// manager.delete(acme.id()).await?;
/// # Ok(()) }
/// # }
/// # fn main() {}
/// ```
pub type SharedManager<DB, R = crate::registry::SqlRegistry<DB>> = TenantManager<SharedPool<DB>, R>;

impl<DB: SharedBackend, R: TenantRegistry> TenantManager<SharedPool<DB>, R> {
    /// Tenant-scoped access to the shared tables.
    pub fn shared(&self) -> &SharedPool<DB> {
        self.storage()
    }

    /// Start-up: applies pending migrations, then [checks](SharedPool::check)
    /// the declared tables.
    pub async fn setup(&self) -> Result<(), TenancyError> {
        self.migrate().await?;
        self.shared().check().await
    }

    /// Applies pending migrations to the shared tables (sqlx's migrator, with
    /// its per-database lock and history table); returns the applied versions.
    /// Errors: `Storage` (with the [`MigrationError`](crate::migrate::MigrationError)),
    /// `StoreUnavailable`.
    pub async fn migrate(&self) -> Result<Vec<i64>, TenancyError> {
        self.shared().migrate_tables(self.migrations()).await
    }

    /// Creates a tenant whose rows carry `key` (e.g. to adopt existing rows);
    /// a key in use by another tenant fails with `SchemaCreation`.
    pub async fn create_with_key(
        &self,
        new: NewTenant,
        key: SharedKey,
    ) -> Result<RegistryTenant, TenancyError> {
        self.create_in(new, Storage::Shared(key)).await
    }
}

impl<DB: SharedBackend> SharedPool<DB> {
    /// Applies pending migrations to the shared tables.
    async fn migrate_tables(
        &self,
        migrations: &TenantMigrations,
    ) -> Result<Vec<i64>, TenancyError> {
        let mut conn = self.pool().acquire().await.map_err(store_error)?;
        let versions = DB::migrate(&mut conn, migrations)
            .await
            .map_err(migration_failed)?;
        if !versions.is_empty() {
            tracing::info!(?versions, "shared tables migrated");
        }
        Ok(versions)
    }

    /// How many of `migrations` are not applied yet.
    async fn pending(&self, migrations: &TenantMigrations) -> Result<usize, TenancyError> {
        let mut conn = self.pool().acquire().await.map_err(store_error)?;
        let history = DB::history(&mut conn, migrations)
            .await
            .map_err(migration_failed)?;
        Ok(migrations
            .iter()
            .filter(|migration| {
                !history
                    .iter()
                    .any(|entry| entry.version == migration.version)
            })
            .count())
    }

    /// Migrates once and reports every selected tenant (the rules of
    /// [`RlsManager`](crate::shared::rls::RlsManager)'s migrate-all).
    async fn migrate_shared(
        &self,
        tenants: Vec<RegistryTenant>,
        migrations: &TenantMigrations,
        options: MigrateOptions,
    ) -> Result<MigrationReport, TenancyError> {
        let started = Instant::now();
        let listed = tenants.len();
        let selected: Vec<RegistryTenant> = tenants
            .into_iter()
            .filter(|tenant| options.filter.matches(tenant))
            .collect();
        let skipped = listed - selected.len();
        if skipped > 0 {
            let pending = self.pending(migrations).await?;
            if pending > 0 {
                return Err(partial_run_refused(pending, skipped));
            }
        }
        if options.is_stopped() {
            return Ok(stopped(&selected, skipped, started));
        }
        let outcome = self.migrate_tables(migrations).await;
        let report = fan_out(
            &selected,
            outcome,
            skipped,
            started,
            options.progress.as_ref(),
        );
        tracing::info!(%report, "shared-table migrations finished");
        Ok(report)
    }

    /// Runs the seed in a transaction scoped to the new tenant.
    async fn seed(
        &self,
        tenant: &RegistryTenant,
        seed: &Seed<SharedTransaction<DB>>,
    ) -> Result<(), TenancyError> {
        let mut tx = self.begin(tenant).await?;
        seed(&mut tx, tenant)
            .await
            .map_err(|source| TenancyError::TableCreation {
                tenant: tenant.id().clone(),
                source,
            })?;
        tx.commit().await.map_err(store_error)
    }

    /// Deletes the tenant's rows from every declared table, children first,
    /// in one transaction.
    async fn delete_rows(&self, tenant: &RegistryTenant) -> Result<(), TenancyError> {
        let id = tenant.id();
        let key = crate::shared::key_of(tenant).map_err(|error| TenancyError::SchemaDrop {
            tenant: id.clone(),
            schema: String::new(),
            source: Box::new(error),
        })?;
        let drop_error = |error: sqlx::Error| {
            step_error(error, |source| TenancyError::SchemaDrop {
                tenant: id.clone(),
                schema: format!("shared key {key}"),
                source,
            })
        };
        let mut tx = DB::begin(self.pool(), true).await.map_err(store_error)?;
        let column = DB::quote(self.column_name());
        let mut deleted = 0;
        for table in self.table_names().iter().rev() {
            let statement = format!("DELETE FROM {} WHERE {column} = ?", DB::quote(table));
            let args = arguments::<DB>(&[Value::Str(key.as_str())]).map_err(drop_error)?;
            let done = DB::execute(&mut tx, AssertSqlSafe(statement).into_sql_str(), args)
                .await
                .map_err(drop_error)?;
            deleted += DB::rows_affected(&done);
        }
        tx.commit().await.map_err(drop_error)?;
        tracing::info!(tenant = %id, rows = deleted, "shared-mode rows deleted");
        Ok(())
    }
}

impl<DB: SharedBackend> StorageMode for SharedPool<DB> {
    type Seeding = SharedTransaction<DB>;

    fn allocate<'a>(&'a self, _new: &'a NewTenant) -> BoxFuture<'a, Result<Storage, TenancyError>> {
        async move { Ok(Storage::Shared(SharedKey::generate()?)) }.boxed()
    }

    fn provision<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
        _migrations: &'a TenantMigrations,
        seed: Option<&'a Seed<Self::Seeding>>,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        async move {
            match seed {
                Some(seed) => self.seed(tenant, seed).await,
                None => Ok(()),
            }
        }
        .boxed()
    }

    fn remove<'a>(&'a self, tenant: &'a RegistryTenant) -> BoxFuture<'a, Result<(), TenancyError>> {
        self.delete_rows(tenant).boxed()
    }

    /// The shared tables' check ([`SharedPool::check`]): each exists with
    /// its tenant column.
    fn audit(&self) -> BoxFuture<'_, Result<Vec<String>, TenancyError>> {
        async move {
            self.check().await?;
            Ok(Vec::new())
        }
        .boxed()
    }

    fn copy_data<'a>(
        &'a self,
        from: &'a RegistryTenant,
        to: &'a RegistryTenant,
        _migrations: &'a TenantMigrations,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        self.copy_rows(from, to).boxed()
    }

    fn history<'a>(
        &'a self,
        _tenant: &'a RegistryTenant,
        migrations: &'a TenantMigrations,
    ) -> BoxFuture<'a, Result<Vec<HistoryEntry>, TenancyError>> {
        async move {
            let mut conn = self.pool().acquire().await.map_err(store_error)?;
            DB::history(&mut conn, migrations)
                .await
                .map_err(migration_failed)
        }
        .boxed()
    }

    fn migrate_all<'a>(
        &'a self,
        tenants: Vec<RegistryTenant>,
        migrations: &'a TenantMigrations,
        options: MigrateOptions,
    ) -> BoxFuture<'a, Result<MigrationReport, TenancyError>> {
        self.migrate_shared(tenants, migrations, options).boxed()
    }
}
