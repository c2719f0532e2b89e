//! [`TenancyService`]: resolves the tenant, then calls the wrapped service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::Response;
use http::Request;
use tenancy_core::{TenancyError, Tenant, TenantStore};
use tower_service::Service;

use crate::context::Shared;
use crate::future::ResponseFuture;
use crate::routes::Policy;

/// The [`Service`] made by [`TenancyLayer`](crate::TenancyLayer); see there for what it does.
///
/// Resolution is synchronous and runs in [`call`](Service::call), and so is
/// the lookup on a cache hit; only a cache miss costs a boxed future. A request that fails never reaches the wrapped service.
///
/// ```
/// use axum::{Router, body::Body, http::Request, routing::get};
/// use tenancy_axum::{TenancyLayer, TenancyService};
/// use tenancy_core::{InMemoryStore, PathPrefixResolver, Tenancy};
/// use tower::{Layer, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tenancy = Tenancy::new(PathPrefixResolver::new("/t")?, InMemoryStore::new());
/// let router: Router = Router::new().route("/items", get(|| async { "items" }));
/// let app: TenancyService<Router, InMemoryStore> = TenancyLayer::new(tenancy).layer(router);
///
/// // `/t/nope/items` names the tenant `nope`, which does not exist.
/// let response = app.oneshot(Request::get("/t/nope/items").body(Body::empty())?).await?;
/// assert_eq!(response.status(), 404);
/// # Ok(()) }
/// ```
pub struct TenancyService<I, S> {
    inner: I,
    shared: Arc<Shared<S>>,
}

impl<I, S> TenancyService<I, S> {
    pub(crate) fn new(inner: I, shared: Arc<Shared<S>>) -> Self {
        Self { inner, shared }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &I {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut I {
        &mut self.inner
    }

    /// The wrapped service, by value.
    pub fn into_inner(self) -> I {
        self.inner
    }
}

impl<I, S, B> Service<Request<B>> for TenancyService<I, S>
where
    I: Service<Request<B>, Response = Response> + Clone,
    S: TenantStore + 'static,
{
    type Response = Response;
    type Error = I::Error;
    type Future = ResponseFuture<I, B, S>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let span = tracing::info_span!("tenancy", tenant.id = tracing::field::Empty);
        let shared = &self.shared;
        let policy = shared.routes.policy(request.uri().path());
        if policy == Policy::Central {
            shared.mark(&mut request);
            return ResponseFuture::inner(self.inner.call(request), span);
        }
        let resolution = {
            let _entered = span.enter();
            shared.tenancy.resolve_key(&request)
        };
        match resolution {
            Err(error) => {
                let response = span.in_scope(|| shared.render(&error));
                ResponseFuture::ready(response, span)
            }
            Ok(None) if policy == Policy::Required => {
                let response = span.in_scope(|| shared.render(&TenancyError::TenantRequired));
                ResponseFuture::ready(response, span)
            }
            Ok(None) => {
                shared.mark(&mut request);
                ResponseFuture::inner(self.inner.call(request), span)
            }
            Ok(Some(resolution)) => {
                let required = policy == Policy::Required;
                if let Some(result) = shared.tenancy.lookup_cached(&resolution) {
                    // A cache hit: no future to box.
                    let attached = result.and_then(|resolved| match resolved {
                        Some(resolved) => {
                            span.record("tenant.id", resolved.tenant().id().as_str());
                            shared.attach(&mut request, resolved)
                        }
                        None if required => Err(TenancyError::TenantRequired),
                        None => {
                            shared.mark(&mut request);
                            Ok(())
                        }
                    });
                    return match attached {
                        Ok(()) => ResponseFuture::inner(self.inner.call(request), span),
                        Err(error) => {
                            let response = span.in_scope(|| shared.render(&error));
                            ResponseFuture::ready(response, span)
                        }
                    };
                }
                let tenancy = Arc::clone(&shared.tenancy);
                let lookup = Box::pin(async move { tenancy.lookup(&resolution).await });
                // The ready service goes with the request; keep a fresh clone.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::lookup(
                    lookup,
                    inner,
                    request,
                    Arc::clone(&self.shared),
                    required,
                    span,
                )
            }
        }
    }
}

impl<I: Clone, S> Clone for TenancyService<I, S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<I: fmt::Debug, S: fmt::Debug> fmt::Debug for TenancyService<I, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenancyService")
            .field("inner", &self.inner)
            .field("tenancy", &self.shared.tenancy)
            .field("routes", &self.shared.routes)
            .finish_non_exhaustive()
    }
}
