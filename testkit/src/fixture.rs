//! The database, tenants and pipeline every database case starts from.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tenancy_core::{
    BoxFuture, CachedStore, ChainResolver, HeaderResolver, SubdomainResolver, Tenancy,
    TenancyError, TenantId,
};
use tenancy_sqlx::postgres::PgConnections;
use tenancy_sqlx::{
    NewTenant, PgRegistry, RegistryConfig, RegistryTenant, SchemaManager, SchemaPool, TenantAccess,
    TenantMigrations,
};

use crate::pg::{TestDb, Via};

/// The store the adapters run against: a cache in front of the Postgres registry.
pub type Store = Arc<CachedStore<PgRegistry>>;

/// A second, deliberately simple [`TenantAccess`], shaped like database mode:
/// one pool per tenant (here: pools on the test database whose connections
/// have the tenant's schema as `search_path`). `open` fails with
/// `StoreUnavailable` while [`set_failing`](Self::set_failing), and with
/// `Configuration` for a tenant without a pool.
#[derive(Debug, Clone, Default)]
pub struct PoolPerTenant {
    pools: Arc<RwLock<HashMap<TenantId, PgPool>>>,
    failing: Arc<AtomicBool>,
}

impl PoolPerTenant {
    /// Gives `tenant` the pool `pool`.
    pub fn insert(&self, tenant: TenantId, pool: PgPool) {
        self.pools
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(tenant, pool);
    }

    /// Makes every `open` fail with `StoreUnavailable` (`true`) or not.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

impl TenantAccess for PoolPerTenant {
    type Tenant = RegistryTenant;
    type Handle = PgPool;

    fn open<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
    ) -> BoxFuture<'a, Result<PgPool, TenancyError>> {
        Box::pin(async move {
            if self.failing.load(Ordering::SeqCst) {
                return Err(TenancyError::unavailable(std::io::Error::other(
                    "secret-dsn: connection refused",
                )));
            }
            let pools = self.pools.read().unwrap_or_else(PoisonError::into_inner);
            pools
                .get(tenant.id())
                .cloned()
                .ok_or_else(|| TenancyError::Configuration {
                    message: format!("no pool for tenant `{}`", tenant.id()),
                })
        })
    }
}

/// What a harness builds its test app from (see [the crate docs](crate#the-test-app)).
#[derive(Debug, Clone)]
pub struct DbSetup {
    /// The tenancy the adapter resolves with.
    pub tenancy: Arc<Tenancy<Store>>,
    /// The access object of `TenantDb<SchemaPool>`; `None` leaves it out.
    pub schemas: Option<SchemaPool>,
    /// The access object of `TenantDb<PoolPerTenant>`.
    pub pools: PoolPerTenant,
    /// Whether the adapter wraps the app at all.
    pub layer: bool,
    /// Whether errors render with the text renderer instead of JSON.
    pub text_errors: bool,
}

/// One test's database: the registry, the manager, `acme` (3 items) and
/// `globex` (2 items), resolved by subdomain of `localhost` and by the
/// header `X-Tenant-ID`. The registry, the manager and every `SchemaPool`
/// reach Postgres the case's way ([`Via`]): through PgBouncer, with pools
/// built by `Pooler::Transaction` and a direct pool for `LISTEN` and
/// migrations. The pools of [`PoolPerTenant`] stay direct either way: their
/// `search_path` is a startup parameter, which PgBouncer does not carry.
#[derive(Debug)]
pub struct DbFixture {
    /// How the registry, the manager and every `SchemaPool` reach Postgres.
    pub via: Via,
    /// The manager that created the tenants.
    pub manager: SchemaManager,
    /// The tenancy of [`setup`](Self::setup).
    pub tenancy: Arc<Tenancy<Store>>,
    /// The access object of `TenantDb<PoolPerTenant>`, with a pool for `acme` and `globex`.
    pub pools: PoolPerTenant,
    /// The tenant `acme`, with 3 items.
    pub acme: RegistryTenant,
    /// The tenant `globex`, with 2 items.
    pub globex: RegistryTenant,
    /// The test database. Last: dropped after the pools above.
    pub db: TestDb,
}

/// The tenant id `id`; panics when it is not a valid one.
pub fn id(id: &str) -> TenantId {
    TenantId::new(id).unwrap()
}

impl DbFixture {
    /// A fresh database with `acme` and `globex`, reached `via`.
    pub async fn new(via: Via) -> Self {
        let db = TestDb::new().await;
        let registry = PgRegistry::connect(db.connections(via, 8).await, RegistryConfig::default())
            .await
            .unwrap();
        let migrations = TenantMigrations::from_sql([(
            1,
            "items",
            "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
             tenant text NOT NULL, name text NOT NULL)",
        )])
        .unwrap();
        let manager = SchemaManager::new(
            registry.clone(),
            SchemaPool::for_registry(&registry),
            migrations,
        );
        let cache: Store = Arc::new(CachedStore::new(registry.clone()));
        registry.subscribe(cache.clone());
        let resolver = ChainResolver::new()
            .with(SubdomainResolver::new(["localhost"]).unwrap())
            .with(HeaderResolver::new("X-Tenant-ID").unwrap());
        let tenancy = Arc::new(Tenancy::new(resolver, cache));
        let fixture = Self {
            via,
            acme: create(&manager, "acme", "Acme Corp", 3).await,
            globex: create(&manager, "globex", "Globex", 2).await,
            manager,
            tenancy,
            pools: PoolPerTenant::default(),
            db,
        };
        for tenant in [fixture.acme.clone(), fixture.globex.clone()] {
            fixture.add_pool(&tenant).await;
        }
        fixture
    }

    /// Gives `tenant` a pool of its own in [`PoolPerTenant`].
    pub async fn add_pool(&self, tenant: &RegistryTenant) {
        let schema = tenant.schema().unwrap().as_str().to_owned();
        let options = self.db.options.clone().options([("search_path", schema)]);
        self.pools
            .insert(tenant.id().clone(), self.db.pool_with(options, 2).await);
    }

    /// A scoped pool of its own on the test database, reached like the
    /// fixture's, with `max_connections` connections.
    pub async fn schema_pool(&self, max_connections: u32) -> SchemaPool {
        SchemaPool::new(self.db.connections(self.via, max_connections).await)
    }

    /// A scoped pool whose pool is closed: a real outage.
    pub async fn closed_schema_pool(&self) -> SchemaPool {
        let options = match self.via {
            Via::Direct => self.db.options.clone(),
            Via::PgBouncer => self.db.pgbouncer_options(),
        };
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        pool.close().await;
        SchemaPool::new(match self.via {
            Via::Direct => PgConnections::new(pool),
            Via::PgBouncer => PgConnections::pooled(pool),
        })
    }

    /// The scoped pool the registry's tenants live in.
    pub fn schemas(&self) -> SchemaPool {
        self.manager.schemas().clone()
    }

    /// The setup of the plain test app: both access objects, behind the
    /// adapter, with JSON errors.
    pub fn setup(&self) -> DbSetup {
        DbSetup {
            tenancy: Arc::clone(&self.tenancy),
            schemas: Some(self.schemas()),
            pools: self.pools.clone(),
            layer: true,
            text_errors: false,
        }
    }

    /// `(marker, name)` of every row in `tenant`'s schema, read directly.
    pub async fn rows(&self, tenant: &RegistryTenant) -> Vec<(String, String)> {
        let mut tx = self.schemas().begin(tenant).await.unwrap();
        sqlx::query_as("SELECT tenant, name FROM items ORDER BY id")
            .fetch_all(&mut tx)
            .await
            .unwrap()
    }

    /// Sessions of the test database left inside a transaction.
    pub async fn idle_in_transaction(&self) -> i64 {
        let pool = self.db.pool(1).await;
        let count = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = $1 AND state LIKE 'idle in transaction%'",
        )
        .bind(&self.db.name)
        .fetch_one(&pool)
        .await
        .unwrap();
        pool.close().await;
        count
    }
}

/// Creates a tenant (schema + migrations) with `items` rows `<id> item <n>`.
async fn create(manager: &SchemaManager, tenant: &str, name: &str, items: i32) -> RegistryTenant {
    let created = manager
        .create(NewTenant::new(id(tenant), name))
        .await
        .unwrap();
    let mut tx = manager.schemas().begin(&created).await.unwrap();
    sqlx::query(
        "INSERT INTO items (tenant, name) SELECT $1, $1 || ' item ' || g FROM generate_series(1, $2) g",
    )
    .bind(tenant)
    .bind(items)
    .execute(&mut tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    created
}
