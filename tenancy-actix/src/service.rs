//! [`TenancyService`]: resolves the tenant, then calls the wrapped service.

use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::Error;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, forward_ready};
use tenancy_core::{TenancyError, Tenant, TenantStore};

use crate::context::Shared;
use crate::future::ResponseFuture;
use crate::request::ActixRequest;
use crate::routes::Policy;

/// The [`Service`] made by [`TenancyMiddleware`](crate::TenancyMiddleware); see there for what it does.
///
/// Resolution is synchronous and runs in [`call`](Service::call), and so is
/// the lookup on a cache hit; only a cache miss costs a boxed future. A request that fails never reaches the wrapped service; its
/// response body is the right side of the [`EitherBody`].
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
    shared: Arc<Shared<S>>,
}

impl<I, S> TenancyService<I, S> {
    pub(crate) fn new(service: Rc<I>, shared: Arc<Shared<S>>) -> Self {
        Self { service, shared }
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
    type Future = ResponseFuture<I, B, S>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let span = tracing::info_span!("tenancy", tenant.id = tracing::field::Empty);
        let shared = &self.shared;
        let policy = shared.routes.policy(request.path());
        if policy == Policy::Central {
            shared.mark(&request);
            return ResponseFuture::inner(self.service.call(request), span);
        }
        let resolution = {
            let _entered = span.enter();
            shared.tenancy.resolve_key(&ActixRequest::from(&request))
        };
        match resolution {
            Err(error) => {
                let response = span.in_scope(|| shared.render(&error));
                ResponseFuture::ready(request.into_response(response), span)
            }
            Ok(None) if policy == Policy::Required => {
                let response = span.in_scope(|| shared.render(&TenancyError::TenantRequired));
                ResponseFuture::ready(request.into_response(response), span)
            }
            Ok(None) => {
                shared.mark(&request);
                ResponseFuture::inner(self.service.call(request), span)
            }
            Ok(Some(resolution)) => {
                let required = policy == Policy::Required;
                if let Some(result) = shared.tenancy.lookup_cached(&resolution) {
                    // A cache hit: no future to box.
                    let mut request = request;
                    let attached = result.and_then(|resolved| match resolved {
                        Some(resolved) => {
                            span.record("tenant.id", resolved.tenant().id().as_str());
                            shared.attach(&mut request, resolved)
                        }
                        None if required => Err(TenancyError::TenantRequired),
                        None => {
                            shared.mark(&request);
                            Ok(())
                        }
                    });
                    return match attached {
                        Ok(()) => ResponseFuture::inner(self.service.call(request), span),
                        Err(error) => {
                            let response = span.in_scope(|| shared.render(&error));
                            ResponseFuture::ready(request.into_response(response), span)
                        }
                    };
                }
                let tenancy = Arc::clone(&shared.tenancy);
                let lookup = Box::pin(async move { tenancy.lookup(&resolution).await });
                ResponseFuture::lookup(
                    lookup,
                    Rc::clone(&self.service),
                    request,
                    Arc::clone(&self.shared),
                    required,
                    span,
                )
            }
        }
    }
}

impl<I, S: fmt::Debug> fmt::Debug for TenancyService<I, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenancyService")
            .field("tenancy", &self.shared.tenancy)
            .field("routes", &self.shared.routes)
            .finish_non_exhaustive()
    }
}
