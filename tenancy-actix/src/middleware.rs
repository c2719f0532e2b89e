//! [`TenancyMiddleware`]: the actix-web middleware that runs a [`Gate`] for every request.

use std::fmt;
use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::Uri;
use actix_web::http::uri::PathAndQuery;
use actix_web::{Error, HttpMessage, HttpResponse};
use tenancy_core::{AdapterState, Gate, Outcome, Resolved, TenancyError, TenantStore};

use crate::error::{ErrorRenderer, JsonErrors};
use crate::service::TenancyService;

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
///   [`OriginalUri`]);
/// - records `tenant.id` on a `tenancy` [`tracing`] span that covers the rest
///   of the request;
/// - or answers with the rendered [`TenancyError`].
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

/// The state of one middleware, shared by its services and their futures.
pub(crate) type MiddlewareState<S> = AdapterState<S, Arc<dyn ErrorRenderer>>;

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

/// The request URI before the middleware stripped a tenant path prefix.
///
/// In the request extensions when a prefix was stripped (actix-web has no
/// `OriginalUri` of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalUri(pub Uri);

/// Carries the gate's outcome out on `request`: attaches the tenant (and
/// routes the request without its path prefix) and marks it, or gives the
/// answer to send instead.
pub(crate) fn apply<S: TenantStore + 'static>(
    state: &MiddlewareState<S>,
    outcome: Outcome<S::Tenant>,
    request: &mut ServiceRequest,
    span: &tracing::Span,
) -> Option<HttpResponse> {
    let attach = |resolved: Resolved<S::Tenant>| {
        let uri = request.uri();
        let target = state
            .gate()
            .routed_target(&resolved, uri.path(), uri.query())?;
        if let Some(target) = target {
            reroute(request, &target)?;
        }
        request.extensions_mut().insert(resolved);
        Ok(())
    };
    match state.admit(outcome, span, attach) {
        Ok(mark) => {
            request.extensions_mut().insert(mark);
            None
        }
        Err(error) => Some(state.renderer().render(&error)),
    }
}

/// Routes `request` to `target` before the App's router sees it.
fn reroute(request: &mut ServiceRequest, target: &str) -> Result<(), TenancyError> {
    let match_info = request.match_info();
    let unrouted = match_info.unprocessed().len() == match_info.as_str().len();
    let mut parts = request.uri().clone().into_parts();
    parts.path_and_query = target.parse::<PathAndQuery>().ok();
    let (true, Ok(routed)) = (unrouted, Uri::from_parts(parts)) else {
        // Routing already consumed part of the path: the middleware wraps a
        // scope or resource, not the App, and cannot reroute.
        return Err(TenancyError::Configuration {
            message: "tenant path prefixes can only be stripped by a middleware on the App"
                .to_owned(),
        });
    };
    // Routing matches `match_info` (a `Url` made from the URI when the
    // request was created), not the head's URI: update both, as actix-web's
    // own `NormalizePath` does.
    request.match_info_mut().get_mut().update(&routed);
    let original = std::mem::replace(&mut request.head_mut().uri, routed);
    request.extensions_mut().insert(OriginalUri(original));
    Ok(())
}
