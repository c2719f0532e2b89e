//! [`SharedTransaction`]: a transaction that binds its tenant's key into
//! every query it runs.

use std::fmt;

use sqlx::{SqlSafeStr, Transaction};

use super::backend::SharedBackend;
use super::insert::SharedInsert;
use super::query::{AsOutput, RowsOutput, ScalarOutput, SharedQuery};
use crate::ident::Ident;
use crate::storage::SharedKey;

/// A transaction for one tenant in shared-schema mode on MySQL / MariaDB or
/// SQLite, where nothing in the database enforces isolation.
///
/// **Isolation rests on using its helpers.** It deliberately does not
/// dereference to the connection and is not a sqlx `Executor`: queries go
/// through [`query`](Self::query), [`query_as`](Self::query_as),
/// [`query_scalar`](Self::query_scalar) — whose SQL must say `{tenant}`
/// where the tenant key goes, and which bind this transaction's key there —
/// or [`insert`](Self::insert), which fills the tenant column itself. A
/// query that does not mention `{tenant}` is refused. What the helpers
/// cannot check is *how* the key is used: `WHERE tenant_id = {tenant} OR 1 = 1`
/// or a join on a table filtered by nothing is still wrong; filter every
/// tenant table in a query on its tenant column.
///
/// [`unchecked_connection`](Self::unchecked_connection) is the escape hatch
/// for what the helpers cannot express; bind [`key`](Self::key) yourself there.
///
/// Dropping it without [`commit`](Self::commit) rolls back.
///
/// ```no_run
/// # #[cfg(feature = "mysql")] mod example {
/// # async fn example(shared: tenancy_sqlx::shared::keyed::MySqlSharedPool, tenant: tenancy_sqlx::RegistryTenant) -> Result<(), Box<dyn std::error::Error>> {
/// let mut tx = shared.begin(&tenant).await?;
/// tx.insert("items").value("name", "pen").execute().await?;
/// let names: Vec<String> = tx
///     .query_scalar("SELECT name FROM items WHERE tenant_id = {tenant} ORDER BY id")
///     .fetch_all()
///     .await?;
/// tx.query("DELETE FROM items WHERE tenant_id = {tenant} AND name = ?")
///     .bind("pen")
///     .execute()
///     .await?;
/// tx.commit().await?;
/// # let _ = names; Ok(()) }
/// # }
/// # fn main() {}
/// ```
pub struct SharedTransaction<DB: SharedBackend> {
    tx: Transaction<'static, DB>,
    key: SharedKey,
    column: Ident,
}

impl<DB: SharedBackend> SharedTransaction<DB> {
    pub(crate) fn new(tx: Transaction<'static, DB>, key: SharedKey, column: Ident) -> Self {
        Self { tx, key, column }
    }

    /// The tenant key, for binding by hand on the
    /// [unchecked connection](Self::unchecked_connection).
    pub fn key(&self) -> &SharedKey {
        &self.key
    }

    /// The tenant column.
    pub fn column(&self) -> &Ident {
        &self.column
    }

    /// A scoped query returning rows; `{tenant}` in `sql` is bound to the key.
    pub fn query(&mut self, sql: impl SqlSafeStr) -> SharedQuery<'_, DB, RowsOutput> {
        SharedQuery::new(&mut *self.tx, &self.key, sql)
    }

    /// A scoped query decoding rows with `FromRow` (like `sqlx::query_as`).
    pub fn query_as<O>(&mut self, sql: impl SqlSafeStr) -> SharedQuery<'_, DB, AsOutput<O>> {
        SharedQuery::new(&mut *self.tx, &self.key, sql)
    }

    /// A scoped query returning the first column (like `sqlx::query_scalar`).
    pub fn query_scalar<O>(
        &mut self,
        sql: impl SqlSafeStr,
    ) -> SharedQuery<'_, DB, ScalarOutput<O>> {
        SharedQuery::new(&mut *self.tx, &self.key, sql)
    }

    /// An `INSERT` into `table` with the tenant column set to the key.
    pub fn insert(&mut self, table: &str) -> SharedInsert<'_, DB> {
        SharedInsert::new(&mut *self.tx, &self.key, &self.column, table)
    }

    /// The raw connection, inside this transaction. **Nothing scopes queries
    /// run through it**: bind [`key`](Self::key) in every one of them.
    pub fn unchecked_connection(&mut self) -> &mut DB::Connection {
        &mut self.tx
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    /// Rolls back.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl<DB: SharedBackend> fmt::Debug for SharedTransaction<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedTransaction")
            .field("key", &self.key)
            .field("column", &self.column)
            .finish_non_exhaustive()
    }
}
