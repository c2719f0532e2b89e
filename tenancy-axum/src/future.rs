//! [`ResponseFuture`]: the response future of [`TenancyService`](crate::TenancyService).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::response::{IntoResponse, Response};
use http::{Request, StatusCode};
use pin_project_lite::pin_project;
use tenancy_core::{Resolved, TenancyError, Tenant, TenantStore};
use tower_service::Service;
use tracing::Span;

use crate::context::Shared;

/// The boxed store lookup of one request.
pub(crate) type Lookup<T> =
    Pin<Box<dyn Future<Output = Result<Option<Resolved<T>>, TenancyError>> + Send + 'static>>;

pin_project! {
    /// Response future of [`TenancyService`](crate::TenancyService).
    ///
    /// Looks the tenant up (when the request names one), then runs the wrapped
    /// service's future, all inside the request's `tenancy` span. It is
    /// `Send` when the wrapped service, its future and the body are.
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
            lookup: Lookup<S::Tenant>,
            pending: Option<(I, Request<B>)>,
            shared: Arc<Shared<S>>,
            // Whether the route needs a tenant (when the lookup finds none).
            required: bool,
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
        Self {
            state: State::Inner { future },
            span,
        }
    }

    pub(crate) fn ready(response: Response, span: Span) -> Self {
        Self {
            state: State::Ready {
                response: Some(response),
            },
            span,
        }
    }

    pub(crate) fn lookup(
        lookup: Lookup<S::Tenant>,
        service: I,
        request: Request<B>,
        shared: Arc<Shared<S>>,
        required: bool,
        span: Span,
    ) -> Self {
        Self {
            state: State::Lookup {
                lookup,
                pending: Some((service, request)),
                shared,
                required,
            },
            span,
        }
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
                StateProj::Lookup {
                    lookup,
                    pending,
                    shared,
                    required,
                } => {
                    let result = ready!(lookup.as_mut().poll(cx));
                    match (result, pending.take()) {
                        (Ok(None), Some(_)) if *required => State::Ready {
                            response: Some(shared.render(&TenancyError::TenantRequired)),
                        },
                        (Ok(None), Some((mut service, mut request))) => {
                            shared.mark(&mut request);
                            State::Inner {
                                future: service.call(request),
                            }
                        }
                        (Ok(Some(resolved)), Some((mut service, mut request))) => {
                            this.span
                                .record("tenant.id", resolved.tenant().id().as_str());
                            match shared.attach(&mut request, resolved) {
                                Ok(()) => State::Inner {
                                    future: service.call(request),
                                },
                                Err(error) => State::Ready {
                                    response: Some(shared.render(&error)),
                                },
                            }
                        }
                        (Err(error), _) => State::Ready {
                            response: Some(shared.render(&error)),
                        },
                        (Ok(_), None) => State::Ready { response: None },
                    }
                }
                StateProj::Inner { future } => return future.poll(cx),
                StateProj::Ready { response } => {
                    // `None` only if polled again after completion: answer, never panic.
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
