//! [`PgTx`]: a Postgres transaction whose `BEGIN` cannot leave a connection
//! dirty, and [`Unit`]: one unit of work on a pooled connection.
//!
//! sqlx's own transaction rolls back on drop only once the server has
//! answered `BEGIN`: a future dropped after `BEGIN` was sent but before its
//! reply returns the connection to the pool with a transaction open (and, for
//! a scoped `BEGIN`, the previous tenant's `search_path` or role still set).
//! [`PgTx::begin`] guards the connection until `BEGIN` has completed and
//! closes it otherwise.

use std::fmt;
use std::ops::{Deref, DerefMut};

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgTransactionManager;
use sqlx::{PgConnection, PgPool, Postgres, SqlStr};
use sqlx_core::transaction::TransactionManager;

use super::pooler::Pooler;

/// The connection a [`PgTx`] runs on.
enum Conn<'c> {
    Pooled(PoolConnection<Postgres>),
    Borrowed(&'c mut PgConnection),
}

impl Conn<'_> {
    fn get(&mut self) -> &mut PgConnection {
        match self {
            Self::Pooled(conn) => conn,
            Self::Borrowed(conn) => conn,
        }
    }

    fn get_ref(&self) -> &PgConnection {
        match self {
            Self::Pooled(conn) => conn,
            Self::Borrowed(conn) => conn,
        }
    }
}

/// Closes a pooled connection unless `BEGIN` completed on it.
struct BeginGuard<'c> {
    conn: Option<Conn<'c>>,
}

impl Drop for BeginGuard<'_> {
    fn drop(&mut self) {
        // Reached only when `begin` failed or its future was dropped: the
        // server may hold an open transaction we know nothing of.
        if let Some(Conn::Pooled(mut conn)) = self.conn.take() {
            conn.close_on_drop();
        }
    }
}

/// A transaction (or savepoint) on a Postgres connection; dropping it without
/// [`commit`](Self::commit) rolls back before the connection is reused.
pub(crate) struct PgTx<'c> {
    conn: Conn<'c>,
    open: bool,
}

impl PgTx<'static> {
    /// Begins a transaction with `statement` (default `BEGIN`) on a
    /// connection from `pool`.
    pub(crate) async fn begin(
        pool: &PgPool,
        statement: Option<SqlStr>,
    ) -> Result<Self, sqlx::Error> {
        let conn = pool.acquire().await?;
        Self::begin_pooled(conn, statement).await
    }

    /// Begins a transaction with `statement` (default `BEGIN`) on `conn`.
    pub(crate) async fn begin_pooled(
        conn: PoolConnection<Postgres>,
        statement: Option<SqlStr>,
    ) -> Result<Self, sqlx::Error> {
        Self::start(Conn::Pooled(conn), statement).await
    }
}

impl<'c> PgTx<'c> {
    /// Begins a transaction on a connection the caller holds, or a savepoint
    /// when one is already open on it.
    pub(crate) async fn begin_on(
        conn: &'c mut PgConnection,
        statement: Option<SqlStr>,
    ) -> Result<Self, sqlx::Error> {
        Self::start(Conn::Borrowed(conn), statement).await
    }

    async fn start(conn: Conn<'c>, statement: Option<SqlStr>) -> Result<Self, sqlx::Error> {
        let mut guard = BeginGuard { conn: Some(conn) };
        if let Some(conn) = guard.conn.as_mut() {
            PgTransactionManager::begin(conn.get(), statement).await?;
        }
        match guard.conn.take() {
            Some(conn) => Ok(Self { conn, open: true }),
            None => Err(sqlx::Error::BeginFailed),
        }
    }

    /// Commits (or releases the savepoint).
    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        PgTransactionManager::commit(self.conn.get()).await?;
        self.open = false;
        Ok(())
    }

    /// Rolls back (to the savepoint).
    pub(crate) async fn rollback(mut self) -> Result<(), sqlx::Error> {
        PgTransactionManager::rollback(self.conn.get()).await?;
        self.open = false;
        Ok(())
    }
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if self.open {
            // Queues the `ROLLBACK`; the pool flushes it before reuse.
            PgTransactionManager::start_rollback(self.conn.get());
        }
    }
}

impl Deref for PgTx<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.conn.get_ref()
    }
}

impl DerefMut for PgTx<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn.get()
    }
}

impl fmt::Debug for PgTx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTx").field("open", &self.open).finish()
    }
}

/// One unit of the library's own work: a plain pooled connection when
/// Postgres is reached directly, a transaction behind a transaction pooler
/// (where an unnamed statement outside a transaction may be parsed on one
/// server connection and executed on another).
pub(crate) enum Unit {
    Direct(PoolConnection<Postgres>),
    Pooled(PgTx<'static>),
}

impl Unit {
    /// Takes a connection from `pool` for work of the given `pooler` mode.
    pub(crate) async fn start(pool: &PgPool, pooler: Pooler) -> Result<Self, sqlx::Error> {
        Ok(match pooler {
            Pooler::Direct => Self::Direct(pool.acquire().await?),
            Pooler::Transaction => Self::Pooled(PgTx::begin(pool, None).await?),
        })
    }

    /// Ends the unit: commits the transaction behind a pooler.
    pub(crate) async fn finish(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Direct(_) => Ok(()),
            Self::Pooled(tx) => tx.commit().await,
        }
    }
}

impl Deref for Unit {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        match self {
            Self::Direct(conn) => conn,
            Self::Pooled(tx) => tx,
        }
    }
}

impl DerefMut for Unit {
    fn deref_mut(&mut self) -> &mut PgConnection {
        match self {
            Self::Direct(conn) => conn,
            Self::Pooled(tx) => tx,
        }
    }
}
