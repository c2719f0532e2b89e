//! [`TenancyService`]: asks the gate, then calls the wrapped service.

use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::Error;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, forward_ready};
use futures_util::future::{Either, LocalBoxFuture, TryFutureExt, ready};
use tenancy_core::TenantStore;
use tenancy_core::adapter::{Decision, request_span};
use tracing::Instrument;

use crate::future::{Answer, ResponseFuture, ToLeft};
use crate::request::ActixRequest;
use crate::state::{MiddlewareState, apply};

/// The [`Service`] made by [`TenancyMiddleware`](crate::TenancyMiddleware); see there for what it does.
///
/// The gate's decision is synchronous, and so is the lookup on a cache hit;
/// only a cache miss costs a boxed future. A refused request never reaches
/// the wrapped service; its response body is the right side of the
/// [`EitherBody`].
///
/// ```
/// use actix_web::{App, test, web};
/// use tenancy_actix::TenancyMiddleware;
/// use tenancy_core::{InMemoryStore, PathPrefixResolver, Tenancy};
///
/// # #[actix_web::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tenancy = Tenancy::new(PathPrefixResolver::new("/t")?, InMemoryStore::new());
/// let app = App::new()
///     .wrap(TenancyMiddleware::new(tenancy))
///     .route("/items", web::get().to(|| async { "items" }));
/// let app = test::init_service(app).await; // runs a `TenancyService`
///
/// // `/t/nope/items` names the tenant `nope`, which does not exist.
/// let response = test::call_service(&app, test::TestRequest::get().uri("/t/nope/items").to_request()).await;
/// assert_eq!(response.status(), 404);
/// # Ok(()) }
/// ```
pub struct TenancyService<I, S> {
    service: Rc<I>,
    state: Arc<MiddlewareState<S>>,
}

impl<I, S> TenancyService<I, S> {
    pub(crate) fn new(service: Rc<I>, state: Arc<MiddlewareState<S>>) -> Self {
        Self { service, state }
    }
}

impl<I, S, B> Service<ServiceRequest> for TenancyService<I, S>
where
    I: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    S: TenantStore + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = ResponseFuture<I::Future, B>;

    forward_ready!(service);

    fn call(&self, mut request: ServiceRequest) -> Self::Future {
        let span = request_span();
        let decision = span.in_scope(|| self.state.gate().decide(&ActixRequest::from(&request)));
        let to_left: ToLeft<B> = ServiceResponse::map_into_left_body;
        let future = match decision {
            Decision::Ready(outcome) => match apply(&self.state, outcome, &mut request, &span) {
                None => Either::Left(self.service.call(request).map_ok(to_left)),
                Some(response) => {
                    let response = request.into_response(response).map_into_right_body();
                    Either::Right(Either::Left(ready(Ok(response))))
                }
            },
            Decision::Lookup(pending) => {
                let service = Rc::clone(&self.service);
                let state = Arc::clone(&self.state);
                let span = span.clone();
                // A cache miss allocates anyway: the rest in one boxed future.
                Either::Right(Either::Right(Box::pin(async move {
                    let outcome = pending.await;
                    match apply(&state, outcome, &mut request, &span) {
                        None => service.call(request).await.map(to_left),
                        Some(response) => Ok(request.into_response(response).map_into_right_body()),
                    }
                })
                    as LocalBoxFuture<'static, Answer<B>>))
            }
        };
        future.instrument(span)
    }
}

impl<I, S: fmt::Debug> fmt::Debug for TenancyService<I, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenancyService")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}
