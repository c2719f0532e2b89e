//! [`SchemaPool`]: schema-per-tenant access to one shared Postgres pool.

use std::fmt;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::PgPool;
use tenancy_core::{TenancyError, TenantAccess};

use super::affinity::Partitions;
use super::cache::StatementCache;
use super::hot::{DEFAULT_HOT_SCHEMAS, HotSchemas};
use super::manager::SpareTable;
use super::transaction::TenantTransaction;
use super::versions::{self, Versions};

use crate::ident::Ident;
use crate::postgres::PgConnections;
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
    pub(super) connections: PgConnections,
    pub(super) config: Arc<Config>,
    partitions: Partitions,
}

#[derive(Clone)]
pub(super) struct Config {
    pub(super) naming: SchemaNaming,
    pub(super) shared: Vec<Ident>,
    pub(super) cache: StatementCache,
    pub(super) idle_in_transaction: Option<std::time::Duration>,
    pub(super) spares: SpareTable,
    pub(super) versions: Versions,
    pub(super) version_table: Ident,
    pub(super) version_ttl: std::time::Duration,
    pub(super) hot: HotSchemas,
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
        let config = Arc::make_mut(&mut self.config);
        config.version_table = table;
        // Versions read from another table do not count.
        config.versions = Versions::default();
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

    /// Forgets every schema's migration version (changes may have been missed).
    pub(crate) fn forget_all_versions(&self) {
        self.config.versions.forget_all();
    }

    /// The underlying pool (unscoped).
    pub fn pool(&self) -> &PgPool {
        self.connections.pool()
    }

    /// The connections, with their [`Pooler`](crate::postgres::Pooler) mode.
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
