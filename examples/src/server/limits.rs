//! The limits that keep the items app serving under slow, vanishing and
//! numerous clients: one set of defaults for both binaries.

use std::time::Duration;

use clap::Args;

/// Request headers must all arrive within this time of the connection's
/// start (or of the first byte of a later request on a kept-alive
/// connection), else the connection is closed.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// An idle keep-alive connection (no request in progress, nothing sent) is
/// closed after this time.
pub const KEEP_ALIVE: Duration = Duration::from_secs(60);

/// A request whose handling, reading its body included, takes longer is
/// answered with a JSON `RequestTimeout` error and its connection closed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// At most this many connections are served at once; further ones wait in
/// the listen backlog until one closes.
pub const MAX_CONNECTIONS: usize = 10_000;

/// The listen backlog: connections beyond [`MAX_CONNECTIONS`] wait here;
/// once it is full the kernel refuses (or drops) new connection attempts.
pub const ACCEPT_BACKLOG: u32 = 1024;

/// The limits, from the environment (or flags), defaulting to the constants
/// of this module. Durations are whole seconds, at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
pub struct Limits {
    /// Seconds within which a request's headers must all arrive (from the
    /// connection's start, or from the first byte of a later request on a
    /// kept-alive connection); slower connections are closed.
    #[arg(
        long = "header-timeout-secs",
        env = "TENANCY_HEADER_TIMEOUT_SECS",
        default_value_t = HEADER_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..),
        value_name = "SECS"
    )]
    pub header_timeout_secs: u64,

    /// Seconds after which an idle keep-alive connection is closed.
    #[arg(
        long = "keep-alive-secs",
        env = "TENANCY_KEEP_ALIVE_SECS",
        default_value_t = KEEP_ALIVE.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..),
        value_name = "SECS"
    )]
    pub keep_alive_secs: u64,

    /// Seconds a request may take, reading its body included; a slower one is
    /// answered `408 RequestTimeout` (body still arriving) or `503
    /// RequestTimeout` (the server was slow) and its connection closed.
    #[arg(
        long = "request-timeout-secs",
        env = "TENANCY_REQUEST_TIMEOUT_SECS",
        default_value_t = REQUEST_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..),
        value_name = "SECS"
    )]
    pub request_timeout_secs: u64,

    /// Connections served at once; more wait in the listen backlog (1024)
    /// until one closes, and beyond that the kernel refuses them.
    #[arg(
        long = "max-connections",
        env = "TENANCY_MAX_CONNECTIONS",
        default_value_t = MAX_CONNECTIONS,
        value_parser = connection_count,
        value_name = "N"
    )]
    pub max_connections: usize,
}

/// A connection cap: 1 to 1,000,000.
fn connection_count(value: &str) -> Result<usize, String> {
    match value.trim().parse::<usize>() {
        Ok(count @ 1..=1_000_000) => Ok(count),
        _ => Err(format!(
            "expected a number from 1 to 1000000, got {value:?}"
        )),
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout_secs: HEADER_TIMEOUT.as_secs(),
            keep_alive_secs: KEEP_ALIVE.as_secs(),
            request_timeout_secs: REQUEST_TIMEOUT.as_secs(),
            max_connections: MAX_CONNECTIONS,
        }
    }
}

impl Limits {
    /// See [`HEADER_TIMEOUT`].
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs)
    }

    /// See [`KEEP_ALIVE`].
    pub fn keep_alive(&self) -> Duration {
        Duration::from_secs(self.keep_alive_secs)
    }

    /// See [`REQUEST_TIMEOUT`].
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use super::*;

    #[test]
    fn the_documented_defaults() {
        assert_eq!(HEADER_TIMEOUT, Duration::from_secs(10));
        assert_eq!(KEEP_ALIVE, Duration::from_secs(60));
        assert_eq!(REQUEST_TIMEOUT, Duration::from_secs(30));
        assert_eq!(MAX_CONNECTIONS, 10_000);
        let limits = Limits::default();
        assert_eq!(limits.header_timeout(), HEADER_TIMEOUT);
        assert_eq!(limits.keep_alive(), KEEP_ALIVE);
        assert_eq!(limits.request_timeout(), REQUEST_TIMEOUT);
        assert_eq!(limits.max_connections, MAX_CONNECTIONS);
    }

    #[test]
    fn unset_variables_give_the_defaults_and_zero_is_refused() {
        let command = Limits::augment_args(crate::items::Config::command());
        let matches = command.clone().try_get_matches_from(["items"]).unwrap();
        // The test process may have the variables set; only check when it has not.
        let variables = [
            "TENANCY_HEADER_TIMEOUT_SECS",
            "TENANCY_KEEP_ALIVE_SECS",
            "TENANCY_REQUEST_TIMEOUT_SECS",
            "TENANCY_MAX_CONNECTIONS",
        ];
        if variables
            .iter()
            .all(|name| std::env::var_os(name).is_none())
        {
            let limits = Limits::from_arg_matches(&matches).unwrap();
            assert_eq!(limits, Limits::default());
        }
        let refused = command.try_get_matches_from(["items", "--header-timeout-secs", "0"]);
        assert!(refused.is_err(), "a zero header time-out must be refused");
    }
}
