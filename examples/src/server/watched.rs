//! The header and keep-alive time-outs of both binaries, framework-neutral:
//! a connection's socket ([`WatchedIo`]) whose reads fail once the
//! connection has waited for a request head past its deadline.
//!
//! The deadline is the header time-out from the connection's start, the
//! keep-alive time-out after a response, and the header time-out again from
//! the first byte of a later request on a kept-alive connection. While a
//! request is in flight (from its head to the end of its response body, see
//! [`InFlight`]), reads are not timed: the request time-out applies.
//!
//! The HTTP server reading the socket treats the failed read as an I/O error
//! and drops the connection without an answer. Neither hyper nor actix-web
//! has this on its own: hyper's `header_read_timeout` restarts when a
//! connection goes idle (so it would close idle keep-alive connections after
//! the header time-out instead of the keep-alive time-out), and actix-web's
//! `client_request_timeout` times only a connection's first request.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

use super::limits::Limits;

/// Where a connection is: waiting for a request head (until a deadline), or
/// serving requests.
#[derive(Debug)]
pub(crate) struct ConnectionPhase {
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
    /// A new connection's: waiting for its first request head, for the
    /// header time-out from now.
    pub(crate) fn new(limits: Limits) -> Self {
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

/// A request in flight, from its head until its response body is done (or
/// dropped): hold it that long.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<ConnectionPhase>);

impl InFlight {
    /// A request's head is in: its connection is busy from now on.
    pub(crate) fn start(phase: Arc<ConnectionPhase>) -> Self {
        phase.request_started();
        Self(phase)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// A connection's socket whose reads fail with `TimedOut` once the
/// connection has waited for a request head past its deadline.
#[derive(Debug)]
pub(crate) struct WatchedIo {
    io: TcpStream,
    phase: Arc<ConnectionPhase>,
    timer: Pin<Box<Sleep>>,
    timer_deadline: Instant,
}

impl WatchedIo {
    pub(crate) fn new(io: TcpStream, phase: Arc<ConnectionPhase>) -> Self {
        let deadline = phase.deadline().unwrap_or_else(Instant::now);
        Self {
            io,
            phase,
            timer: Box::pin(tokio::time::sleep_until(deadline)),
            timer_deadline: deadline,
        }
    }

    /// The connection's phase, for its requests' [`InFlight`]s.
    pub(crate) fn phase(&self) -> &Arc<ConnectionPhase> {
        &self.phase
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
