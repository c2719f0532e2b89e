//! [`CurrentTenant`] and [`OptionalTenant`]: the tenant in a handler.

use axum::extract::FromRequestParts;
use http::request::Parts;
use tenancy_core::RequestTenant;

use crate::rejection::TenantRejection;

/// The tenant of the request; rejects with `404 TenantRequired` when there is none.
///
/// `T` is the `Tenant` type of the layer's store (`TenantRecord` for the
/// built-in stores, `RegistryTenant` for the registries of `tenancy-sqlx`).
/// The tenant is cloned out of the request extensions, where
/// [`TenancyLayer`](crate::TenancyLayer) put it.
///
/// `T` is checked when a request reaches the handler, not at compile time: an
/// axum extractor sees the request, not the middleware wrapped around the
/// routes, so nothing in the types ties `T` to the store's. A route asking
/// for another type answers `500 Configuration` and logs both type names
/// at `ERROR` (the response names neither). With `tenancy-sqlx` the type is
/// always `RegistryTenant` (`SchemaTenancy`, `TenantManager::gate`).
///
/// ```
/// use axum::{Router, body::Body, http::Request, routing::get};
/// use tenancy_axum::{CurrentTenant, TenancyLayer};
/// use tenancy_core::{InMemoryStore, SubdomainResolver, Tenancy, TenantId, TenantRecord};
/// use tower::{Layer, ServiceExt};
///
/// async fn hello(CurrentTenant(tenant): CurrentTenant<TenantRecord>) -> String {
///     format!("hello {}", tenant.name)
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = InMemoryStore::from_iter([TenantRecord::new(TenantId::new("acme")?, "Acme Corp")]);
/// let tenancy = Tenancy::new(SubdomainResolver::new(["example.com"])?, store);
/// let app = TenancyLayer::new(tenancy).layer(Router::new().route("/", get(hello)));
///
/// let request = Request::get("/").header("host", "acme.example.com").body(Body::empty())?;
/// let response = app.oneshot(request).await?;
/// let body = axum::body::to_bytes(response.into_body(), 1024).await?;
/// assert_eq!(body, "hello Acme Corp");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentTenant<T: RequestTenant>(pub T);

/// The tenant of the request, if it names one.
///
/// `None` on a central host (for an [optional](tenancy_core::Gate::optional)
/// route) and on [central routes](tenancy_core::Gate::central_route). It
/// rejects only when the layer is missing or resolves another tenant type.
///
/// ```
/// use axum::{Router, body::Body, http::Request, routing::get};
/// use tenancy_axum::{OptionalTenant, TenancyLayer};
/// use tenancy_core::{Gate, InMemoryStore, SubdomainResolver, Tenancy, TenantRecord};
/// use tower::{Layer, ServiceExt};
///
/// async fn home(OptionalTenant(tenant): OptionalTenant<TenantRecord>) -> String {
///     tenant.map_or_else(|| "central".to_owned(), |tenant| tenant.id.to_string())
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tenancy = Tenancy::new(SubdomainResolver::new(["example.com"])?, InMemoryStore::new());
/// let app = TenancyLayer::new(Gate::new(tenancy).optional()).layer(Router::new().route("/", get(home)));
///
/// let request = Request::get("/").header("host", "example.com").body(Body::empty())?;
/// let body = axum::body::to_bytes(app.oneshot(request).await?.into_body(), 1024).await?;
/// assert_eq!(body, "central");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionalTenant<T: RequestTenant>(pub Option<T>);

impl<T: RequestTenant, St: Send + Sync> FromRequestParts<St> for CurrentTenant<T> {
    type Rejection = TenantRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &St) -> Result<Self, Self::Rejection> {
        tenancy_core::adapter::current_tenant(&parts.extensions)
            .map(Self)
            .map_err(TenantRejection::from)
    }
}

impl<T: RequestTenant, St: Send + Sync> FromRequestParts<St> for OptionalTenant<T> {
    type Rejection = TenantRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &St) -> Result<Self, Self::Rejection> {
        tenancy_core::adapter::optional_tenant(&parts.extensions)
            .map(Self)
            .map_err(TenantRejection::from)
    }
}
