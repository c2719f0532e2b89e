//! [`TenantRegistry`]: the registry of tenants and domains, on any backend.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use tenancy_core::{DomainName, Invalidate, TenancyError, TenantId};

use crate::tenant::RegistryTenant;

/// A registry of tenants and their domains, as a trait object.
///
/// Every backend's registry implements it (and
/// [`TenantStore`](tenancy_core::TenantStore), for the request path), so
/// applications and conformance tests can treat them alike. Operations that
/// must stay in step with tenants' storage (create, rename, activation, drop)
/// live on [`TenantLifecycle`](crate::TenantLifecycle) instead.
///
/// Every mutation invalidates the subscribed caches of this process at once;
/// how other processes learn of it depends on the backend (Postgres:
/// `LISTEN/NOTIFY`; elsewhere: the cache TTL).
pub trait TenantRegistry: Send + Sync {
    /// Every tenant, ordered by id.
    fn list(&self) -> BoxFuture<'_, Result<Vec<RegistryTenant>, TenancyError>>;

    /// One tenant, active or not.
    fn get<'a>(
        &'a self,
        id: &'a TenantId,
    ) -> BoxFuture<'a, Result<Option<RegistryTenant>, TenancyError>>;

    /// The tenant owning `domain`, active or not.
    fn get_by_domain<'a>(
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
