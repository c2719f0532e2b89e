//! [`ResponseFuture`]: the response future of [`TenancyService`](crate::TenancyService).

use actix_web::Error;
use actix_web::body::EitherBody;
use actix_web::dev::ServiceResponse;
use futures_util::future::{Either, LocalBoxFuture, MapOk, Ready};
use tracing::instrument::Instrumented;

/// Response future of [`TenancyService`](crate::TenancyService), for a
/// wrapped service whose future is `F` and whose body is `B`.
///
/// Inside the request's `tenancy` span, one of: the wrapped service's future
/// (the tenant was known at once: no allocation), the refusal (ready), or,
/// on a cache miss, the store look-up followed by the wrapped service (one
/// boxed future). Like every actix-web service future, it is not `Send`: it
/// runs on the worker that accepted the connection.
pub type ResponseFuture<F, B> = Instrumented<
    Either<MapOk<F, ToLeft<B>>, Either<Ready<Answer<B>>, LocalBoxFuture<'static, Answer<B>>>>,
>;

/// What the middleware answers: the wrapped service's body, or a rendered error.
pub(crate) type Answer<B> = Result<ServiceResponse<EitherBody<B>>, Error>;

/// The wrapped service's response, as the left side of the body.
pub(crate) type ToLeft<B> = fn(ServiceResponse<B>) -> ServiceResponse<EitherBody<B>>;
