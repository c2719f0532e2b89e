//! [`AnyRegistry`]: the registry of whichever backend a URL names.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tenancy_core::{DomainName, Invalidate, TenancyError, TenantEvent, TenantId, TenantStore};
use tokio::sync::broadcast;

use crate::registry::TenantRegistry;
use crate::storage::Storage;
use crate::tenant::{NewTenant, RegistryTenant};

/// One of the registries of the enabled features, chosen at run time (e.g.
/// from a `postgres://`, `mysql://` or `sqlite://` URL).
///
/// It is a [`TenantStore`] and a [`TenantRegistry`] and forwards every
/// mutation, so an application can put a
/// [`CachedStore<AnyRegistry>`](tenancy_core::CachedStore) in front of
/// whichever backend its configuration names. Change propagation is the
/// backend's: through `LISTEN/NOTIFY` on Postgres (start it with
/// [`listen`](Self::listen)), through the change log on MySQL and SQLite
/// (a [`ChangePoller`](crate::registry::ChangePoller));
/// [`TenantRegistry::watch`] starts whichever applies.
/// Cheap to clone.
///
/// ```no_run
/// use std::sync::Arc;
/// use tenancy_core::CachedStore;
/// use tenancy_sqlx::AnyRegistry;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let url = std::env::var("TENANCY_DATABASE_URL").unwrap_or("sqlite://./data/registry.db".into());
/// let registry = AnyRegistry::connect(&url).await?;
/// let cache = Arc::new(CachedStore::new(registry.clone()));
/// registry.subscribe(cache.clone());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyRegistry {
    /// A [`PgRegistry`](crate::registry::PgRegistry).
    #[cfg(feature = "postgres")]
    Postgres(crate::registry::PgRegistry),
    /// A [`MySqlRegistry`](crate::registry::MySqlRegistry).
    #[cfg(feature = "mysql")]
    MySql(crate::registry::MySqlRegistry),
    /// A [`SqliteRegistry`](crate::registry::SqliteRegistry).
    #[cfg(feature = "sqlite")]
    Sqlite(crate::registry::SqliteRegistry),
}

/// Calls `$body` with the registry inside, whatever its backend.
macro_rules! each {
    ($self:expr, |$registry:ident| $body:expr) => {
        match $self {
            #[cfg(feature = "postgres")]
            AnyRegistry::Postgres($registry) => $body,
            #[cfg(feature = "mysql")]
            AnyRegistry::MySql($registry) => $body,
            #[cfg(feature = "sqlite")]
            AnyRegistry::Sqlite($registry) => $body,
        }
    };
}

impl AnyRegistry {
    /// Connects to the registry database `url` (`postgres://` /
    /// `postgresql://`, `mysql://` / `mariadb://`, `sqlite://`; a SQLite file
    /// is created if missing and opened in WAL mode) with a pool of 5
    /// connections and default table names, creating or upgrading the
    /// registry tables.
    ///
    /// A scheme whose feature is disabled, or an unknown one, is a
    /// [`TenancyError::Configuration`]; an unreachable database is
    /// [`TenancyError::StoreUnavailable`].
    pub async fn connect(url: &str) -> Result<Self, TenancyError> {
        Self::connect_with(url, 5).await
    }

    /// [`connect`](Self::connect) with a pool of `max_connections`.
    pub async fn connect_with(url: &str, max_connections: u32) -> Result<Self, TenancyError> {
        let scheme = url.split_once(':').map(|(scheme, _)| scheme).unwrap_or("");
        let max = max_connections.max(1);
        let timeout = Duration::from_secs(10);
        match scheme {
            #[cfg(feature = "postgres")]
            "postgres" | "postgresql" => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(max)
                    .acquire_timeout(timeout)
                    .connect(url)
                    .await
                    .map_err(crate::error::store_error)?;
                let registry = crate::registry::PgRegistry::connect(
                    pool,
                    crate::registry::RegistryConfig::default(),
                )
                .await?;
                Ok(Self::Postgres(registry))
            }
            #[cfg(feature = "mysql")]
            "mysql" | "mariadb" => {
                let options: sqlx::mysql::MySqlConnectOptions = url
                    .replacen("mariadb:", "mysql:", 1)
                    .parse()
                    .map_err(|error| configuration(&error))?;
                let pool = sqlx::mysql::MySqlPoolOptions::new()
                    .max_connections(max)
                    .acquire_timeout(timeout)
                    .connect_with(options)
                    .await
                    .map_err(crate::error::store_error)?;
                let registry = crate::registry::MySqlRegistry::connect(
                    pool,
                    crate::registry::RegistryConfig::default(),
                )
                .await?;
                Ok(Self::MySql(registry))
            }
            #[cfg(feature = "sqlite")]
            "sqlite" => {
                let options: sqlx::sqlite::SqliteConnectOptions =
                    url.parse().map_err(|error| configuration(&error))?;
                let options = options
                    .create_if_missing(true)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .busy_timeout(timeout);
                if let Some(parent) = options.get_filename().parent()
                    && !parent.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(parent).map_err(TenancyError::unavailable)?;
                }
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(max)
                    .acquire_timeout(timeout)
                    .connect_with(options)
                    .await
                    .map_err(crate::error::store_error)?;
                let registry = crate::registry::SqliteRegistry::connect(
                    pool,
                    crate::registry::RegistryConfig::default(),
                )
                .await?;
                Ok(Self::Sqlite(registry))
            }
            other => Err(TenancyError::Configuration {
                message: format!(
                    "the registry URL scheme `{other}` is not supported (enabled: {})",
                    Self::schemes().join(", ")
                ),
            }),
        }
    }

    /// The URL schemes the enabled features accept.
    #[allow(clippy::vec_init_then_push, reason = "each push depends on a feature")]
    pub fn schemes() -> Vec<&'static str> {
        let mut schemes = Vec::new();
        #[cfg(feature = "postgres")]
        schemes.extend(["postgres", "postgresql"]);
        #[cfg(feature = "mysql")]
        schemes.extend(["mysql", "mariadb"]);
        #[cfg(feature = "sqlite")]
        schemes.push("sqlite");
        schemes
    }

    /// The backend's name: `"postgres"`, `"mysql"` or `"sqlite"`.
    pub fn backend(&self) -> &'static str {
        match self {
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => "postgres",
            #[cfg(feature = "mysql")]
            Self::MySql(_) => "mysql",
            #[cfg(feature = "sqlite")]
            Self::Sqlite(_) => "sqlite",
        }
    }

    /// Starts listening for other processes' changes where the backend can
    /// (Postgres: a [`NotifyListener`](crate::registry::NotifyListener), which stops
    /// when dropped); `None` elsewhere (there [`TenantRegistry::watch`] starts a
    /// [`ChangePoller`](crate::registry::ChangePoller)).
    #[cfg(feature = "postgres")]
    #[must_use = "the listener stops when dropped: keep it for as long as the app runs"]
    pub fn listen(&self) -> Option<crate::registry::NotifyListener> {
        match self {
            Self::Postgres(registry) => Some(registry.listen()),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// Calls `cache` after every mutation (see each backend for other processes).
    pub fn subscribe(&self, cache: Arc<dyn Invalidate>) {
        each!(self, |registry| registry.subscribe(cache));
    }

    /// Tells this process's subscribers that `events` happened.
    pub async fn publish(&self, events: &[TenantEvent]) {
        each!(self, |registry| registry.publish(events).await);
    }

    /// A receiver of this instance's events; see [`TenantRegistry::events`].
    pub fn events(&self) -> broadcast::Receiver<TenantEvent> {
        each!(self, |registry| registry.events())
    }

    /// Reports `events` here and to other processes; see
    /// [`TenantRegistry::record`].
    pub async fn record(&self, events: &[TenantEvent]) -> Result<(), TenancyError> {
        each!(self, |registry| registry.record(events).await)
    }

    /// Every tenant, by id.
    pub async fn list(&self) -> Result<Vec<RegistryTenant>, TenancyError> {
        each!(self, |registry| registry.list().await)
    }

    /// One tenant, active or not.
    pub async fn find_by_id(&self, id: &TenantId) -> Result<Option<RegistryTenant>, TenancyError> {
        each!(self, |registry| registry.find_by_id(id).await)
    }

    /// The tenant owning `domain`, active or not.
    pub async fn find_by_domain(
        &self,
        domain: &DomainName,
    ) -> Result<Option<RegistryTenant>, TenancyError> {
        each!(self, |registry| registry.find_by_domain(domain).await)
    }

    /// Registers a tenant whose data lives in `storage` (registry only).
    pub async fn create_with_storage(
        &self,
        new: NewTenant,
        storage: Storage,
    ) -> Result<RegistryTenant, TenancyError> {
        each!(self, |registry| registry
            .create_with_storage(new, storage)
            .await)
    }

    /// Changes a tenant's display name.
    pub async fn set_name(&self, id: &TenantId, name: &str) -> Result<(), TenancyError> {
        each!(self, |registry| registry.set_name(id, name).await)
    }

    /// Activates a tenant (registry only).
    pub async fn activate(&self, id: &TenantId) -> Result<(), TenancyError> {
        each!(self, |registry| registry.activate(id).await)
    }

    /// Deactivates a tenant (registry only).
    pub async fn deactivate(&self, id: &TenantId) -> Result<(), TenancyError> {
        each!(self, |registry| registry.deactivate(id).await)
    }

    /// Adds a domain; a new primary domain demotes the old one.
    pub async fn add_domain(
        &self,
        id: &TenantId,
        domain: &DomainName,
        primary: bool,
    ) -> Result<(), TenancyError> {
        each!(self, |registry| registry
            .add_domain(id, domain, primary)
            .await)
    }

    /// Removes a domain; returns whether it existed.
    pub async fn remove_domain(&self, domain: &DomainName) -> Result<bool, TenancyError> {
        each!(self, |registry| registry.remove_domain(domain).await)
    }

    /// Changes a tenant's id in the registry only (its storage stays).
    pub async fn rename(&self, from: &TenantId, to: &TenantId) -> Result<(), TenancyError> {
        each!(self, |registry| registry.rename(from, to).await)
    }

    /// Renames, recording `storage` (when given) as the tenant's new location.
    pub async fn rename_with_storage(
        &self,
        from: &TenantId,
        to: &TenantId,
        storage: Option<&Storage>,
    ) -> Result<(), TenancyError> {
        each!(self, |registry| registry
            .rename_with_storage(from, to, storage)
            .await)
    }

    /// Deletes a tenant and its domains from the registry; returns whether it existed.
    pub async fn delete(&self, id: &TenantId) -> Result<bool, TenancyError> {
        each!(self, |registry| registry.delete(id).await)
    }
}

#[cfg(any(feature = "mysql", feature = "sqlite"))]
fn configuration(error: &sqlx::Error) -> TenancyError {
    TenancyError::Configuration {
        message: format!("invalid registry URL: {error}"),
    }
}

impl TenantStore for AnyRegistry {
    type Tenant = RegistryTenant;

    async fn find_by_id(&self, id: &TenantId) -> Result<Option<RegistryTenant>, TenancyError> {
        AnyRegistry::find_by_id(self, id).await
    }

    async fn find_by_domain(
        &self,
        domain: &DomainName,
    ) -> Result<Option<RegistryTenant>, TenancyError> {
        AnyRegistry::find_by_domain(self, domain).await
    }
}

impl TenantRegistry for AnyRegistry {
    fn list(&self) -> BoxFuture<'_, Result<Vec<RegistryTenant>, TenancyError>> {
        Box::pin(AnyRegistry::list(self))
    }

    fn find_by_id<'a>(
        &'a self,
        id: &'a TenantId,
    ) -> BoxFuture<'a, Result<Option<RegistryTenant>, TenancyError>> {
        Box::pin(AnyRegistry::find_by_id(self, id))
    }

    fn find_by_domain<'a>(
        &'a self,
        domain: &'a DomainName,
    ) -> BoxFuture<'a, Result<Option<RegistryTenant>, TenancyError>> {
        Box::pin(AnyRegistry::find_by_domain(self, domain))
    }

    fn set_name<'a>(
        &'a self,
        id: &'a TenantId,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(AnyRegistry::set_name(self, id, name))
    }

    fn add_domain<'a>(
        &'a self,
        id: &'a TenantId,
        domain: &'a DomainName,
        primary: bool,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(AnyRegistry::add_domain(self, id, domain, primary))
    }

    fn remove_domain<'a>(
        &'a self,
        domain: &'a DomainName,
    ) -> BoxFuture<'a, Result<bool, TenancyError>> {
        Box::pin(AnyRegistry::remove_domain(self, domain))
    }

    fn create_with_storage(
        &self,
        tenant: NewTenant,
        storage: Storage,
    ) -> BoxFuture<'_, Result<RegistryTenant, TenancyError>> {
        Box::pin(AnyRegistry::create_with_storage(self, tenant, storage))
    }

    fn rename_with_storage<'a>(
        &'a self,
        from: &'a TenantId,
        to: &'a TenantId,
        storage: Option<&'a Storage>,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(AnyRegistry::rename_with_storage(self, from, to, storage))
    }

    fn activate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(AnyRegistry::activate(self, id))
    }

    fn deactivate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(AnyRegistry::deactivate(self, id))
    }

    fn delete<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<bool, TenancyError>> {
        Box::pin(AnyRegistry::delete(self, id))
    }

    fn subscribe(&self, cache: Arc<dyn Invalidate>) {
        AnyRegistry::subscribe(self, cache);
    }

    fn events(&self) -> broadcast::Receiver<TenantEvent> {
        AnyRegistry::events(self)
    }

    fn record<'a>(&'a self, events: &'a [TenantEvent]) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(AnyRegistry::record(self, events))
    }

    fn watch(&self) -> Option<Box<dyn std::any::Any + Send + Sync>> {
        each!(self, |registry| TenantRegistry::watch(registry))
    }
}

#[cfg(feature = "postgres")]
impl From<crate::registry::PgRegistry> for AnyRegistry {
    fn from(registry: crate::registry::PgRegistry) -> Self {
        Self::Postgres(registry)
    }
}

#[cfg(feature = "mysql")]
impl From<crate::registry::MySqlRegistry> for AnyRegistry {
    fn from(registry: crate::registry::MySqlRegistry) -> Self {
        Self::MySql(registry)
    }
}

#[cfg(feature = "sqlite")]
impl From<crate::registry::SqliteRegistry> for AnyRegistry {
    fn from(registry: crate::registry::SqliteRegistry) -> Self {
        Self::Sqlite(registry)
    }
}
