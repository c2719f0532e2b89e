//! [`TenantSession`]: opt-in session mode, one pooled connection set to a tenant.

use std::fmt;

use sqlx::pool::PoolConnection;
use sqlx::{Connection, Executor, PgConnection, Postgres};
use tenancy_core::TenancyError;

use super::cache::Tagging;
use super::executor::tenant_executor;
use super::transaction::TenantTransaction;
use crate::error::store_error;
use crate::postgres::tx::PgTx;
use crate::storage::SchemaName;

/// The statement that undoes a session's scoping on release.
const RESET: &str = "RESET search_path";

/// A pooled connection whose *session* `search_path` is a tenant schema.
///
/// Use it when code needs several transactions (or none) on one connection in
/// one tenant. The scoping is set when the session starts and undone by
/// [`release`](Self::release) with `RESET search_path`; if that fails the
/// connection is closed instead of going back to the pool. Dropping a session
/// without `release` (e.g. a cancelled request) resets it in a background task,
/// and closes the connection when that fails or no runtime is available.
///
/// Session mode is refused behind a transaction pooler (a session setting
/// can land on a server connection another client then uses): use
/// [`SchemaPool::begin`](crate::schema::SchemaPool::begin) there.
///
/// ```no_run
/// # async fn example(schemas: tenancy_sqlx::SchemaPool, tenant: tenancy_sqlx::RegistryTenant) -> Result<(), Box<dyn std::error::Error>> {
/// let mut session = schemas.session(&tenant).await?;
/// sqlx::query("INSERT INTO audit (event) VALUES ('login')").execute(&mut session).await?;
/// let mut tx = session.begin().await?;
/// sqlx::query("UPDATE items SET stock = stock - 1").execute(&mut tx).await?;
/// tx.commit().await?;
/// session.release().await?;
/// # Ok(()) }
/// ```
pub struct TenantSession {
    conn: Option<PoolConnection<Postgres>>,
    schema: SchemaName,
    tagging: Tagging,
    /// Always `false` (sessions are direct); read by the executor macro.
    unnamed: bool,
}

impl TenantSession {
    pub(crate) fn new(
        conn: PoolConnection<Postgres>,
        schema: SchemaName,
        tagging: Tagging,
    ) -> Self {
        Self {
            conn: Some(conn),
            schema,
            tagging,
            unnamed: false,
        }
    }

    /// The tenant schema.
    pub fn schema(&self) -> &SchemaName {
        &self.schema
    }

    /// Begins a transaction on the session's connection (it stays in the schema).
    pub async fn begin(&mut self) -> Result<TenantTransaction<'_>, sqlx::Error> {
        let schema = self.schema.clone();
        let tagging = self.tagging.clone();
        let conn = self.connection()?;
        let tx = PgTx::begin_on(conn, None).await?;
        Ok(TenantTransaction::new(tx, schema, tagging, false))
    }

    /// Undoes the scoping and returns the connection to the pool.
    ///
    /// If the reset fails the connection is closed (never returned to the
    /// pool) and the error is returned.
    pub async fn release(mut self) -> Result<(), TenancyError> {
        match self.conn.take() {
            Some(conn) => reset_or_close(conn).await.map_err(store_error),
            None => Ok(()),
        }
    }

    fn connection(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        self.conn.as_deref_mut().ok_or(sqlx::Error::PoolClosed)
    }
}

/// Resets the session; returns the connection to the pool, or closes it on failure.
async fn reset_or_close(mut conn: PoolConnection<Postgres>) -> Result<(), sqlx::Error> {
    // A transaction sqlx still tracks (depth > 0) means a leaked guard: never reuse.
    if conn.is_in_transaction() {
        let _closed = conn.close().await;
        return Err(sqlx::Error::Protocol(
            "a tenant session was released inside a transaction".into(),
        ));
    }
    match conn.execute(RESET).await {
        Ok(_) => Ok(()),
        Err(error) => {
            tracing::warn!(%error, "resetting a tenant session failed; closing its connection");
            let _closed = conn.close().await;
            Err(error)
        }
    }
}

impl Drop for TenantSession {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let _reset = reset_or_close(conn).await;
                });
            }
            Err(_) => {
                // No runtime to run the reset on: never return it to the pool.
                drop(conn.detach());
            }
        }
    }
}

impl fmt::Debug for TenantSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantSession")
            .field("schema", &self.schema)
            .field("released", &self.conn.is_none())
            .finish_non_exhaustive()
    }
}

tenant_executor!(TenantSession, |this| this.connection());
