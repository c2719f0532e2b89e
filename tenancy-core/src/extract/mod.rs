//! What the adapters' extractors share: the mark a middleware leaves on each
//! request it lets through, and the look-ups of the tenant and its access.

mod rejection;

use std::any::{Any, TypeId, type_name};
use std::fmt;
use std::sync::Arc;

pub use rejection::RejectionReason;

use crate::access::{LazyAccess, TenantAccess};
use crate::error::TenancyError;
use crate::tenancy::Resolved;
use crate::tenant::Tenant;

/// A request's typed extensions, as the extractors read them.
///
/// Implemented for [`http::Extensions`] (axum); the actix-web adapter wraps
/// its own extensions.
pub trait TypeMap {
    /// The value of type `X`, if there is one.
    fn get<X: Send + Sync + 'static>(&self) -> Option<&X>;
}

impl TypeMap for http::Extensions {
    fn get<X: Send + Sync + 'static>(&self) -> Option<&X> {
        http::Extensions::get(self)
    }
}

/// Left in the extensions of every request a tenancy middleware lets
/// through, with or without a tenant.
///
/// Extractors use it to tell "no tenant" (a central host or route) from "no
/// middleware" and from "a middleware that resolves another tenant type",
/// and to render their rejections with the middleware's renderer `R`.
///
/// One `Arc`: putting the mark on a request costs one reference-count
/// increment, whatever the renderer and access objects.
pub struct Admitted<R>(Arc<Mark<R>>);

/// What an [`Admitted`] mark says.
struct Mark<R> {
    renderer: R,
    tenant_type: TypeId,
    tenant_type_name: &'static str,
    accesses: Accesses,
}

/// Access objects a gate hands to every request it admits (see
/// [`Gate::with_access`](crate::Gate::with_access)).
pub(crate) type Accesses = Arc<[Arc<dyn Any + Send + Sync>]>;

impl<R> Admitted<R> {
    /// The mark of a middleware whose store hands out tenants of type `T`.
    pub fn new<T: 'static>(renderer: R) -> Self {
        Self::with_accesses::<T>(renderer, Arc::new([]))
    }

    /// The mark of a middleware whose gate carries `accesses`.
    pub(crate) fn with_accesses<T: 'static>(renderer: R, accesses: Accesses) -> Self {
        Self(Arc::new(Mark {
            renderer,
            tenant_type: TypeId::of::<T>(),
            tenant_type_name: type_name::<T>(),
            accesses,
        }))
    }

    /// The access object of type `A` the gate carries, if any.
    fn access<A: Send + Sync + 'static>(&self) -> Option<&A> {
        self.0
            .accesses
            .iter()
            .find_map(|access| access.downcast_ref::<A>())
    }

    /// The middleware's error renderer.
    pub fn renderer(&self) -> &R {
        &self.0.renderer
    }
}

impl<R> Clone for Admitted<R> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<R> fmt::Debug for Admitted<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admitted")
            .field("tenant_type", &self.0.tenant_type_name)
            .finish_non_exhaustive()
    }
}

/// An extractor's failure: the reason, and the renderer of the middleware
/// that handled the request (`None` without one). Boxed: small to return.
pub struct Rejection<R>(Box<(RejectionReason, Option<R>)>);

impl<R> Rejection<R> {
    /// A rejection for `reason`, rendered with `renderer`.
    pub fn new(reason: RejectionReason, renderer: Option<R>) -> Self {
        Self(Box::new((reason, renderer)))
    }

    /// Opening a tenant's access failed with `error`, to be rendered with
    /// `renderer` (what `TenantDb::open` returns).
    pub fn open(error: TenancyError, renderer: &R) -> Self
    where
        R: Clone,
    {
        Self::new(RejectionReason::Open(error), Some(renderer.clone()))
    }

    /// Why the extractor failed.
    pub fn reason(&self) -> &RejectionReason {
        &self.0.0
    }

    /// The error the response is rendered from, by value.
    pub fn into_error(self) -> TenancyError {
        self.0.0.into_error()
    }

    /// Logs the rejection (see [`RejectionReason::log`]), then renders it
    /// with `render`, given the middleware's renderer (if any) and the error.
    pub fn respond<T>(&self, render: impl FnOnce(Option<&R>, &TenancyError) -> T) -> T {
        let (reason, renderer) = &*self.0;
        reason.log();
        reason.with_error(|error| render(renderer.as_ref(), error))
    }
}

impl<R> fmt::Debug for Rejection<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejection")
            .field("reason", self.reason())
            .finish_non_exhaustive()
    }
}

impl<R> fmt::Display for Rejection<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.reason(), f)
    }
}

impl<R> std::error::Error for Rejection<R> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(self.reason())
    }
}

/// The mark of the middleware that handled the request, if it resolves
/// tenants of type `T`.
fn admitted<T: 'static, R: Clone + Send + Sync + 'static>(
    map: &impl TypeMap,
) -> Result<&Admitted<R>, Rejection<R>> {
    let Some(mark) = map.get::<Admitted<R>>() else {
        return Err(Rejection::new(RejectionReason::MissingLayer, None));
    };
    if mark.0.tenant_type != TypeId::of::<T>() {
        let reason = RejectionReason::TenantTypeMismatch {
            requested: type_name::<T>(),
            provided: mark.0.tenant_type_name,
        };
        return Err(Rejection::new(reason, Some(mark.renderer().clone())));
    }
    Ok(mark)
}

/// The request's tenant, if it names one (what `OptionalTenant<T>` hands out).
///
/// # Errors
///
/// Without a middleware, or when it resolves another tenant type.
pub fn optional_tenant<T, R>(map: &impl TypeMap) -> Result<Option<T>, Rejection<R>>
where
    T: RequestTenant,
    R: Clone + Send + Sync + 'static,
{
    admitted::<T, R>(map)?;
    Ok(map
        .get::<Resolved<T>>()
        .map(|resolved| resolved.tenant().clone()))
}

/// The request's tenant (what `CurrentTenant<T>` hands out).
///
/// # Errors
///
/// As [`optional_tenant`], and `TenantRequired` when the request names none.
pub fn current_tenant<T, R>(map: &impl TypeMap) -> Result<T, Rejection<R>>
where
    T: RequestTenant,
    R: Clone + Send + Sync + 'static,
{
    let mark = admitted::<T, R>(map)?;
    match map.get::<Resolved<T>>() {
        Some(resolved) => Ok(resolved.tenant().clone()),
        None => Err(Rejection::new(
            RejectionReason::TenantRequired,
            Some(mark.renderer().clone()),
        )),
    }
}

/// The request tenant's access, not opened yet (what `TenantDb<A>` holds),
/// and the renderer for the errors of opening it. The access object is the
/// one the gate carries ([`Gate::with_access`](crate::Gate::with_access)),
/// else `access` (what the adapter found in its framework's app data).
///
/// # Errors
///
/// Without a middleware or with another tenant type than `A::Tenant`; when
/// `access` is `None` (none configured); when the request names no tenant.
pub fn tenant_access<A, R>(
    map: &impl TypeMap,
    access: Option<&A>,
) -> Result<(LazyAccess<A>, R), Rejection<R>>
where
    A: RequestAccess,
    R: Clone + Send + Sync + 'static,
{
    let mark = admitted::<A::Tenant, R>(map)?;
    let renderer = mark.renderer().clone();
    let Some(access) = mark.access::<A>().or(access) else {
        let reason = RejectionReason::MissingAccess {
            access: type_name::<A>(),
        };
        return Err(Rejection::new(reason, Some(renderer)));
    };
    let Some(resolved) = map.get::<Resolved<A::Tenant>>() else {
        return Err(Rejection::new(
            RejectionReason::TenantRequired,
            Some(renderer),
        ));
    };
    // No connection yet: `LazyAccess::open` takes it, once the handler asks.
    let lazy = LazyAccess::new(access.clone(), resolved.tenant().clone());
    Ok((lazy, renderer))
}

/// A type the tenant extractors can hand out: the `Tenant` type of a store.
///
/// Implemented for every `T: Tenant + Clone + Send + Sync + 'static`; it
/// exists to explain a wrong type argument in `CurrentTenant<T>` at the
/// place it is written (rather than as an unsatisfied handler bound).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a tenant type: `CurrentTenant<T>` and `OptionalTenant<T>` need `T: tenancy_core::Tenant + Clone + 'static`",
    label = "not a tenant type",
    note = "use the `Tenant` type of the store the tenancy middleware resolves with: `TenantRecord` for `InMemoryStore`, `RegistryTenant` for the registries of `tenancy-sqlx`"
)]
pub trait RequestTenant: Tenant + Clone + Send + Sync + 'static {}

// Not recommended: an error names `RequestTenant` (with the message above),
// not the bounds of this impl.
#[diagnostic::do_not_recommend]
impl<T: Tenant + Clone + Send + Sync + 'static> RequestTenant for T {}

/// A type `TenantDb<A>` can open tenant-scoped access with: every
/// [`TenantAccess`] that is [`Clone`].
///
/// `TenantDb` keeps a clone of the access object, so that it can open the
/// handle when the handler asks for it; an access type that is not `Clone`
/// works as `TenantDb<Arc<MyAccess>>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not open tenant-scoped database access: `TenantDb<A>` needs `A: tenancy_core::TenantAccess + Clone`",
    label = "not a cloneable tenant access type",
    note = "use an isolation type of `tenancy-sqlx`, e.g. `TenantDb<SchemaPool>` for a schema per tenant, \
            or implement `tenancy_core::TenantAccess` for your own type (behind an `Arc` if it is not `Clone`: \
            `TenantDb<Arc<MyAccess>>`)"
)]
pub trait RequestAccess: TenantAccess + Clone {}

// Not recommended, as above.
#[diagnostic::do_not_recommend]
impl<A: TenantAccess + Clone> RequestAccess for A {}
