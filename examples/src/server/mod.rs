//! Serving the items app under slow, vanishing and numerous clients: the
//! [`limits`] both binaries share, the axum accept loop that enforces them
//! ([`axum_serve`]), and the actix-web settings and middleware that do
//! ([`actix_serve`]).

pub mod actix_serve;
pub mod axum_serve;
pub mod limits;

use std::time::Duration;

use clap::{Args, CommandFactory, FromArgMatches};
pub use limits::Limits;

use crate::items::{AppError, Config};

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
