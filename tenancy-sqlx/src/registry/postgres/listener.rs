//! [`NotifyListener`]: turns other processes' registry changes into cache
//! invalidations, reconnecting (and then invalidating everything) when the
//! connection is lost.

use std::fmt;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};
use tenancy_core::TenantEvent;
use tokio::sync::watch;

use super::PgRegistry;
use crate::registry::background::Background;
use crate::registry::payload;

/// How often an idle listener checks that its connection is alive.
const HEALTH_CHECK: Duration = Duration::from_secs(30);
/// The first and the longest pause between reconnection attempts.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// A background task that `LISTEN`s on the registry's channel.
///
/// Each notification from another registry instance is passed to this
/// registry's subscribers. On a lost connection the task reconnects with
/// back-off and, once listening again, invalidates *everything* (changes made
/// while it was deaf cannot be known). The task stops when this handle is
/// dropped or [`stop`](Self::stop)ped, or when the registry's pool is closed.
///
/// It listens on the registry's direct connection
/// ([`PgConnections::direct`](crate::postgres::PgConnections::direct)). Behind a
/// transaction pooler without one, it logs a warning at start-up and ends at
/// once: other processes' changes then arrive only when cache entries expire.
///
/// ```no_run
/// # async fn example(registry: tenancy_sqlx::PgRegistry) {
/// let listener = registry.listen();
/// listener.wait_listening(1).await; // the first LISTEN is in place
/// assert!(listener.connections() >= 1);
/// # }
/// ```
#[must_use = "the listener stops when dropped"]
pub struct NotifyListener {
    task: Background,
}

impl NotifyListener {
    pub(crate) fn spawn(registry: PgRegistry) -> Self {
        Self {
            task: Background::spawn(|connections| run(registry, connections)),
        }
    }

    /// How many times a `LISTEN` has been established (1 after the first
    /// connection; each reconnection adds one).
    pub fn connections(&self) -> u64 {
        self.task.count()
    }

    /// Waits until at least `count` `LISTEN`s have been established (returns
    /// early if the task ended).
    pub async fn wait_listening(&self, count: u64) {
        self.task.wait_for(count).await;
    }

    /// Whether the task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops listening (as dropping it does).
    pub fn stop(self) {
        drop(self.task);
    }
}

impl fmt::Debug for NotifyListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyListener")
            .field("connections", &self.connections())
            .field("finished", &self.is_finished())
            .finish()
    }
}

async fn run(registry: PgRegistry, connections: watch::Sender<u64>) {
    let Some(direct) = registry.connections().direct() else {
        tracing::warn!(
            "tenancy registry: connections go through a transaction pooler and no direct \
             connection was given (PgConnections::with_direct), so LISTEN is impossible: \
             changes made by other processes reach this process's cache only when its \
             entries expire (the CachedStore TTL)"
        );
        return;
    };
    // A dedicated one-connection pool, so listening never takes a slot of the
    // application's pool and a lost connection is simply replaced.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with((*direct.connect_options()).clone());
    let channel = registry.config().channel.as_str().to_owned();
    let mut backoff = BACKOFF_MIN;
    let mut established = 0_u64;
    while !registry.pool().is_closed() {
        let mut listener = match connect(&pool, &channel).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, ?backoff, "tenancy registry listener cannot connect; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        backoff = BACKOFF_MIN;
        // Changes made while nobody listened are unknown: forget everything.
        registry.publish(&[TenantEvent::Unknown]).await;
        established += 1;
        connections.send_replace(established);
        tracing::debug!(established, "tenancy registry listener is listening");
        listen(&registry, &mut listener).await;
        tracing::warn!("tenancy registry listener lost its connection; reconnecting");
    }
    pool.close().await;
}

async fn connect(pool: &PgPool, channel: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.eager_reconnect(false);
    listener.ignore_pool_close_event(true);
    listener.listen(channel).await?;
    Ok(listener)
}

/// Forwards notifications until the connection fails or the registry's pool closes.
async fn listen(registry: &PgRegistry, listener: &mut PgListener) {
    let closed = registry.pool().close_event();
    tokio::pin!(closed);
    loop {
        let received = tokio::select! {
            () = &mut closed => return,
            received = tokio::time::timeout(HEALTH_CHECK, listener.try_recv()) => received,
        };
        match received {
            Ok(Ok(Some(notification))) => {
                let (origin, events) = payload::decode(notification.payload());
                if origin != registry.origin() {
                    registry.publish(&events).await;
                }
            }
            Ok(Ok(None)) => return,
            Ok(Err(error)) => {
                tracing::warn!(%error, "tenancy registry listener failed");
                return;
            }
            Err(_idle) => {
                let alive = tokio::time::timeout(
                    HEALTH_CHECK,
                    sqlx::query("SELECT 1")
                        .persistent(false)
                        .execute(&mut *listener),
                )
                .await;
                if !matches!(alive, Ok(Ok(_))) {
                    return;
                }
            }
        }
    }
}
