//! The actix-web binary's enforcement of the [`Limits`](super::Limits):
//! actix-web's own settings plus a request time-out middleware.
//!
//! - Header time-out: `HttpServer::client_request_timeout` (actix-web first
//!   writes a bare `408` status line, then closes the connection).
//! - Keep-alive time-out: `HttpServer::keep_alive`.
//! - Connection cap: `HttpServer::max_connections` is per worker, so each of
//!   the [`workers`] gets [`per_worker_connections`]; when every worker is
//!   full, actix-web stops accepting and connections wait in the listen
//!   backlog (`HttpServer::backlog`).
//! - Request time-out: [`request_timeout`], the outermost middleware.

use std::cell::Cell;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, HttpResponse, ResponseError};
use futures_util::Stream;

use super::request_timeout_error;
use crate::items::AppError;

/// The number of actix-web workers: one per available CPU (actix-web's own
/// default), fixed here so that the connection cap can be split among them.
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, NonZeroUsize::get)
}

/// Each worker's share of `max_connections` (rounded up, so the total is at
/// most `workers - 1` above the cap).
pub fn per_worker_connections(max_connections: usize, workers: usize) -> usize {
    max_connections.div_ceil(workers.max(1)).max(1)
}

/// Runs the rest of the app under the request time-out `limit`: a request
/// whose handling (reading its body included) takes longer is answered with
/// the JSON `RequestTimeout` error and its connection closed.
pub async fn request_timeout<B: MessageBody + 'static>(
    limit: Duration,
    mut request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let complete = Rc::new(Cell::new(false));
    match request.take_payload() {
        Payload::None => complete.set(true),
        payload => {
            let tracked = TrackedPayload {
                inner: payload,
                complete: Rc::clone(&complete),
            };
            let boxed: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(tracked);
            request.set_payload(Payload::from(boxed));
        }
    }
    // The request moves into the call (routing needs the only handle on it),
    // so a time-out is answered as an error, rendered by `TimedOut`.
    match tokio::time::timeout(limit, next.call(request)).await {
        Ok(served) => served,
        Err(_elapsed) => {
            let error = request_timeout_error(complete.get(), limit);
            tracing::warn!(status = error.status.as_u16(), "request timed out");
            Err(TimedOut(error).into())
        }
    }
}

/// A request time-out: the JSON error, then the connection closes.
#[derive(Debug)]
struct TimedOut(AppError);

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for TimedOut {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status.as_u16()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .force_close()
            .json(self.0.body())
    }
}

/// The request payload, noting when it has all arrived.
struct TrackedPayload {
    inner: Payload,
    complete: Rc<Cell<bool>>,
}

impl Stream for TrackedPayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if matches!(polled, Poll::Ready(None)) {
            self.complete.set(true);
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::per_worker_connections;

    #[test]
    fn the_cap_is_split_among_workers() {
        assert_eq!(per_worker_connections(10_000, 2), 5_000);
        assert_eq!(per_worker_connections(5, 2), 3);
        assert_eq!(per_worker_connections(1, 8), 1);
        assert_eq!(per_worker_connections(10, 0), 10);
    }
}
