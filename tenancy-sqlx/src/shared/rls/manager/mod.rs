//! [`RlsManager`]: the tenant lifecycle in shared-schema mode on Postgres.

mod clone;
mod migrate;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{AssertSqlSafe, Row, SqlSafeStr};
use tenancy_core::{TenancyError, TenantId};

use super::sql;
use super::{RlsAudit, RlsPool, RlsTransaction};
use crate::error::{step_error, store_error};
use crate::lifecycle::{Seed, StorageMode, TenantManager};
use crate::migrate::{HistoryEntry, MigrateOptions, MigrationReport, TenantMigrations};
use crate::postgres::migrate::read_history;
use crate::postgres::tx::PgTx;
use crate::registry::TenantRegistry;
use crate::storage::SharedKey;
use crate::storage::Storage;
use crate::tenant::{NewTenant, RegistryTenant};

/// Creates, migrates, renames, (de)activates and deletes tenants whose rows
/// share tables (shared-schema mode with row-level security): the
/// [`TenantManager`] over [`RlsPool`], with any registry.
///
/// - Each tenant is registered with [`Storage::Shared`] and a random
///   [`SharedKey`]: the value of the tenant column in its rows.
/// - [`create`](TenantManager::create) writes the registry row and runs the
///   [seed](TenantManager::with_seed) as the new tenant (restricted role,
///   key set).
/// - [`rename`](TenantManager::rename) changes the id in the registry only:
///   rows are keyed by the stable key, so no data row is touched.
/// - [`delete`](TenantManager::delete) deletes the tenant's rows from every
///   declared table in one statement, then its registry row.
/// - [`migrate_all`](TenantManager::migrate_all) applies pending migrations
///   once to the shared tables (under an advisory lock), re-protects the
///   declared tables and runs the [audit](RlsPool::audit) in the same
///   transaction (a refusal rolls the migrations back), and reports the
///   same outcome for every selected tenant (`Migrated`, `UpToDate`, or
///   `Failed` with the shared error, e.g. the audit's refusal, as its
///   source). Since migrations change every tenant's rows, a
///   [filter](crate::MigrateOptions::filter) that leaves tenants out is
///   refused with `Configuration` while migrations are pending.
///
/// Cheap to clone.
///
/// ```no_run
/// use tenancy_core::TenantId;
/// use tenancy_sqlx::{Ident, NewTenant, PgRegistry, RlsPool, TenantMigrations};
/// use tenancy_sqlx::shared::rls::RlsManager;
///
/// # async fn example(registry: PgRegistry) -> Result<(), Box<dyn std::error::Error>> {
/// let migrations = TenantMigrations::from_sql([(
///     1,
///     "items",
///     "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)",
/// )])?;
/// let shared = RlsPool::new(registry.pool().clone()).tables([Ident::new("items")?]);
/// let manager = RlsManager::new(registry, shared, migrations);
/// let audit = manager.setup().await?; // role, migrations, protection, audit
/// # let _ = audit;
///
/// let acme = manager.create(NewTenant::new(TenantId::new("acme")?, "Acme Corp")).await?;
/// let mut tx = manager.shared().begin(&acme).await?;
/// sqlx::query("INSERT INTO items (name) VALUES ('first')").execute(&mut tx).await?;
/// tx.commit().await?;
/// manager.delete(acme.id()).await?; // its items go with it
/// # Ok(()) }
/// ```
pub type RlsManager<R = crate::registry::PgRegistry> = TenantManager<RlsPool, R>;

impl<R: TenantRegistry> TenantManager<RlsPool, R> {
    /// Tenant-scoped access to the shared tables.
    pub fn shared(&self) -> &RlsPool {
        self.storage()
    }

    /// Start-up: creates the tenant role if missing
    /// ([`RlsPool::setup_role`]), applies pending migrations, protects every
    /// declared table (in the migrations' transaction), then runs the
    /// [audit](RlsPool::audit), which fails with
    /// [`TenancyError::Configuration`] on any unsafe setup.
    pub async fn setup(&self) -> Result<RlsAudit, TenancyError> {
        let shared = self.shared();
        shared.setup_role().await?;
        shared
            .migrate_shared(self.migrations(), true, true, false)
            .await?;
        shared.audit().await
    }

    /// Creates a tenant whose rows carry `key`, e.g. to adopt rows that
    /// already exist under that value of the tenant column. A key already in
    /// use by another tenant fails with [`TenancyError::SchemaCreation`].
    pub async fn create_with_key(
        &self,
        new: NewTenant,
        key: SharedKey,
    ) -> Result<RegistryTenant, TenancyError> {
        self.create_in(new, Storage::Shared(key)).await
    }
}

impl RlsPool {
    /// Runs the seed as the new tenant (restricted role, key set).
    async fn seed(
        &self,
        tenant: &RegistryTenant,
        seed: &Seed<RlsTransaction<'static>>,
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

    /// Deletes the tenant's rows from every declared table, in one statement
    /// (so foreign keys between them are checked once, at its end). Rows in
    /// tables that are not [declared](RlsPool::tables) stay behind (invisible
    /// to every other tenant, since keys are never reused).
    async fn delete_rows(&self, tenant: &RegistryTenant) -> Result<(), TenancyError> {
        let id = tenant.id();
        let key = crate::shared::key_of(tenant).map_err(|error| drop_error(id, "", error))?;
        let Some(statement) = self.delete_rows_statement() else {
            return Ok(());
        };
        // As the login role, with the key set: a non-superuser owner is subject
        // to FORCE ROW LEVEL SECURITY and must see the tenant's rows to delete them.
        let begin = AssertSqlSafe(sql::begin_as_login(key)).into_sql_str();
        let mut tx = PgTx::begin(self.pool(), Some(begin))
            .await
            .map_err(store_error)?;
        let row = sqlx::query(AssertSqlSafe(statement))
            .persistent(false)
            .bind(key.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(|error| drop_error(id, key.as_str(), error))?;
        let deleted: i64 = row
            .try_get(0)
            .map_err(|error| drop_error(id, key.as_str(), error))?;
        tx.commit()
            .await
            .map_err(|error| drop_error(id, key.as_str(), error))?;
        tracing::info!(tenant = %id, rows = deleted, "shared-mode rows deleted");
        Ok(())
    }

    /// `WITH d0 AS (DELETE … RETURNING 1), … SELECT <total>`, or `None` without tables.
    fn delete_rows_statement(&self) -> Option<String> {
        let tables = self.table_names();
        if tables.is_empty() {
            return None;
        }
        let column = self.column_name().quoted();
        let ctes: Vec<String> = tables
            .iter()
            .enumerate()
            .map(|(n, table)| {
                format!(
                    "d{n} AS (DELETE FROM {} WHERE {column} = $1 RETURNING 1)",
                    sql::qualified(self.schema_name(), table)
                )
            })
            .collect();
        let counts: Vec<String> = (0..tables.len())
            .map(|n| format!("(SELECT count(*) FROM d{n})"))
            .collect();
        Some(format!(
            "WITH {} SELECT ({})::int8",
            ctes.join(", "),
            counts.join(" + ")
        ))
    }
}

impl StorageMode for RlsPool {
    type Seeding = RlsTransaction<'static>;

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

    /// The row-level security audit ([`RlsPool::audit`]).
    fn audit(&self) -> BoxFuture<'_, Result<Vec<String>, TenancyError>> {
        async move { Ok(RlsPool::audit(self).await?.warnings().to_vec()) }.boxed()
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
            let qualified = sql::qualified(self.schema_name(), migrations.history());
            read_history(self.pool(), &qualified)
                .await
                .map_err(store_error)
        }
        .boxed()
    }

    fn migrate_all<'a>(
        &'a self,
        tenants: Vec<RegistryTenant>,
        migrations: &'a TenantMigrations,
        options: MigrateOptions,
    ) -> BoxFuture<'a, Result<MigrationReport, TenancyError>> {
        self.migrate_all_shared(tenants, migrations, options)
            .boxed()
    }
}

fn drop_error(id: &TenantId, key: &str, error: impl Into<DropFailure>) -> TenancyError {
    let schema = format!("shared key {key}");
    match error.into() {
        DropFailure::Sqlx(error) => step_error(error, |source| TenancyError::SchemaDrop {
            tenant: id.clone(),
            schema,
            source,
        }),
        DropFailure::Tenancy(error) => TenancyError::SchemaDrop {
            tenant: id.clone(),
            schema,
            source: Box::new(error),
        },
    }
}

enum DropFailure {
    Sqlx(sqlx::Error),
    Tenancy(TenancyError),
}

impl From<sqlx::Error> for DropFailure {
    fn from(error: sqlx::Error) -> Self {
        Self::Sqlx(error)
    }
}

impl From<TenancyError> for DropFailure {
    fn from(error: TenancyError) -> Self {
        Self::Tenancy(error)
    }
}
