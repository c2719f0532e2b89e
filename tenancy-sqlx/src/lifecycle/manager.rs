//! [`TenantManager`]: the tenant lifecycle, once, over any registry and any
//! [`StorageMode`].

use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt, stream};
use tenancy_core::{BoxError, TenancyError, TenantEvent, TenantId};

use super::mode::{Seed, StorageMode};
use super::operations::{TenantLifecycle, TenantResult};
use crate::migrate::{
    MigrateOptions, MigrationReport, MigrationState, TenantFilter, TenantMigrations,
};
use crate::registry::{TenantRegistry, require};
use crate::storage::Storage;
use crate::tenant::{NewTenant, RegistryTenant};

/// How many `Migrated` events one [`TenantRegistry::record`] call carries
/// (a Postgres notification holds less than 8,000 bytes).
const MIGRATED_PER_EVENT_BATCH: usize = 100;

/// How many tenants' histories [`TenantManager::migration_states`] reads at once.
const STATE_READS: usize = 8;

/// Creates, renames, (de)activates, deletes and migrates tenants, keeping a
/// [`TenantRegistry`] and the tenants' storage in step.
///
/// One type for every isolation mode, built the same way: a registry (any
/// [`TenantRegistry`], yours included), the mode's storage (a [`StorageMode`]:
/// `SchemaPool`, `TenantPools`, `RlsPool`, `SharedPool`, or your own) and the
/// tenant migrations. Each mode has a name for it —
/// [`SchemaManager`](crate::schema::SchemaManager),
/// [`DatabaseManager`](crate::database::DatabaseManager),
/// [`RlsManager`](crate::shared::rls::RlsManager),
/// [`SharedManager`](crate::shared::keyed::SharedManager) — with the mode's
/// extras (spare schemas, placement on servers, the RLS audit).
///
/// Each operation is a short sequence whose every failure is undone:
///
/// - **create**: the registry row, *inactive* (it claims the id, the domains
///   and the storage: of two concurrent creations of one id the loser fails
///   with `TenantExists` before touching any storage, and nobody is served
///   from storage that is not ready); then the storage, its migrations and
///   the seed; then activation. A failure removes what the earlier steps
///   made. (A process killed between the steps leaves an inactive row;
///   [`delete`](Self::delete) removes it.)
/// - **clone**: as create, with the storage filled from another tenant's
///   data instead of the seed; a failed copy removes the storage and row.
/// - **rename**: the storage moves (when the mode renames it), then the row;
///   a refused row update moves the storage back.
/// - **deactivate**: the row, then the mode lets go of its pool.
/// - **delete**: deactivation, the storage, then the row; idempotent, and a
///   failure leaves the tenant deactivated, to be retried.
/// - **migrate-all**: the mode's, with a per-tenant report.
///
/// Registry writes invalidate subscribed caches (and, on Postgres, other
/// processes' through `NOTIFY`). Cheap to clone.
///
/// ```no_run
/// # #[cfg(feature = "sqlite")] mod example {
/// use tenancy_core::TenantId;
/// use tenancy_sqlx::database::{DatabaseManager, PoolConfig, SqliteDatabases, TenantPools};
/// use tenancy_sqlx::registry::SqliteRegistry;
/// use tenancy_sqlx::{MigrateOptions, NewTenant, TenantMigrations};
///
/// # async fn example(registry: SqliteRegistry) -> Result<(), Box<dyn std::error::Error>> {
/// let migrations = TenantMigrations::from_sql([
///     (1, "items", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"),
/// ])?;
/// let pools = TenantPools::new(SqliteDatabases::new("./data")?, PoolConfig::new());
/// let manager = DatabaseManager::new(registry, pools, migrations);
/// let acme = manager.create(NewTenant::new(TenantId::new("acme")?, "Acme Corp")).await?;
/// manager.deactivate(acme.id()).await?;
/// assert!(manager.migrate_all(MigrateOptions::new()).await?.is_success());
/// manager.delete(acme.id()).await?;
/// # Ok(()) }
/// # }
/// # fn main() {}
/// ```
pub struct TenantManager<S: StorageMode, R: TenantRegistry> {
    inner: Arc<Inner<S, R>>,
}

struct Inner<S: StorageMode, R: TenantRegistry> {
    registry: R,
    storage: S,
    migrations: TenantMigrations,
    seed: Option<Seed<S::Seeding>>,
}

impl<S: StorageMode, R: TenantRegistry> Clone for TenantManager<S, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<S: StorageMode, R: TenantRegistry> TenantManager<S, R> {
    /// A manager for the tenants of `registry`, whose data lives in
    /// `storage`, made by `migrations`.
    pub fn new(registry: R, storage: S, migrations: TenantMigrations) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry,
                storage,
                migrations,
                seed: None,
            }),
        }
    }

    /// The registry.
    pub fn registry(&self) -> &R {
        &self.inner.registry
    }

    /// The mode's storage, which is also its request-path access.
    pub fn storage(&self) -> &S {
        &self.inner.storage
    }

    /// The tenant migrations.
    pub fn migrations(&self) -> &TenantMigrations {
        &self.inner.migrations
    }

    /// Creates a tenant in the storage the mode allocates for it (see the
    /// type's docs for the steps and their undoing).
    ///
    /// Errors: `TenantExists`, `DomainTaken`, `SchemaCreation` (the storage
    /// cannot be made), `TableCreation` (a migration or the seed failed),
    /// `StoreUnavailable`.
    pub async fn create(&self, new: NewTenant) -> Result<RegistryTenant, TenancyError> {
        let storage = self.inner.storage.allocate(&new).await?;
        self.create_in(new, storage).await
    }

    /// Creates a tenant whose data lives in `storage` (a given shared key, a
    /// database on a chosen server); as [`create`](Self::create) otherwise.
    pub async fn create_in(
        &self,
        new: NewTenant,
        storage: Storage,
    ) -> Result<RegistryTenant, TenancyError> {
        self.create_filled(new, storage, None).await
    }

    /// Creates tenant `new` with a copy of tenant `from`'s data: its rows,
    /// and its identity and sequence values, so that new rows continue
    /// where the source's left off. The new tenant gets storage of its own
    /// (a schema, a database on the source's server, or a new key in shared
    /// tables), made by the migrations; the source must be migrated to them
    /// (`Configuration` otherwise: migrate it first). Atomic as
    /// [`create`](Self::create): a failure leaves no tenant and no storage.
    /// The seed does not run (the data is the source's).
    ///
    /// The copy is a consistent snapshot of the source (one transaction per
    /// database); writes the source receives meanwhile may or may not be in
    /// it. Deactivate the source first for an exact copy.
    ///
    /// Errors: `TenantNotFound` (no source), `TenantExists`, `DomainTaken`,
    /// `Configuration` (the source is not migrated, or the mode cannot
    /// copy), `SchemaCreation` / `TableCreation` (the copy failed).
    pub async fn clone_tenant(
        &self,
        from: &TenantId,
        new: NewTenant,
    ) -> Result<RegistryTenant, TenancyError> {
        let inner = &*self.inner;
        let source = require(&inner.registry, from).await?;
        self.require_current(&source, "cloning").await?;
        let storage = inner.storage.allocate_copy(&source, &new).await?;
        let cloned = self.create_filled(new, storage, Some(&source)).await?;
        tracing::info!(from = %from, tenant = %cloned.id(), "tenant cloned");
        Ok(cloned)
    }

    /// `Configuration` unless `tenant`'s storage has exactly this manager's
    /// migrations applied (a copy is made into storage they make).
    pub(crate) async fn require_current(
        &self,
        tenant: &RegistryTenant,
        doing: &str,
    ) -> Result<(), TenancyError> {
        let inner = &*self.inner;
        let history = inner.storage.history(tenant, &inner.migrations).await?;
        let state = MigrationState::compare(&inner.migrations, &history);
        if state.is_current() {
            return Ok(());
        }
        Err(TenancyError::Configuration {
            message: format!(
                "tenant `{}` is not migrated to the current migrations ({state:?}); \
                 migrate it before {doing} it",
                tenant.id()
            ),
        })
    }

    /// Registers `new` inactive in `storage`, provisions it, then fills it:
    /// from `source`'s data, or with the seed; activates it when asked.
    /// Each failure undoes what the steps before it made.
    async fn create_filled(
        &self,
        new: NewTenant,
        storage: Storage,
        source: Option<&RegistryTenant>,
    ) -> Result<RegistryTenant, TenancyError> {
        let inner = &*self.inner;
        let active = new.active;
        let id = new.id.clone();
        let mut pending = new;
        pending.active = false;
        let tenant = inner.registry.create_with_storage(pending, storage).await?;
        let seed = if source.is_some() {
            None
        } else {
            inner.seed.as_ref()
        };
        let provisioned = inner
            .storage
            .provision(&tenant, &inner.migrations, seed)
            .await;
        if let Err(error) = provisioned {
            self.forget(&id).await;
            return Err(error);
        }
        if let Some(source) = source
            && let Err(error) = inner
                .storage
                .copy_data(source, &tenant, &inner.migrations)
                .await
        {
            self.undo_create(&tenant).await;
            return Err(error);
        }
        if active && let Err(error) = inner.registry.activate(&id).await {
            self.undo_create(&tenant).await;
            return Err(error);
        }
        tracing::info!(tenant = %id, storage = %tenant.storage().location(), "tenant created");
        require(&self.inner.registry, &id).await
    }

    /// Removes the registry row of a creation that failed.
    async fn forget(&self, id: &TenantId) {
        if let Err(error) = self.inner.registry.delete(id).await {
            tracing::error!(tenant = %id, %error, "could not remove the registry row of a failed creation");
        }
    }

    /// Removes the storage and row of a creation that failed late.
    async fn undo_create(&self, tenant: &RegistryTenant) {
        let storage = &self.inner.storage;
        storage.release(tenant).await;
        if let Err(error) = storage.remove(tenant).await {
            tracing::error!(tenant = %tenant.id(), %error, "could not remove the storage of a failed creation");
        }
        self.forget(tenant.id()).await;
    }

    /// Renames a tenant, keeping its data and domains: its storage moves when
    /// the mode names storage after the id (schemas, Postgres databases), then
    /// its row; a refused row update moves the storage back.
    ///
    /// Errors: `TenantNotFound`, `TenantExists`, `SchemaRename`.
    pub async fn rename(
        &self,
        from: &TenantId,
        to: &TenantId,
    ) -> Result<RegistryTenant, TenancyError> {
        let inner = &*self.inner;
        let current = require(&self.inner.registry, from).await?;
        if inner.registry.find_by_id(to).await?.is_some() {
            return Err(TenancyError::TenantExists { id: to.clone() });
        }
        let moved = inner.storage.rename(&current, to).await?;
        let renamed = inner
            .registry
            .rename_with_storage(from, to, moved.as_ref())
            .await;
        if let Err(error) = renamed {
            if let Some(moved) = &moved
                && let Err(undo) = inner.storage.undo_rename(&current, moved).await
            {
                tracing::error!(tenant = %from, error = %undo, "could not move the storage back after a refused rename");
            }
            return Err(error);
        }
        tracing::info!(%from, %to, "tenant renamed");
        require(&self.inner.registry, to).await
    }

    /// Stops serving a tenant (its data is kept); `TenantNotFound` if unknown.
    pub async fn deactivate(&self, id: &TenantId) -> Result<(), TenancyError> {
        let tenant = require(&self.inner.registry, id).await?;
        self.inner.registry.deactivate(id).await?;
        self.inner.storage.release(&tenant).await;
        Ok(())
    }

    /// Serves a deactivated tenant again; `TenantNotFound` if unknown.
    pub async fn activate(&self, id: &TenantId) -> Result<(), TenancyError> {
        self.inner.registry.activate(id).await
    }

    /// Deletes a tenant: deactivates it, removes its storage with everything
    /// in it, then its registry row. Idempotent: `false` when the registry
    /// has no such tenant (and then no storage is touched: only the registry
    /// knows whose storage is whose). A failure leaves the tenant
    /// deactivated; call again to finish.
    ///
    /// Errors: `SchemaDrop`, `StoreUnavailable`.
    pub async fn delete(&self, id: &TenantId) -> Result<bool, TenancyError> {
        let inner = &*self.inner;
        let Some(tenant) = inner.registry.find_by_id(id).await? else {
            return Ok(false);
        };
        if tenant.is_active() {
            inner.registry.deactivate(id).await?;
        }
        inner.storage.release(&tenant).await;
        inner.storage.remove(&tenant).await?;
        let existed = inner.registry.delete(id).await?;
        tracing::info!(tenant = %id, "tenant deleted");
        Ok(existed)
    }

    /// Applies pending migrations to the selected tenants, continuing past
    /// failures, with a per-tenant report (the mode's rules: see its manager).
    /// Fails as a whole only when the registry cannot be listed. Each tenant
    /// that received migrations is reported as [`TenantEvent::Migrated`]
    /// ([`TenantRegistry::record`]), here and to other processes.
    pub async fn migrate_all(
        &self,
        options: MigrateOptions,
    ) -> Result<MigrationReport, TenancyError> {
        let inner = &*self.inner;
        let tenants = inner.registry.list().await?;
        let report = inner
            .storage
            .migrate_all(tenants, &inner.migrations, options)
            .await?;
        self.report_migrated(report.migrated().map(|tenant| &tenant.id))
            .await;
        Ok(report)
    }

    /// Where each tenant `filter` selects stands against this manager's
    /// migrations — applied, pending, drift — read from its storage's
    /// history without applying anything (a status report, or an audit for
    /// drift), eight tenants at a time, by id. A tenant whose
    /// history cannot be read gets its error; the call fails as a whole only
    /// when the registry cannot be listed.
    pub async fn migration_states(
        &self,
        filter: TenantFilter,
    ) -> Result<Vec<TenantResult<MigrationState>>, TenancyError> {
        let inner = &*self.inner;
        let tenants = inner.registry.list().await?;
        let mut states: Vec<TenantResult<MigrationState>> =
            stream::iter(tenants.into_iter().filter(|tenant| filter.matches(tenant)))
                .map(|tenant| async move {
                    let history = inner.storage.history(&tenant, &inner.migrations).await;
                    let state =
                        history.map(|rows| MigrationState::compare(&inner.migrations, &rows));
                    (tenant.id().clone(), state)
                })
                .buffer_unordered(STATE_READS)
                .collect()
                .await;
        states.sort_by(|(a, _), (b, _)| a.cmp(b));
        Ok(states)
    }

    /// The mode's safety checks ([`StorageMode::audit`]: row-level security
    /// in shared mode on Postgres, the tenant columns on MySQL and SQLite):
    /// warnings, or `Configuration` when tenant data could leak.
    pub async fn audit(&self) -> Result<Vec<String>, TenancyError> {
        self.inner.storage.audit().await
    }

    /// Reports [`TenantEvent::Migrated`] for `tenants` through the registry
    /// (in batches, so that a notification stays within Postgres' limit). A
    /// failure is logged: the migrations stand, and other processes' caches
    /// hold no registry data a migration changes.
    pub(crate) async fn report_migrated<'a>(&self, tenants: impl Iterator<Item = &'a TenantId>) {
        let migrated: Vec<TenantEvent> = tenants.cloned().map(TenantEvent::Migrated).collect();
        for batch in migrated.chunks(MIGRATED_PER_EVENT_BATCH) {
            if let Err(error) = self.inner.registry.record(batch).await {
                tracing::warn!(%error, "tenancy: reporting migrated tenants failed");
            }
        }
    }
}

impl<S: StorageMode, R: TenantRegistry + Clone> TenantManager<S, R> {
    /// The same registry and storage with another migration set (e.g. the
    /// next release's, to migrate every tenant to it); the seed is kept.
    #[must_use]
    pub fn with_migrations(&self, migrations: TenantMigrations) -> Self {
        self.rebuilt(migrations, self.inner.seed.clone())
    }

    /// This manager's registry and storage with `migrations` and `seed`.
    fn rebuilt(&self, migrations: TenantMigrations, seed: Option<Seed<S::Seeding>>) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry: self.inner.registry.clone(),
                storage: self.inner.storage.clone(),
                migrations,
                seed,
            }),
        }
    }

    /// Runs `seed` when a tenant is created, after its migrations, in the
    /// mode's tenant-scoped transaction (e.g. to insert initial rows). A
    /// failing seed fails the creation with [`TenancyError::TableCreation`]
    /// and leaves nothing behind.
    ///
    /// ```no_run
    /// # #[cfg(feature = "postgres")] mod example {
    /// # fn example(manager: tenancy_sqlx::SchemaManager) -> tenancy_sqlx::SchemaManager {
    /// manager.with_seed(|tx, tenant| {
    ///     let owner = tenant.id().to_string();
    ///     Box::pin(async move {
    ///         sqlx::query("INSERT INTO settings (owner) VALUES ($1)").bind(owner).execute(tx).await?;
    ///         Ok(())
    ///     })
    /// })
    /// # }
    /// # }
    /// # fn main() {}
    /// ```
    #[must_use]
    pub fn with_seed<F>(self, seed: F) -> Self
    where
        F: for<'a> Fn(
                &'a mut S::Seeding,
                &'a RegistryTenant,
            ) -> BoxFuture<'a, Result<(), BoxError>>
            + Send
            + Sync
            + 'static,
    {
        self.rebuilt(self.inner.migrations.clone(), Some(Arc::new(seed)))
    }
}

impl<S: StorageMode + fmt::Debug, R: TenantRegistry + fmt::Debug> fmt::Debug
    for TenantManager<S, R>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantManager")
            .field("registry", &self.inner.registry)
            .field("storage", &self.inner.storage)
            .field("migrations", &self.inner.migrations)
            .field("seed", &self.inner.seed.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: StorageMode, R: TenantRegistry> TenantLifecycle for TenantManager<S, R> {
    fn registry(&self) -> &dyn TenantRegistry {
        &self.inner.registry
    }

    fn create(&self, tenant: NewTenant) -> BoxFuture<'_, Result<RegistryTenant, TenancyError>> {
        TenantManager::create(self, tenant).boxed()
    }

    fn clone_tenant<'a>(
        &'a self,
        from: &'a TenantId,
        tenant: NewTenant,
    ) -> BoxFuture<'a, Result<RegistryTenant, TenancyError>> {
        TenantManager::clone_tenant(self, from, tenant).boxed()
    }

    fn rename<'a>(
        &'a self,
        from: &'a TenantId,
        to: &'a TenantId,
    ) -> BoxFuture<'a, Result<RegistryTenant, TenancyError>> {
        TenantManager::rename(self, from, to).boxed()
    }

    fn deactivate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        TenantManager::deactivate(self, id).boxed()
    }

    fn activate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        TenantManager::activate(self, id).boxed()
    }

    fn delete<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<bool, TenancyError>> {
        TenantManager::delete(self, id).boxed()
    }

    fn migrate_all(
        &self,
        options: MigrateOptions,
    ) -> BoxFuture<'_, Result<MigrationReport, TenancyError>> {
        TenantManager::migrate_all(self, options).boxed()
    }

    fn migration_states(
        &self,
        filter: TenantFilter,
    ) -> BoxFuture<'_, Result<Vec<TenantResult<MigrationState>>, TenancyError>> {
        TenantManager::migration_states(self, filter).boxed()
    }

    fn audit(&self) -> BoxFuture<'_, Result<Vec<String>, TenancyError>> {
        TenantManager::audit(self).boxed()
    }
}
