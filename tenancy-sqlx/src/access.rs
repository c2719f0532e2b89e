//! [`TenantAccess`]: how a request gets at its tenant's data, whatever the mode.

use futures_util::future::BoxFuture;
use tenancy_core::TenancyError;

use crate::tenant::RegistryTenant;

/// Opens tenant-scoped database access for a resolved tenant.
///
/// Each isolation mode implements it with the handle that fits it: a
/// transaction scoped to the tenant's schema (schema mode), a scoped
/// transaction with the tenant set for row-level security (shared mode), or
/// the tenant's own pool (database mode). The framework adapters' database
/// extractors (feature `sqlx` of `tenancy-axum` / `tenancy-actix`) call it
/// with the request's tenant, so a handler only ever receives a handle for
/// the tenant of its request.
///
/// ```no_run
/// use tenancy_sqlx::{RegistryTenant, SchemaPool, TenantAccess};
///
/// # async fn example(schemas: SchemaPool, tenant: RegistryTenant) -> Result<(), Box<dyn std::error::Error>> {
/// let mut tx = schemas.open(&tenant).await?; // a TenantTransaction in the tenant's schema
/// let count: i64 = sqlx::query_scalar("SELECT count(*) FROM items").fetch_one(&mut tx).await?;
/// tx.commit().await?;
/// # let _ = count; Ok(()) }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not open tenant-scoped database access",
    label = "not a `TenantAccess`",
    note = "use an isolation mode's access type (e.g. `SchemaPool`, the database-mode pools or the shared-mode pools), \
            not a plain sqlx pool: a plain pool is not scoped to the request's tenant"
)]
pub trait TenantAccess: Send + Sync + 'static {
    /// What a handler receives.
    type Handle: Send + 'static;

    /// Opens access to `tenant`'s data.
    fn open<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
    ) -> BoxFuture<'a, Result<Self::Handle, TenancyError>>;
}

impl<A: TenantAccess + ?Sized> TenantAccess for std::sync::Arc<A> {
    type Handle = A::Handle;

    fn open<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
    ) -> BoxFuture<'a, Result<Self::Handle, TenancyError>> {
        (**self).open(tenant)
    }
}

impl<A: TenantAccess + ?Sized> TenantAccess for Box<A> {
    type Handle = A::Handle;

    fn open<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
    ) -> BoxFuture<'a, Result<Self::Handle, TenancyError>> {
        (**self).open(tenant)
    }
}
