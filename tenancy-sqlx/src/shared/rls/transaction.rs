//! [`RlsTransaction`]: a transaction running as the restricted tenant role
//! with the tenant key set.

use std::fmt;
use std::ops::{Deref, DerefMut};

use sqlx::{PgConnection, Postgres};

use crate::postgres::tagged::Tagged;
use crate::postgres::tx::PgTx;
use crate::storage::SharedKey;

/// A transaction in which row-level security shows one tenant's rows only.
///
/// It was opened with `BEGIN; SELECT set_config('role', <tenant role>, true),
/// set_config('tenancy.tenant', <key>, true), set_config('search_path',
/// 'pg_catalog, "<schema>", pg_temp', true)` (the first is `SET LOCAL ROLE`)
/// in a single round trip, so the role, the key and the pinned `search_path`
/// live exactly as long as the transaction: commit, rollback, an error or
/// dropping the value (a cancelled request) all end them. With `pg_temp` last
/// and no `"$user"` entry, neither a temporary table nor a schema named like
/// the tenant role can shadow a tenant table; objects outside the configured
/// schema must be schema-qualified.
///
/// Run queries with `&mut tx` (it is a sqlx `Executor`) or `&mut *tx` (it
/// dereferences to the `PgConnection`). Behind a transaction pooler use
/// `&mut tx`: it makes every statement unnamed, which `&mut *tx` does not.
/// Queries need no tenant filter: a
/// forgotten `WHERE` still returns this tenant's rows only, and inserts get
/// the tenant column from its default. Dropping it without
/// [`commit`](Self::commit) rolls back.
///
/// ```no_run
/// # async fn example(shared: tenancy_sqlx::RlsPool, tenant: tenancy_sqlx::RegistryTenant) -> Result<(), Box<dyn std::error::Error>> {
/// let mut tx = shared.begin(&tenant).await?;
/// let count: i64 = sqlx::query_scalar("SELECT count(*) FROM items").fetch_one(&mut tx).await?;
/// sqlx::query("INSERT INTO items (name) VALUES ($1)").bind("pen").execute(&mut *tx).await?;
/// tx.commit().await?;
/// # let _ = count; Ok(()) }
/// ```
pub struct RlsTransaction<'c> {
    tx: PgTx<'c>,
    key: SharedKey,
    /// Behind a transaction pooler: every statement is unnamed.
    unnamed: bool,
}

impl<'c> RlsTransaction<'c> {
    pub(crate) fn new(tx: PgTx<'c>, key: SharedKey, unnamed: bool) -> Self {
        Self { tx, key, unnamed }
    }

    /// The tenant key the transaction is scoped to.
    pub fn key(&self) -> &SharedKey {
        &self.key
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    /// Rolls back.
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }

    /// Opens a savepoint. The role, the key and the `search_path` were set
    /// before it, so rolling back to it cannot undo the scoping.
    pub async fn savepoint(&mut self) -> Result<RlsTransaction<'_>, sqlx::Error> {
        let tx = PgTx::begin_on(&mut self.tx, None).await?;
        Ok(RlsTransaction {
            tx,
            key: self.key.clone(),
            unnamed: self.unnamed,
        })
    }
}

impl Deref for RlsTransaction<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl DerefMut for RlsTransaction<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

impl fmt::Debug for RlsTransaction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RlsTransaction")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl<'t> sqlx::Executor<'t> for &'t mut RlsTransaction<'_> {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> futures_util::stream::BoxStream<
        'e,
        Result<sqlx::Either<sqlx::postgres::PgQueryResult, sqlx::postgres::PgRow>, sqlx::Error>,
    >
    where
        't: 'e,
        E: 'q + sqlx::Execute<'q, Postgres>,
    {
        let query = Tagged::new(query, None).unnamed(self.unnamed);
        (&mut *self.tx).fetch_many(query)
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> futures_util::future::BoxFuture<'e, Result<Option<sqlx::postgres::PgRow>, sqlx::Error>>
    where
        't: 'e,
        E: 'q + sqlx::Execute<'q, Postgres>,
    {
        let query = Tagged::new(query, None).unnamed(self.unnamed);
        (&mut *self.tx).fetch_optional(query)
    }

    fn prepare_with<'e>(
        self,
        sql: sqlx::SqlStr,
        parameters: &'e [sqlx::postgres::PgTypeInfo],
    ) -> futures_util::future::BoxFuture<'e, Result<sqlx::postgres::PgStatement, sqlx::Error>>
    where
        't: 'e,
    {
        (&mut *self.tx).prepare_with(sql, parameters)
    }

    fn describe<'e>(
        self,
        sql: sqlx::SqlStr,
    ) -> futures_util::future::BoxFuture<'e, Result<sqlx::Describe<Postgres>, sqlx::Error>>
    where
        't: 'e,
    {
        (&mut *self.tx).describe(sql)
    }
}
