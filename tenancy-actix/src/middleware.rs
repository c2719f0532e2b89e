//! [`TenancyMiddleware`]: the actix-web middleware that runs a [`Gate`] for every request.

use std::fmt;
use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::Arc;

use actix_web::Error;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use tenancy_core::adapter::AdapterState;
use tenancy_core::{Gate, TenantStore};

use crate::error::{ErrorRenderer, JsonErrors};
use crate::service::TenancyService;
use crate::state::MiddlewareState;

/// An actix-web middleware ([`Transform`]) that resolves the tenant of every request.
///
/// Built from a [`Gate`] (or just a [`Tenancy`](tenancy_core::Tenancy),
/// requiring a tenant on every route), which holds the route policies; see
/// there for which requests run with a tenant, without one, or are refused.
/// For each request the [`TenancyService`] it produces asks the gate once,
/// then:
///
/// - puts the tenant in the request extensions as a
///   [`tenancy_core::Resolved<T>`], where [`CurrentTenant`](crate::CurrentTenant),
///   [`OptionalTenant`](crate::OptionalTenant) and [`TenantDb`](crate::TenantDb) find it;
/// - strips a path prefix that named the tenant *before routing*, so the App
///   routes `/items` for `/t/acme/items` (query kept; the original URI is in
///   [`OriginalUri`](crate::OriginalUri));
/// - records `tenant.id` on a `tenancy` [`tracing`] span that covers the rest
///   of the request;
/// - or answers with the rendered [`TenancyError`](tenancy_core::TenancyError).
///
/// # Wrap the App
///
/// Register it with [`App::wrap`](actix_web::App::wrap): a middleware on a
/// scope or resource runs after routing, too late to strip a path prefix (it
/// then answers `500 Configuration` for prefixed paths rather than misroute;
/// turn [`Gate::rewrite_path_prefix`] off there).
///
/// ```
/// use actix_web::{App, web};
/// use tenancy_actix::TenancyMiddleware;
/// use tenancy_core::{CachedStore, Gate, InMemoryStore, SubdomainResolver, Tenancy};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tenancy = Tenancy::new(SubdomainResolver::new(["example.com"])?, CachedStore::new(InMemoryStore::new()));
/// let gate = Gate::new(tenancy)
///     .central_route("/health") // on every host, without a tenant
///     .optional_route("/"); // with a tenant, or without one on a central host
/// let app = App::new()
///     .wrap(TenancyMiddleware::new(gate)) // every other route requires a tenant
///     .route("/", web::get().to(|| async { "home" }))
///     .route("/items", web::get().to(|| async { "items" }))
///     .route("/health", web::get().to(|| async { "ok" }));
/// # let _ = app;
/// # Ok(()) }
/// ```
pub struct TenancyMiddleware<S> {
    state: Arc<MiddlewareState<S>>,
}

impl<S: TenantStore + 'static> TenancyMiddleware<S> {
    /// A middleware running `gate` (or a `Tenancy`: a tenant on every
    /// route), rendering errors with [`JsonErrors`].
    pub fn new(gate: impl Into<Gate<S>>) -> Self {
        let renderer: Arc<dyn ErrorRenderer> = Arc::new(JsonErrors);
        Self {
            state: Arc::new(AdapterState::new(gate, renderer)),
        }
    }

    /// Renders errors (and extractor rejections) with `renderer` instead of [`JsonErrors`].
    ///
    /// ```
    /// use actix_web::HttpResponse;
    /// use tenancy_actix::{TenancyMiddleware, status_code};
    /// use tenancy_core::{InMemoryStore, SubdomainResolver, Tenancy, TenancyError};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let tenancy = Tenancy::new(SubdomainResolver::new(["example.com"])?, InMemoryStore::new());
    /// let middleware = TenancyMiddleware::new(tenancy).error_renderer(|error: &TenancyError| {
    ///     HttpResponse::build(status_code(error)).body(format!("{} ({})", error, error.kind()))
    /// });
    /// # let _ = middleware;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn error_renderer(self, renderer: impl ErrorRenderer) -> Self {
        let state = AdapterState::clone(&self.state).with_renderer(Arc::new(renderer));
        Self {
            state: Arc::new(state),
        }
    }

    /// The gate this middleware runs.
    pub fn gate(&self) -> &Gate<S> {
        self.state.gate()
    }
}

impl<I, S, B> Transform<I, ServiceRequest> for TenancyMiddleware<S>
where
    I: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    S: TenantStore + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = TenancyService<I, S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: I) -> Self::Future {
        let state = Arc::clone(&self.state);
        ready(Ok(TenancyService::new(Rc::new(service), state)))
    }
}

impl<S> Clone for TenancyMiddleware<S> {
    fn clone(&self) -> Self {
        let state = Arc::clone(&self.state);
        Self { state }
    }
}

impl<S: fmt::Debug> fmt::Debug for TenancyMiddleware<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TenancyMiddleware")
            .field(&self.state)
            .finish()
    }
}
