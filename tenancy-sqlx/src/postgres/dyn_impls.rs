//! [`TenantRegistry`], [`TenantLifecycle`] and [`TenantAccess`] for the
//! schema-per-tenant Postgres types.

use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tenancy_core::{DomainName, Invalidate, TenancyError, TenantId, TenantStore};

use crate::lifecycle::TenantLifecycle;
use crate::migrate::{MigrateOptions, MigrationReport};
use crate::postgres::manager::PgTenantManager;
use crate::postgres::registry::PgRegistry;
use crate::postgres::schema::{SchemaPool, TenantTransaction};
use crate::registry::TenantRegistry;
use crate::tenant::{NewTenant, RegistryTenant};
use tenancy_core::TenantAccess;

impl TenantRegistry for PgRegistry {
    fn list(&self) -> BoxFuture<'_, Result<Vec<RegistryTenant>, TenancyError>> {
        PgRegistry::list(self).boxed()
    }

    fn get<'a>(
        &'a self,
        id: &'a TenantId,
    ) -> BoxFuture<'a, Result<Option<RegistryTenant>, TenancyError>> {
        self.find_by_id(id).boxed()
    }

    fn get_by_domain<'a>(
        &'a self,
        domain: &'a DomainName,
    ) -> BoxFuture<'a, Result<Option<RegistryTenant>, TenancyError>> {
        self.find_by_domain(domain).boxed()
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

    fn subscribe(&self, cache: Arc<dyn Invalidate>) {
        PgRegistry::subscribe(self, cache);
    }
}

impl TenantLifecycle for PgTenantManager {
    fn registry(&self) -> &dyn TenantRegistry {
        PgTenantManager::registry(self)
    }

    fn create(&self, tenant: NewTenant) -> BoxFuture<'_, Result<RegistryTenant, TenancyError>> {
        PgTenantManager::create(self, tenant).boxed()
    }

    fn rename<'a>(
        &'a self,
        from: &'a TenantId,
        to: &'a TenantId,
    ) -> BoxFuture<'a, Result<RegistryTenant, TenancyError>> {
        PgTenantManager::rename(self, from, to).boxed()
    }

    fn deactivate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        PgTenantManager::deactivate(self, id).boxed()
    }

    fn reactivate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        PgTenantManager::reactivate(self, id).boxed()
    }

    fn drop_tenant<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<bool, TenancyError>> {
        PgTenantManager::drop_tenant(self, id).boxed()
    }

    fn migrate_all(
        &self,
        options: MigrateOptions,
    ) -> BoxFuture<'_, Result<MigrationReport, TenancyError>> {
        PgTenantManager::migrate_all(self, options).boxed()
    }
}

impl TenantAccess for SchemaPool {
    type Tenant = RegistryTenant;
    type Handle = TenantTransaction<'static>;

    fn open<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
    ) -> BoxFuture<'a, Result<Self::Handle, TenancyError>> {
        self.begin(tenant).boxed()
    }
}
