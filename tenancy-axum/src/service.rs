//! [`TenancyService`]: asks the gate, then calls the wrapped service.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::Response;
use http::Request;
use tenancy_core::TenantStore;
use tenancy_core::adapter::{Decision, request_span};
use tower_service::Service;

use crate::future::ResponseFuture;
use crate::state::{LayerState, apply};

/// The [`Service`] made by [`TenancyLayer`](crate::TenancyLayer); see there for what it does.
///
/// The gate's decision is synchronous, and so is the lookup on a cache hit;
/// only a cache miss costs a boxed future. A refused request never reaches
/// the wrapped service.
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
    state: Arc<LayerState<S>>,
}

impl<I, S> TenancyService<I, S> {
    pub(crate) fn new(inner: I, state: Arc<LayerState<S>>) -> Self {
        Self { inner, state }
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
        let span = request_span();
        match span.in_scope(|| self.state.gate().decide(&request)) {
            Decision::Ready(outcome) => match apply(&self.state, outcome, &mut request, &span) {
                None => ResponseFuture::inner(self.inner.call(request), span),
                Some(response) => ResponseFuture::ready(response, span),
            },
            Decision::Lookup(pending) => {
                // The ready service goes with the request; keep a fresh clone.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                let state = Arc::clone(&self.state);
                ResponseFuture::lookup(pending, inner, request, state, span)
            }
        }
    }
}

impl<I: Clone, S> Clone for TenancyService<I, S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            state: Arc::clone(&self.state),
        }
    }
}

impl<I: fmt::Debug, S: fmt::Debug> fmt::Debug for TenancyService<I, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenancyService")
            .field("inner", &self.inner)
            .field("state", &self.state)
            .finish()
    }
}
