//! The actix-web binary's server: actix-web's HTTP/1 service
//! (`actix_http::HttpServiceBuilder::h1`) on an `actix_server::Server`, over the same
//! watched sockets as the axum binary, plus a request time-out middleware.
//! (`actix_web::HttpServer` cannot wrap the socket, and its own header
//! time-out, `client_request_timeout`, times only a connection's first
//! request.)
//!
//! - Header and keep-alive time-outs: each connection's socket is wrapped in
//!   a `WatchedIo` (see `super::watched`) that fails the read, so the
//!   connection is dropped, when the connection waits for a request head
//!   past its deadline: the header time-out from the connection's start, the
//!   keep-alive time-out after a response, the header time-out again from
//!   the first byte of a later request. A request is in flight from the call
//!   of the app to the end of its response body. actix-web's own keep-alive
//!   time-out is set to the same value; its first-request header time-out is
//!   off (it would answer a bare `408` where axum answers nothing).
//! - Connection cap: actix-server's `max_concurrent_connections` is per
//!   worker, so each of the [`workers`] gets [`per_worker_connections`]; when
//!   every worker is full, actix-server stops accepting and connections wait
//!   in the listen backlog ([`super::bind`]).
//! - Request time-out: [`request_timeout`], the outermost middleware.
//! - Graceful shutdown on SIGTERM or SIGINT: the server stops accepting,
//!   idle connections close, requests in flight get [`SHUTDOWN_GRACE`] to
//!   finish.

use std::cell::Cell;
use std::io;
use std::net::TcpListener;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_http::error::DispatchError;
use actix_http::{Extensions, HttpServiceBuilder, KeepAlive, Request, Response};
use actix_server::Server;
use actix_service::{
    IntoServiceFactory, Service, ServiceFactory, ServiceFactoryExt as _, apply_fn_factory,
    fn_service, map_config,
};
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{AppConfig, Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, HttpResponse, ResponseError};
use futures_util::Stream;
use tokio::net::TcpStream;

use super::limits::Limits;
use super::request_timeout_error;
use super::watched::{ConnectionPhase, InFlight, WatchedIo};
use crate::items::AppError;
use crate::{SHUTDOWN_GRACE, shutdown_signal};

/// How long a closing connection may take to flush its last bytes
/// (actix-web's `HttpServer` default).
const CLIENT_DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);

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

/// The server of the app that `app` makes (once per worker) on `listener`,
/// under `limits`; it runs when awaited, until SIGTERM or SIGINT, then
/// shuts down gracefully (see the module docs).
///
/// # Errors
///
/// When the listener cannot be set up.
pub fn serve<F, I, S, B>(listener: TcpListener, limits: Limits, app: F) -> io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<
            Request,
            Config = AppConfig,
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        > + 'static,
    S::Service: 'static,
    <S::Service as Service<Request>>::Future: 'static,
    B: MessageBody + 'static,
{
    let local_addr = listener.local_addr()?;
    let workers = workers();
    let builder = Server::build()
        .workers(workers)
        .max_concurrent_connections(per_worker_connections(limits.max_connections, workers))
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
        // SIGTERM and SIGINT both stop gracefully (actix-server's own signal
        // handling would stop at once on SIGINT).
        .shutdown_signal(shutdown_signal());
    let stopping = builder.graceful_shutdown_signal();
    let builder = builder.listen("items", listener, move || {
        // The app keeps no per-server settings: tenants are resolved from the
        // request head, not from `ConnectionInfo` (whose fallback host this is).
        let app =
            map_config::<_, _, Request, _, ()>(app().into_factory(), |()| AppConfig::default());
        let app = apply_fn_factory(app, |request: Request, app: &S::Service| {
            let in_flight = request
                .conn_data::<Arc<ConnectionPhase>>()
                .map(|phase| InFlight::start(Arc::clone(phase)));
            let response = app.call(request);
            async move {
                let response = match response.await {
                    Ok(response) => Response::from(response).map_into_boxed_body(),
                    Err(error) => Response::from(error),
                };
                Ok::<_, Error>(response.map_body(|_, body| InFlightBody {
                    body,
                    _in_flight: in_flight,
                }))
            }
        });
        let stopping = stopping.clone();
        let http = HttpServiceBuilder::default()
            .keep_alive(KeepAlive::Timeout(limits.keep_alive()))
            // The header time-out is WatchedIo's, for every request.
            .client_request_timeout(Duration::ZERO)
            .client_disconnect_timeout(CLIENT_DISCONNECT_TIMEOUT)
            .local_addr(local_addr)
            // Idle connections close at once on shutdown (as with `HttpServer`).
            .graceful_shutdown_signal(move || {
                let stopping = stopping.clone();
                async move { stopping.notified().await }
            })
            .on_connect_ext(|io: &WatchedIo, data: &mut Extensions| {
                data.insert(Arc::clone(io.phase()));
            })
            .h1(app);
        fn_service(move |io: TcpStream| async move {
            let _ = io.set_nodelay(true);
            let peer_addr = io.peer_addr().ok();
            let phase = Arc::new(ConnectionPhase::new(limits));
            Ok::<_, DispatchError>((WatchedIo::new(io, phase), peer_addr))
        })
        .and_then(http)
    })?;
    Ok(builder.run())
}

/// A response body, keeping its request in flight until it is done.
struct InFlightBody {
    body: BoxBody,
    _in_flight: Option<InFlight>,
}

impl MessageBody for InFlightBody {
    type Error = <BoxBody as MessageBody>::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
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
