//! [`TenancyLayer`]: the tower layer that configures tenant resolution.

use std::fmt;
use std::sync::Arc;

use tenancy_core::{Tenancy, TenantStore};
use tower_layer::Layer;

use crate::context::Shared;
use crate::error::{ErrorRenderer, JsonErrors};
use crate::routes::{Policy, Routes};
use crate::service::TenancyService;

/// A tower [`Layer`] that resolves the tenant of every request it wraps.
///
/// For each request the [`TenancyService`] it produces runs the core
/// [`Tenancy`] pipeline once (resolve → look up → refuse inactive), then:
///
/// - puts the tenant in the request extensions as a
///   [`tenancy_core::Resolved<T>`], where [`CurrentTenant`](crate::CurrentTenant)
///   and [`OptionalTenant`](crate::OptionalTenant) find it;
/// - strips a path prefix that named the tenant, so the router sees `/items`
///   for `/t/acme/items` (query kept; the original URI is in
///   [`axum::extract::OriginalUri`]);
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
/// fallback (`404 NotFound`) instead, make the layer [`optional`](Self::optional):
/// handlers that take [`CurrentTenant`](crate::CurrentTenant) still answer
/// `404 TenantRequired` on central hosts, through the extractor's rejection.
///
/// # Wrap the router, not its routes
///
/// axum's `Router::layer` runs middleware *after* routing, too late to strip
/// a path prefix. Wrap the whole router instead, `TenancyLayer::new(..).layer(router)`,
/// and serve the result with [`axum::ServiceExt::into_make_service`]. Without
/// a path prefix, `Router::layer` and `route_layer` work too.
///
/// ```
/// use axum::{Router, routing::get};
/// use tenancy_axum::TenancyLayer;
/// use tenancy_core::{CachedStore, InMemoryStore, SubdomainResolver, Tenancy};
/// use tower::Layer;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tenancy = Tenancy::new(SubdomainResolver::new(["example.com"])?, CachedStore::new(InMemoryStore::new()));
/// let router: Router = Router::new()
///     .route("/", get(|| async { "home" }))
///     .route("/items", get(|| async { "items" }))
///     .route("/health", get(|| async { "ok" }));
/// let app = TenancyLayer::new(tenancy)
///     .central_route("/health") // on every host, without a tenant
///     .optional_route("/")      // with a tenant, or without one on a central host
///     .layer(router);           // every other route requires a tenant
/// # let _ = app;
/// # Ok(()) }
/// ```
pub struct TenancyLayer<S> {
    tenancy: Arc<Tenancy<S>>,
    routes: Routes,
    rewrite: bool,
    renderer: Arc<dyn ErrorRenderer>,
}

impl<S: TenantStore + 'static> TenancyLayer<S> {
    /// A layer running `tenancy`, requiring a tenant on every route, rendering
    /// errors with [`JsonErrors`] and stripping tenant path prefixes.
    ///
    /// Pass an `Arc<Tenancy<S>>` to keep a handle, e.g. to invalidate its cache.
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
    /// Turn it off if your router matches the prefix itself (e.g. routes
    /// nested under `/t/{tenant}`).
    #[must_use]
    pub fn rewrite_path_prefix(mut self, rewrite: bool) -> Self {
        self.rewrite = rewrite;
        self
    }

    /// Renders errors (and extractor rejections) with `renderer` instead of [`JsonErrors`].
    ///
    /// ```
    /// use axum::http::StatusCode;
    /// use tenancy_axum::TenancyLayer;
    /// use tenancy_core::{InMemoryStore, SubdomainResolver, Tenancy, TenancyError};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let tenancy = Tenancy::new(SubdomainResolver::new(["example.com"])?, InMemoryStore::new());
    /// let layer = TenancyLayer::new(tenancy).error_renderer(|error: &TenancyError| {
    ///     (error.status(), format!("{} ({})", error, error.kind()))
    /// });
    /// # let _ = layer;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn error_renderer(mut self, renderer: impl ErrorRenderer) -> Self {
        self.renderer = Arc::new(renderer);
        self
    }

    /// The tenancy pipeline this layer runs.
    pub fn tenancy(&self) -> &Arc<Tenancy<S>> {
        &self.tenancy
    }
}

impl<S: TenantStore + 'static, I> Layer<I> for TenancyLayer<S> {
    type Service = TenancyService<I, S>;

    fn layer(&self, inner: I) -> Self::Service {
        TenancyService::new(
            inner,
            Arc::new(Shared::new(
                Arc::clone(&self.tenancy),
                self.routes.clone(),
                self.rewrite,
                Arc::clone(&self.renderer),
            )),
        )
    }
}

impl<S> Clone for TenancyLayer<S> {
    fn clone(&self) -> Self {
        Self {
            tenancy: Arc::clone(&self.tenancy),
            routes: self.routes.clone(),
            rewrite: self.rewrite,
            renderer: Arc::clone(&self.renderer),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for TenancyLayer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenancyLayer")
            .field("tenancy", &self.tenancy)
            .field("routes", &self.routes)
            .field("rewrite", &self.rewrite)
            .finish_non_exhaustive()
    }
}
