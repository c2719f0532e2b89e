//! [`TenantConnection`]: a pooled connection to one tenant's database.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use sqlx::Connection;
use tokio::sync::OwnedSemaphorePermit;

use super::{Live, Shared, TenantPool};
use crate::database::backend::{BackendConnection, DatabaseBackend};
use crate::storage::DatabaseLocation;

/// A connection to one tenant's database, checked out of
/// [`TenantPools`](crate::database::TenantPools); it goes back to the tenant's pool
/// when dropped.
///
/// It dereferences to the driver's connection, so queries run with
/// `&mut *conn`, and transactions with `conn.begin()` (dropped
/// transactions roll back before the connection is reused).
///
/// ```no_run
/// # #[cfg(feature = "sqlite")] mod example {
/// use sqlx::Connection;
///
/// # async fn example(mut conn: tenancy_sqlx::database::TenantConnection<tenancy_sqlx::database::SqliteDatabases>) -> Result<(), sqlx::Error> {
/// let rows = sqlx::query("SELECT id, name FROM items").fetch_all(&mut *conn).await?;
/// let mut tx = conn.begin().await?;
/// sqlx::query("DELETE FROM items WHERE id = ?").bind(1).execute(&mut *tx).await?;
/// tx.commit().await?;
/// # let _ = rows; Ok(()) }
/// # }
/// # fn main() {}
/// ```
pub struct TenantConnection<B: DatabaseBackend> {
    /// `Some` from checkout until `drop` hands the connection back.
    live: Option<Live<B>>,
    pool: Arc<TenantPool<B>>,
    shared: Arc<Shared<B>>,
    /// The per-tenant slot, released after the connection is back.
    slot: Option<OwnedSemaphorePermit>,
}

impl<B: DatabaseBackend> TenantConnection<B> {
    pub(super) fn new(
        live: Live<B>,
        pool: Arc<TenantPool<B>>,
        shared: Arc<Shared<B>>,
        slot: OwnedSemaphorePermit,
    ) -> Self {
        Self {
            live: Some(live),
            pool,
            shared,
            slot: Some(slot),
        }
    }

    /// Where this connection points.
    pub fn location(&self) -> &DatabaseLocation {
        &self.pool.location
    }

    /// Closes the connection instead of returning it to the pool (e.g. after
    /// changing session state that the next request must not inherit).
    pub fn close_on_release(mut self) {
        if let Some(live) = self.live.take() {
            self.shared.close_later(live);
        }
    }
}

// `live` is `Some` for the whole life of the value: it is only taken in
// `drop` and `close_on_release`, which consume the handle. sqlx's own
// `PoolConnection` is built the same way.
#[allow(clippy::expect_used)]
impl<B: DatabaseBackend> Deref for TenantConnection<B> {
    type Target = BackendConnection<B>;

    fn deref(&self) -> &Self::Target {
        &self
            .live
            .as_ref()
            .expect("connection present until dropped")
            .conn
    }
}

#[allow(clippy::expect_used)]
impl<B: DatabaseBackend> DerefMut for TenantConnection<B> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self
            .live
            .as_mut()
            .expect("connection present until dropped")
            .conn
    }
}

impl<B: DatabaseBackend> Drop for TenantConnection<B> {
    fn drop(&mut self) {
        let Some(mut live) = self.live.take() else {
            return;
        };
        let slot = self.slot.take();
        if !live.conn.should_flush() {
            self.shared.release(&self.pool, live);
            return;
        }
        // Work is still queued on the connection, e.g. the `ROLLBACK` of a
        // dropped transaction: flush it (as sqlx's pool does) before the
        // connection idles, so it never sits idle in a transaction holding
        // locks; a connection that fails the ping is closed.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.shared.close_later(live);
            return;
        };
        let (pool, shared) = (self.pool.clone(), self.shared.clone());
        runtime.spawn(async move {
            match live.conn.ping().await {
                Ok(()) => shared.release(&pool, live),
                Err(_) => shared.close_later(live),
            }
            drop(slot);
        });
    }
}

impl<B: DatabaseBackend> fmt::Debug for TenantConnection<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantConnection")
            .field("location", &self.pool.location)
            .finish_non_exhaustive()
    }
}
