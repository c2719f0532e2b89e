//! The axum binary's server: hyper's HTTP/1 connection driver in our own
//! accept loop, because `axum::serve` enforces none of the [`Limits`].
//!
//! - Header and keep-alive time-outs: each connection's socket is wrapped in
//!   a `WatchedIo` that fails the read (so hyper drops the connection) when
//!   the connection waits for a request head past its deadline: the header
//!   time-out from the connection's start, the keep-alive time-out after a
//!   response, the header time-out again from the first byte of a later
//!   request (see the `watched` module; hyper's own `header_read_timeout`
//!   restarts when a connection goes idle, so it would close idle keep-alive
//!   connections after 10 s instead of 60 s).
//! - Request time-out: each request, body reading included, runs under
//!   `tokio::time::timeout`; when it runs out, the answer is the JSON
//!   [`request_timeout_error`] with `Connection: close`.
//! - Connection cap: a semaphore permit per connection, taken before
//!   `accept`, so connections beyond the cap wait in the listen backlog.
//! - Graceful shutdown: the loop stops accepting, every connection finishes
//!   its request in flight (hyper's `graceful_shutdown`) and closes, and
//!   `serve` returns once every permit is back.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Request, header};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower_service::Service;

pub use super::bind;
use super::limits::Limits;
use super::request_timeout_error;
use super::watched::{ConnectionPhase, InFlight, WatchedIo};

/// Serves `app` on `listener` under `limits` until `shutdown` completes, then
/// lets the requests in flight finish and returns when every connection has
/// closed (the caller bounds that wait).
pub async fn serve<A>(
    listener: TcpListener,
    app: A,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    A: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    A::Future: Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut builder = http1::Builder::new();
    builder
        .keep_alive(true)
        .half_close(false)
        // The header time-out is WatchedIo's (see the module docs).
        .header_read_timeout(None);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    // E.g. too many open files: back off instead of spinning.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            app: app.clone(),
            builder: builder.clone(),
            limits,
            stopping: stopping.clone(),
            _permit: permit,
        };
        tokio::spawn(connection.serve(stream));
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a permit until it has closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _all_closed = permits.acquire_many(all).await;
    Ok(())
}

/// One accepted connection.
struct Connection<A> {
    app: A,
    builder: http1::Builder,
    limits: Limits,
    stopping: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
}

impl<A> Connection<A>
where
    A: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    A::Future: Send + 'static,
{
    async fn serve(self, stream: TcpStream) {
        let Self {
            app,
            builder,
            limits,
            mut stopping,
            _permit,
        } = self;
        let phase = Arc::new(ConnectionPhase::new(limits));
        let io = TokioIo::new(WatchedIo::new(stream, Arc::clone(&phase)));
        let request_timeout = limits.request_timeout();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            // The head is in: the connection is busy from now on.
            let in_flight = InFlight::start(Arc::clone(&phase));
            handle(app.clone(), in_flight, request_timeout, request)
        });
        let connection = builder.serve_connection(io, service);
        tokio::pin!(connection);
        let stop = async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
        };
        let served = tokio::select! {
            served = connection.as_mut() => served,
            () = stop => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(error) = served {
            // Time-outs, resets, clients gone mid-request: routine.
            tracing::debug!(%error, "connection ended with an error");
        }
    }
}

/// Runs one request under the request time-out.
async fn handle<A>(
    mut app: A,
    in_flight: InFlight,
    limit: Duration,
    request: Request<Incoming>,
) -> Result<http::Response<ResponseBody>, Infallible>
where
    A: Service<Request<Body>, Response = Response, Error = Infallible>,
{
    let complete = Arc::new(AtomicBool::new(request.body().is_end_stream()));
    let request = request.map(|inner| {
        Body::new(RequestBody {
            inner,
            complete: Arc::clone(&complete),
        })
    });
    let handled = async {
        std::future::poll_fn(|cx| app.poll_ready(cx)).await?;
        app.call(request).await
    };
    let response = match tokio::time::timeout(limit, handled).await {
        Ok(Ok(response)) => response,
        Ok(Err(never)) => match never {},
        Err(_elapsed) => {
            let error = request_timeout_error(complete.load(Ordering::Acquire), limit);
            tracing::warn!(status = error.status.as_u16(), "request timed out");
            let mut response = error.into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    };
    Ok(response.map(|inner| ResponseBody {
        inner,
        _in_flight: in_flight,
    }))
}

/// The response body, keeping its request in flight until it is done.
struct ResponseBody {
    inner: Body,
    _in_flight: InFlight,
}

impl HttpBody for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The request body, noting when it has all arrived.
struct RequestBody {
    inner: Incoming,
    complete: Arc<AtomicBool>,
}

impl HttpBody for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.complete.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
