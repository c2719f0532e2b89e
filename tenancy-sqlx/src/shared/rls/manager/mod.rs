//! [`RlsManager`]: the tenant lifecycle in shared-schema mode on Postgres.

mod migrate;

use std::fmt;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{AssertSqlSafe, Row, SqlSafeStr};
use tenancy_core::{BoxError, Invalidation, TenancyError, TenantId, TenantKey};

use super::sql;
use super::{RlsAudit, RlsPool, RlsTransaction};
use crate::error::{step_error, store_error};
use crate::lifecycle::TenantLifecycle;
use crate::migrate::{MigrateOptions, MigrationReport, TenantMigrations};
use crate::postgres::tx::PgTx;
use crate::registry::TenantRegistry;
use crate::registry::postgres::{PgRegistry, created_events};
use crate::storage::SharedKey;
use crate::storage::Storage;
use crate::tenant::{NewTenant, RegistryTenant};

type SeedFn = Arc<
    dyn for<'a> Fn(
            &'a mut RlsTransaction<'static>,
            &'a RegistryTenant,
        ) -> BoxFuture<'a, Result<(), BoxError>>
        + Send
        + Sync,
>;

/// Creates, migrates, renames, (de)activates and deletes tenants whose rows
/// share tables (shared-schema mode with row-level security), keeping the
/// [`PgRegistry`] and the rows in step.
///
/// - Each tenant is registered with [`Storage::Shared`] and a random
///   [`SharedKey`]: the value of the tenant column in its rows.
/// - [`create`](Self::create) writes the registry row (and runs the
///   [seed](Self::with_seed) as the new tenant) in one transaction.
/// - [`rename`](Self::rename) changes the id in the registry only: rows are
///   keyed by the stable key, so no data row is touched.
/// - [`delete`](Self::delete) deletes the tenant's rows from every
///   declared table and its registry row in one transaction.
/// - [`migrate_all`](Self::migrate_all) applies pending migrations once to
///   the shared tables (under an advisory lock), re-protects the declared
///   tables and runs the [audit](RlsPool::audit) in the same transaction
///   (a refusal rolls the migrations back), and reports the outcome for
///   every tenant.
///
/// The [`RlsPool`] must be on the registry's database (usually
/// `RlsPool::new(registry.pool().clone())`), so that a drop is atomic.
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
#[derive(Clone)]
pub struct RlsManager {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    registry: PgRegistry,
    shared: RlsPool,
    migrations: TenantMigrations,
    seed: Option<SeedFn>,
}

impl RlsManager {
    /// A manager for the tenants of `registry`, whose rows live in the tables
    /// of `shared`, created by `migrations`.
    pub fn new(registry: PgRegistry, shared: RlsPool, migrations: TenantMigrations) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry,
                shared,
                migrations,
                seed: None,
            }),
        }
    }

    /// Runs `seed` in every [`create`](Self::create) transaction, as the new
    /// tenant (restricted role, tenant key set), e.g. to insert initial rows.
    /// A failing seed fails the creation with [`TenancyError::TableCreation`]
    /// and leaves no registry row.
    ///
    /// ```no_run
    /// # fn example(manager: tenancy_sqlx::shared::rls::RlsManager) -> tenancy_sqlx::shared::rls::RlsManager {
    /// manager.with_seed(|tx, _tenant| {
    ///     Box::pin(async move {
    ///         sqlx::query("INSERT INTO items (name) VALUES ('welcome')").execute(tx).await?;
    ///         Ok(())
    ///     })
    /// })
    /// # }
    /// ```
    #[must_use]
    pub fn with_seed<F>(mut self, seed: F) -> Self
    where
        F: for<'a> Fn(
                &'a mut RlsTransaction<'static>,
                &'a RegistryTenant,
            ) -> BoxFuture<'a, Result<(), BoxError>>
            + Send
            + Sync
            + 'static,
    {
        Arc::make_mut(&mut self.inner).seed = Some(Arc::new(seed));
        self
    }

    /// The registry.
    pub fn registry(&self) -> &PgRegistry {
        &self.inner.registry
    }

    /// Tenant-scoped access to the shared tables.
    pub fn shared(&self) -> &RlsPool {
        &self.inner.shared
    }

    /// The migrations of the shared tables.
    pub fn migrations(&self) -> &TenantMigrations {
        &self.inner.migrations
    }

    /// Start-up: creates the tenant role if missing
    /// ([`RlsPool::setup_role`]), applies pending migrations, protects every
    /// declared table (in the migrations' transaction), then runs the
    /// [audit](RlsPool::audit), which fails with
    /// [`TenancyError::Configuration`] on any unsafe setup.
    pub async fn setup(&self) -> Result<RlsAudit, TenancyError> {
        self.inner.shared.setup_role().await?;
        self.migrate_shared(true, true, false).await?;
        self.inner.shared.audit().await
    }

    /// Creates a tenant with a fresh random key: the registry row, and the
    /// [seed](Self::with_seed) if any, in one transaction (a failure leaves no
    /// row behind). Of two concurrent creations of one id exactly one succeeds;
    /// the other fails with [`TenancyError::TenantExists`].
    ///
    /// Errors: `TenantExists`, `DomainTaken`, `TableCreation` (the seed
    /// failed), `StoreUnavailable`.
    pub async fn create(&self, new: NewTenant) -> Result<RegistryTenant, TenancyError> {
        self.create_with_key(new, SharedKey::generate()?).await
    }

    /// Creates a tenant whose rows carry `key`, e.g. to adopt rows that
    /// already exist under that value of the tenant column. A key already in
    /// use by another tenant fails with [`TenancyError::SchemaCreation`].
    pub async fn create_with_key(
        &self,
        new: NewTenant,
        key: SharedKey,
    ) -> Result<RegistryTenant, TenancyError> {
        let registry = &self.inner.registry;
        let mut tx = PgTx::begin(registry.pool(), None)
            .await
            .map_err(store_error)?;
        let tenant = registry
            .insert_on(&mut tx, &new, Storage::Shared(key.clone()), false)
            .await?
            .tenant;
        match &self.inner.seed {
            Some(seed) => {
                // Become the tenant for the seed: restricted role, key set.
                let shared = &self.inner.shared;
                let scope = sql::scope_statement(shared.role_name(), shared.schema_name(), &key);
                sqlx::raw_sql(AssertSqlSafe(scope))
                    .execute(&mut *tx)
                    .await
                    .map_err(|error| table_creation(&new.id, error))?;
                let unnamed = registry.connections().pooler().is_transaction();
                let mut scoped = RlsTransaction::new(tx, key, unnamed);
                seed(&mut scoped, &tenant)
                    .await
                    .map_err(|source| TenancyError::TableCreation {
                        tenant: new.id.clone(),
                        source,
                    })?;
                scoped.commit().await.map_err(store_error)?;
            }
            None => tx.commit().await.map_err(store_error)?,
        }
        registry.publish(&created_events(&new)).await;
        tracing::info!(tenant = %new.id, "shared-mode tenant created");
        Ok(tenant)
    }

    /// Renames a tenant: its id in the registry (its domains follow). The
    /// rows are keyed by the tenant's stable key, so no data row changes.
    ///
    /// Errors: `TenantNotFound`, `TenantExists`, `StoreUnavailable`.
    pub async fn rename(
        &self,
        from: &TenantId,
        to: &TenantId,
    ) -> Result<RegistryTenant, TenancyError> {
        let registry = &self.inner.registry;
        registry.rename(from, to).await?;
        tracing::info!(%from, %to, "shared-mode tenant renamed");
        registry
            .find_by_id(to)
            .await?
            .ok_or_else(|| TenancyError::TenantNotFound {
                key: TenantKey::Id(to.clone()),
            })
    }

    /// Deactivates a tenant (see [`PgRegistry::deactivate`]).
    pub async fn deactivate(&self, id: &TenantId) -> Result<(), TenancyError> {
        self.inner.registry.deactivate(id).await
    }

    /// Activates a tenant (see [`PgRegistry::activate`]).
    pub async fn activate(&self, id: &TenantId) -> Result<(), TenancyError> {
        self.inner.registry.activate(id).await
    }

    /// Deletes a tenant: its rows from every declared table and its
    /// registry row, in one transaction (one statement deletes from all tables,
    /// so foreign keys between them are checked once, at its end). Idempotent:
    /// `false` when the registry has no such tenant.
    ///
    /// Rows in tables that are not [declared](RlsPool::tables) stay behind
    /// (invisible to every other tenant, since keys are never reused).
    ///
    /// Errors: `SchemaDrop`, `StoreUnavailable`.
    pub async fn delete(&self, id: &TenantId) -> Result<bool, TenancyError> {
        let registry = &self.inner.registry;
        let Some(tenant) = registry.find_by_id(id).await? else {
            return Ok(false);
        };
        let key = crate::shared::key_of(&tenant).map_err(|error| drop_error(id, "", error))?;
        // As the login role, with the key set: a non-superuser owner is subject
        // to FORCE ROW LEVEL SECURITY and must see the tenant's rows to delete them.
        let begin = AssertSqlSafe(sql::begin_as_login(key)).into_sql_str();
        let mut tx = PgTx::begin(registry.pool(), Some(begin))
            .await
            .map_err(store_error)?;
        let existed = registry.delete_on(&mut tx, id).await?;
        let mut deleted = 0_i64;
        if let Some(statement) = self.delete_rows_statement() {
            let row = sqlx::query(AssertSqlSafe(statement))
                .persistent(false)
                .bind(key.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(|error| drop_error(id, key.as_str(), error))?;
            deleted = row
                .try_get(0)
                .map_err(|error| drop_error(id, key.as_str(), error))?;
        }
        tx.commit()
            .await
            .map_err(|error| drop_error(id, key.as_str(), error))?;
        registry.publish(&[Invalidation::Tenant(id.clone())]).await;
        tracing::info!(tenant = %id, rows = deleted, "shared-mode tenant dropped");
        Ok(existed)
    }

    /// `WITH d0 AS (DELETE … RETURNING 1), … SELECT <total>`, or `None` without tables.
    fn delete_rows_statement(&self) -> Option<String> {
        let shared = &self.inner.shared;
        let tables = shared.table_names();
        if tables.is_empty() {
            return None;
        }
        let column = shared.column_name().quoted();
        let ctes: Vec<String> = tables
            .iter()
            .enumerate()
            .map(|(n, table)| {
                format!(
                    "d{n} AS (DELETE FROM {} WHERE {column} = $1 RETURNING 1)",
                    sql::qualified(shared.schema_name(), table)
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

fn table_creation(id: &TenantId, error: sqlx::Error) -> TenancyError {
    step_error(error, |source| TenancyError::TableCreation {
        tenant: id.clone(),
        source,
    })
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

impl fmt::Debug for RlsManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RlsManager")
            .field("registry", &self.inner.registry)
            .field("shared", &self.inner.shared)
            .field("migrations", &self.inner.migrations)
            .field("seed", &self.inner.seed.is_some())
            .finish()
    }
}

impl TenantLifecycle for RlsManager {
    fn registry(&self) -> &dyn TenantRegistry {
        RlsManager::registry(self)
    }

    fn create(&self, tenant: NewTenant) -> BoxFuture<'_, Result<RegistryTenant, TenancyError>> {
        RlsManager::create(self, tenant).boxed()
    }

    fn rename<'a>(
        &'a self,
        from: &'a TenantId,
        to: &'a TenantId,
    ) -> BoxFuture<'a, Result<RegistryTenant, TenancyError>> {
        RlsManager::rename(self, from, to).boxed()
    }

    fn deactivate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        RlsManager::deactivate(self, id).boxed()
    }

    fn activate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        RlsManager::activate(self, id).boxed()
    }

    fn delete<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<bool, TenancyError>> {
        RlsManager::delete(self, id).boxed()
    }

    fn migrate_all(
        &self,
        options: MigrateOptions,
    ) -> BoxFuture<'_, Result<MigrationReport, TenancyError>> {
        RlsManager::migrate_all(self, options).boxed()
    }
}
