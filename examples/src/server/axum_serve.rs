//! The axum binary's server: hyper's HTTP/1 connection driver in our own
//! accept loop, because `axum::serve` enforces none of the [`Limits`].
//!
//! - Header and keep-alive time-outs: each connection's socket is wrapped in
//!   a `WatchedIo` that fails the read (so hyper drops the connection) when
//!   the connection waits for a request head past its deadline: the header
//!   time-out from the connection's start, the keep-alive time-out after a
//!   response, the header time-out again from the first byte of a later
//!   request. (hyper's own `header_read_timeout` restarts when a connection
//!   goes idle, so it would close idle keep-alive connections after 10 s
//!   instead of 60 s.)
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
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Request, header};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use super::limits::{ACCEPT_BACKLOG, Limits};
use super::request_timeout_error;

/// Binds `addr` with the listen backlog of [`ACCEPT_BACKLOG`].
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(ACCEPT_BACKLOG)
}

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

/// Where a connection is: waiting for a request head (until a deadline), or
/// serving requests.
#[derive(Debug)]
struct ConnectionPhase {
    limits: Limits,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    /// The reader that found the connection busy: woken when it goes back
    /// to waiting, so that its deadline is armed.
    parked_reader: Option<Waker>,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request head; `started` once its first byte is in (or
    /// from the start, for a connection's first request).
    Waiting { deadline: Instant, started: bool },
    /// This many requests are in flight (head received, response not done).
    Busy(usize),
}

impl ConnectionPhase {
    fn new(limits: Limits) -> Self {
        Self {
            limits,
            state: Mutex::new(State {
                phase: Phase::Waiting {
                    deadline: Instant::now() + limits.header_timeout(),
                    started: true,
                },
                parked_reader: None,
            }),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Phase) -> T) -> T {
        f(&mut self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .phase)
    }

    /// The deadline of the wait for a request head, if waiting for one;
    /// otherwise `waker` is woken when the connection waits again.
    fn deadline_or_park(&self, waker: &Waker) -> Option<Instant> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match state.phase {
            Phase::Waiting { deadline, .. } => Some(deadline),
            Phase::Busy(_) => {
                if !state
                    .parked_reader
                    .as_ref()
                    .is_some_and(|parked| parked.will_wake(waker))
                {
                    state.parked_reader = Some(waker.clone());
                }
                None
            }
        }
    }

    /// The deadline of the wait for a request head, if waiting for one.
    fn deadline(&self) -> Option<Instant> {
        self.with(|phase| match *phase {
            Phase::Waiting { deadline, .. } => Some(deadline),
            Phase::Busy(_) => None,
        })
    }

    /// Bytes arrived: a kept-alive connection's next request has begun.
    fn bytes_read(&self) {
        let header_timeout = self.limits.header_timeout();
        self.with(|phase| {
            if let Phase::Waiting { started: false, .. } = *phase {
                *phase = Phase::Waiting {
                    deadline: Instant::now() + header_timeout,
                    started: true,
                };
            }
        });
    }

    fn request_started(&self) {
        self.with(|phase| {
            *phase = match *phase {
                Phase::Waiting { .. } => Phase::Busy(1),
                Phase::Busy(requests) => Phase::Busy(requests + 1),
            };
        });
    }

    fn request_finished(&self) {
        let keep_alive = self.limits.keep_alive();
        let reader = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            match state.phase {
                Phase::Busy(requests) if requests > 1 => {
                    state.phase = Phase::Busy(requests - 1);
                    None
                }
                Phase::Busy(_) => {
                    state.phase = Phase::Waiting {
                        deadline: Instant::now() + keep_alive,
                        started: false,
                    };
                    state.parked_reader.take()
                }
                Phase::Waiting { .. } => None,
            }
        };
        if let Some(reader) = reader {
            reader.wake();
        }
    }
}

/// A request in flight, until its response body is done (or dropped).
struct InFlight(Arc<ConnectionPhase>);

impl InFlight {
    fn start(phase: Arc<ConnectionPhase>) -> Self {
        phase.request_started();
        Self(phase)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
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

/// A connection's socket whose reads fail with `TimedOut` once the
/// connection has waited for a request head past its deadline.
struct WatchedIo {
    io: TcpStream,
    phase: Arc<ConnectionPhase>,
    timer: Pin<Box<Sleep>>,
    timer_deadline: Instant,
}

impl WatchedIo {
    fn new(io: TcpStream, phase: Arc<ConnectionPhase>) -> Self {
        let deadline = phase.deadline().unwrap_or_else(Instant::now);
        Self {
            io,
            phase,
            timer: Box::pin(tokio::time::sleep_until(deadline)),
            timer_deadline: deadline,
        }
    }

    fn timed_out() -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            "no complete request head in time (header or keep-alive time-out)",
        )
    }
}

impl AsyncRead for WatchedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this
            .phase
            .deadline()
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            return Poll::Ready(Err(Self::timed_out()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.phase.bytes_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(error)) => Poll::Ready(Err(error)),
            Poll::Pending => {
                if let Some(deadline) = this.phase.deadline_or_park(cx.waker()) {
                    if deadline != this.timer_deadline {
                        this.timer.as_mut().reset(deadline);
                        this.timer_deadline = deadline;
                    }
                    if this.timer.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Err(Self::timed_out()));
                    }
                }
                Poll::Pending
            }
        }
    }
}

impl AsyncWrite for WatchedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
