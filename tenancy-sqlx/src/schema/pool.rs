//! [`SchemaPool`]: schema-per-tenant access to one shared Postgres pool.

use std::fmt;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{AssertSqlSafe, Executor, PgConnection, PgPool, SqlSafeStr};
use tenancy_core::{TenancyError, TenantAccess};

use super::cache::StatementCache;
use super::manager::SpareTable;
use super::qualified::QualifiedSchema;
use super::session::TenantSession;
use super::transaction::TenantTransaction;

use crate::error::store_error;
use crate::ident::Ident;
use crate::postgres::tx::PgTx;
use crate::postgres::{PgConnections, Pooler};
use crate::storage::{SchemaName, SchemaNaming, TenantSchema};
use crate::tenant::RegistryTenant;

/// One shared pool, scoped per tenant schema.
///
/// - [`begin`](Self::begin) (the default) opens a transaction with the tenant's
///   `search_path` set for that transaction only — the same single round trip
///   as a plain `BEGIN`. Behind a transaction pooler (built from
///   [`PgConnections::pooled`]) its statements are unnamed, so it is safe with
///   PgBouncer in transaction mode.
/// - [`session`](Self::session) (opt-in) sets it for the session and resets it
///   on release, closing the connection if the reset fails. Not available
///   behind a transaction pooler.
///
/// A `begin` whose future is dropped before the server answered (a client
/// that disconnects at that moment) closes its connection rather than return
/// it with a transaction open. As a backstop for transactions that stay open
/// too long, see [`idle_in_transaction_timeout`](Self::idle_in_transaction_timeout).
///
/// The search path is the tenant schema, then any [shared
/// schemas](Self::shared_schemas), then `pg_temp` (so leftover temporary
/// tables cannot shadow tenant tables). Statements are cached per schema
/// ([`StatementCache::PerSchema`]) so tenants on different migration versions
/// can share the pool. Cheap to clone.
///
/// Session state other than the search path is *not* reset between
/// transactions: create temporary tables with `ON COMMIT DROP` and do not
/// declare `WITH HOLD` cursors in tenant code.
///
/// ```no_run
/// use sqlx::postgres::PgPoolOptions;
/// use tenancy_core::TenantId;
/// use tenancy_sqlx::SchemaPool;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = PgPoolOptions::new().max_connections(10).connect("postgres://localhost/app").await?;
/// let schemas = SchemaPool::new(pool);
/// let mut tx = schemas.begin(&TenantId::new("acme")?).await?;
/// let names: Vec<String> = sqlx::query_scalar("SELECT name FROM items").fetch_all(&mut tx).await?;
/// tx.commit().await?;
/// # let _ = names; Ok(()) }
/// ```
#[derive(Clone)]
pub struct SchemaPool {
    connections: PgConnections,
    config: Arc<Config>,
}

#[derive(Debug, Clone, Default)]
struct Config {
    naming: SchemaNaming,
    shared: Vec<Ident>,
    cache: StatementCache,
    idle_in_transaction: Option<std::time::Duration>,
    spares: SpareTable,
}

impl SchemaPool {
    /// Scopes `connections` (a [`PgPool`], or [`PgConnections`] through a
    /// pooler) with the default naming (`tenant_` prefix), no shared schemas
    /// and per-schema statement caching.
    pub fn new(connections: impl Into<PgConnections>) -> Self {
        Self {
            connections: connections.into(),
            config: Arc::new(Config::default()),
        }
    }

    /// Ends (server-side) a tenant transaction that stays idle longer than
    /// `timeout`, closing its connection: a backstop against transactions
    /// left open by application bugs. Sets Postgres'
    /// `idle_in_transaction_session_timeout` inside each transaction.
    #[must_use]
    pub fn idle_in_transaction_timeout(mut self, timeout: std::time::Duration) -> Self {
        Arc::make_mut(&mut self.config).idle_in_transaction = Some(timeout);
        self
    }

    /// Uses `naming` to map tenant ids to schemas.
    #[must_use]
    pub fn naming(mut self, naming: SchemaNaming) -> Self {
        Arc::make_mut(&mut self.config).naming = naming;
        self
    }

    /// The table listing [spare schemas](crate::schema::SchemaManager::replenish_spares)
    /// (default `tenancy.spare_schemas`, where [`PgRegistry`](crate::registry::PgRegistry)
    /// creates it).
    #[must_use]
    pub fn spares_table(mut self, schema: &Ident, table: &Ident) -> Self {
        Arc::make_mut(&mut self.config).spares = SpareTable::new(schema, table);
        self
    }

    /// Scopes `registry`'s connections with its schema naming and spare-schema
    /// table: the storage of a [`SchemaManager`](crate::schema::SchemaManager)
    /// over that registry.
    pub fn for_registry(registry: &crate::registry::PgRegistry) -> Self {
        let config = registry.config();
        Self::new(registry.connections().clone())
            .naming(config.naming.clone())
            .spares_table(config.schema_name(), config.spares())
    }

    /// The spare-schema table.
    pub(crate) fn spares(&self) -> &SpareTable {
        &self.config.spares
    }

    /// Appends shared schemas (e.g. where extensions live) after the tenant schema.
    ///
    /// Tables in them are visible to every tenant: keep tenant data out.
    #[must_use]
    pub fn shared_schemas(mut self, schemas: impl IntoIterator<Item = Ident>) -> Self {
        Arc::make_mut(&mut self.config).shared = schemas.into_iter().collect();
        self
    }

    /// Chooses how statements are cached (default [`StatementCache::PerSchema`]).
    #[must_use]
    pub fn statement_cache(mut self, cache: StatementCache) -> Self {
        Arc::make_mut(&mut self.config).cache = cache;
        self
    }

    /// The underlying pool (unscoped).
    pub fn pool(&self) -> &PgPool {
        self.connections.pool()
    }

    /// The connections, with their [`Pooler`] mode.
    pub fn connections(&self) -> &PgConnections {
        &self.connections
    }

    /// The schema naming.
    pub fn schema_naming(&self) -> &SchemaNaming {
        &self.config.naming
    }

    /// The schema of `tenant`.
    pub fn schema_of(&self, tenant: &impl TenantSchema) -> Result<SchemaName, TenancyError> {
        tenant.tenant_schema(&self.config.naming)
    }

    /// Begins a transaction in `tenant`'s schema on a pooled connection.
    ///
    /// One round trip (`BEGIN` and `set_config` in one simple query), like an
    /// unscoped `BEGIN`. Pool and connection failures are
    /// [`TenancyError::StoreUnavailable`].
    pub async fn begin(
        &self,
        tenant: &impl TenantSchema,
    ) -> Result<TenantTransaction<'static>, TenancyError> {
        let schema = self.schema_of(tenant)?;
        let begin = AssertSqlSafe(self.begin_statement(&schema)).into_sql_str();
        let tx = PgTx::begin(self.pool(), Some(begin))
            .await
            .map_err(store_error)?;
        Ok(self.transaction(tx, schema))
    }

    fn transaction<'c>(&self, tx: PgTx<'c>, schema: SchemaName) -> TenantTransaction<'c> {
        let pooled = self.connections.pooler().is_transaction();
        let tag = if pooled {
            None
        } else {
            self.config.cache.tag(&schema)
        };
        TenantTransaction::new(tx, schema, tag, pooled)
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
        Ok(self.transaction(tx, schema))
    }

    /// Statements qualified with `tenant`'s schema, for single statements on
    /// a hot path: no `search_path`, no transaction (see [`QualifiedSchema`]).
    ///
    /// Refused behind a transaction pooler, where a statement outside a
    /// transaction is not safe: use [`begin`](Self::begin) there.
    pub fn qualified(&self, tenant: &impl TenantSchema) -> Result<QualifiedSchema, TenancyError> {
        self.needs_session("SchemaPool::qualified")?;
        Ok(QualifiedSchema::new(self.schema_of(tenant)?))
    }

    /// Acquires a connection in session mode (see [`TenantSession`]).
    pub async fn session(&self, tenant: &impl TenantSchema) -> Result<TenantSession, TenancyError> {
        self.needs_session("SchemaPool::session")?;
        let schema = self.schema_of(tenant)?;
        let mut conn = self.pool().acquire().await.map_err(store_error)?;
        let set = format!(
            "SELECT pg_catalog.set_config('search_path', {}, false)",
            schema.search_path_literal(&self.config.shared)
        );
        if let Err(error) = conn.execute(AssertSqlSafe(set)).await {
            // The connection's state is unknown: do not return it to the pool.
            let _closed = conn.close().await;
            return Err(store_error(error));
        }
        let tag = self.config.cache.tag(&schema);
        Ok(TenantSession::new(conn, schema, tag))
    }

    /// The statement that begins a scoped transaction.
    pub(crate) fn begin_statement(&self, schema: &SchemaName) -> String {
        let mut statement = begin_statement(schema, &self.config.shared);
        if let Some(timeout) = self.config.idle_in_transaction {
            statement.push_str(&format!(
                ", pg_catalog.set_config('idle_in_transaction_session_timeout', '{}', true)",
                timeout.as_millis().max(1)
            ));
        }
        statement
    }
}

/// `BEGIN` plus a transaction-local `search_path`, as one simple query.
pub(crate) fn begin_statement(schema: &SchemaName, shared: &[Ident]) -> String {
    format!(
        "BEGIN; SELECT pg_catalog.set_config('search_path', {}, true)",
        schema.search_path_literal(shared)
    )
}

impl fmt::Debug for SchemaPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaPool")
            .field("naming", &self.config.naming)
            .field("shared", &self.config.shared)
            .field("cache", &self.config.cache)
            .field("pooler", &self.connections.pooler())
            .finish_non_exhaustive()
    }
}

impl TenantAccess for SchemaPool {
    type Tenant = RegistryTenant;
    type Handle = TenantTransaction<'static>;

    fn open<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
    ) -> BoxFuture<'a, Result<Self::Handle, TenancyError>> {
        self.begin(tenant).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn begin_statement_quotes_the_schema() {
        let schema = SchemaName::new("tenant_select").unwrap();
        assert_eq!(
            begin_statement(&schema, &[]),
            "BEGIN; SELECT pg_catalog.set_config('search_path', '\"tenant_select\", pg_temp', true)"
        );
    }
}
