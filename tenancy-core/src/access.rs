//! [`TenantAccess`]: how a request gets at its tenant's data, whatever the
//! storage; [`LazyAccess`]: opened on first use.

use std::any::type_name;
use std::fmt;

use crate::error::TenancyError;
use crate::store::BoxFuture;
use crate::tenant::Tenant;

/// Opens tenant-scoped access to data for a resolved tenant.
///
/// Each isolation mode of `tenancy-sqlx` implements it with the handle that
/// fits it: a transaction scoped to the tenant's schema, a transaction with
/// the tenant set for row-level security, or the tenant's own pool. The
/// framework adapters' `TenantDb<A>` extractors call it with the request's
/// tenant, so a handler only ever receives a handle for the tenant of its
/// request. [`Tenant`](Self::Tenant) is the tenant type of the store the
/// tenancy layer resolves with.
///
/// ```
/// use tenancy_core::{BoxFuture, TenancyError, Tenant, TenantAccess, TenantRecord};
///
/// /// Hands out the tenant's id: a stand-in for a real database handle.
/// struct Ids;
///
/// impl TenantAccess for Ids {
///     type Tenant = TenantRecord;
///     type Handle = String;
///
///     fn open<'a>(&'a self, tenant: &'a TenantRecord) -> BoxFuture<'a, Result<String, TenancyError>> {
///         Box::pin(async move { Ok(tenant.id().to_string()) })
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not open tenant-scoped access",
    label = "not a `TenantAccess`",
    note = "use an isolation mode's access type (e.g. `tenancy_sqlx::SchemaPool`, the database-mode pools \
            or the shared-mode pools), not a plain pool: a plain pool is not scoped to the request's tenant"
)]
pub trait TenantAccess: Send + Sync + 'static {
    /// The tenant type it opens access for.
    type Tenant: Tenant + Clone + Send + Sync + 'static;

    /// What a handler receives.
    type Handle: Send + 'static;

    /// Opens access to `tenant`'s data.
    fn open<'a>(
        &'a self,
        tenant: &'a Self::Tenant,
    ) -> BoxFuture<'a, Result<Self::Handle, TenancyError>>;

    /// Opens access to the current tenant of a [`scope`](crate::scope::scope):
    /// what background work calls, so that it never names the tenant twice.
    ///
    /// Fails with `TenantRequired` outside a scope, and with `Configuration`
    /// in a scope whose tenant is of another type than [`Tenant`](Self::Tenant);
    /// else as [`open`](Self::open).
    ///
    /// ```
    /// # use tenancy_core::{BoxFuture, TenancyError, Tenant, TenantAccess, TenantRecord};
    /// # struct Ids;
    /// # impl TenantAccess for Ids {
    /// #     type Tenant = TenantRecord;
    /// #     type Handle = String;
    /// #     fn open<'a>(&'a self, tenant: &'a TenantRecord) -> BoxFuture<'a, Result<String, TenancyError>> {
    /// #         Box::pin(async move { Ok(tenant.id().to_string()) })
    /// #     }
    /// # }
    /// use tenancy_core::{TenantId, scope};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let acme = TenantRecord::new(TenantId::new("acme")?, "Acme");
    /// let handle = scope::scope(acme, async { Ids.open_current().await }).await?;
    /// assert_eq!(handle, "acme");
    /// assert_eq!(Ids.open_current().await.unwrap_err().kind(), "TenantRequired");
    /// # Ok(()) }
    /// ```
    fn open_current(&self) -> BoxFuture<'_, Result<Self::Handle, TenancyError>> {
        // The scope is read when the future runs, not when it is made.
        Box::pin(async move {
            match crate::scope::current::<Self::Tenant>() {
                Some(tenant) => self.open(&tenant).await,
                None => Err(outside_a_scope::<Self::Tenant>()),
            }
        })
    }
}

/// Why [`TenantAccess::open_current`] found no tenant of type `T`.
fn outside_a_scope<T>() -> TenancyError {
    match crate::scope::current_id() {
        None => TenancyError::TenantRequired,
        Some(_) => TenancyError::Configuration {
            message: format!("the current scope's tenant is not a `{}`", type_name::<T>()),
        },
    }
}

impl<A: TenantAccess + ?Sized> TenantAccess for std::sync::Arc<A> {
    type Tenant = A::Tenant;
    type Handle = A::Handle;

    fn open<'a>(
        &'a self,
        tenant: &'a A::Tenant,
    ) -> BoxFuture<'a, Result<Self::Handle, TenancyError>> {
        (**self).open(tenant)
    }
}

impl<A: TenantAccess + ?Sized> TenantAccess for Box<A> {
    type Tenant = A::Tenant;
    type Handle = A::Handle;

    fn open<'a>(
        &'a self,
        tenant: &'a A::Tenant,
    ) -> BoxFuture<'a, Result<Self::Handle, TenancyError>> {
        (**self).open(tenant)
    }
}

/// A tenant's access, opened the first time it is asked for.
///
/// What the adapters' `TenantDb<A>` holds: an access object and the request's
/// tenant, and no handle (no pooled connection) until
/// [`open`](Self::open) or [`into_handle`](Self::into_handle) is called.
///
/// ```
/// # use tenancy_core::{BoxFuture, TenancyError, Tenant, TenantAccess, TenantRecord};
/// # struct Ids;
/// # impl TenantAccess for Ids {
/// #     type Tenant = TenantRecord;
/// #     type Handle = String;
/// #     fn open<'a>(&'a self, tenant: &'a TenantRecord) -> BoxFuture<'a, Result<String, TenancyError>> {
/// #         Box::pin(async move { Ok(tenant.id().to_string()) })
/// #     }
/// # }
/// use tenancy_core::{LazyAccess, TenantId};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut access = LazyAccess::new(Ids, TenantRecord::new(TenantId::new("acme")?, "Acme"));
/// assert_eq!(access.open().await?, "acme");
/// assert_eq!(access.into_handle().await?, "acme");
/// # Ok(()) }
/// ```
pub struct LazyAccess<A: TenantAccess> {
    access: A,
    tenant: A::Tenant,
    handle: Option<A::Handle>,
}

impl<A: TenantAccess> LazyAccess<A> {
    /// `tenant`'s access through `access`, not opened yet.
    pub fn new(access: A, tenant: A::Tenant) -> Self {
        Self {
            access,
            tenant,
            handle: None,
        }
    }

    /// The handle, opened on the first call; later calls return the same
    /// handle.
    ///
    /// # Errors
    ///
    /// The error of [`TenantAccess::open`]; a later call tries again.
    pub async fn open(&mut self) -> Result<&mut A::Handle, TenancyError> {
        let handle = match self.handle.take() {
            Some(handle) => handle,
            None => self.open_new().await?,
        };
        Ok(self.handle.insert(handle))
    }

    /// The handle, by value (e.g. to commit a transaction): the one
    /// [`open`](Self::open) returned, or a new one.
    ///
    /// # Errors
    ///
    /// The error of [`TenantAccess::open`].
    pub async fn into_handle(mut self) -> Result<A::Handle, TenancyError> {
        match self.handle.take() {
            Some(handle) => Ok(handle),
            None => self.open_new().await,
        }
    }

    /// The tenant whose data the handle is scoped to.
    pub fn tenant(&self) -> &A::Tenant {
        &self.tenant
    }

    /// Whether the handle is open.
    pub fn is_open(&self) -> bool {
        self.handle.is_some()
    }

    /// A new handle. Borrows the fields it needs, not `self`: the future
    /// stays `Send` for a handle that is `Send` but not `Sync`.
    async fn open_new(&mut self) -> Result<A::Handle, TenancyError> {
        let Self { access, tenant, .. } = self;
        access.open(tenant).await
    }
}

impl<A: TenantAccess> fmt::Debug for LazyAccess<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyAccess")
            .field("access", &type_name::<A>())
            .field("tenant", self.tenant.id())
            .field("opened", &self.handle.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TenantId, TenantRecord, scope};

    /// Opens the tenant's id; its tenant type is `TenantRecord`.
    struct Ids;

    impl TenantAccess for Ids {
        type Tenant = TenantRecord;
        type Handle = String;

        fn open<'a>(
            &'a self,
            tenant: &'a TenantRecord,
        ) -> BoxFuture<'a, Result<String, TenancyError>> {
            Box::pin(async move { Ok(tenant.id().to_string()) })
        }
    }

    /// A tenant of another type than `Ids` opens for.
    #[derive(Clone)]
    struct Other(TenantId);

    impl Tenant for Other {
        fn id(&self) -> &TenantId {
            &self.0
        }
        fn name(&self) -> &str {
            self.0.as_str()
        }
        fn is_active(&self) -> bool {
            true
        }
    }

    #[tokio::test]
    async fn open_current_needs_a_scope_of_the_access_tenant_type() {
        let acme = TenantId::new("acme").unwrap();
        let record = TenantRecord::new(acme.clone(), "Acme");
        let opened = scope::scope(record, Ids.open_current()).await;
        assert_eq!(opened.unwrap(), "acme");
        let arc = std::sync::Arc::new(Ids);
        let other = scope::scope(Other(acme), async { arc.open_current().await }).await;
        assert_eq!(other.unwrap_err().kind(), "Configuration");
        assert_eq!(
            Ids.open_current().await.unwrap_err().kind(),
            "TenantRequired"
        );
    }
}
