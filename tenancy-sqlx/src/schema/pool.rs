//! [`SchemaPool`]: schema-per-tenant access to one shared Postgres pool.

use std::fmt;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{AssertSqlSafe, Executor, PgConnection, PgPool, SqlSafeStr};
use tenancy_core::{TenancyError, TenantAccess};

use super::affinity::Partitions;
use super::cache::{StatementCache, Tagging};
use super::hot::{DEFAULT_HOT_SCHEMAS, HotSchemas};
use super::manager::SpareTable;
use super::qualified::QualifiedSchema;
use super::session::TenantSession;
use super::transaction::TenantTransaction;
use super::versions::{self, Versions};

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
/// tables cannot shadow tenant tables). Tenants on one migration version share
/// cached statements, tenants on different versions do not
/// ([`StatementCache::PerVersion`]), so the pool serves any mix of versions
/// and its statement cache does not grow with the number of tenants. Cheap
/// to clone.
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
    partitions: Partitions,
}

#[derive(Clone)]
struct Config {
    naming: SchemaNaming,
    shared: Vec<Ident>,
    cache: StatementCache,
    idle_in_transaction: Option<std::time::Duration>,
    spares: SpareTable,
    versions: Versions,
    version_table: Ident,
    version_ttl: std::time::Duration,
    hot: HotSchemas,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            naming: SchemaNaming::default(),
            shared: Vec::new(),
            cache: StatementCache::default(),
            idle_in_transaction: None,
            spares: SpareTable::default(),
            versions: Versions::default(),
            version_table: crate::migrate::default_history_table(),
            version_ttl: versions::DEFAULT_TTL,
            hot: HotSchemas::new(DEFAULT_HOT_SCHEMAS),
        }
    }
}

impl SchemaPool {
    /// Scopes `connections` (a [`PgPool`], or [`PgConnections`] through a
    /// pooler) with the default naming (`tenant_` prefix), no shared schemas
    /// and per-schema statement caching.
    pub fn new(connections: impl Into<PgConnections>) -> Self {
        Self {
            connections: connections.into(),
            config: Arc::new(Config::default()),
            partitions: Partitions::default(),
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

    /// Chooses how statements are cached (default [`StatementCache::PerVersion`]).
    #[must_use]
    pub fn statement_cache(mut self, cache: StatementCache) -> Self {
        Arc::make_mut(&mut self.config).cache = cache;
        self
    }

    /// The table in each tenant schema that records its applied migrations,
    /// read for [`StatementCache::PerVersion`] (default `_sqlx_migrations`,
    /// as [`TenantMigrations`](crate::TenantMigrations) writes it; set the
    /// same table as [`TenantMigrations::history_table`](crate::TenantMigrations::history_table)).
    #[must_use]
    pub fn version_table(mut self, table: Ident) -> Self {
        Arc::make_mut(&mut self.config).version_table = table;
        self
    }

    /// How long a schema's migration version, once read, is trusted (default
    /// 10 minutes): the longest another process's migration of a schema can
    /// go unnoticed (see [`StatementCache::PerVersion`]). Migrations through
    /// this pool are seen at once.
    #[must_use]
    pub fn version_ttl(mut self, ttl: std::time::Duration) -> Self {
        Arc::make_mut(&mut self.config).version_ttl = ttl;
        self
    }

    /// How many schemas' [qualified](Self::qualified) statements are
    /// prepared and cached (default 100, sqlx's per-connection statement
    /// cache capacity): the schemas used most often lately. Statements of
    /// other schemas run unnamed. Set it to the statement cache capacity
    /// divided by the number of distinct qualified statements per tenant.
    #[must_use]
    pub fn hot_schemas(mut self, schemas: usize) -> Self {
        Arc::make_mut(&mut self.config).hot = HotSchemas::new(schemas);
        self
    }

    /// Serves each tenant schema from one of `partitions` sub-pools (chosen
    /// by a hash of the schema name), dividing the pool's connections between
    /// them; 1 turns it off (the default).
    ///
    /// Postgres keeps per-connection catalog caches for every schema a
    /// connection has touched and never shrinks them: with thousands of
    /// tenants, every connection of an unpartitioned pool ends up holding all
    /// of them. With `partitions` equal to the pool size, each connection
    /// serves `1 / partitions` of the schemas, which bounds Postgres' memory
    /// and keeps the caches warm. The cost: a tenant can only use its
    /// partition's connections, so a burst in one tenant waits for those
    /// while others may be idle, and a tenant's slow queries delay its
    /// partition-mates. Ignored behind a transaction pooler (which chooses
    /// the server connections itself). Unscoped work ([`pool`](Self::pool),
    /// renames, drops) keeps the pool itself.
    #[must_use]
    pub fn affinity(mut self, partitions: usize) -> Self {
        self.partitions = if self.connections.pooler().is_transaction() {
            Partitions::default()
        } else {
            Partitions::new(self.connections.pool(), partitions)
        };
        self
    }

    /// The pool serving `schema` (its partition with [`affinity`](Self::affinity)).
    pub(crate) fn pool_for(&self, schema: &SchemaName) -> &PgPool {
        self.partitions.pool_for(self.connections.pool(), schema)
    }

    /// Forgets what is known of `schema`'s migration version (after it was
    /// migrated, renamed or dropped): the next scoped connection reads it again.
    pub(crate) fn forget_version(&self, schema: &SchemaName) {
        self.config.versions.forget(schema);
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
    /// unscoped `BEGIN`; the first time the process uses a schema, one more
    /// reads its migration version (see [`StatementCache::PerVersion`]). Pool
    /// and connection failures are [`TenancyError::StoreUnavailable`].
    pub async fn begin(
        &self,
        tenant: &impl TenantSchema,
    ) -> Result<TenantTransaction<'static>, TenancyError> {
        let schema = self.schema_of(tenant)?;
        let pool = self.pool_for(&schema);
        let mut conn = pool.acquire().await.map_err(store_error)?;
        let tagging = match self.known_tagging(&schema) {
            Some(tagging) => tagging,
            None => self.read_tagging(&mut conn, &schema).await?,
        };
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
            .known_tagging(schema)
            .filter(|_| !self.reads_versions())
            .unwrap_or_else(|| Tagging::schema(schema));
        self.begin_tagged(conn, schema.clone(), tagging).await
    }

    async fn begin_tagged(
        &self,
        conn: sqlx::pool::PoolConnection<sqlx::Postgres>,
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

    /// Whether statements are tagged by the version read from each schema.
    fn reads_versions(&self) -> bool {
        self.config.cache == StatementCache::PerVersion
            && !self.connections.pooler().is_transaction()
    }

    /// The tagging of `schema`'s statements, or `None` when its version must
    /// be read first.
    fn known_tagging(&self, schema: &SchemaName) -> Option<Tagging> {
        if self.connections.pooler().is_transaction() {
            // Every statement is unnamed: nothing is cached to partition.
            return Some(Tagging::none());
        }
        let config = &self.config;
        match config.cache {
            StatementCache::Shared => Some(Tagging::none()),
            StatementCache::PerSchema => Some(Tagging::schema(schema)),
            StatementCache::PerVersion => {
                let tag = config.versions.get(schema)?;
                Some(Tagging::version(
                    tag,
                    &config.versions,
                    schema,
                    config.version_ttl,
                ))
            }
        }
    }

    /// Reads `schema`'s version on `conn` (outside any transaction).
    async fn read_tagging(
        &self,
        conn: &mut PgConnection,
        schema: &SchemaName,
    ) -> Result<Tagging, TenancyError> {
        let config = &self.config;
        let tag = config
            .versions
            .load(conn, schema, &config.version_table, config.version_ttl)
            .await
            .map_err(store_error)?;
        Ok(Tagging::version(
            tag,
            &config.versions,
            schema,
            config.version_ttl,
        ))
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
        let mut conn = self
            .pool_for(&schema)
            .acquire()
            .await
            .map_err(store_error)?;
        let tagging = match self.known_tagging(&schema) {
            Some(tagging) => tagging,
            None => self.read_tagging(&mut conn, &schema).await?,
        };
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
            .field("version_table", &self.config.version_table)
            .field("pooler", &self.connections.pooler())
            .field("partitions", &self.partitions.count())
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
