//! [`PgRegistry`]: the tenant registry in Postgres, a [`TenantStore`] with
//! mutations that invalidate caches here and, through `NOTIFY`, everywhere.

mod listener;
mod migrations;
pub(crate) mod sql;
mod steps;

pub use listener::NotifyListener;

use std::fmt;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{PgPool, Row};
use tenancy_core::{
    DomainName, Invalidate, TenancyError, TenantEvent, TenantId, TenantKey, TenantStore,
};
use tokio::sync::broadcast;

use self::sql::{RegistrySql, decode_tenant};
use self::steps::{Conflict, Inserted};
use super::TenantRegistry;
use crate::error::store_error;
use crate::postgres::PgConnections;
use crate::postgres::tx::{PgTx, Unit};
use crate::registry::RegistryConfig;
use crate::registry::config::TableDefaults;
use crate::registry::payload;
use crate::registry::subscribers::Subscribers;
use crate::storage::Storage;
use crate::tenant::{NewTenant, RegistryTenant, domain_removed_event};

/// The tenant registry: tenants (id, name, active flag, storage location,
/// timestamps) and their domains, in Postgres tables of its own schema.
///
/// - It is a [`TenantStore`]: put a [`CachedStore`](tenancy_core::CachedStore)
///   in front of it and hand that to [`Tenancy`](tenancy_core::Tenancy).
/// - Every mutation calls the [subscribed](Self::subscribe) caches once it is
///   committed, and sends a `NOTIFY` (delivered on commit) that the
///   [`listen`](Self::listen)ers of other processes turn into the same calls.
/// - Its own tables are created and upgraded by [`connect`](Self::connect).
///
/// Cheap to clone.
///
/// ```no_run
/// use std::sync::Arc;
/// use sqlx::postgres::PgPoolOptions;
/// use tenancy_core::{CachedStore, SubdomainResolver, Tenancy, TenantId};
/// use tenancy_sqlx::{NewTenant, PgRegistry, RegistryConfig};
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = PgPoolOptions::new().max_connections(5).connect("postgres://localhost/app").await?;
/// let registry = PgRegistry::connect(pool, RegistryConfig::default()).await?;
/// let cache = Arc::new(CachedStore::new(registry.clone()));
/// registry.subscribe(cache.clone());
/// let _listener = registry.listen(); // cross-process invalidation
/// let tenancy = Tenancy::new(SubdomainResolver::new(["example.com"])?, cache);
///
/// registry.deactivate(&TenantId::new("acme")?).await?; // every cache forgets `acme`
/// # let _ = tenancy; Ok(()) }
/// ```
#[derive(Clone)]
pub struct PgRegistry {
    inner: Arc<Inner>,
}

struct Inner {
    connections: PgConnections,
    config: RegistryConfig,
    sql: RegistrySql,
    subscribers: Subscribers,
    /// Identifies this instance in notification payloads, to skip our own.
    origin: String,
}

impl PgRegistry {
    /// A registry on `connections` (a [`PgPool`], or [`PgConnections`]
    /// through a transaction pooler), creating or upgrading its tables.
    pub async fn connect(
        connections: impl Into<PgConnections>,
        config: RegistryConfig,
    ) -> Result<Self, TenancyError> {
        let registry = Self::new(connections, config)?;
        registry.migrate().await?;
        Ok(registry)
    }

    /// A registry on `connections`, without touching the database.
    pub fn new(
        connections: impl Into<PgConnections>,
        config: RegistryConfig,
    ) -> Result<Self, TenancyError> {
        config.validate(TableDefaults::Postgres)?;
        let sql = RegistrySql::new(&config);
        Ok(Self {
            inner: Arc::new(Inner {
                connections: connections.into(),
                config,
                sql,
                subscribers: Subscribers::default(),
                origin: payload::origin_token(),
            }),
        })
    }

    /// Creates or upgrades the registry tables (idempotent, safe to run concurrently).
    pub async fn migrate(&self) -> Result<(), TenancyError> {
        let (pool, _) = self.inner.connections.admin();
        migrations::migrate(pool, &self.inner.config).await
    }

    /// The pool that carries the traffic.
    pub fn pool(&self) -> &PgPool {
        self.inner.connections.pool()
    }

    /// The connections, with their [`Pooler`](crate::postgres::Pooler) mode.
    pub fn connections(&self) -> &PgConnections {
        &self.inner.connections
    }

    /// A connection for one unit of work (a transaction behind a pooler).
    pub(crate) async fn unit(&self) -> Result<Unit, TenancyError> {
        Unit::start(self.pool(), self.inner.connections.pooler())
            .await
            .map_err(store_error)
    }

    /// The configuration.
    pub fn config(&self) -> &RegistryConfig {
        &self.inner.config
    }

    /// Calls `cache` after every mutation (and, with [`listen`](Self::listen),
    /// on every change made by other processes).
    pub fn subscribe(&self, cache: Arc<dyn Invalidate>) {
        self.inner.subscribers.push(cache);
    }

    /// A receiver of this instance's events from now on (other processes'
    /// too, with [`listen`](Self::listen)); see [`TenantRegistry::events`].
    pub fn events(&self) -> broadcast::Receiver<TenantEvent> {
        self.inner.subscribers.events()
    }

    /// Reports `events` to this instance's subscribers and, by `NOTIFY`, to
    /// other processes'; see [`TenantRegistry::record`].
    pub async fn record(&self, events: &[TenantEvent]) -> Result<(), TenancyError> {
        let notified = self.notify(events).await;
        // This process hears of them even when the notification failed.
        self.publish(events).await;
        notified
    }

    /// Sends `events` to other processes (`NOTIFY`).
    async fn notify(&self, events: &[TenantEvent]) -> Result<(), TenancyError> {
        let mut unit = self.unit().await?;
        sqlx::query("SELECT pg_notify($1, $2)::text")
            .persistent(false)
            .bind(self.inner.config.channel.as_str())
            .bind(self.payload(events))
            .execute(&mut *unit)
            .await
            .map_err(store_error)?;
        unit.finish().await.map_err(store_error)
    }

    /// Starts listening for changes made by other processes (see [`NotifyListener`]).
    ///
    /// Must be called inside a Tokio runtime.
    pub fn listen(&self) -> NotifyListener {
        NotifyListener::spawn(self.clone())
    }

    /// Every tenant, by id.
    pub async fn list(&self) -> Result<Vec<RegistryTenant>, TenancyError> {
        let mut unit = self.unit().await?;
        let rows = sqlx::query(self.inner.sql.list.clone())
            .persistent(false)
            .fetch_all(&mut *unit)
            .await
            .map_err(store_error)?;
        unit.finish().await.map_err(store_error)?;
        rows.iter().map(decode_tenant).collect()
    }

    /// Registers a tenant whose storage is the schema its id maps to.
    ///
    /// This only writes the registry; [`SchemaManager::create`](crate::schema::SchemaManager::create)
    /// also creates and migrates the schema. Fails with
    /// [`TenancyError::TenantExists`] or [`TenancyError::DomainTaken`].
    pub async fn create(&self, new: NewTenant) -> Result<RegistryTenant, TenancyError> {
        let storage = Storage::Schema(self.inner.config.naming.schema_for(&new.id)?);
        self.create_with_storage(new, storage).await
    }

    /// Registers a tenant whose data lives in `storage` (another isolation
    /// mode's storage: a database, or shared tables). Registry only; the
    /// mode's manager creates the storage itself.
    pub async fn create_with_storage(
        &self,
        new: NewTenant,
        storage: Storage,
    ) -> Result<RegistryTenant, TenancyError> {
        let mut conn = self.unit().await?;
        match self.insert_on(&mut conn, &new, storage).await? {
            Inserted::Tenant(tenant) => {
                conn.finish().await.map_err(store_error)?;
                self.publish(&created_events(&new)).await;
                Ok(tenant)
            }
            Inserted::DomainTaken => {
                drop(conn);
                Err(match self.taken_domain(&new).await {
                    Some(domain) => TenancyError::DomainTaken { domain },
                    None => TenancyError::storage("a domain of the new tenant is taken"),
                })
            }
        }
    }

    /// Changes a tenant's display name.
    pub async fn set_name(&self, id: &TenantId, name: &str) -> Result<(), TenancyError> {
        let events = [TenantEvent::Updated(id.clone())];
        let mut unit = self.unit().await?;
        let rows = sqlx::query(self.inner.sql.set_name.clone())
            .persistent(false)
            .bind(id.as_str())
            .bind(name)
            .bind(self.inner.config.channel.as_str())
            .bind(self.payload(&events))
            .fetch_all(&mut *unit)
            .await
            .map_err(store_error)?;
        unit.finish().await.map_err(store_error)?;
        self.finish(id, rows.len(), &events).await
    }

    /// Activates a tenant.
    pub async fn activate(&self, id: &TenantId) -> Result<(), TenancyError> {
        self.set_active(id, true).await
    }

    /// Deactivates a tenant: the pipeline refuses it with
    /// [`TenancyError::TenantInactive`] as soon as the caches forget it.
    pub async fn deactivate(&self, id: &TenantId) -> Result<(), TenancyError> {
        self.set_active(id, false).await
    }

    async fn set_active(&self, id: &TenantId, active: bool) -> Result<(), TenancyError> {
        let events = [if active {
            TenantEvent::Activated(id.clone())
        } else {
            TenantEvent::Deactivated(id.clone())
        }];
        let mut unit = self.unit().await?;
        let rows = sqlx::query(self.inner.sql.set_active.clone())
            .persistent(false)
            .bind(id.as_str())
            .bind(active)
            .bind(self.inner.config.channel.as_str())
            .bind(self.payload(&events))
            .fetch_all(&mut *unit)
            .await
            .map_err(store_error)?;
        unit.finish().await.map_err(store_error)?;
        self.finish(id, rows.len(), &events).await
    }

    /// Adds a domain to a tenant; a new primary domain demotes the old one.
    pub async fn add_domain(
        &self,
        id: &TenantId,
        domain: &DomainName,
        primary: bool,
    ) -> Result<(), TenancyError> {
        let events = [TenantEvent::DomainAdded {
            tenant: id.clone(),
            domain: domain.clone(),
        }];
        let mut tx = PgTx::begin(self.pool(), None).await.map_err(store_error)?;
        if primary {
            sqlx::query(self.inner.sql.demote_primary.clone())
                .persistent(false)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
        }
        let inserted = sqlx::query(self.inner.sql.add_domain.clone())
            .persistent(false)
            .bind(id.as_str())
            .bind(domain.as_str())
            .bind(primary)
            .bind(self.inner.config.channel.as_str())
            .bind(self.payload(&events))
            .fetch_all(&mut *tx)
            .await;
        let rows = match inserted {
            Ok(rows) => rows,
            Err(error) => {
                return Err(match self.conflict(error) {
                    Conflict::Domain => TenancyError::DomainTaken {
                        domain: domain.clone(),
                    },
                    Conflict::None(error) => store_error(error),
                    Conflict::Tenant | Conflict::Storage => TenancyError::Configuration {
                        message: "unexpected conflict while adding a domain".to_owned(),
                    },
                });
            }
        };
        if rows.is_empty() {
            return Err(not_found(id));
        }
        tx.commit().await.map_err(store_error)?;
        self.publish(&events).await;
        Ok(())
    }

    /// Removes a domain; returns whether it existed.
    pub async fn remove_domain(&self, domain: &DomainName) -> Result<bool, TenancyError> {
        let prefix = payload::domain_removed_prefix(&self.inner.origin, domain);
        let mut unit = self.unit().await?;
        let rows = sqlx::query(self.inner.sql.remove_domain.clone())
            .persistent(false)
            .bind(domain.as_str())
            .bind(self.inner.config.channel.as_str())
            .bind(prefix)
            .fetch_all(&mut *unit)
            .await
            .map_err(store_error)?;
        unit.finish().await.map_err(store_error)?;
        let Some(row) = rows.first() else {
            return Ok(false);
        };
        let owner: String = row.try_get(0).map_err(TenancyError::storage)?;
        let event = domain_removed_event(owner, domain);
        self.publish(&[event]).await;
        Ok(true)
    }

    /// Changes a tenant's id in the registry only (its storage stays where it is).
    ///
    /// [`SchemaManager::rename`](crate::schema::SchemaManager::rename) also renames
    /// the schema. Fails with [`TenancyError::TenantExists`] when `to` is taken.
    pub async fn rename(&self, from: &TenantId, to: &TenantId) -> Result<(), TenancyError> {
        self.rename_with_storage(from, to, None).await
    }

    /// Changes a tenant's id and, when given, the storage its row records.
    pub async fn rename_with_storage(
        &self,
        from: &TenantId,
        to: &TenantId,
        storage: Option<&Storage>,
    ) -> Result<(), TenancyError> {
        let events = [TenantEvent::Renamed {
            from: from.clone(),
            to: to.clone(),
        }];
        let mut conn = self.unit().await?;
        let rows = self.rename_on(&mut conn, from, to, storage).await?;
        conn.finish().await.map_err(store_error)?;
        self.finish(from, rows, &events).await
    }

    /// Deletes a tenant and its domains from the registry; returns whether it existed.
    ///
    /// Its storage is left alone; [`SchemaManager::delete`](crate::schema::SchemaManager::delete)
    /// drops the schema too.
    pub async fn delete(&self, id: &TenantId) -> Result<bool, TenancyError> {
        let mut conn = self.unit().await?;
        let deleted = self.delete_on(&mut conn, id).await?;
        conn.finish().await.map_err(store_error)?;
        if deleted {
            self.publish(&[TenantEvent::Deleted(id.clone())]).await;
        }
        Ok(deleted)
    }

    /// Tells this process's subscribers that `events` happened (no `NOTIFY`).
    pub async fn publish(&self, events: &[TenantEvent]) {
        self.inner.subscribers.publish(events).await;
    }
}

/// The events a tenant creation produces.
pub(crate) fn created_events(new: &NewTenant) -> Vec<TenantEvent> {
    crate::tenant::created_events(&new.id, &new.domains)
}

fn not_found(id: &TenantId) -> TenancyError {
    TenancyError::TenantNotFound {
        key: TenantKey::Id(id.clone()),
    }
}

impl TenantStore for PgRegistry {
    type Tenant = RegistryTenant;

    async fn find_by_id(&self, id: &TenantId) -> Result<Option<RegistryTenant>, TenancyError> {
        PgRegistry::find_by_id(self, id).await
    }

    async fn find_by_domain(
        &self,
        domain: &DomainName,
    ) -> Result<Option<RegistryTenant>, TenancyError> {
        PgRegistry::find_by_domain(self, domain).await
    }
}

impl PgRegistry {
    /// One tenant, active or not.
    pub async fn find_by_id(&self, id: &TenantId) -> Result<Option<RegistryTenant>, TenancyError> {
        let mut unit = self.unit().await?;
        let row = sqlx::query(self.inner.sql.find_by_id.clone())
            .persistent(false)
            .bind(id.as_str())
            .fetch_optional(&mut *unit)
            .await
            .map_err(store_error)?;
        unit.finish().await.map_err(store_error)?;
        row.as_ref().map(decode_tenant).transpose()
    }

    /// The tenant owning `domain`, active or not.
    pub async fn find_by_domain(
        &self,
        domain: &DomainName,
    ) -> Result<Option<RegistryTenant>, TenancyError> {
        let mut unit = self.unit().await?;
        let row = sqlx::query(self.inner.sql.find_by_domain.clone())
            .persistent(false)
            .bind(domain.as_str())
            .fetch_optional(&mut *unit)
            .await
            .map_err(store_error)?;
        unit.finish().await.map_err(store_error)?;
        row.as_ref().map(decode_tenant).transpose()
    }
}

impl TenantRegistry for PgRegistry {
    fn list(&self) -> BoxFuture<'_, Result<Vec<RegistryTenant>, TenancyError>> {
        PgRegistry::list(self).boxed()
    }

    fn find_by_id<'a>(
        &'a self,
        id: &'a TenantId,
    ) -> BoxFuture<'a, Result<Option<RegistryTenant>, TenancyError>> {
        PgRegistry::find_by_id(self, id).boxed()
    }

    fn find_by_domain<'a>(
        &'a self,
        domain: &'a DomainName,
    ) -> BoxFuture<'a, Result<Option<RegistryTenant>, TenancyError>> {
        PgRegistry::find_by_domain(self, domain).boxed()
    }

    fn set_name<'a>(
        &'a self,
        id: &'a TenantId,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        PgRegistry::set_name(self, id, name).boxed()
    }

    fn add_domain<'a>(
        &'a self,
        id: &'a TenantId,
        domain: &'a DomainName,
        primary: bool,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        PgRegistry::add_domain(self, id, domain, primary).boxed()
    }

    fn remove_domain<'a>(
        &'a self,
        domain: &'a DomainName,
    ) -> BoxFuture<'a, Result<bool, TenancyError>> {
        PgRegistry::remove_domain(self, domain).boxed()
    }

    fn create_with_storage(
        &self,
        tenant: NewTenant,
        storage: Storage,
    ) -> BoxFuture<'_, Result<RegistryTenant, TenancyError>> {
        Box::pin(PgRegistry::create_with_storage(self, tenant, storage))
    }

    fn rename_with_storage<'a>(
        &'a self,
        from: &'a TenantId,
        to: &'a TenantId,
        storage: Option<&'a Storage>,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(PgRegistry::rename_with_storage(self, from, to, storage))
    }

    fn activate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(PgRegistry::activate(self, id))
    }

    fn deactivate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(PgRegistry::deactivate(self, id))
    }

    fn delete<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<bool, TenancyError>> {
        Box::pin(PgRegistry::delete(self, id))
    }

    fn subscribe(&self, cache: Arc<dyn Invalidate>) {
        PgRegistry::subscribe(self, cache);
    }

    fn events(&self) -> broadcast::Receiver<TenantEvent> {
        PgRegistry::events(self)
    }

    fn record<'a>(&'a self, events: &'a [TenantEvent]) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(PgRegistry::record(self, events))
    }

    fn watch(&self) -> Option<Box<dyn std::any::Any + Send + Sync>> {
        Some(Box::new(self.listen()))
    }
}

impl fmt::Debug for PgRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgRegistry")
            .field("config", &self.inner.config)
            .field("origin", &self.inner.origin)
            .finish_non_exhaustive()
    }
}
