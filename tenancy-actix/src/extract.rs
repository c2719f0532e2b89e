//! [`CurrentTenant`] and [`OptionalTenant`]: the tenant in a handler.

use std::any::{TypeId, type_name};
use std::future::{Ready, ready};
use std::ops::{Deref, DerefMut};

use actix_web::dev::{Extensions, Payload};
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use tenancy_core::{Resolved, Tenant};

use crate::context::TenancyContext;
use crate::rejection::{RejectionReason, TenantRejection};

/// A type the tenant extractors can hand out: the `Tenant` type of a store.
///
/// Implemented for every `T: Tenant + Clone + 'static`; it exists to explain
/// a wrong type argument in `CurrentTenant<T>` at the place it is written
/// (rather than as an unsatisfied handler bound). Stores with their own tenant
/// type work the same way:
///
/// ```
/// use std::sync::Arc;
/// use tenancy_actix::{CurrentTenant, RequestTenant};
/// use tenancy_core::{Tenant, TenantId};
///
/// #[derive(Clone)]
/// struct Customer { id: TenantId, plan: Arc<str> }
///
/// impl Tenant for Customer {
///     fn id(&self) -> &TenantId { &self.id }
///     fn name(&self) -> &str { self.id.as_str() }
///     fn is_active(&self) -> bool { &*self.plan != "cancelled" }
/// }
///
/// fn assert_extractable<T: RequestTenant>() {}
/// assert_extractable::<Customer>();
/// async fn handler(CurrentTenant(customer): CurrentTenant<Customer>) -> String {
///     customer.plan.to_string()
/// }
/// # let _ = handler;
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a tenant type: `CurrentTenant<T>` and `OptionalTenant<T>` need `T: tenancy_core::Tenant + Clone + 'static`",
    label = "not a tenant type",
    note = "use the `Tenant` type of the store given to `TenancyMiddleware`: `TenantRecord` for `InMemoryStore` and `CachedStore<InMemoryStore>`"
)]
pub trait RequestTenant: Tenant + Clone + 'static {}

// Not recommended: an error names `RequestTenant` (with the message above),
// not the bounds of this impl.
#[diagnostic::do_not_recommend]
impl<T: Tenant + Clone + 'static> RequestTenant for T {}

/// The tenant of the request; rejects with `404 TenantRequired` when there is none.
///
/// `T` is the `Tenant` type of the middleware's store (`TenantRecord` for the
/// built-in stores). The tenant is cloned out of the request extensions,
/// where [`TenancyMiddleware`](crate::TenancyMiddleware) put it.
///
/// ```
/// use actix_web::{App, test, web};
/// use tenancy_actix::{CurrentTenant, TenancyMiddleware};
/// use tenancy_core::{InMemoryStore, SubdomainResolver, Tenancy, TenantId, TenantRecord};
///
/// async fn hello(CurrentTenant(tenant): CurrentTenant<TenantRecord>) -> String {
///     format!("hello {}", tenant.name)
/// }
///
/// # #[actix_web::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = InMemoryStore::from_iter([TenantRecord::new(TenantId::new("acme")?, "Acme Corp")]);
/// let tenancy = Tenancy::new(SubdomainResolver::new(["example.com"])?, store);
/// let app = test::init_service(
///     App::new().wrap(TenancyMiddleware::new(tenancy)).route("/", web::get().to(hello)),
/// )
/// .await;
///
/// let request = test::TestRequest::get().uri("/").insert_header(("host", "acme.example.com"));
/// let body = test::call_and_read_body(&app, request.to_request()).await;
/// assert_eq!(body, "hello Acme Corp");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentTenant<T: RequestTenant>(pub T);

/// The tenant of the request, if it names one.
///
/// `None` on a central host (for an [optional](crate::TenancyMiddleware::optional)
/// route) and on [central routes](crate::TenancyMiddleware::central_route). It
/// rejects only when the middleware is missing or resolves another tenant type.
///
/// ```
/// use actix_web::{App, test, web};
/// use tenancy_actix::{OptionalTenant, TenancyMiddleware};
/// use tenancy_core::{InMemoryStore, SubdomainResolver, Tenancy, TenantRecord};
///
/// async fn home(OptionalTenant(tenant): OptionalTenant<TenantRecord>) -> String {
///     tenant.map_or_else(|| "central".to_owned(), |tenant| tenant.id.to_string())
/// }
///
/// # #[actix_web::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tenancy = Tenancy::new(SubdomainResolver::new(["example.com"])?, InMemoryStore::new());
/// let middleware = TenancyMiddleware::new(tenancy).optional();
/// let app = test::init_service(App::new().wrap(middleware).route("/", web::get().to(home))).await;
///
/// let request = test::TestRequest::get().uri("/").insert_header(("host", "example.com"));
/// let body = test::call_and_read_body(&app, request.to_request()).await;
/// assert_eq!(body, "central");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionalTenant<T: RequestTenant>(pub Option<T>);

impl<T: RequestTenant> CurrentTenant<T> {
    /// The tenant, by value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: RequestTenant> OptionalTenant<T> {
    /// The tenant, if any, by value.
    pub fn into_inner(self) -> Option<T> {
        self.0
    }
}

impl<T: RequestTenant> Deref for CurrentTenant<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: RequestTenant> DerefMut for CurrentTenant<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: RequestTenant> Deref for OptionalTenant<T> {
    type Target = Option<T>;

    fn deref(&self) -> &Option<T> {
        &self.0
    }
}

impl<T: RequestTenant> DerefMut for OptionalTenant<T> {
    fn deref_mut(&mut self) -> &mut Option<T> {
        &mut self.0
    }
}

/// The context of the middleware that handled the request, if it resolves
/// tenants of type `T`; errors without a middleware or with another tenant type.
pub(crate) fn middleware_context<T: RequestTenant>(
    extensions: &Extensions,
) -> Result<&TenancyContext, TenantRejection> {
    let Some(context) = extensions.get::<TenancyContext>() else {
        return Err(TenantRejection::new(
            RejectionReason::MissingMiddleware,
            None,
        ));
    };
    if context.tenant_type != TypeId::of::<T>() {
        return Err(TenantRejection::new(
            RejectionReason::TenantTypeMismatch {
                requested: type_name::<T>(),
                provided: context.tenant_type_name,
            },
            Some(context.renderer.clone()),
        ));
    }
    Ok(context)
}

/// The request's tenant of type `T`, `None` without one; errors without a middleware.
fn find<T: RequestTenant>(extensions: &Extensions) -> Result<Option<T>, TenantRejection> {
    middleware_context::<T>(extensions)?;
    Ok(extensions
        .get::<Resolved<T>>()
        .map(|resolved| resolved.tenant().clone()))
}

impl<T: RequestTenant> FromRequest for CurrentTenant<T> {
    type Error = TenantRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let extensions = request.extensions();
        ready(match find::<T>(&extensions) {
            Ok(Some(tenant)) => Ok(Self(tenant)),
            Ok(None) => Err(TenantRejection::new(
                RejectionReason::TenantRequired,
                extensions
                    .get::<TenancyContext>()
                    .map(|context| context.renderer.clone()),
            )),
            Err(rejection) => Err(rejection),
        })
    }
}

impl<T: RequestTenant> FromRequest for OptionalTenant<T> {
    type Error = TenantRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(find::<T>(&request.extensions()).map(Self))
    }
}
