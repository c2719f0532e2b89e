//! Scoping a connection to a tenant schema: a transaction ([`begin`](SchemaPool::begin),
//! [`begin_on`](SchemaPool::begin_on)), a session ([`session`](SchemaPool::session))
//! or qualified statements ([`qualified`](SchemaPool::qualified)), each with
//! the statement tagging of the pool's [`StatementCache`].

use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, Executor, PgConnection, Postgres, SqlSafeStr};
use tenancy_core::TenancyError;

use super::cache::{StatementCache, Tagging};
use super::pool::SchemaPool;
use super::qualified::QualifiedSchema;
use super::session::TenantSession;
use super::transaction::TenantTransaction;
use crate::error::store_error;
use crate::postgres::Pooler;
use crate::postgres::tx::PgTx;
use crate::storage::{SchemaName, TenantSchema};

impl SchemaPool {
    /// Begins a transaction in `tenant`'s schema on a pooled connection.
    ///
    /// One round trip (`BEGIN` and `set_config` in one simple query), like an
    /// unscoped `BEGIN`; the first time the process uses a schema, one more
    /// reads its migration version (see [`StatementCache::PerVersion`]). Pool
    /// and connection failures are [`TenancyError::StoreUnavailable`].
    pub async fn begin(
        &self,
        tenant: &impl TenantSchema,
    ) -> Result<TenantTransaction<'static>, TenancyError> {
        let schema = self.schema_of(tenant)?;
        let (conn, tagging) = self.acquire_tagged(&schema).await?;
        self.begin_tagged(conn, schema, tagging).await
    }

    /// Begins a transaction in a schema being created: its statements are
    /// its own (it has no version yet), and none is looked up.
    pub(crate) async fn begin_creating(
        &self,
        schema: &SchemaName,
    ) -> Result<TenantTransaction<'static>, TenancyError> {
        let conn = self.pool_for(schema).acquire().await.map_err(store_error)?;
        let tagging = self
            .fixed_tagging(schema)
            .unwrap_or_else(|| Tagging::schema(schema));
        self.begin_tagged(conn, schema.clone(), tagging).await
    }

    async fn begin_tagged(
        &self,
        conn: PoolConnection<Postgres>,
        schema: SchemaName,
        tagging: Tagging,
    ) -> Result<TenantTransaction<'static>, TenancyError> {
        let begin = AssertSqlSafe(self.begin_statement(&schema)).into_sql_str();
        let tx = PgTx::begin_pooled(conn, Some(begin))
            .await
            .map_err(store_error)?;
        let pooled = self.connections.pooler().is_transaction();
        Ok(TenantTransaction::new(tx, schema, tagging, pooled))
    }

    /// The tagging that needs no version: `None` when statements are
    /// tagged by the version read from each schema.
    fn fixed_tagging(&self, schema: &SchemaName) -> Option<Tagging> {
        if self.connections.pooler().is_transaction() {
            // Every statement is unnamed: nothing is cached to partition.
            return Some(Tagging::none());
        }
        match self.config.cache {
            StatementCache::Shared => Some(Tagging::none()),
            StatementCache::PerSchema => Some(Tagging::schema(schema)),
            StatementCache::PerVersion => None,
        }
    }

    /// The tagging of `schema`'s statements, or `None` when its version must
    /// be read first.
    fn known_tagging(&self, schema: &SchemaName) -> Option<Tagging> {
        self.fixed_tagging(schema).or_else(|| {
            let tag = self.config.versions.get(schema)?;
            Some(self.version_tagging(tag, schema))
        })
    }

    /// A connection of `schema`'s pool and the tagging of its statements
    /// there (its version read on that connection when not known yet).
    async fn acquire_tagged(
        &self,
        schema: &SchemaName,
    ) -> Result<(PoolConnection<Postgres>, Tagging), TenancyError> {
        let mut conn = self.pool_for(schema).acquire().await.map_err(store_error)?;
        let tagging = self.tagging_on(&mut conn, schema).await?;
        Ok((conn, tagging))
    }

    /// The tagging of `schema`'s statements, reading its version on `conn`
    /// (outside any transaction) when it is not known yet.
    async fn tagging_on(
        &self,
        conn: &mut PgConnection,
        schema: &SchemaName,
    ) -> Result<Tagging, TenancyError> {
        if let Some(tagging) = self.known_tagging(schema) {
            return Ok(tagging);
        }
        let config = &self.config;
        let tag = config
            .versions
            .load(conn, schema, &config.version_table, config.version_ttl)
            .await
            .map_err(store_error)?;
        Ok(self.version_tagging(tag, schema))
    }

    fn version_tagging(&self, tag: std::sync::Arc<str>, schema: &SchemaName) -> Tagging {
        Tagging::version(tag, &self.config.versions, schema, self.config.version_ttl)
    }

    /// Refuses what needs session state behind a transaction pooler.
    fn needs_session(&self, what: &str) -> Result<(), TenancyError> {
        match self.connections.pooler() {
            Pooler::Direct => Ok(()),
            Pooler::Transaction => Err(TenancyError::Configuration {
                message: format!(
                    "{what} is not available behind a transaction pooler: use SchemaPool::begin"
                ),
            }),
        }
    }

    /// Begins a transaction in `tenant`'s schema on a connection you hold.
    pub async fn begin_on<'c>(
        &self,
        conn: &'c mut PgConnection,
        tenant: &impl TenantSchema,
    ) -> Result<TenantTransaction<'c>, TenancyError> {
        let schema = self.schema_of(tenant)?;
        let begin = AssertSqlSafe(self.begin_statement(&schema)).into_sql_str();
        let tx = PgTx::begin_on(conn, Some(begin))
            .await
            .map_err(store_error)?;
        // No look-up here: the caller's connection may be inside a transaction.
        let tagging = self
            .known_tagging(&schema)
            .unwrap_or_else(|| Tagging::schema(&schema));
        let pooled = self.connections.pooler().is_transaction();
        Ok(TenantTransaction::new(tx, schema, tagging, pooled))
    }

    /// Statements qualified with `tenant`'s schema, for single statements on
    /// a hot path: no `search_path`, no transaction (see [`QualifiedSchema`]).
    ///
    /// Refused behind a transaction pooler, where a statement outside a
    /// transaction is not safe: use [`begin`](Self::begin) there.
    pub fn qualified(&self, tenant: &impl TenantSchema) -> Result<QualifiedSchema, TenancyError> {
        self.needs_session("SchemaPool::qualified")?;
        let schema = self.schema_of(tenant)?;
        let hot = self.config.hot.touch(&schema);
        let pool = self.pool_for(&schema).clone();
        Ok(QualifiedSchema::new(schema, hot, pool))
    }

    /// Acquires a connection in session mode (see [`TenantSession`]).
    pub async fn session(&self, tenant: &impl TenantSchema) -> Result<TenantSession, TenancyError> {
        self.needs_session("SchemaPool::session")?;
        let schema = self.schema_of(tenant)?;
        let (mut conn, tagging) = self.acquire_tagged(&schema).await?;
        let set = format!(
            "SELECT pg_catalog.set_config('search_path', {}, false)",
            schema.search_path_literal(&self.config.shared)
        );
        if let Err(error) = conn.execute(AssertSqlSafe(set)).await {
            // The connection's state is unknown: do not return it to the pool.
            let _closed = conn.close().await;
            return Err(store_error(error));
        }
        Ok(TenantSession::new(conn, schema, tagging))
    }
}
