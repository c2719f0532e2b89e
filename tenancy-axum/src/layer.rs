//! [`TenancyLayer`]: the tower layer that runs a [`Gate`] for every request.

use std::fmt;
use std::sync::Arc;

use tenancy_core::adapter::AdapterState;
use tenancy_core::{Gate, TenantStore};
use tower_layer::Layer;

use crate::error::{ErrorRenderer, JsonErrors};
use crate::service::TenancyService;
use crate::state::LayerState;

/// A tower [`Layer`] that resolves the tenant of every request it wraps.
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
/// - strips a path prefix that named the tenant, so the router sees `/items`
///   for `/t/acme/items` (query kept; the original URI is in
///   [`axum::extract::OriginalUri`]);
/// - records `tenant.id` on a `tenancy` [`tracing`] span that covers the rest
///   of the request;
/// - or answers with the rendered [`TenancyError`](tenancy_core::TenancyError).
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
/// use tenancy_core::{CachedStore, Gate, InMemoryStore, SubdomainResolver, Tenancy};
/// use tower::Layer;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tenancy = Tenancy::new(SubdomainResolver::new(["example.com"])?, CachedStore::new(InMemoryStore::new()));
/// let router: Router = Router::new()
///     .route("/", get(|| async { "home" }))
///     .route("/items", get(|| async { "items" }))
///     .route("/health", get(|| async { "ok" }));
/// let gate = Gate::new(tenancy)
///     .central_route("/health") // on every host, without a tenant
///     .optional_route("/"); // with a tenant, or without one on a central host
/// let app = TenancyLayer::new(gate).layer(router); // every other route requires a tenant
/// # let _ = app;
/// # Ok(()) }
/// ```
pub struct TenancyLayer<S> {
    state: LayerState<S>,
}

impl<S: TenantStore + 'static> TenancyLayer<S> {
    /// A layer running `gate` (or a `Tenancy`: a tenant on every route),
    /// rendering errors with [`JsonErrors`].
    pub fn new(gate: impl Into<Gate<S>>) -> Self {
        let state = AdapterState::new(gate, Arc::new(JsonErrors) as Arc<dyn ErrorRenderer>);
        Self { state }
    }

    /// Renders errors (and extractor rejections) with `renderer` instead of [`JsonErrors`].
    ///
    /// ```
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
    pub fn error_renderer(self, renderer: impl ErrorRenderer) -> Self {
        let state = self.state.with_renderer(Arc::new(renderer));
        Self { state }
    }

    /// The gate this layer runs.
    pub fn gate(&self) -> &Gate<S> {
        self.state.gate()
    }
}

impl<S: TenantStore + 'static, I> Layer<I> for TenancyLayer<S> {
    type Service = TenancyService<I, S>;

    fn layer(&self, inner: I) -> Self::Service {
        TenancyService::new(inner, Arc::new(self.state.clone()))
    }
}

impl<S> Clone for TenancyLayer<S> {
    fn clone(&self) -> Self {
        let state = self.state.clone();
        Self { state }
    }
}

impl<S: fmt::Debug> fmt::Debug for TenancyLayer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.state, f)
    }
}
