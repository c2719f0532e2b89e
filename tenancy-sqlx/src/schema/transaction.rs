//! [`TenantTransaction`]: a transaction whose `search_path` is the tenant's schema.

use std::fmt;

use sqlx::PgConnection;

use super::cache::Tagging;
use super::executor::tenant_executor;
use crate::postgres::tx::PgTx;
use crate::storage::SchemaName;

/// A transaction scoped to one tenant schema.
///
/// It was opened with `BEGIN; SELECT set_config('search_path', '<schema>', true)`
/// in a single round trip, so the setting lives exactly as long as the
/// transaction: commit, rollback, an error, or dropping the value (a cancelled
/// request) all end it, and the connection goes back to the pool unscoped.
///
/// Run queries with `&mut tx` (not `&mut *tx`): the executor tags every
/// statement for the statement cache, see [`StatementCache`](crate::schema::StatementCache),
/// and behind a transaction pooler makes every statement unnamed.
/// Dropping it without [`commit`](Self::commit) rolls back.
///
/// ```no_run
/// # async fn example(schemas: tenancy_sqlx::SchemaPool, tenant: tenancy_sqlx::RegistryTenant) -> Result<(), Box<dyn std::error::Error>> {
/// let mut tx = schemas.begin(&tenant).await?;
/// let count: i64 = sqlx::query_scalar("SELECT count(*) FROM items").fetch_one(&mut tx).await?;
/// sqlx::query("INSERT INTO items (name) VALUES ($1)").bind("pen").execute(&mut tx).await?;
/// tx.commit().await?;
/// # let _ = count; Ok(()) }
/// ```
pub struct TenantTransaction<'c> {
    tx: PgTx<'c>,
    schema: SchemaName,
    tagging: Tagging,
    /// Behind a transaction pooler: every statement is unnamed.
    unnamed: bool,
}

impl<'c> TenantTransaction<'c> {
    pub(crate) fn new(tx: PgTx<'c>, schema: SchemaName, tagging: Tagging, unnamed: bool) -> Self {
        Self {
            tx,
            schema,
            tagging,
            unnamed,
        }
    }

    /// The tenant schema.
    pub fn schema(&self) -> &SchemaName {
        &self.schema
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    /// Rolls back.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }

    /// Opens a savepoint; the nested transaction stays in the tenant schema
    /// (the search path was set before the savepoint, so rolling back to it
    /// cannot undo the scoping).
    pub async fn savepoint(&mut self) -> Result<TenantTransaction<'_>, sqlx::Error> {
        let tx = PgTx::begin_on(&mut self.tx, None).await?;
        Ok(TenantTransaction {
            tx,
            schema: self.schema.clone(),
            tagging: self.tagging.clone(),
            unnamed: self.unnamed,
        })
    }

    /// The raw connection, for APIs that insist on `&mut PgConnection`.
    ///
    /// Statements run through it are still in the tenant schema, but they
    /// bypass the statement cache partitioning: use it only for statements
    /// whose result shape is the same in every tenant schema, or make them
    /// unnamed with `.persistent(false)`.
    pub fn unpartitioned_connection(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    fn connection(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        Ok(&mut self.tx)
    }
}

impl fmt::Debug for TenantTransaction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantTransaction")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

tenant_executor!(TenantTransaction<'_>, |this| this.connection());
