//! [`SharedManager`]: the tenant lifecycle in shared-schema mode on MySQL /
//! MariaDB and SQLite.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{AssertSqlSafe, SqlSafeStr};
use tenancy_core::{BoxError, Invalidation, TenancyError, TenantId, TenantKey};

use super::backend::SharedBackend;
use super::pool::SharedPool;
use super::transaction::SharedTransaction;
use crate::error::{is_unique_violation, step_error, store_error};
use crate::lifecycle::TenantLifecycle;
use crate::migrate::{MigrateOptions, MigrationReport, TenantMigrations};
use crate::registry::SqlRegistry;
use crate::registry::TenantRegistry;
use crate::registry::sql::dialect::{Value, arguments};
use crate::registry::sql::rows::{created_events, from_micros, now_micros};
use crate::shared::report::{fan_out, migration_failed, partial_run_refused};
use crate::storage::SharedKey;
use crate::storage::Storage;
use crate::tenant::{NewTenant, RegistryTenant};

type SeedFn<DB> = Arc<
    dyn for<'a> Fn(
            &'a mut SharedTransaction<DB>,
            &'a RegistryTenant,
        ) -> BoxFuture<'a, Result<(), BoxError>>
        + Send
        + Sync,
>;

/// Creates, migrates, renames, (de)activates and deletes tenants whose rows
/// share tables, on MySQL / MariaDB ([`MySqlSharedManager`](crate::shared::keyed::MySqlSharedManager),
/// with a [`MySqlRegistry`](crate::registry::MySqlRegistry)) or SQLite
/// ([`SqliteSharedManager`](crate::shared::keyed::SqliteSharedManager), with a
/// [`SqliteRegistry`](crate::registry::SqliteRegistry)).
///
/// It works like [`RlsManager`](crate::shared::rls::RlsManager): a random
/// [`SharedKey`] per tenant, registered as [`Storage::Shared`]; create (and
/// the [seed](Self::with_seed)) in one transaction; rename in the registry
/// only (rows carry the key, not the id); drop deletes the tenant's rows from
/// every declared table (children first: reverse declaration order) and its
/// registry row in one transaction; migrations apply once to the shared
/// tables, with a report entry per tenant. The registry and the tenant tables
/// must be in the same database (the [`SharedPool`] on the registry's pool).
///
/// On MySQL / MariaDB, DDL commits implicitly, so a migration that fails
/// half-way leaves its earlier statements applied (the history records it as
/// failed); keep one statement per migration there. Other processes see
/// registry changes within their cache TTL. Cheap to clone.
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
pub struct SharedManager<DB: SharedBackend> {
    inner: Arc<Inner<DB>>,
}

struct Inner<DB: SharedBackend> {
    registry: SqlRegistry<DB>,
    shared: SharedPool<DB>,
    migrations: TenantMigrations,
    seed: Option<SeedFn<DB>>,
}

impl<DB: SharedBackend> Clone for Inner<DB> {
    fn clone(&self) -> Self {
        Self {
            registry: self.registry.clone(),
            shared: self.shared.clone(),
            migrations: self.migrations.clone(),
            seed: self.seed.clone(),
        }
    }
}

impl<DB: SharedBackend> Clone for SharedManager<DB> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<DB: SharedBackend> SharedManager<DB> {
    /// A manager for the tenants of `registry`, whose rows live in the tables
    /// of `shared` (on the registry's database), created by `migrations`.
    pub fn new(
        registry: SqlRegistry<DB>,
        shared: SharedPool<DB>,
        migrations: TenantMigrations,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry,
                shared,
                migrations,
                seed: None,
            }),
        }
    }

    /// Runs `seed` in every [`create`](Self::create) transaction, scoped to
    /// the new tenant. A failing seed fails the creation with
    /// [`TenancyError::TableCreation`] and leaves no registry row.
    #[must_use]
    pub fn with_seed<F>(mut self, seed: F) -> Self
    where
        F: for<'a> Fn(
                &'a mut SharedTransaction<DB>,
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
    pub fn registry(&self) -> &SqlRegistry<DB> {
        &self.inner.registry
    }

    /// Tenant-scoped access to the shared tables.
    pub fn shared(&self) -> &SharedPool<DB> {
        &self.inner.shared
    }

    /// The migrations of the shared tables.
    pub fn migrations(&self) -> &TenantMigrations {
        &self.inner.migrations
    }

    /// Start-up: applies pending migrations, then [checks](SharedPool::check)
    /// the declared tables.
    pub async fn setup(&self) -> Result<(), TenancyError> {
        self.migrate().await?;
        self.inner.shared.check().await
    }

    /// Applies pending migrations to the shared tables (sqlx's migrator, with
    /// its per-database lock and history table); returns the applied versions.
    /// Errors: `Storage` (with the [`MigrationError`](crate::migrate::MigrationError)),
    /// `StoreUnavailable`.
    pub async fn migrate(&self) -> Result<Vec<i64>, TenancyError> {
        let mut conn = self
            .inner
            .shared
            .pool()
            .acquire()
            .await
            .map_err(store_error)?;
        let versions = DB::migrate(&mut conn, &self.inner.migrations)
            .await
            .map_err(migration_failed)?;
        if !versions.is_empty() {
            tracing::info!(?versions, "shared tables migrated");
        }
        Ok(versions)
    }

    /// Applies pending migrations once and reports every selected tenant
    /// (see [`RlsManager::migrate_all`](crate::shared::rls::RlsManager::migrate_all)
    /// for the rules, which are the same).
    pub async fn migrate_all(
        &self,
        options: MigrateOptions,
    ) -> Result<MigrationReport, TenancyError> {
        let started = Instant::now();
        let tenants = self.inner.registry.list().await?;
        let listed = tenants.len();
        let selected: Vec<RegistryTenant> = tenants
            .into_iter()
            .filter(|tenant| options.filter.matches(tenant))
            .collect();
        let skipped = listed - selected.len();
        if skipped > 0 {
            let mut conn = self
                .inner
                .shared
                .pool()
                .acquire()
                .await
                .map_err(store_error)?;
            let applied = DB::applied(&mut conn, &self.inner.migrations)
                .await
                .map_err(migration_failed)?;
            let pending = self
                .inner
                .migrations
                .iter()
                .filter(|migration| !applied.contains(&migration.version))
                .count();
            if pending > 0 {
                return Err(partial_run_refused(pending, skipped));
            }
        }
        let outcome = self.migrate().await;
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

    /// Creates a tenant with a fresh random key: the registry row, and the
    /// seed if any, in one transaction. Of two concurrent creations of one id
    /// exactly one succeeds; the other fails with `TenantExists`.
    ///
    /// Errors: `TenantExists`, `DomainTaken`, `TableCreation` (the seed
    /// failed), `StoreUnavailable`.
    pub async fn create(&self, new: NewTenant) -> Result<RegistryTenant, TenancyError> {
        self.create_with_key(new, SharedKey::generate()?).await
    }

    /// Creates a tenant whose rows carry `key` (e.g. to adopt existing rows);
    /// a key in use by another tenant fails with `SchemaCreation`.
    pub async fn create_with_key(
        &self,
        new: NewTenant,
        key: SharedKey,
    ) -> Result<RegistryTenant, TenancyError> {
        if new.domains.iter().filter(|domain| domain.primary).count() > 1 {
            return Err(TenancyError::Configuration {
                message: format!("tenant `{}` is given more than one primary domain", new.id),
            });
        }
        let inner = &self.inner;
        let storage = Storage::Shared(key.clone());
        let now = now_micros();
        let mut tx = DB::begin(inner.shared.pool(), true)
            .await
            .map_err(store_error)?;
        if let Err(error) = inner.registry.insert_on(&mut tx, &new, &storage, now).await {
            drop(tx);
            return Err(self.conflict(error, &new, &storage).await);
        }
        let created = from_micros(now);
        let tenant = RegistryTenant::builder(new.id.clone(), new.name.clone(), storage)
            .active(new.active)
            .domains(new.domains.clone())
            .timestamps(created, created)
            .build();
        match &inner.seed {
            Some(seed) => {
                let mut scoped =
                    SharedTransaction::new(tx, key, inner.shared.column_name().clone());
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
        inner
            .registry
            .publish(&created_events(&new.id, &new.domains))
            .await;
        tracing::info!(tenant = %new.id, "shared-mode tenant created");
        Ok(tenant)
    }

    /// Classifies a failed registry insert.
    async fn conflict(
        &self,
        error: sqlx::Error,
        new: &NewTenant,
        storage: &Storage,
    ) -> TenancyError {
        if !is_unique_violation(&error) {
            return store_error(error);
        }
        let registry = &self.inner.registry;
        match registry.find_by_id(&new.id).await {
            Ok(Some(_)) => return TenancyError::TenantExists { id: new.id.clone() },
            Ok(None) => {}
            Err(error) => return error,
        }
        for domain in &new.domains {
            match registry.find_by_domain(&domain.name).await {
                Ok(Some(_)) => {
                    return TenancyError::DomainTaken {
                        domain: domain.name.clone(),
                    };
                }
                Ok(None) => {}
                Err(error) => return error,
            }
        }
        TenancyError::SchemaCreation {
            tenant: new.id.clone(),
            schema: format!("shared key {}", storage.location()),
            source: Box::new(error),
        }
    }

    /// Renames a tenant in the registry (domains follow); its rows carry the
    /// stable key, so none changes. Errors: `TenantNotFound`, `TenantExists`.
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

    /// Deactivates a tenant (its rows are kept).
    pub async fn deactivate(&self, id: &TenantId) -> Result<(), TenancyError> {
        self.inner.registry.deactivate(id).await
    }

    /// Activates a tenant.
    pub async fn activate(&self, id: &TenantId) -> Result<(), TenancyError> {
        self.inner.registry.activate(id).await
    }

    /// Deletes a tenant: its rows in every declared table (reverse declaration
    /// order, so children before parents) and its registry row, in one
    /// transaction. Idempotent: `false` when there is no such tenant.
    ///
    /// Errors: `SchemaDrop`, `StoreUnavailable`.
    pub async fn delete(&self, id: &TenantId) -> Result<bool, TenancyError> {
        let inner = &self.inner;
        let Some(tenant) = inner.registry.find_by_id(id).await? else {
            return Ok(false);
        };
        let key = crate::shared::key_of(&tenant).map_err(|error| TenancyError::SchemaDrop {
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
        let mut tx = DB::begin(inner.shared.pool(), true)
            .await
            .map_err(store_error)?;
        let args = arguments::<DB>(&[Value::Str(id.as_str())]).map_err(drop_error)?;
        let existed = DB::execute(&mut tx, inner.registry.sql().delete.clone(), args)
            .await
            .map_err(drop_error)?;
        let existed = DB::rows_affected(&existed) > 0;
        let column = DB::quote(inner.shared.column_name());
        let mut deleted = 0;
        for table in inner.shared.table_names().iter().rev() {
            let statement = format!("DELETE FROM {} WHERE {column} = ?", DB::quote(table));
            let args = arguments::<DB>(&[Value::Str(key.as_str())]).map_err(drop_error)?;
            let done = DB::execute(&mut tx, AssertSqlSafe(statement).into_sql_str(), args)
                .await
                .map_err(drop_error)?;
            deleted += DB::rows_affected(&done);
        }
        tx.commit().await.map_err(drop_error)?;
        inner
            .registry
            .publish(&[Invalidation::Tenant(id.clone())])
            .await;
        tracing::info!(tenant = %id, rows = deleted, "shared-mode tenant dropped");
        Ok(existed)
    }
}

impl<DB: SharedBackend> TenantLifecycle for SharedManager<DB> {
    fn registry(&self) -> &dyn TenantRegistry {
        &self.inner.registry
    }

    fn create(&self, tenant: NewTenant) -> BoxFuture<'_, Result<RegistryTenant, TenancyError>> {
        SharedManager::create(self, tenant).boxed()
    }

    fn rename<'a>(
        &'a self,
        from: &'a TenantId,
        to: &'a TenantId,
    ) -> BoxFuture<'a, Result<RegistryTenant, TenancyError>> {
        SharedManager::rename(self, from, to).boxed()
    }

    fn deactivate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        SharedManager::deactivate(self, id).boxed()
    }

    fn activate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        SharedManager::activate(self, id).boxed()
    }

    fn delete<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<bool, TenancyError>> {
        SharedManager::delete(self, id).boxed()
    }

    fn migrate_all(
        &self,
        options: MigrateOptions,
    ) -> BoxFuture<'_, Result<MigrationReport, TenancyError>> {
        SharedManager::migrate_all(self, options).boxed()
    }
}

impl<DB: SharedBackend> fmt::Debug for SharedManager<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedManager")
            .field("registry", &self.inner.registry)
            .field("shared", &self.inner.shared)
            .field("migrations", &self.inner.migrations)
            .field("seed", &self.inner.seed.is_some())
            .finish()
    }
}
