//! [`TenantLifecycle`]: create, rename, activate / deactivate, delete and
//! migrate tenants,
//! whatever the isolation mode.

use futures_util::future::BoxFuture;
use tenancy_core::{TenancyError, TenantId};

use crate::migrate::{MigrateOptions, MigrationReport};
use crate::registry::TenantRegistry;
use crate::tenant::{NewTenant, RegistryTenant};

/// The tenant lifecycle of one isolation mode on one backend, as a trait object.
///
/// Each mode's manager implements it, keeping the registry and the tenants'
/// storage in step; every operation returns the typed lifecycle errors of
/// [`TenancyError`]. Applications (and the conformance suite) drive any
/// mode × backend pair through it.
pub trait TenantLifecycle: Send + Sync {
    /// The registry the tenants are listed in.
    fn registry(&self) -> &dyn TenantRegistry;

    /// Creates a tenant: registry row, storage and migrations, as one unit
    /// (a failure leaves neither). `TenantExists` / `DomainTaken` on conflicts.
    fn create(&self, tenant: NewTenant) -> BoxFuture<'_, Result<RegistryTenant, TenancyError>>;

    /// Renames a tenant, keeping its data and domains; `TenantNotFound`,
    /// `TenantExists`, or `SchemaRename` when the storage cannot follow.
    fn rename<'a>(
        &'a self,
        from: &'a TenantId,
        to: &'a TenantId,
    ) -> BoxFuture<'a, Result<RegistryTenant, TenancyError>>;

    /// Stops serving a tenant (its data is kept); `TenantNotFound` if unknown.
    fn deactivate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>>;

    /// Serves a deactivated tenant again; `TenantNotFound` if unknown.
    fn activate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>>;

    /// Deletes a tenant: its storage and its registry row; idempotent (`false` when
    /// there was no such tenant).
    fn delete<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<bool, TenancyError>>;

    /// Migrates every selected tenant, continuing past failures, with a
    /// per-tenant report.
    fn migrate_all(
        &self,
        options: MigrateOptions,
    ) -> BoxFuture<'_, Result<MigrationReport, TenancyError>>;
}
