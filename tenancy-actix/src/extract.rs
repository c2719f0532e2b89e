//! [`CurrentTenant`] and [`OptionalTenant`]: the tenant in a handler.

use std::future::{Ready, ready};

use actix_web::dev::{Extensions, Payload};
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use tenancy_core::RequestTenant;
use tenancy_core::adapter::TypeMap;

use crate::rejection::TenantRejection;

/// The tenant of the request; rejects with `404 TenantRequired` when there is none.
///
/// `T` is the `Tenant` type of the middleware's store (`TenantRecord` for the
/// built-in stores, `RegistryTenant` for the registries of `tenancy-sqlx`).
/// The tenant is cloned out of the request extensions, where
/// [`TenancyMiddleware`](crate::TenancyMiddleware) put it.
///
/// `T` is checked when a request reaches the handler, not at compile time: a
/// actix-web extractor sees the request, not the middleware wrapped around the
/// routes, so nothing in the types ties `T` to the store's. A route asking
/// for another type answers `500 Configuration` and logs both type names
/// at `ERROR` (the response names neither). With `tenancy-sqlx` the type is
/// always `RegistryTenant` (`SchemaTenancy`, `TenantManager::gate`).
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
/// `None` on a central host (for an [optional](tenancy_core::Gate::optional)
/// route) and on [central routes](tenancy_core::Gate::central_route). It
/// rejects only when the middleware is missing or resolves another tenant
/// type.
///
/// ```
/// use actix_web::{App, test, web};
/// use tenancy_actix::{OptionalTenant, TenancyMiddleware};
/// use tenancy_core::{Gate, InMemoryStore, SubdomainResolver, Tenancy, TenantRecord};
///
/// async fn home(OptionalTenant(tenant): OptionalTenant<TenantRecord>) -> String {
///     tenant.map_or_else(|| "central".to_owned(), |tenant| tenant.id.to_string())
/// }
///
/// # #[actix_web::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tenancy = Tenancy::new(SubdomainResolver::new(["example.com"])?, InMemoryStore::new());
/// let middleware = TenancyMiddleware::new(Gate::new(tenancy).optional());
/// let app = test::init_service(App::new().wrap(middleware).route("/", web::get().to(home))).await;
///
/// let request = test::TestRequest::get().uri("/").insert_header(("host", "example.com"));
/// let body = test::call_and_read_body(&app, request.to_request()).await;
/// assert_eq!(body, "central");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionalTenant<T: RequestTenant>(pub Option<T>);

/// actix-web's request extensions, as the core extractors read them.
pub(crate) struct ActixExtensions<'a>(pub(crate) &'a Extensions);

impl TypeMap for ActixExtensions<'_> {
    fn get<X: Send + Sync + 'static>(&self) -> Option<&X> {
        self.0.get::<X>()
    }
}

impl<T: RequestTenant> FromRequest for CurrentTenant<T> {
    type Error = TenantRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let extensions = request.extensions();
        let tenant = tenancy_core::adapter::current_tenant(&ActixExtensions(&extensions));
        ready(tenant.map(Self).map_err(TenantRejection::from))
    }
}

impl<T: RequestTenant> FromRequest for OptionalTenant<T> {
    type Error = TenantRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let extensions = request.extensions();
        let tenant = tenancy_core::adapter::optional_tenant(&ActixExtensions(&extensions));
        ready(tenant.map(Self).map_err(TenantRejection::from))
    }
}
