//! Builds the app from its [`Config`]: registry, isolation mode and its
//! manager, wired by `TenantManager::gate` (cache, change listener,
//! tenancy pipeline), seed.

use std::sync::Arc;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use tenancy_core::{
    BoxError, CacheBuilder, CachedStore, ChainResolver, Gate, HeaderResolver, PathPrefixResolver,
    SubdomainResolver, TenancyError,
};
use tenancy_sqlx::database::{
    DatabaseUrlTemplate, MySqlDatabases, PgDatabases, PoolConfig, SqliteDatabases, UrlBackend,
    maintenance_url,
};
use tenancy_sqlx::lifecycle::StorageMode;
use tenancy_sqlx::postgres::{PgConnections, Pooler};
use tenancy_sqlx::registry::MySqlRegistry;
use tenancy_sqlx::shared::keyed::{
    MySqlSharedManager, MySqlSharedPool, SqliteSharedManager, SqliteSharedPool,
};
use tenancy_sqlx::shared::rls::RlsManager;
use tenancy_sqlx::{
    AnyRegistry, DatabaseManager, Ident, PgRegistry, RegistryConfig, RegistryTenant, RlsPool,
    SchemaManager, SchemaPool, TenantLifecycle, TenantManager, TenantPools,
};

use super::admin::LifecycleAdmin;
use super::backends::{
    MySqlDatabaseItems, MySqlKeyedItems, PgDatabaseItems, RlsItems, SchemaItems,
    SqliteDatabaseItems, SqliteKeyedItems, migrations,
};
use super::config::{Backend, Config, ConfigError, Isolation, Seed};
use super::seed::seed;
use super::service::AppState;
use super::storage::ItemsStore;

/// Connections of the registry pool (and of the schema / shared-mode pools,
/// which share it).
pub const POOL_SIZE: u32 = 10;

/// The longest a request waits for a database connection, opening one
/// included, before it fails with `503 StoreUnavailable`: on the registry
/// pool (which the schema and shared modes use for tenant data too) and on
/// the tenant pools of the database mode.
///
/// While a database is down, a storage route waits on at most two pools in
/// a row (the registry, when the tenant's cache entry has just expired and
/// the cache tries the store before serving it stale, then the pool holding
/// the items), so 2 s keeps the answer within the contract's 5 s. sqlx
/// retries a refused connection until this deadline, so when the database is
/// back a waiting request gets through at once.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long start-up waits for the registry database to accept a connection
/// (e.g. a server still starting) before giving up with the last error.
const STARTUP_WAIT: Duration = Duration::from_secs(10);

/// The store behind the app's tenancy pipeline.
pub type AppStore = Arc<CachedStore<AnyRegistry>>;

/// A built app: its state, plus what must live as long as it.
pub struct App {
    /// What the handlers share.
    pub state: Arc<AppState<AppStore>>,
    /// The backend and mode, for the start-up log.
    pub description: String,
    /// The mode's wiring (cache subscribed to the registry; on Postgres the
    /// cross-process listener), kept alive with the app.
    _gate: Gate<AppStore>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// Connects everything `config` names and seeds the demo tenants when asked
/// (by default: when the registry is empty).
pub async fn build(config: &Config) -> Result<App, BoxError> {
    let backend = config.backend()?;
    let isolation = config.isolation()?;
    let registry = match config.direct_url()? {
        Some(direct) => AnyRegistry::Postgres(
            pooled_registry(&config.database_url, direct, pg_pool_options(config)).await?,
        ),
        None => {
            let url = registry_url(&config.database_url, backend);
            connect_registry(&url, backend, pg_pool_options(config)).await?
        }
    };
    let (lifecycle, items, gate) = isolation_mode(config, &registry, backend, isolation).await?;
    let admin = LifecycleAdmin::new(Arc::clone(&lifecycle));
    let should_seed = match config.seed {
        Some(Seed::Yes) => true,
        Some(Seed::No) => false,
        None => lifecycle.registry().list().await?.is_empty(),
    };
    if should_seed {
        let created = seed(&admin, items.as_ref()).await?;
        tracing::info!(created, "seeded the demo tenants");
    }

    let state = AppState {
        tenancy: Arc::clone(gate.tenancy()),
        items,
        admin: Arc::new(admin),
        admin_token: config.admin_token().map(str::to_owned),
    };
    let description = format!("{backend:?} registry, {isolation:?} isolation");
    Ok(App {
        state: Arc::new(state),
        description,
        _gate: gate,
    })
}

/// The app's tenant lifecycle alone (its registry, isolation mode and
/// compiled migrations, no demo tenants seeded): what `items-admin` drives.
pub async fn lifecycle(config: &Config) -> Result<Arc<dyn TenantLifecycle>, BoxError> {
    let backend = config.backend()?;
    let isolation = config.isolation()?;
    // Administration talks to the database directly, never through a pooler.
    let url = registry_url(
        config.direct_url()?.unwrap_or(&config.database_url),
        backend,
    );
    let registry = connect_registry(&url, backend, pg_pool_options(config)).await?;
    let (lifecycle, _items, _gate) = isolation_mode(config, &registry, backend, isolation).await?;
    Ok(lifecycle)
}

/// A Postgres registry whose traffic goes through the transaction pooler at
/// `pooled`, with `direct` for LISTEN/NOTIFY and migrations.
async fn pooled_registry(
    pooled: &str,
    direct: &str,
    traffic: PgPoolOptions,
) -> Result<PgRegistry, BoxError> {
    let pooled = Pooler::Transaction.connect_options(pooled)?;
    let direct: PgConnectOptions = direct.parse()?;
    wait_reachable::<sqlx::PgConnection>(&pooled).await?;
    wait_reachable::<sqlx::PgConnection>(&direct).await?;
    let traffic = traffic.connect_lazy_with(pooled);
    let direct = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(direct);
    let connections = PgConnections::pooled(traffic).with_direct(direct);
    Ok(PgRegistry::connect(connections, RegistryConfig::default()).await?)
}

/// The options of the app's Postgres pool: [`POOL_SIZE`] connections, an
/// acquire that gives up after [`ACQUIRE_TIMEOUT`], and the configured
/// connection lifetime. Schema mode's affinity sub-pools inherit them.
fn pg_pool_options(config: &Config) -> PgPoolOptions {
    let options = PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(ACQUIRE_TIMEOUT);
    match config.connection_lifetime() {
        Some(lifetime) => options.max_lifetime(lifetime),
        None => options,
    }
}

/// The registry at `url` (no pooler in between); on Postgres on a pool with
/// `pg_options`, elsewhere on [`POOL_SIZE`] connections that give up after
/// [`ACQUIRE_TIMEOUT`].
async fn connect_registry(
    url: &str,
    backend: Backend,
    pg_options: PgPoolOptions,
) -> Result<AnyRegistry, BoxError> {
    Ok(match backend {
        Backend::Postgres => {
            let options: PgConnectOptions = url.parse()?;
            wait_reachable::<sqlx::PgConnection>(&options).await?;
            let pool = pg_options.connect_lazy_with(options);
            AnyRegistry::Postgres(PgRegistry::connect(pool, RegistryConfig::default()).await?)
        }
        Backend::MySql => {
            let options: MySqlConnectOptions = url.replacen("mariadb:", "mysql:", 1).parse()?;
            wait_reachable::<sqlx::MySqlConnection>(&options).await?;
            let pool = MySqlPoolOptions::new()
                .max_connections(POOL_SIZE)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_lazy_with(options);
            AnyRegistry::MySql(MySqlRegistry::connect(pool, RegistryConfig::default()).await?)
        }
        // A local file: no server to be down.
        Backend::Sqlite => AnyRegistry::connect_with(url, POOL_SIZE).await?,
    })
}

/// Waits until the database of `options` accepts a connection, for at most
/// [`STARTUP_WAIT`], retrying while it is unreachable (a server starting up).
/// An unreachable database is reported with its cause (e.g. "connection
/// refused"), which a pool would hide behind "pool timed out".
async fn wait_reachable<C: Connection>(options: &C::Options) -> Result<(), TenancyError> {
    let deadline = tokio::time::Instant::now() + STARTUP_WAIT;
    let mut pause = Duration::from_millis(50);
    loop {
        let error = match tokio::time::timeout_at(deadline, options.connect()).await {
            Ok(Ok(conn)) => {
                let _closed = conn.close().await;
                return Ok(());
            }
            Ok(Err(error)) => error,
            Err(_) => {
                return Err(TenancyError::unavailable(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no connection to the registry database within {STARTUP_WAIT:?}"),
                )));
            }
        };
        if !tenancy_sqlx::is_unavailable(&error) || tokio::time::Instant::now() + pause >= deadline
        {
            return Err(if tenancy_sqlx::is_unavailable(&error) {
                TenancyError::unavailable(error)
            } else {
                TenancyError::storage(error)
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// Schema mode: how many tenants' qualified statements are prepared (the
/// statement cache's 2,048 entries over the 4 statements of a tenant); the
/// statements of other tenants run unnamed.
const HOT_SCHEMAS: usize = 500;

/// The registry URL; on Postgres with room in each connection's statement
/// cache for the hot tenants' statements (schema mode prepares them per
/// schema), unless the URL sets `statement-cache-capacity` itself.
fn registry_url(url: &str, backend: Backend) -> String {
    if backend != Backend::Postgres || url.contains("statement-cache-capacity") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}statement-cache-capacity=2048")
}

/// The resolver chain: host (custom domain, else subdomain), then the path
/// prefix, then the header, as configured.
fn resolver(config: &Config) -> Result<ChainResolver, BoxError> {
    let mut chain = ChainResolver::new()
        .with(SubdomainResolver::new(&config.base_domains)?.with_custom_domains());
    if let Some(prefix) = config.path_prefix() {
        chain.push(PathPrefixResolver::new(prefix)?);
    }
    if let Some(header) = config.header() {
        chain.push(HeaderResolver::new(header)?);
    }
    Ok(chain)
}

type Mode = (
    Arc<dyn TenantLifecycle>,
    Arc<dyn ItemsStore>,
    Gate<AppStore>,
);

/// The cache in front of the registry. Other processes' changes arrive by
/// NOTIFY on Postgres and through the polled change log elsewhere. While the
/// registry is down, tenants already cached keep resolving for `stale_for`,
/// the store being retried every `retry_after`.
fn cache() -> CacheBuilder {
    CacheBuilder::new()
        .ttl(CACHE_TTL)
        .capacity(CACHE_CAPACITY)
        .negative_ttl(Duration::from_secs(2))
        .stale_for(Duration::from_secs(5 * 60))
        .retry_after(Duration::from_secs(1))
}

/// How many tenants the cache keeps: room for 10,000 tenants by id and by
/// domain, and more.
const CACHE_CAPACITY: usize = 100_000;

/// How long a cached tenant is trusted: a safety net only. Every change
/// reaches the cache at once in this process and, in the others, at once on
/// PostgreSQL (`LISTEN/NOTIFY`, and a reconnecting listener empties the
/// cache) and within the change log's poll interval (250 ms) on MariaDB and
/// SQLite. A short lifetime would cost a registry query per tenant per
/// lifetime: 2,000 a second with 10,000 tenants and 5 s.
const CACHE_TTL: Duration = Duration::from_secs(60);

/// The manager, its items store and its gate (the manager's one-call wiring:
/// the resolver, the cache subscribed to the registry, the listener).
fn wired<S>(
    config: &Config,
    manager: TenantManager<S, AnyRegistry>,
    items: Arc<dyn ItemsStore>,
) -> Result<Mode, BoxError>
where
    S: StorageMode + tenancy_core::RequestAccess<Tenant = RegistryTenant>,
{
    let gate = manager.gate(resolver(config)?, cache());
    Ok((Arc::new(manager), items, gate))
}

/// The lifecycle manager and the items store of one isolation mode.
async fn isolation_mode(
    config: &Config,
    registry: &AnyRegistry,
    backend: Backend,
    isolation: Isolation,
) -> Result<Mode, BoxError> {
    let migrations = migrations(backend, isolation)?;
    let items_table = || Ident::new("items");
    let mode: Mode = match (registry, isolation) {
        (AnyRegistry::Postgres(pg), Isolation::Schema) => {
            let schemas = SchemaPool::for_registry(pg)
                .hot_schemas(HOT_SCHEMAS)
                .affinity(config.schema_affinity as usize);
            let manager = SchemaManager::new(registry.clone(), schemas, migrations);
            let items = SchemaItems::new(manager.schemas().clone());
            wired(config, manager, Arc::new(items))?
        }
        (AnyRegistry::Postgres(pg), Isolation::Shared) => {
            let rls = RlsPool::new(pg.connections().clone()).tables([items_table()?]);
            let manager = RlsManager::new(registry.clone(), rls.clone(), migrations);
            // Role, migrations, protection, then the audit: refuses to start
            // if tenant queries could bypass row-level security.
            manager.setup().await?;
            wired(config, manager, Arc::new(RlsItems::new(rls)))?
        }
        (AnyRegistry::MySql(mysql), Isolation::Shared) => {
            let shared = MySqlSharedPool::new(mysql.pool().clone()).tables([items_table()?]);
            let manager = MySqlSharedManager::new(registry.clone(), shared.clone(), migrations);
            manager.setup().await?;
            wired(config, manager, Arc::new(MySqlKeyedItems::new(shared)))?
        }
        (AnyRegistry::Sqlite(sqlite), Isolation::Shared) => {
            let shared = SqliteSharedPool::new(sqlite.pool().clone()).tables([items_table()?]);
            let manager = SqliteSharedManager::new(registry.clone(), shared.clone(), migrations);
            manager.setup().await?;
            wired(config, manager, Arc::new(SqliteKeyedItems::new(shared)))?
        }
        (_, Isolation::Database) => {
            let template = tenant_template(config, backend)?;
            // Every idle connection is pinged before reuse (as sqlx's own
            // pools do): after a database restart the pooled connections are
            // dead, and a request reusing one unpinged fails, hands it back
            // and fails the next request again, past the outage.
            let pools = PoolConfig::new()
                .max_connections(20)
                .max_connections_per_tenant(5)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .test_after_idle(Duration::ZERO);
            let default = Ident::new("default")?;
            match backend {
                Backend::Postgres => {
                    let tenant_server = template.server_url()?;
                    let direct = config.direct_url()?;
                    // Behind a pooler: traffic through it, administration direct.
                    let server = match direct {
                        Some(direct) => maintenance_url(direct)?,
                        None => tenant_server.clone(),
                    };
                    let mut databases = PgDatabases::new(default.clone(), server.parse()?)
                        .naming(template.naming()?);
                    if direct.is_some() {
                        databases = databases.through_pooler(default, tenant_server.parse()?);
                    }
                    let pools = TenantPools::new(databases, pools);
                    let manager = DatabaseManager::new(registry.clone(), pools, migrations);
                    let items = if direct.is_some() {
                        PgDatabaseItems::through_pooler(manager.pools().clone())
                    } else {
                        PgDatabaseItems::new(manager.pools().clone())
                    };
                    wired(config, manager, Arc::new(items))?
                }
                Backend::MySql => {
                    let databases = MySqlDatabases::new(default, template.server_url()?.parse()?)
                        .naming(template.naming()?);
                    let pools = TenantPools::new(databases, pools);
                    let manager = DatabaseManager::new(registry.clone(), pools, migrations);
                    let items = MySqlDatabaseItems::new(manager.pools().clone());
                    wired(config, manager, Arc::new(items))?
                }
                Backend::Sqlite => {
                    let databases =
                        SqliteDatabases::new(template.directory()?)?.naming(template.naming()?);
                    let pools = TenantPools::new(databases, pools);
                    let manager = DatabaseManager::new(registry.clone(), pools, migrations);
                    let items = SqliteDatabaseItems::new(manager.pools().clone());
                    wired(config, manager, Arc::new(items))?
                }
            }
        }
        (_, Isolation::Schema) => {
            return Err(ConfigError::new("schema isolation needs a PostgreSQL registry").into());
        }
        _ => {
            return Err(
                ConfigError::new("this build does not support the configured backend").into(),
            );
        }
    };
    Ok(mode)
}

/// `TENANCY_TENANT_DATABASE_URL` (default: beside the registry database):
/// where tenant databases live, on the registry's backend.
fn tenant_template(config: &Config, backend: Backend) -> Result<DatabaseUrlTemplate, BoxError> {
    let template = DatabaseUrlTemplate::explicit_or_beside(
        config.tenant_database_url.as_deref(),
        &config.database_url,
    )
    .map_err(|error| ConfigError::new(format!("TENANCY_TENANT_DATABASE_URL: {error}")))?;
    if UrlBackend::of(&config.database_url) != Some(template.backend()) {
        return Err(ConfigError::new(format!(
            "TENANCY_TENANT_DATABASE_URL {template}: tenant databases must be on the registry's backend ({backend:?})"
        ))
        .into());
    }
    Ok(template)
}
