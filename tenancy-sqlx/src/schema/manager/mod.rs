//! [`SchemaManager`]: the tenant lifecycle for schema-per-tenant Postgres.

mod create;
mod migrate_all;
mod rename;
mod spares;

use std::fmt;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::PgPool;
use tenancy_core::{BoxError, TenancyError, TenantId};

use super::pool::SchemaPool;
use super::transaction::TenantTransaction;
use crate::lifecycle::TenantLifecycle;
use crate::migrate::{MigrateOptions, MigrationReport, TenantMigrations};
use crate::registry::TenantRegistry;
use crate::registry::postgres::PgRegistry;
use crate::tenant::{NewTenant, RegistryTenant};

type SeedFn = Arc<
    dyn for<'a> Fn(
            &'a mut TenantTransaction<'static>,
            &'a RegistryTenant,
        ) -> BoxFuture<'a, Result<(), BoxError>>
        + Send
        + Sync,
>;

/// Creates, migrates, renames, (de)activates and deletes tenants whose data
/// lives in a schema each, keeping the [`PgRegistry`] and the schemas in step.
///
/// Every operation is one transaction: a failure leaves the registry and the
/// schemas as they were, and returns the typed lifecycle error of
/// [`TenancyError`] (`SchemaCreation`, `TableCreation`, `SchemaRename`,
/// `SchemaDrop`, `Migration`, `TenantExists`, ...). Caches subscribed to the
/// registry are invalidated after each commit, here and (through `NOTIFY`) in
/// other processes. Cheap to clone.
///
/// ```no_run
/// use tenancy_core::TenantId;
/// use tenancy_sqlx::{MigrateOptions, NewTenant, PgRegistry, SchemaManager, TenantMigrations};
///
/// # async fn example(registry: PgRegistry) -> Result<(), Box<dyn std::error::Error>> {
/// let migrations = TenantMigrations::from_sql([
///     (1, "items", "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)"),
/// ])?;
/// let manager = SchemaManager::new(registry, migrations);
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
#[derive(Clone)]
pub struct SchemaManager {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    registry: PgRegistry,
    schemas: SchemaPool,
    migrations: TenantMigrations,
    seed: Option<SeedFn>,
}

impl SchemaManager {
    /// A manager applying `migrations` to the tenants of `registry`.
    pub fn new(registry: PgRegistry, migrations: TenantMigrations) -> Self {
        let schemas = SchemaPool::new(registry.connections().clone())
            .naming(registry.config().naming.clone());
        Self {
            inner: Arc::new(Inner {
                registry,
                schemas,
                migrations,
                seed: None,
            }),
        }
    }

    /// Runs `seed` in every [`create`](Self::create) transaction, after the
    /// migrations, in the new tenant's schema (e.g. to insert initial rows).
    /// A failing seed fails the creation with [`TenancyError::TableCreation`].
    ///
    /// ```no_run
    /// # fn example(manager: tenancy_sqlx::SchemaManager) -> tenancy_sqlx::SchemaManager {
    /// manager.with_seed(|tx, tenant| {
    ///     let owner = tenant.id().to_string();
    ///     Box::pin(async move {
    ///         sqlx::query("INSERT INTO settings (owner) VALUES ($1)").bind(owner).execute(tx).await?;
    ///         Ok(())
    ///     })
    /// })
    /// # }
    /// ```
    #[must_use]
    pub fn with_seed<F>(mut self, seed: F) -> Self
    where
        F: for<'a> Fn(
                &'a mut TenantTransaction<'static>,
                &'a RegistryTenant,
            ) -> BoxFuture<'a, Result<(), BoxError>>
            + Send
            + Sync
            + 'static,
    {
        Arc::make_mut(&mut self.inner).seed = Some(Arc::new(seed));
        self
    }

    /// Uses `schemas` (e.g. with shared schemas or another cache mode) for
    /// tenant transactions; it must be on the registry's pool and naming.
    #[must_use]
    pub fn with_schemas(mut self, schemas: SchemaPool) -> Self {
        Arc::make_mut(&mut self.inner).schemas = schemas;
        self
    }

    /// The registry.
    pub fn registry(&self) -> &PgRegistry {
        &self.inner.registry
    }

    /// The tenant migrations.
    pub fn migrations(&self) -> &TenantMigrations {
        &self.inner.migrations
    }

    /// Scoped access to tenant schemas on the registry's pool.
    pub fn schemas(&self) -> &SchemaPool {
        &self.inner.schemas
    }

    fn pool(&self) -> &PgPool {
        self.inner.registry.pool()
    }

    /// Deactivates a tenant (see [`PgRegistry::deactivate`]).
    pub async fn deactivate(&self, id: &TenantId) -> Result<(), TenancyError> {
        self.inner.registry.deactivate(id).await
    }

    /// Activates a tenant (see [`PgRegistry::activate`]).
    pub async fn activate(&self, id: &TenantId) -> Result<(), TenancyError> {
        self.inner.registry.activate(id).await
    }
}

impl fmt::Debug for SchemaManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaManager")
            .field("registry", &self.inner.registry)
            .field("migrations", &self.inner.migrations)
            .field("seed", &self.inner.seed.is_some())
            .finish_non_exhaustive()
    }
}

impl TenantLifecycle for SchemaManager {
    fn registry(&self) -> &dyn TenantRegistry {
        SchemaManager::registry(self)
    }

    fn create(&self, tenant: NewTenant) -> BoxFuture<'_, Result<RegistryTenant, TenancyError>> {
        SchemaManager::create(self, tenant).boxed()
    }

    fn rename<'a>(
        &'a self,
        from: &'a TenantId,
        to: &'a TenantId,
    ) -> BoxFuture<'a, Result<RegistryTenant, TenancyError>> {
        SchemaManager::rename(self, from, to).boxed()
    }

    fn deactivate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        SchemaManager::deactivate(self, id).boxed()
    }

    fn activate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        SchemaManager::activate(self, id).boxed()
    }

    fn delete<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<bool, TenancyError>> {
        SchemaManager::delete(self, id).boxed()
    }

    fn migrate_all(
        &self,
        options: MigrateOptions,
    ) -> BoxFuture<'_, Result<MigrationReport, TenancyError>> {
        SchemaManager::migrate_all(self, options).boxed()
    }
}
