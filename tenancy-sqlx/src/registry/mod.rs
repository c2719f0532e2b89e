//! The tenant registry: tenants and their domains, on any backend, with
//! cache invalidation.
//!
//! - [`TenantRegistry`]: the registry as a trait object; every backend's
//!   registry implements it, and [`TenantStore`](tenancy_core::TenantStore)
//!   for the request path.
//! - [`PgRegistry`] (feature `postgres`): tenants and domains in Postgres
//!   tables; mutations invalidate subscribed caches at once, and other
//!   processes' caches through `LISTEN/NOTIFY` ([`NotifyListener`]).
//! - [`MySqlRegistry`] (feature `mysql`) and [`SqliteRegistry`] (feature
//!   `sqlite`), both a [`SqlRegistry`] over a [`Dialect`], have the semantics
//!   of [`PgRegistry`], but no `LISTEN/NOTIFY`: other processes see changes
//!   when their cache entries expire (the `CachedStore` TTL).
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
pub(crate) mod config;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(any(feature = "mysql", feature = "sqlite"))]
pub(crate) mod sql;

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
pub use sql::{Dialect, SqlRegistry};

pub use crate::tenant::{NewTenant, RegistryTenant, RegistryTenantBuilder};

use std::sync::Arc;

use futures_util::future::BoxFuture;
use tenancy_core::{DomainName, Invalidate, TenancyError, TenantId};

/// A registry of tenants and their domains, as a trait object.
///
/// Every backend's registry implements it (and
/// [`TenantStore`](tenancy_core::TenantStore), for the request path), so
/// applications and conformance tests can treat them alike. Operations that
/// must stay in step with tenants' storage (create, rename, activation, delete)
/// live on [`TenantLifecycle`](crate::lifecycle::TenantLifecycle) instead.
///
/// Every mutation invalidates the subscribed caches of this process at once;
/// how other processes learn of it depends on the backend (Postgres:
/// `LISTEN/NOTIFY`; elsewhere: the cache TTL).
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

    /// Invalidates `cache` after every mutation.
    fn subscribe(&self, cache: Arc<dyn Invalidate>);
}
