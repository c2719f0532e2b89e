//! [`TenantAccess`] and [`TenantLifecycle`] for shared-schema mode on Postgres.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tenancy_core::{TenancyError, TenantId};

use super::{PgSharedManager, RlsPool, RlsTransaction};
use crate::lifecycle::TenantLifecycle;
use crate::migrate::{MigrateOptions, MigrationReport};
use crate::registry::TenantRegistry;
use crate::tenant::{NewTenant, RegistryTenant};
use tenancy_core::TenantAccess;

impl TenantAccess for RlsPool {
    type Tenant = RegistryTenant;
    type Handle = RlsTransaction<'static>;

    fn open<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
    ) -> BoxFuture<'a, Result<Self::Handle, TenancyError>> {
        self.begin(tenant).boxed()
    }
}

impl TenantLifecycle for PgSharedManager {
    fn registry(&self) -> &dyn TenantRegistry {
        PgSharedManager::registry(self)
    }

    fn create(&self, tenant: NewTenant) -> BoxFuture<'_, Result<RegistryTenant, TenancyError>> {
        PgSharedManager::create(self, tenant).boxed()
    }

    fn rename<'a>(
        &'a self,
        from: &'a TenantId,
        to: &'a TenantId,
    ) -> BoxFuture<'a, Result<RegistryTenant, TenancyError>> {
        PgSharedManager::rename(self, from, to).boxed()
    }

    fn deactivate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        PgSharedManager::deactivate(self, id).boxed()
    }

    fn reactivate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        PgSharedManager::reactivate(self, id).boxed()
    }

    fn drop_tenant<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<bool, TenancyError>> {
        PgSharedManager::drop_tenant(self, id).boxed()
    }

    fn migrate_all(
        &self,
        options: MigrateOptions,
    ) -> BoxFuture<'_, Result<MigrationReport, TenancyError>> {
        PgSharedManager::migrate_all(self, options).boxed()
    }
}
