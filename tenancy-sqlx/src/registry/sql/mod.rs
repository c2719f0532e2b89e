//! [`SqlRegistry`]: the tenant registry written once for MySQL / MariaDB
//! ([`MySqlRegistry`]) and SQLite ([`SqliteRegistry`]), over a [`Dialect`]
//! holding each driver's specifics.

mod changes;
pub(crate) mod dialect;
#[cfg(feature = "mysql")]
mod mysql;
pub(crate) mod rows;
#[cfg(feature = "sqlite")]
mod sqlite;
mod statements;
mod write;

pub use changes::ChangePoller;
pub use dialect::Dialect;
pub(crate) use statements::Sql;

use std::fmt;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{Pool, SqlStr};
use tenancy_core::{DomainName, Invalidate, TenancyError, TenantEvent, TenantId, TenantStore};
use tokio::sync::broadcast;

use self::dialect::{RegistryTables, Value, arguments};
use self::rows::decode_rows;
use super::TenantRegistry;
use super::config::{RegistryConfig, TableDefaults};
use super::subscribers::Subscribers;
use crate::error::store_error;
use crate::storage::Storage;
use crate::tenant::{NewTenant, RegistryTenant};

/// The tenant registry on MySQL / MariaDB ([`MySqlRegistry`]).
///
/// It has the semantics of [`PgRegistry`](crate::registry::PgRegistry): a
/// [`TenantStore`] and a [`TenantRegistry`], whose mutations invalidate the
/// [subscribed](SqlRegistry::subscribe) caches of this process at once.
/// MySQL has no `LISTEN/NOTIFY`: every mutation also appends a row to the
/// registry's change log, which a [`ChangePoller`] in each other process
/// reads (every 250 ms by default, [`RegistryConfig::poll_interval`]).
/// Cheap to clone.
///
/// ```no_run
/// use std::sync::Arc;
/// use sqlx::mysql::MySqlPoolOptions;
/// use tenancy_core::{CachedStore, TenantId};
/// use tenancy_sqlx::RegistryConfig;
/// use tenancy_sqlx::registry::MySqlRegistry;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = MySqlPoolOptions::new().max_connections(5).connect("mysql://root@localhost/app").await?;
/// let registry = MySqlRegistry::connect(pool, RegistryConfig::default()).await?;
/// let cache = Arc::new(CachedStore::new(registry.clone()));
/// registry.subscribe(cache.clone());
/// registry.deactivate(&TenantId::new("acme")?).await?; // this process's cache forgets `acme` at once
/// # Ok(()) }
/// ```
#[cfg(feature = "mysql")]
pub type MySqlRegistry = SqlRegistry<sqlx::MySql>;

/// The tenant registry on SQLite ([`SqliteRegistry`]).
///
/// It has the semantics of [`PgRegistry`](crate::registry::PgRegistry): a
/// [`TenantStore`] and a [`TenantRegistry`], whose mutations invalidate the
/// [subscribed](SqlRegistry::subscribe) caches of this process at once.
/// SQLite has no change notifications: every mutation also appends a row to
/// the registry's change log, which a [`ChangePoller`] in each other process
/// sharing the file reads (every 250 ms by default). Write
/// transactions are `BEGIN IMMEDIATE`; use WAL mode (as
/// [`AnyRegistry::connect`](crate::registry::AnyRegistry::connect) does) so readers
/// never wait for them. Cheap to clone.
///
/// ```no_run
/// use std::sync::Arc;
/// use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
/// use tenancy_core::{CachedStore, TenantId};
/// use tenancy_sqlx::RegistryConfig;
/// use tenancy_sqlx::registry::SqliteRegistry;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let options = SqliteConnectOptions::new()
///     .filename("data/registry.db")
///     .create_if_missing(true)
///     .journal_mode(SqliteJournalMode::Wal);
/// let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
/// let registry = SqliteRegistry::connect(pool, RegistryConfig::default()).await?;
/// let cache = Arc::new(CachedStore::new(registry.clone()));
/// registry.subscribe(cache.clone());
/// registry.deactivate(&TenantId::new("acme")?).await?;
/// # Ok(()) }
/// ```
#[cfg(feature = "sqlite")]
pub type SqliteRegistry = SqlRegistry<sqlx::Sqlite>;

/// The tenant registry on a SQL database without `LISTEN/NOTIFY`: tenants
/// (id, name, active flag, storage kind and location, timestamps) and their
/// lower-cased, unique domains, in two tables of the pool's database
/// (default `tenancy_tenants` and `tenancy_domains`, see [`RegistryConfig`]),
/// and a change log (`tenancy_changes`) that carries each change to the other
/// processes ([`SqlRegistry::poll_changes`]).
///
/// Use it through its aliases [`MySqlRegistry`] and [`SqliteRegistry`].
/// Cheap to clone.
pub struct SqlRegistry<D: Dialect> {
    inner: Arc<Inner<D>>,
}

struct Inner<D: Dialect> {
    pool: Pool<D>,
    config: RegistryConfig,
    tables: RegistryTables,
    sql: Arc<Sql>,
    subscribers: Subscribers,
    /// This instance's token in the change log: its own changes, already
    /// published, are skipped when they come back.
    origin: String,
}

impl<D: Dialect> Clone for SqlRegistry<D> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<D: Dialect> SqlRegistry<D> {
    /// A registry on `pool`, creating or upgrading its tables.
    pub async fn connect(pool: Pool<D>, config: RegistryConfig) -> Result<Self, TenancyError> {
        let registry = Self::new(pool, config)?;
        registry.migrate().await?;
        Ok(registry)
    }

    /// A registry on `pool`, without touching the database.
    pub fn new(pool: Pool<D>, config: RegistryConfig) -> Result<Self, TenancyError> {
        config.validate(TableDefaults::Sql)?;
        let tables = RegistryTables {
            tenants: config.tenants(TableDefaults::Sql),
            domains: config.domains(TableDefaults::Sql),
            changes: config.changes_table_name().clone(),
        };
        let sql = Sql::new::<D>(&tables.tenants, &tables.domains, &tables.changes);
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                config,
                tables,
                sql: Arc::new(sql),
                subscribers: Subscribers::default(),
                origin: super::payload::origin_token(),
            }),
        })
    }

    /// Creates or upgrades the registry tables (idempotent; concurrent runs
    /// wait for each other: a named lock on MySQL, `BEGIN IMMEDIATE` on
    /// SQLite).
    pub async fn migrate(&self) -> Result<(), TenancyError> {
        D::migrate_registry(&self.inner.pool, &self.inner.tables).await
    }

    /// The pool.
    pub fn pool(&self) -> &Pool<D> {
        &self.inner.pool
    }

    /// The configuration (table names).
    pub fn config(&self) -> &RegistryConfig {
        &self.inner.config
    }

    /// Calls `cache` after every mutation made through this registry, and,
    /// while a [`ChangePoller`] runs, after other processes' changes.
    pub fn subscribe(&self, cache: Arc<dyn Invalidate>) {
        self.inner.subscribers.push(cache);
    }

    /// Tells this process's subscribers that `events` happened (other
    /// processes are not told: the registry's mutations do that themselves).
    pub async fn publish(&self, events: &[TenantEvent]) {
        self.inner.subscribers.publish(events).await;
    }

    /// A receiver of this instance's events from now on (other processes'
    /// too, while a [`ChangePoller`] runs); see [`TenantRegistry::events`].
    pub fn events(&self) -> broadcast::Receiver<TenantEvent> {
        self.inner.subscribers.events()
    }

    /// Reports `events` to this instance's subscribers and, through the
    /// change log, to other processes'; see [`TenantRegistry::record`].
    pub async fn record(&self, events: &[TenantEvent]) -> Result<(), TenancyError> {
        // This process hears of them even when the log cannot be written.
        let recorded = self.record_change(events).await;
        self.publish(events).await;
        recorded.map_err(store_error)
    }

    /// Starts reading the change log in the background: other processes'
    /// changes invalidate this process's subscribed caches within the poll
    /// interval. Drop the poller to stop.
    pub fn poll_changes(&self) -> ChangePoller {
        ChangePoller::spawn(self.clone())
    }

    /// Runs `sql` with `values` on a pooled connection, returning every row.
    async fn fetch_all(
        &self,
        sql: &SqlStr,
        values: &[Value<'_>],
    ) -> Result<Vec<D::Row>, TenancyError> {
        let args = arguments::<D>(values).map_err(store_error)?;
        let mut conn = self.inner.pool.acquire().await.map_err(store_error)?;
        D::fetch_all(&mut conn, sql.clone(), args)
            .await
            .map_err(store_error)
    }

    /// Runs `sql` with `values` on a pooled connection.
    async fn execute(&self, sql: &SqlStr, values: &[Value<'_>]) -> Result<u64, sqlx::Error> {
        let args = arguments::<D>(values)?;
        let mut conn = self.inner.pool.acquire().await?;
        let done = D::execute(&mut conn, sql.clone(), args).await?;
        Ok(D::rows_affected(&done))
    }

    /// The tenants of `rows` (joined with their domains).
    fn decode(rows: &[D::Row]) -> Result<Vec<RegistryTenant>, TenancyError> {
        let rows = rows
            .iter()
            .map(D::tenant_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(store_error)?;
        decode_rows(rows)
    }

    /// Every tenant, by id.
    pub async fn list(&self) -> Result<Vec<RegistryTenant>, TenancyError> {
        let rows = self.fetch_all(&self.inner.sql.list, &[]).await?;
        Self::decode(&rows)
    }

    /// One tenant, active or not.
    pub async fn find_by_id(&self, id: &TenantId) -> Result<Option<RegistryTenant>, TenancyError> {
        self.fetch_one_tenant(&self.inner.sql.find_by_id, id.as_str())
            .await
    }

    /// The tenant owning `domain`, active or not.
    pub async fn find_by_domain(
        &self,
        domain: &DomainName,
    ) -> Result<Option<RegistryTenant>, TenancyError> {
        self.fetch_one_tenant(&self.inner.sql.find_by_domain, domain.as_str())
            .await
    }

    async fn fetch_one_tenant(
        &self,
        statement: &SqlStr,
        key: &str,
    ) -> Result<Option<RegistryTenant>, TenancyError> {
        let rows = self.fetch_all(statement, &[Value::Str(key)]).await?;
        Ok(Self::decode(&rows)?.into_iter().next())
    }
}

impl<D: Dialect> TenantStore for SqlRegistry<D> {
    type Tenant = RegistryTenant;

    async fn find_by_id(&self, id: &TenantId) -> Result<Option<RegistryTenant>, TenancyError> {
        SqlRegistry::find_by_id(self, id).await
    }

    async fn find_by_domain(
        &self,
        domain: &DomainName,
    ) -> Result<Option<RegistryTenant>, TenancyError> {
        SqlRegistry::find_by_domain(self, domain).await
    }
}

impl<D: Dialect> TenantRegistry for SqlRegistry<D> {
    fn list(&self) -> BoxFuture<'_, Result<Vec<RegistryTenant>, TenancyError>> {
        SqlRegistry::list(self).boxed()
    }

    fn find_by_id<'a>(
        &'a self,
        id: &'a TenantId,
    ) -> BoxFuture<'a, Result<Option<RegistryTenant>, TenancyError>> {
        SqlRegistry::find_by_id(self, id).boxed()
    }

    fn find_by_domain<'a>(
        &'a self,
        domain: &'a DomainName,
    ) -> BoxFuture<'a, Result<Option<RegistryTenant>, TenancyError>> {
        SqlRegistry::find_by_domain(self, domain).boxed()
    }

    fn set_name<'a>(
        &'a self,
        id: &'a TenantId,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        SqlRegistry::set_name(self, id, name).boxed()
    }

    fn add_domain<'a>(
        &'a self,
        id: &'a TenantId,
        domain: &'a DomainName,
        primary: bool,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        SqlRegistry::add_domain(self, id, domain, primary).boxed()
    }

    fn remove_domain<'a>(
        &'a self,
        domain: &'a DomainName,
    ) -> BoxFuture<'a, Result<bool, TenancyError>> {
        SqlRegistry::remove_domain(self, domain).boxed()
    }

    fn create_with_storage(
        &self,
        tenant: NewTenant,
        storage: Storage,
    ) -> BoxFuture<'_, Result<RegistryTenant, TenancyError>> {
        Box::pin(SqlRegistry::create_with_storage(self, tenant, storage))
    }

    fn rename_with_storage<'a>(
        &'a self,
        from: &'a TenantId,
        to: &'a TenantId,
        storage: Option<&'a Storage>,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(SqlRegistry::rename_with_storage(self, from, to, storage))
    }

    fn activate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(SqlRegistry::activate(self, id))
    }

    fn deactivate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(SqlRegistry::deactivate(self, id))
    }

    fn delete<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<bool, TenancyError>> {
        Box::pin(SqlRegistry::delete(self, id))
    }

    fn subscribe(&self, cache: Arc<dyn Invalidate>) {
        SqlRegistry::subscribe(self, cache);
    }

    fn events(&self) -> broadcast::Receiver<TenantEvent> {
        SqlRegistry::events(self)
    }

    fn record<'a>(&'a self, events: &'a [TenantEvent]) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(SqlRegistry::record(self, events))
    }

    fn watch(&self) -> Option<Box<dyn std::any::Any + Send + Sync>> {
        Some(Box::new(self.poll_changes()))
    }
}

impl<D: Dialect> fmt::Debug for SqlRegistry<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(D::REGISTRY)
            .field("config", &self.inner.config)
            .field("origin", &self.inner.origin)
            .finish_non_exhaustive()
    }
}
