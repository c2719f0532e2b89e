//! [`ResponseFuture`]: the response future of [`TenancyService`](crate::TenancyService).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::response::{IntoResponse, Response};
use http::{Request, StatusCode};
use pin_project_lite::pin_project;
use tenancy_core::TenantStore;
use tenancy_core::adapter::Pending;
use tower_service::Service;
use tracing::Span;

use crate::state::{LayerState, apply};

pin_project! {
    /// Response future of [`TenancyService`](crate::TenancyService).
    ///
    /// Looks the tenant up (when the request names one and the cache cannot
    /// answer), then runs the wrapped service's future, all inside the
    /// request's `tenancy` span. It is `Send` when the wrapped service, its
    /// future and the body are.
    ///
    /// ```
    /// use axum::{Router, body::Body, extract::Request};
    /// use tenancy_axum::ResponseFuture;
    /// use tenancy_core::InMemoryStore;
    ///
    /// fn assert_send<T: Send>() {}
    /// assert_send::<ResponseFuture<Router, Body, InMemoryStore>>();
    /// ```
    pub struct ResponseFuture<I, B, S>
    where
        I: Service<Request<B>>,
        S: TenantStore,
    {
        #[pin]
        state: State<I, B, S>,
        span: Span,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<I, B, S>
    where
        I: Service<Request<B>>,
        S: TenantStore,
    {
        Lookup {
            pending: Pending<S::Tenant>,
            waiting: Option<(I, Request<B>, Arc<LayerState<S>>)>,
        },
        Inner {
            #[pin]
            future: I::Future,
        },
        Ready {
            response: Option<Response>,
        },
    }
}

impl<I, B, S> ResponseFuture<I, B, S>
where
    I: Service<Request<B>>,
    S: TenantStore,
{
    pub(crate) fn inner(future: I::Future, span: Span) -> Self {
        let state = State::Inner { future };
        Self { state, span }
    }

    pub(crate) fn ready(response: Response, span: Span) -> Self {
        let response = Some(response);
        let state = State::Ready { response };
        Self { state, span }
    }

    pub(crate) fn lookup(
        pending: Pending<S::Tenant>,
        service: I,
        request: Request<B>,
        state: Arc<LayerState<S>>,
        span: Span,
    ) -> Self {
        let waiting = Some((service, request, state));
        let state = State::Lookup { pending, waiting };
        Self { state, span }
    }
}

impl<I, B, S> Future for ResponseFuture<I, B, S>
where
    I: Service<Request<B>, Response = Response>,
    S: TenantStore + 'static,
{
    type Output = Result<Response, I::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let _entered = this.span.enter();
        loop {
            let next = match this.state.as_mut().project() {
                StateProj::Lookup { pending, waiting } => {
                    let outcome = ready!(Pin::new(pending).poll(cx));
                    // `None` only if polled again after completion: answer, never panic.
                    let Some((mut service, mut request, state)) = waiting.take() else {
                        return Poll::Ready(Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response()));
                    };
                    match apply(&state, outcome, &mut request, this.span) {
                        None => State::Inner {
                            future: service.call(request),
                        },
                        Some(response) => State::Ready {
                            response: Some(response),
                        },
                    }
                }
                StateProj::Inner { future } => return future.poll(cx),
                StateProj::Ready { response } => {
                    let response = response
                        .take()
                        .unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response());
                    return Poll::Ready(Ok(response));
                }
            };
            this.state.set(next);
        }
    }
}

impl<I, B, S> fmt::Debug for ResponseFuture<I, B, S>
where
    I: Service<Request<B>>,
    S: TenantStore,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Lookup { .. } => "lookup",
            State::Inner { .. } => "inner",
            State::Ready { .. } => "ready",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
