//! [`DatabaseManager`]: the tenant lifecycle for database-per-tenant storage.

mod lifecycle;
mod migrate_all;

use std::fmt;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tenancy_core::{TenancyError, TenantId};

use super::backend::DatabaseBackend;
use super::pools::{PoolConfig, TenantConnection, TenantPools};
use crate::ident::Ident;
use crate::lifecycle::TenantLifecycle;
use crate::migrate::{MigrateOptions, MigrationReport, TenantMigrations};
use crate::registry::AnyRegistry;
use crate::registry::TenantRegistry;
use crate::tenant::{NewTenant, RegistryTenant};

type PlacementFn = Arc<dyn Fn(&NewTenant) -> Ident + Send + Sync>;

/// Creates, migrates, renames, (de)activates and deletes tenants that each
/// have a database of their own, keeping the registry, the databases and
/// the [`TenantPools`] in step.
///
/// The registry may be on any backend ([`AnyRegistry`]); the tenant
/// databases live on the servers of `B`: [`PgDatabases`](crate::database::PgDatabases)
/// (new databases are copies of a migrated template: `CREATE DATABASE …
/// TEMPLATE`), [`MySqlDatabases`](crate::database::MySqlDatabases) (`CREATE DATABASE`
/// and migrations) or [`SqliteDatabases`](crate::database::SqliteDatabases) (one WAL
/// file per tenant). Every operation returns the typed lifecycle errors of
/// [`TenancyError`] and invalidates subscribed caches. Cheap to clone.
///
/// ```no_run
/// # #[cfg(feature = "sqlite")] mod example {
/// use tenancy_core::TenantId;
/// use tenancy_sqlx::{AnyRegistry, DatabaseManager, MigrateOptions, NewTenant, TenantMigrations};
/// use tenancy_sqlx::database::{PoolConfig, SqliteDatabases};
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let registry = AnyRegistry::connect("sqlite://./data/registry.db").await?;
/// let migrations = TenantMigrations::from_sql([
///     (1, "items", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"),
/// ])?;
/// let manager = DatabaseManager::new(registry, SqliteDatabases::new("./data")?, migrations, PoolConfig::new());
/// let acme = manager.create(NewTenant::new(TenantId::new("acme")?, "Acme Corp")).await?;
///
/// let mut conn = manager.connect(&acme).await?;
/// sqlx::query("INSERT INTO items (name) VALUES ('first')").execute(&mut *conn).await?;
/// drop(conn);
///
/// let report = manager.migrate_all(MigrateOptions::new()).await?;
/// assert!(report.is_success());
/// manager.delete(acme.id()).await?;
/// # Ok(()) }
/// # }
/// # fn main() {}
/// ```
pub struct DatabaseManager<B: DatabaseBackend> {
    inner: Arc<Inner<B>>,
}

struct Inner<B: DatabaseBackend> {
    registry: AnyRegistry,
    pools: TenantPools<B>,
    migrations: TenantMigrations,
    placement: Option<PlacementFn>,
}

impl<B: DatabaseBackend> Clone for DatabaseManager<B> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<B: DatabaseBackend> DatabaseManager<B> {
    /// A manager for the tenants of `registry` whose databases live on the
    /// servers of `backend`, migrated with `migrations`, served through
    /// pools limited by `pools`. Call it inside a Tokio runtime.
    pub fn new(
        registry: impl Into<AnyRegistry>,
        backend: B,
        migrations: TenantMigrations,
        pools: PoolConfig,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry: registry.into(),
                pools: TenantPools::new(backend, pools),
                migrations,
                placement: None,
            }),
        }
    }

    /// Chooses the server of each new tenant (default: the backend's
    /// default server). The server must be configured on the backend.
    #[must_use]
    pub fn with_placement(
        self,
        placement: impl Fn(&NewTenant) -> Ident + Send + Sync + 'static,
    ) -> Self {
        let inner = Inner {
            registry: self.inner.registry.clone(),
            pools: self.inner.pools.clone(),
            migrations: self.inner.migrations.clone(),
            placement: Some(Arc::new(placement)),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The registry.
    pub fn registry(&self) -> &AnyRegistry {
        &self.inner.registry
    }

    /// The per-tenant pools (a [`TenantAccess`](tenancy_core::TenantAccess)).
    pub fn pools(&self) -> &TenantPools<B> {
        &self.inner.pools
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        self.inner.pools.backend()
    }

    /// The tenant migrations.
    pub fn migrations(&self) -> &TenantMigrations {
        &self.inner.migrations
    }

    /// A pooled connection to `tenant`'s database.
    pub async fn connect(
        &self,
        tenant: &RegistryTenant,
    ) -> Result<TenantConnection<B>, TenancyError> {
        tenancy_core::TenantAccess::open(&self.inner.pools, tenant).await
    }

    fn server_for(&self, new: &NewTenant) -> Ident {
        match &self.inner.placement {
            Some(placement) => placement(new),
            None => self.backend().default_server().clone(),
        }
    }
}

impl<B: DatabaseBackend> fmt::Debug for DatabaseManager<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseManager")
            .field("registry", &self.inner.registry)
            .field("pools", &self.inner.pools)
            .field("migrations", &self.inner.migrations)
            .field("placement", &self.inner.placement.is_some())
            .finish()
    }
}

impl<B: DatabaseBackend> TenantLifecycle for DatabaseManager<B> {
    fn registry(&self) -> &dyn TenantRegistry {
        &self.inner.registry
    }

    fn create(&self, tenant: NewTenant) -> BoxFuture<'_, Result<RegistryTenant, TenancyError>> {
        DatabaseManager::create(self, tenant).boxed()
    }

    fn rename<'a>(
        &'a self,
        from: &'a TenantId,
        to: &'a TenantId,
    ) -> BoxFuture<'a, Result<RegistryTenant, TenancyError>> {
        DatabaseManager::rename(self, from, to).boxed()
    }

    fn deactivate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        DatabaseManager::deactivate(self, id).boxed()
    }

    fn activate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        DatabaseManager::activate(self, id).boxed()
    }

    fn delete<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<bool, TenancyError>> {
        DatabaseManager::delete(self, id).boxed()
    }

    fn migrate_all(
        &self,
        options: MigrateOptions,
    ) -> BoxFuture<'_, Result<MigrationReport, TenancyError>> {
        DatabaseManager::migrate_all(self, options).boxed()
    }
}
