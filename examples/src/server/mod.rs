//! Serving the items app under slow, vanishing and numerous clients: the
//! [`limits`] both binaries share, the axum accept loop that enforces them
//! ([`axum_serve`]), and the actix-web server that does ([`actix_serve`]).
//! Both time the wait for each request head the same way: a watched socket
//! (`watched`).

pub mod actix_serve;
pub mod axum_serve;
pub mod limits;
mod watched;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches};
pub use limits::Limits;

use limits::ACCEPT_BACKLOG;
use tokio::net::{TcpListener, TcpSocket};

use crate::items::{AppError, Config};

/// Binds `addr` with the listen backlog of [`ACCEPT_BACKLOG`]. Needs a tokio
/// runtime (actix-web's is one).
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

/// The command line of both items binaries: the app's [`Config`] plus the
/// server [`Limits`], all listed by `--help`. Exits (with clap's message) on
/// bad input, like `Config::parse`.
pub fn parse_cli() -> (Config, Limits) {
    let matches = Limits::augment_args(Config::command()).get_matches();
    let parsed = Config::from_arg_matches(&matches)
        .and_then(|config| Ok((config, Limits::from_arg_matches(&matches)?)));
    parsed.unwrap_or_else(|error| error.exit())
}

/// The answer to a request that ran out of time: `408 RequestTimeout` when
/// its body had not all arrived (the client was slow), `503 RequestTimeout`
/// otherwise (the server was). Its connection is closed after it.
pub fn request_timeout_error(body_complete: bool, limit: Duration) -> AppError {
    let seconds = limit.as_secs();
    if body_complete {
        AppError::new(
            http::StatusCode::SERVICE_UNAVAILABLE,
            "RequestTimeout",
            format!("the request was not handled within {seconds} s"),
        )
    } else {
        AppError::new(
            http::StatusCode::REQUEST_TIMEOUT,
            "RequestTimeout",
            format!("the request body did not arrive within {seconds} s"),
        )
    }
}
