//! [`TenancyMiddleware`]: the actix-web middleware that configures tenant resolution.

use std::fmt;
use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::Arc;

use actix_web::Error;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use tenancy_core::{Tenancy, TenantStore};

use crate::context::Shared;
use crate::error::{ErrorRenderer, JsonErrors};
use crate::routes::{Policy, Routes};
use crate::service::TenancyService;

/// An actix-web middleware ([`Transform`]) that resolves the tenant of every request.
///
/// For each request the [`TenancyService`] it produces runs the core
/// [`Tenancy`] pipeline once (resolve → look up → refuse inactive), then:
///
/// - puts the tenant in the request extensions as a
///   [`tenancy_core::Resolved<T>`], where [`CurrentTenant`](crate::CurrentTenant)
///   and [`OptionalTenant`](crate::OptionalTenant) find it;
/// - strips a path prefix that named the tenant *before routing*, so the App
///   routes `/items` for `/t/acme/items` (query kept; the original URI is in
///   [`OriginalUri`](crate::OriginalUri));
/// - records `tenant.id` on a `tenancy` [`tracing`] span that covers the rest
///   of the request;
/// - or answers with the rendered [`TenancyError`](tenancy_core::TenancyError).
///
/// # Routes with and without a tenant
///
/// Every path has one of three policies, matched against the path *as
/// received* (first matching rule wins; a pattern is an exact path, or
/// `/base/*` for `/base` and everything under it):
///
/// | policy | names a valid tenant | names no tenant (central host) | names a tenant badly (unknown, inactive, invalid, conflicting) or the store fails |
/// |---|---|---|---|
/// | required (default) | runs with it | `404 TenantRequired` | the error |
/// | optional ([`optional`](Self::optional), [`optional_route`](Self::optional_route)) | runs with it | runs without one | the error |
/// | central ([`central_route`](Self::central_route)) | runs without one | runs without one | runs without one: nothing is resolved |
///
/// An optional route is not lenient: a request that names a tenant which
/// cannot be served is refused, never served as if it named none.
///
/// With the default (required) policy a central-host request for an unknown
/// path is answered `404 TenantRequired` before routing. To let it reach your
/// default service (`404 NotFound`) instead, make the middleware [`optional`](Self::optional):
/// handlers that take [`CurrentTenant`](crate::CurrentTenant) still answer
/// `404 TenantRequired` on central hosts, through the extractor's rejection.
///
/// # Wrap the App
///
/// Register it with [`App::wrap`](actix_web::App::wrap): a middleware on a
/// scope or resource runs after routing, too late to strip a path prefix (it
/// then answers `500 Configuration` for prefixed paths rather than misroute;
/// turn [`rewrite_path_prefix`](Self::rewrite_path_prefix) off there).
///
/// ```
/// use actix_web::{App, web};
/// use tenancy_actix::TenancyMiddleware;
/// use tenancy_core::{CachedStore, InMemoryStore, SubdomainResolver, Tenancy};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tenancy = Tenancy::new(SubdomainResolver::new(["example.com"])?, CachedStore::new(InMemoryStore::new()));
/// let middleware = TenancyMiddleware::new(tenancy)
///     .central_route("/health") // on every host, without a tenant
///     .optional_route("/");     // with a tenant, or without one on a central host
/// let app = App::new()
///     .wrap(middleware)         // every other route requires a tenant
///     .route("/", web::get().to(|| async { "home" }))
///     .route("/items", web::get().to(|| async { "items" }))
///     .route("/health", web::get().to(|| async { "ok" }));
/// # let _ = app;
/// # Ok(()) }
/// ```
pub struct TenancyMiddleware<S> {
    tenancy: Arc<Tenancy<S>>,
    routes: Routes,
    rewrite: bool,
    renderer: Arc<dyn ErrorRenderer>,
}

impl<S: TenantStore + 'static> TenancyMiddleware<S> {
    /// A middleware running `tenancy`, requiring a tenant on every route,
    /// rendering errors with [`JsonErrors`] and stripping tenant path prefixes.
    ///
    /// Pass an `Arc<Tenancy<S>>` to keep a handle, e.g. to invalidate its cache
    /// (and build one middleware per worker from it).
    pub fn new(tenancy: impl Into<Arc<Tenancy<S>>>) -> Self {
        Self {
            tenancy: tenancy.into(),
            routes: Routes::default(),
            rewrite: true,
            renderer: Arc::new(JsonErrors),
        }
    }

    /// Makes a tenant optional on every route without a more specific rule:
    /// requests that name no tenant run without one.
    #[must_use]
    pub fn optional(mut self) -> Self {
        self.routes.set_default(Policy::Optional);
        self
    }

    /// Requires a tenant on every route without a more specific rule (the default).
    #[must_use]
    pub fn required(mut self) -> Self {
        self.routes.set_default(Policy::Required);
        self
    }

    /// Runs paths matching `pattern` without resolving any tenant, on every host.
    ///
    /// For health checks and other host-independent routes. `pattern` is an
    /// exact path (`/health`) or `/base/*`.
    #[must_use]
    pub fn central_route(mut self, pattern: impl AsRef<str>) -> Self {
        self.routes.add(pattern.as_ref(), Policy::Central);
        self
    }

    /// Makes a tenant optional on paths matching `pattern`.
    #[must_use]
    pub fn optional_route(mut self, pattern: impl AsRef<str>) -> Self {
        self.routes.add(pattern.as_ref(), Policy::Optional);
        self
    }

    /// Requires a tenant on paths matching `pattern` (useful after [`optional`](Self::optional)).
    #[must_use]
    pub fn required_route(mut self, pattern: impl AsRef<str>) -> Self {
        self.routes.add(pattern.as_ref(), Policy::Required);
        self
    }

    /// Whether to strip a tenant path prefix before routing (default `true`).
    ///
    /// Turn it off if your App matches the prefix itself (e.g. a scope
    /// `/t/{tenant}`).
    #[must_use]
    pub fn rewrite_path_prefix(mut self, rewrite: bool) -> Self {
        self.rewrite = rewrite;
        self
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
    pub fn error_renderer(mut self, renderer: impl ErrorRenderer) -> Self {
        self.renderer = Arc::new(renderer);
        self
    }

    /// The tenancy pipeline this middleware runs.
    pub fn tenancy(&self) -> &Arc<Tenancy<S>> {
        &self.tenancy
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
        ready(Ok(TenancyService::new(
            Rc::new(service),
            Arc::new(Shared::new(
                Arc::clone(&self.tenancy),
                self.routes.clone(),
                self.rewrite,
                Arc::clone(&self.renderer),
            )),
        )))
    }
}

impl<S> Clone for TenancyMiddleware<S> {
    fn clone(&self) -> Self {
        Self {
            tenancy: Arc::clone(&self.tenancy),
            routes: self.routes.clone(),
            rewrite: self.rewrite,
            renderer: Arc::clone(&self.renderer),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for TenancyMiddleware<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenancyMiddleware")
            .field("tenancy", &self.tenancy)
            .field("routes", &self.routes)
            .field("rewrite", &self.rewrite)
            .finish_non_exhaustive()
    }
}
