//! The app's two seams to storage, one implementation per mode × backend.

use tenancy_core::{BoxFuture, TenancyError, TenantId};
use tenancy_sqlx::{NewTenant, RegistryTenant};

use super::model::{Item, NewItem};

/// The items of one tenant. Every method is scoped to `tenant`: an
/// implementation must make it impossible to read or change another tenant's
/// rows through it.
pub trait ItemsStore: Send + Sync + 'static {
    /// All items of `tenant`, ordered by id.
    fn list<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
    ) -> BoxFuture<'a, Result<Vec<Item>, TenancyError>>;

    /// Adds an item and returns it with its id.
    fn create<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
        item: NewItem,
    ) -> BoxFuture<'a, Result<Item, TenancyError>>;

    /// One item, `None` when `tenant` has no item `id`.
    fn get<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
        id: i64,
    ) -> BoxFuture<'a, Result<Option<Item>, TenancyError>>;

    /// Deletes an item; `false` when `tenant` has no item `id`.
    fn delete<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
        id: i64,
    ) -> BoxFuture<'a, Result<bool, TenancyError>>;
}

/// Tenant administration: the registry plus each tenant's storage.
pub trait TenantAdmin: Send + Sync + 'static {
    /// Creates a tenant with its storage, migrated, as one unit.
    fn create(&self, tenant: NewTenant) -> BoxFuture<'_, Result<RegistryTenant, TenancyError>>;

    /// Every tenant, ordered by id.
    fn list(&self) -> BoxFuture<'_, Result<Vec<RegistryTenant>, TenancyError>>;

    /// One tenant (active or not).
    fn get<'a>(
        &'a self,
        id: &'a TenantId,
    ) -> BoxFuture<'a, Result<Option<RegistryTenant>, TenancyError>>;

    /// Activates or deactivates a tenant.
    fn set_active<'a>(
        &'a self,
        id: &'a TenantId,
        active: bool,
    ) -> BoxFuture<'a, Result<(), TenancyError>>;

    /// Renames a tenant, keeping its data and domains.
    fn rename<'a>(
        &'a self,
        from: &'a TenantId,
        to: &'a TenantId,
    ) -> BoxFuture<'a, Result<(), TenancyError>>;

    /// Creates `tenant` with a copy of tenant `from`'s data, as one unit.
    fn clone_tenant<'a>(
        &'a self,
        from: &'a TenantId,
        tenant: NewTenant,
    ) -> BoxFuture<'a, Result<RegistryTenant, TenancyError>>;

    /// Drops a tenant's storage and registry row.
    fn delete<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>>;

    /// Migrates every tenant; the per-tenant report as JSON.
    fn migrate_all(&self) -> BoxFuture<'_, Result<serde_json::Value, TenancyError>>;
}
