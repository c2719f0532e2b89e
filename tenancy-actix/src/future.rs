//! [`ResponseFuture`]: the response future of [`TenancyService`](crate::TenancyService).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use actix_web::Error;
use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::error::ErrorInternalServerError;
use pin_project_lite::pin_project;
use tenancy_core::{Resolved, TenancyError, Tenant, TenantStore};
use tracing::Span;

use crate::context::Shared;

/// The boxed store lookup of one request.
pub(crate) type Lookup<T> =
    Pin<Box<dyn Future<Output = Result<Option<Resolved<T>>, TenancyError>> + Send + 'static>>;

pin_project! {
    /// Response future of [`TenancyService`](crate::TenancyService).
    ///
    /// Looks the tenant up (when the request names one), strips its path
    /// prefix, then runs the wrapped service's future, all inside the
    /// request's `tenancy` span. Like every actix-web service future, it is
    /// not `Send`: it runs on the worker that accepted the connection.
    ///
    /// ```
    /// use actix_web::body::MessageBody;
    /// use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
    /// use tenancy_actix::{ResponseFuture, TenancyService};
    /// use tenancy_core::InMemoryStore;
    ///
    /// // What `TenancyService::call` returns.
    /// fn call<I, B>(
    ///     service: &TenancyService<I, InMemoryStore>,
    ///     request: ServiceRequest,
    /// ) -> ResponseFuture<I, B, InMemoryStore>
    /// where
    ///     I: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    ///     B: MessageBody + 'static,
    /// {
    ///     service.call(request)
    /// }
    /// ```
    pub struct ResponseFuture<I, B, S>
    where
        I: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
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
        I: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
        S: TenantStore,
    {
        Lookup {
            lookup: Lookup<S::Tenant>,
            pending: Option<(Rc<I>, ServiceRequest)>,
            shared: Arc<Shared<S>>,
            // Whether the route needs a tenant (when the lookup finds none).
            required: bool,
        },
        Inner {
            #[pin]
            future: I::Future,
        },
        Ready {
            response: Option<ServiceResponse<EitherBody<B>>>,
        },
    }
}

impl<I, B, S> ResponseFuture<I, B, S>
where
    I: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S: TenantStore,
{
    pub(crate) fn inner(future: I::Future, span: Span) -> Self {
        Self {
            state: State::Inner { future },
            span,
        }
    }

    pub(crate) fn ready(response: ServiceResponse<BoxBody>, span: Span) -> Self {
        Self {
            state: State::Ready {
                response: Some(response.map_into_right_body()),
            },
            span,
        }
    }

    pub(crate) fn lookup(
        lookup: Lookup<S::Tenant>,
        service: Rc<I>,
        request: ServiceRequest,
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
    I: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
    S: TenantStore + 'static,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, Error>;

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
                    let Some((service, mut request)) = pending.take() else {
                        return Poll::Ready(Err(polled_after_completion()));
                    };
                    let result = match result {
                        Ok(None) if *required => Err(TenancyError::TenantRequired),
                        other => other,
                    };
                    match result {
                        Ok(None) => {
                            shared.mark(&request);
                            State::Inner {
                                future: service.call(request),
                            }
                        }
                        Ok(Some(resolved)) => {
                            this.span
                                .record("tenant.id", resolved.tenant().id().as_str());
                            match shared.attach(&mut request, resolved) {
                                Ok(()) => State::Inner {
                                    future: service.call(request),
                                },
                                Err(error) => State::Ready {
                                    response: Some(
                                        request
                                            .into_response(shared.render(&error))
                                            .map_into_right_body(),
                                    ),
                                },
                            }
                        }
                        Err(error) => State::Ready {
                            response: Some(
                                request
                                    .into_response(shared.render(&error))
                                    .map_into_right_body(),
                            ),
                        },
                    }
                }
                StateProj::Inner { future } => {
                    return future.poll(cx).map_ok(ServiceResponse::map_into_left_body);
                }
                StateProj::Ready { response } => {
                    return Poll::Ready(response.take().ok_or_else(polled_after_completion));
                }
            };
            this.state.set(next);
        }
    }
}

/// The error for a future polled again after it completed (a caller bug; never a panic).
fn polled_after_completion() -> Error {
    ErrorInternalServerError("tenancy response future polled after completion")
}

impl<I, B, S> fmt::Debug for ResponseFuture<I, B, S>
where
    I: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
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
