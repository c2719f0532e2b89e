//! [`DatabaseManager`]: the tenant lifecycle for database-per-tenant storage,
//! the [`TenantManager`] over [`TenantPools`].

mod fleet;
mod storage;

use tenancy_core::{TenancyError, TenantId};

use super::backend::DatabaseBackend;
use super::pools::{TenantConnection, TenantPools};
use crate::ident::Ident;
use crate::lifecycle::TenantManager;
use crate::registry::TenantRegistry;
use crate::registry::require;
use crate::storage::Storage;
use crate::tenant::{NewTenant, RegistryTenant};

/// Creates, migrates, renames, (de)activates and deletes tenants that each
/// have a database of their own: the [`TenantManager`] over [`TenantPools`],
/// keeping any registry, the databases and the pools in step.
///
/// The registry may be any [`TenantRegistry`](crate::registry::TenantRegistry);
/// the tenant databases live on the servers of `B`:
/// [`PgDatabases`](crate::database::PgDatabases) (new databases are copies of
/// a migrated template: `CREATE DATABASE … TEMPLATE`),
/// [`MySqlDatabases`](crate::database::MySqlDatabases) (`CREATE DATABASE` and
/// migrations) or [`SqliteDatabases`](crate::database::SqliteDatabases) (one
/// WAL file per tenant). A new tenant goes to the server its
/// [placement](TenantPools::with_placement) picks, or to the one
/// [`create_on`](TenantManager::create_on) names. A database that already
/// exists is never adopted (`SchemaCreation`).
///
/// - Rename: Postgres renames the database (`ALTER DATABASE … RENAME`, after
///   closing the tenant's pool; refused with `SchemaRename` while other
///   sessions are connected: retry later). MySQL cannot rename a database and
///   SQLite cannot move a live file safely: there only the registry changes
///   and the database keeps its name.
/// - Deactivate closes the tenant's pool; delete drops the database
///   (Postgres `WITH (FORCE)`, disconnecting other sessions).
/// - Migrate-all migrates each database on its own connection under sqlx's
///   per-database lock, at most [`concurrency`](crate::MigrateOptions::concurrency)
///   at once (default: the per-tenant pool limit). On Postgres and SQLite each
///   tenant's migrations run in a transaction; MySQL commits DDL implicitly,
///   so a migration failing half-way leaves that tenant marked dirty, as with
///   sqlx. The Postgres template databases are migrated first. Tenants whose
///   storage is not a database of this backend are counted as skipped.
///
/// ```no_run
/// # #[cfg(feature = "sqlite")] mod example {
/// use tenancy_core::TenantId;
/// use tenancy_sqlx::{AnyRegistry, DatabaseManager, MigrateOptions, NewTenant, TenantMigrations, TenantPools};
/// use tenancy_sqlx::database::{PoolConfig, SqliteDatabases};
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let registry = AnyRegistry::connect("sqlite://./data/registry.db").await?;
/// let migrations = TenantMigrations::from_sql([
///     (1, "items", "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"),
/// ])?;
/// let pools = TenantPools::new(SqliteDatabases::new("./data")?, PoolConfig::new());
/// let manager = DatabaseManager::new(registry, pools, migrations);
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
pub type DatabaseManager<B, R = crate::registry::AnyRegistry> = TenantManager<TenantPools<B>, R>;

impl<B: DatabaseBackend, R: TenantRegistry> TenantManager<TenantPools<B>, R> {
    /// The per-tenant pools (a [`TenantAccess`](tenancy_core::TenantAccess)).
    pub fn pools(&self) -> &TenantPools<B> {
        self.storage()
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        self.pools().backend()
    }

    /// A pooled connection to `tenant`'s database.
    pub async fn connect(
        &self,
        tenant: &RegistryTenant,
    ) -> Result<TenantConnection<B>, TenancyError> {
        tenancy_core::TenantAccess::open(self.pools(), tenant).await
    }

    /// Creates a tenant whose database lives on `server` (see
    /// [`create`](TenantManager::create)); `Configuration` when no such
    /// server is configured.
    pub async fn create_on(
        &self,
        new: NewTenant,
        server: &Ident,
    ) -> Result<RegistryTenant, TenancyError> {
        let location = self.pools().location_on(server, &new.id).await?;
        self.create_in(new, Storage::Database(location)).await
    }

    /// Applies pending migrations to one tenant; returns the applied versions
    /// (and reports [`TenantEvent::Migrated`](tenancy_core::TenantEvent::Migrated)
    /// when there were any).
    pub async fn migrate(&self, id: &TenantId) -> Result<Vec<i64>, TenancyError> {
        let tenant = require(self.registry(), id).await?;
        let applied = self
            .pools()
            .migrate_tenant(&tenant, self.migrations())
            .await?;
        if !applied.is_empty() {
            self.report_migrated(std::iter::once(id)).await;
        }
        Ok(applied)
    }
}
