//! Cleanup from `Drop` (on a runtime of its own), polling, loud connects and
//! small pools.

use std::fmt::{Debug, Display};
use std::time::Duration;

use sqlx::pool::PoolOptions;
use sqlx::{ConnectOptions, Connection, Database, Pool};

/// Runs `future` on a fresh runtime in its own thread (works inside or outside Tokio).
pub fn on_own_runtime<F>(future: F) -> std::thread::Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(future)
    })
    .join()
}

/// For `Drop`: runs `cleanup` on its own runtime and panics if it failed,
/// unless the test is already panicking.
pub fn clean_up<F, E>(what: impl Display, cleanup: F)
where
    F: Future<Output = Result<(), E>> + Send + 'static,
    E: Debug + Send + 'static,
{
    let done = on_own_runtime(cleanup);
    if !matches!(done, Ok(Ok(()))) && !std::thread::panicking() {
        panic!("could not drop {what}: {done:?}");
    }
}

/// Connects with `options` within 10 s, or panics naming the server and the
/// environment variable to set.
pub async fn connect_loudly<O: ConnectOptions>(
    options: &O,
    server: &str,
    url: &str,
    hint: &str,
) -> O::Connection
where
    O::Connection: Sized,
{
    tokio::time::timeout(Duration::from_secs(10), options.connect())
        .await
        .unwrap_or_else(|_| panic!("timed out connecting to {server} at {url}"))
        .unwrap_or_else(|error| panic!("cannot connect to {server} at {url} ({hint}): {error}"))
}

/// A small pool (tests run in parallel) with a 30 s acquire timeout.
pub async fn small_pool<DB: Database>(
    options: <DB::Connection as Connection>::Options,
    max_connections: u32,
) -> Pool<DB> {
    PoolOptions::<DB>::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await
        .expect("connect to the test database")
}

/// Polls `check` until it holds or `limit` passes; returns whether it held.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
