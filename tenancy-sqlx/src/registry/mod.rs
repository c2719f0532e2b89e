//! The tenant registry: tenants and their domains, on any backend, with
//! cache invalidation.
//!
//! - [`TenantRegistry`]: the registry as a trait object; every backend's
//!   registry implements it, and [`TenantStore`](tenancy_core::TenantStore)
//!   for the request path.
//! - [`PgRegistry`] (feature `postgres`): tenants and domains in Postgres
//!   tables; mutations invalidate subscribed caches at once, and other
//!   processes' caches through `LISTEN/NOTIFY` ([`NotifyListener`]).
//! - Every registry reports its changes as [`TenantEvent`]s
//!   ([`TenantRegistry::events`]): created, updated, renamed, activated,
//!   deactivated, deleted, migrated, domains added and removed — this
//!   process's at once, other processes' while [`TenantRegistry::watch`] runs.
//! - [`MySqlRegistry`] (feature `mysql`) and [`SqliteRegistry`] (feature
//!   `sqlite`), both a [`SqlRegistry`] over a [`Dialect`], have the semantics
//!   of [`PgRegistry`], but no `LISTEN/NOTIFY`: mutations append to a change
//!   log that other processes poll ([`ChangePoller`], every 250 ms by
//!   default).
//! - [`AnyRegistry`]: whichever of them a URL names, chosen at run time.
//! - [`RegistryConfig`]: the registry's table names and settings.
//! - [`RegistryTenant`] (built with a [`RegistryTenantBuilder`]) is a tenant
//!   as a registry stores it; [`NewTenant`] is a tenant to create.

// The module docs link to every backend's items; without its feature they are absent.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(rustdoc::broken_intra_doc_links)
)]

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod any;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod background;
pub(crate) mod config;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub(crate) mod payload;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(any(feature = "mysql", feature = "sqlite"))]
pub(crate) mod sql;
#[cfg(any(
    feature = "postgres",
    feature = "mysql",
    feature = "sqlite",
    feature = "testing"
))]
pub(crate) mod subscribers;

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub use any::AnyRegistry;
pub use config::RegistryConfig;
#[cfg(feature = "postgres")]
pub use postgres::{NotifyListener, PgRegistry};
#[cfg(feature = "mysql")]
pub use sql::MySqlRegistry;
#[cfg(feature = "sqlite")]
pub use sql::SqliteRegistry;
#[cfg(any(feature = "mysql", feature = "sqlite"))]
pub use sql::{ChangePoller, Dialect, SqlRegistry};

pub use crate::tenant::{NewTenant, RegistryTenant, RegistryTenantBuilder};

use std::any::Any;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use tenancy_core::{DomainName, Invalidate, TenancyError, TenantEvent, TenantId};
use tokio::sync::broadcast;

use crate::storage::Storage;

/// A registry of tenants and their domains, as a trait object.
///
/// Every backend's registry implements it (and
/// [`TenantStore`](tenancy_core::TenantStore), for the request path), so
/// applications and conformance tests can treat them alike.
///
/// The record-level writes (`create_with_storage`, `rename_with_storage`,
/// `activate`, `deactivate`, `delete`) change the registry row alone; a
/// [`TenantManager`](crate::lifecycle::TenantManager) calls them to keep the
/// row and the tenant's storage in step, so a registry of your own works with
/// every isolation mode. Applications call the manager, not these.
///
/// Every mutation invalidates the subscribed caches of this process at once;
/// how other processes learn of it depends on the backend (Postgres:
/// `LISTEN/NOTIFY`; MySQL / MariaDB and SQLite: a polled change log).
pub trait TenantRegistry: Send + Sync {
    /// Every tenant, ordered by id.
    fn list(&self) -> BoxFuture<'_, Result<Vec<RegistryTenant>, TenancyError>>;

    /// One tenant, active or not.
    fn find_by_id<'a>(
        &'a self,
        id: &'a TenantId,
    ) -> BoxFuture<'a, Result<Option<RegistryTenant>, TenancyError>>;

    /// The tenant owning `domain`, active or not.
    fn find_by_domain<'a>(
        &'a self,
        domain: &'a DomainName,
    ) -> BoxFuture<'a, Result<Option<RegistryTenant>, TenancyError>>;

    /// Changes a tenant's display name (`TenantNotFound` if there is none).
    fn set_name<'a>(
        &'a self,
        id: &'a TenantId,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), TenancyError>>;

    /// Adds a domain (`DomainTaken` if another tenant has it); a new primary
    /// domain demotes the old one.
    fn add_domain<'a>(
        &'a self,
        id: &'a TenantId,
        domain: &'a DomainName,
        primary: bool,
    ) -> BoxFuture<'a, Result<(), TenancyError>>;

    /// Removes a domain; `false` if no tenant had it.
    fn remove_domain<'a>(
        &'a self,
        domain: &'a DomainName,
    ) -> BoxFuture<'a, Result<bool, TenancyError>>;

    /// Inserts a tenant whose data lives in `storage`: its row and domains.
    /// `TenantExists`, `DomainTaken`, or `SchemaCreation` when another
    /// tenant's row records the same storage.
    fn create_with_storage(
        &self,
        tenant: NewTenant,
        storage: Storage,
    ) -> BoxFuture<'_, Result<RegistryTenant, TenancyError>>;

    /// Changes a tenant's id (its domains follow) and, when given, the
    /// storage its row records; with `from == to`, only the storage (a
    /// tenant moved to another server). `TenantNotFound`, `TenantExists`.
    fn rename_with_storage<'a>(
        &'a self,
        from: &'a TenantId,
        to: &'a TenantId,
        storage: Option<&'a Storage>,
    ) -> BoxFuture<'a, Result<(), TenancyError>>;

    /// Marks a tenant served (`TenantNotFound` if there is none).
    fn activate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>>;

    /// Marks a tenant not served (`TenantNotFound` if there is none).
    fn deactivate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>>;

    /// Removes a tenant's row and domains; `false` if there was none.
    fn delete<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<bool, TenancyError>>;

    /// Invalidates `cache` after every mutation.
    fn subscribe(&self, cache: Arc<dyn Invalidate>);

    /// A receiver of this instance's [`TenantEvent`]s from now on: those of
    /// its own mutations at once, other processes' while
    /// [`watch`](Self::watch) runs. A receiver that falls 1,024 events
    /// behind gets `RecvError::Lagged`: treat it as
    /// [`TenantEvent::Unknown`].
    ///
    /// ```no_run
    /// use tenancy_core::TenantEvent;
    /// use tenancy_sqlx::TenantRegistry;
    ///
    /// # async fn example(registry: impl TenantRegistry) {
    /// let mut events = registry.events();
    /// // Other processes' changes too (unless a gate already watches it).
    /// let _watching = registry.watch();
    /// while let Ok(event) = events.recv().await {
    ///     if let TenantEvent::Deactivated(id) = event {
    ///         println!("stopping the background jobs of {id}");
    ///     }
    /// }
    /// # }
    /// ```
    fn events(&self) -> broadcast::Receiver<TenantEvent>;

    /// Reports `events` that happened outside the registry's own mutations
    /// (a manager reports [`TenantEvent::Migrated`] after migrating a
    /// tenant): to this instance's subscribers, and to other processes'
    /// (`NOTIFY`, the change log).
    fn record<'a>(&'a self, events: &'a [TenantEvent]) -> BoxFuture<'a, Result<(), TenancyError>>;

    /// Starts following other processes' changes when this registry can
    /// (Postgres: a `LISTEN` connection feeding the subscribed caches; MySQL /
    /// MariaDB and SQLite: a [`ChangePoller`]), and returns what keeps it
    /// running: drop it to stop. `None` (the default, for a registry of your
    /// own): other processes' changes show when cache entries expire. Keep
    /// one per registry instance ([`TenantManager::gate`](crate::TenantManager::gate)
    /// starts one): each passes every change on, so two would pass it twice.
    fn watch(&self) -> Option<Box<dyn Any + Send + Sync>> {
        None
    }
}

/// Looks a tenant up in `registry`, failing with `TenantNotFound`.
pub(crate) async fn require(
    registry: &dyn TenantRegistry,
    id: &TenantId,
) -> Result<RegistryTenant, TenancyError> {
    registry
        .find_by_id(id)
        .await?
        .ok_or_else(|| TenancyError::TenantNotFound {
            key: tenancy_core::TenantKey::Id(id.clone()),
        })
}
