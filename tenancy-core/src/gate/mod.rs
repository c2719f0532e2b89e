//! [`Gate`]: what a web framework adapter decides for each request, once.

mod decision;
mod routes;
mod state;

use std::fmt;
use std::sync::Arc;

pub use decision::{Decision, Outcome, Pending};
pub use routes::Policy;
use routes::Routes;
pub use state::AdapterState;

use crate::error::TenancyError;
use crate::extract::{Accesses, RequestAccess};
use crate::request::RequestInfo;
use crate::store::TenantStore;
use crate::tenancy::{Resolved, Tenancy};
use crate::tenant::Tenant;

/// The per-request decision of a tenancy middleware, framework-neutral.
///
/// A gate holds a [`Tenancy`] pipeline and the route policies: which paths
/// require a tenant (the default), which take one optionally, and which are
/// central (nothing is resolved). The axum layer and the actix-web
/// middleware are built from a gate and call [`decide`](Self::decide) once
/// per request; all they add is their framework's request and response
/// types.
///
/// | policy | names a valid tenant | names no tenant (central host) | names a tenant badly (unknown, inactive, invalid, conflicting) or the store fails |
/// |---|---|---|---|
/// | required (default) | runs with it | `404 TenantRequired` | the error |
/// | optional ([`optional`](Self::optional), [`optional_route`](Self::optional_route)) | runs with it | runs without one | the error |
/// | central ([`central_route`](Self::central_route)) | runs without one | runs without one | runs without one: nothing is resolved |
///
/// An optional route is not lenient: a request that names a tenant which
/// cannot be served is refused, never served as if it named none. Patterns
/// are matched against the path *as received*, first match wins; a pattern is
/// an exact path, or `/base/*` for `/base` and everything under it.
///
/// ```
/// use tenancy_core::{Gate, InMemoryStore, SubdomainResolver, Tenancy, TenantId, TenantRecord};
/// use tenancy_core::adapter::{Decision, Outcome};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = InMemoryStore::from_iter([TenantRecord::new(TenantId::new("acme")?, "Acme")]);
/// let gate = Gate::new(Tenancy::new(SubdomainResolver::new(["example.com"])?, store))
///     .central_route("/health") // on every host, without a tenant
///     .optional_route("/"); // with a tenant, or without one on a central host
///
/// let on = |host: &str, path: &str| http::Request::builder().uri(path).header("host", host).body(());
/// let Decision::Ready(Outcome::Attach(resolved)) = gate.decide(&on("acme.example.com", "/items")?) else {
///     panic!("acme is known (and an in-memory store answers at once)");
/// };
/// assert_eq!(resolved.tenant().id.as_str(), "acme");
/// assert!(matches!(gate.decide(&on("example.com", "/")?), Decision::Ready(Outcome::Pass)));
/// assert!(matches!(gate.decide(&on("nope.example.com", "/health")?), Decision::Ready(Outcome::Pass)));
/// let Decision::Ready(Outcome::Refuse(error)) = gate.decide(&on("example.com", "/items")?) else {
///     panic!("a central host on a required route");
/// };
/// assert_eq!(error.kind(), "TenantRequired");
/// # Ok(()) }
/// ```
pub struct Gate<S> {
    tenancy: Arc<Tenancy<S>>,
    routes: Routes,
    rewrite: bool,
    accesses: Accesses,
    kept: Accesses,
}

impl<S: TenantStore + 'static> Gate<S> {
    /// A gate running `tenancy`, requiring a tenant on every route and
    /// stripping tenant path prefixes.
    ///
    /// Pass an `Arc<Tenancy<S>>` to keep a handle, e.g. to invalidate its cache.
    pub fn new(tenancy: impl Into<Arc<Tenancy<S>>>) -> Self {
        Self {
            tenancy: tenancy.into(),
            routes: Routes::default(),
            rewrite: true,
            accesses: Arc::new([]),
            kept: Arc::new([]),
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

    /// Runs paths matching `pattern` without resolving any tenant, on every
    /// host: health checks and other host-independent routes. `pattern` is
    /// an exact path (`/health`) or `/base/*`.
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

    /// Hands `access` (an isolation mode's access object, e.g. a
    /// `tenancy_sqlx::SchemaPool`) to every request the gate admits, where
    /// the adapters' `TenantDb<A>` finds it: no framework extension or app
    /// data to register, and none to forget. Several access objects of
    /// different types may be added; one of a type already added replaces it.
    #[must_use]
    pub fn with_access<A: RequestAccess>(mut self, access: A) -> Self {
        let mut accesses: Vec<_> = self
            .accesses
            .iter()
            .filter(|existing| !existing.is::<A>())
            .cloned()
            .collect();
        accesses.push(Arc::new(access));
        self.accesses = accesses.into();
        self
    }

    /// Keeps `resource` alive as long as this gate or any middleware made
    /// from it: e.g. a registry's change listener, which must run as long as
    /// the app serves and stops when dropped.
    #[must_use]
    pub fn keep_alive<X: Send + Sync + 'static>(mut self, resource: X) -> Self {
        let mut kept: Vec<_> = self.kept.iter().cloned().collect();
        kept.push(Arc::new(resource));
        self.kept = kept.into();
        self
    }

    /// The access objects the gate hands to the requests it admits.
    pub(crate) fn accesses(&self) -> Accesses {
        Arc::clone(&self.accesses)
    }

    /// The tenancy pipeline this gate runs.
    pub fn tenancy(&self) -> &Arc<Tenancy<S>> {
        &self.tenancy
    }

    /// The policy of a request path, as received.
    pub fn policy(&self, path: &str) -> Policy {
        self.routes.policy(path)
    }

    /// What to do with `request`: known at once (a central route, a cache
    /// hit, a request refused before any look-up), or after a store look-up.
    pub fn decide(&self, request: &dyn RequestInfo) -> Decision<S::Tenant> {
        let policy = self.routes.policy(request.path());
        if policy == Policy::Central {
            return Decision::Ready(Outcome::Pass);
        }
        let required = policy == Policy::Required;
        match self.tenancy.resolve_shared(request).into_ready() {
            Ok(result) => Decision::Ready(Outcome::new(result, required)),
            Err(resolve) => Decision::Lookup(Pending::new(resolve, required)),
        }
    }

    /// The path and query to route instead of `path` and `query`, without
    /// the tenant prefix `resolved` was found by; `None` when nothing is to
    /// be stripped (no prefix, or [`rewrite_path_prefix(false)`](Self::rewrite_path_prefix)).
    ///
    /// # Errors
    ///
    /// `Configuration` when the prefix is not at the start of `path` (the
    /// middleware runs after something else rewrote the path).
    pub fn routed_target(
        &self,
        resolved: &Resolved<S::Tenant>,
        path: &str,
        query: Option<&str>,
    ) -> Result<Option<String>, TenancyError> {
        if !self.rewrite || resolved.path_prefix_len() == 0 {
            return Ok(None);
        }
        let routed = resolved.routed_path(path);
        if routed.len() == path.len() {
            return Err(TenancyError::Configuration {
                message: "the tenant path prefix could not be removed from the request URI"
                    .to_owned(),
            });
        }
        Ok(Some(match query {
            Some(query) => format!("{routed}?{query}"),
            None => routed.to_owned(),
        }))
    }
}

/// Logs a refused request the way both adapters do: server errors at
/// `ERROR` with their sources, client errors at `DEBUG`.
pub(crate) fn log_refusal(error: &TenancyError) {
    if error.is_server_error() {
        tracing::error!(
            error = error as &dyn std::error::Error,
            "tenant resolution failed"
        );
    } else {
        tracing::debug!(error = %error, "tenant resolution refused the request");
    }
}

/// The `tenancy` span of one request, with an empty `tenant.id` field that
/// [`AdapterState::admit`](crate::adapter::AdapterState::admit) fills.
pub fn request_span() -> tracing::Span {
    tracing::info_span!("tenancy", tenant.id = tracing::field::Empty)
}

/// Records the tenant's id on a span made by [`request_span`].
pub(crate) fn record_tenant<T: Tenant>(span: &tracing::Span, resolved: &Resolved<T>) {
    span.record("tenant.id", resolved.tenant().id().as_str());
}

impl<S> Clone for Gate<S> {
    fn clone(&self) -> Self {
        Self {
            tenancy: Arc::clone(&self.tenancy),
            routes: self.routes.clone(),
            rewrite: self.rewrite,
            accesses: Arc::clone(&self.accesses),
            kept: Arc::clone(&self.kept),
        }
    }
}

impl<S: TenantStore + 'static> From<Tenancy<S>> for Gate<S> {
    fn from(tenancy: Tenancy<S>) -> Self {
        Self::new(tenancy)
    }
}

impl<S: TenantStore + 'static> From<Arc<Tenancy<S>>> for Gate<S> {
    fn from(tenancy: Arc<Tenancy<S>>) -> Self {
        Self::new(tenancy)
    }
}

impl<S: fmt::Debug> fmt::Debug for Gate<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("tenancy", &self.tenancy)
            .field("routes", &self.routes)
            .field("rewrite", &self.rewrite)
            .field("accesses", &self.accesses.len())
            .field("kept", &self.kept.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::{InMemoryStore, PathPrefixResolver, TenantId, TenantRecord};

    use super::*;

    fn target(uri: &str) -> Result<Option<String>, TenancyError> {
        let store =
            InMemoryStore::from_iter([TenantRecord::new(TenantId::new("acme").unwrap(), "Acme")]);
        let gate = Gate::new(Tenancy::new(PathPrefixResolver::new("/t").unwrap(), store));
        let request = http::Request::builder().uri(uri).body(()).unwrap();
        let Decision::Ready(Outcome::Attach(resolved)) = gate.decide(&request) else {
            panic!("{uri} names acme");
        };
        gate.routed_target(&resolved, request.uri().path(), request.uri().query())
    }

    #[test]
    fn strips_the_prefix_and_keeps_the_query() {
        let routed = |uri| target(uri).unwrap().unwrap();
        assert_eq!(
            routed("/t/acme/items?page=2&q=a%20b"),
            "/items?page=2&q=a%20b"
        );
        assert_eq!(routed("/t/acme"), "/");
        assert_eq!(routed("/t/acme?x=1"), "/?x=1");
        assert_eq!(routed("/t/acme/"), "/");
        assert_eq!(
            routed("https://acme.example.com/t/acme/items/7"),
            "/items/7"
        );
    }

    #[test]
    fn a_path_without_the_prefix_is_a_configuration_error() {
        let store =
            InMemoryStore::from_iter([TenantRecord::new(TenantId::new("acme").unwrap(), "Acme")]);
        let gate = Gate::new(Tenancy::new(PathPrefixResolver::new("/t").unwrap(), store));
        let request = http::Request::builder().uri("/t/acme/x").body(()).unwrap();
        let Decision::Ready(Outcome::Attach(resolved)) = gate.decide(&request) else {
            panic!("names acme");
        };
        let error = gate.routed_target(&resolved, "/other", None).unwrap_err();
        assert_eq!(error.kind(), "Configuration");
        let off = gate.rewrite_path_prefix(false);
        assert_eq!(
            off.routed_target(&resolved, "/t/acme/x", None).unwrap(),
            None
        );
    }
}
