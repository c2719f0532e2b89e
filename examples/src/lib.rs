//! Runnable example apps for tenancy-rs (not published).
//!
//! - [`items`]: the multi-tenant JSON service whose HTTP contract is
//!   `examples/ITEMS_APP.md`, shared by the `items-axum` and `items-actix`
//!   binaries ([`axum_app`], [`actix_app`]).
//! - [`baseline`]: the same endpoint without tenancy, for the load benchmark.
//! - [`server`]: the limits both items binaries serve under (header, keep-alive
//!   and request time-outs, a connection cap) and how each framework enforces them.

pub mod actix_app;
pub mod axum_app;
pub mod baseline;
pub mod items;
pub mod server;

use std::net::SocketAddr;

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _already_set = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// How long in-flight requests may take to finish after SIGTERM.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(9);

/// Prints the address the server listens on (tests and scripts read it).
#[allow(clippy::print_stdout)]
pub fn announce(addr: SocketAddr) {
    println!("listening on http://{addr}");
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
