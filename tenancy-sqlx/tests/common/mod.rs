//! Shared helpers: a fresh database per test, dropped (WITH (FORCE)) at the end,
//! even when the test panics.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod proxy;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, PgConnection, PgPool};
use tenancy_core::TenantId;
use tenancy_sqlx::{PgRegistry, PgTenantManager, RegistryConfig, TenantMigrations};

/// The admin URL (a database to connect to for CREATE / DROP DATABASE).
pub fn admin_url() -> String {
    std::env::var("TENANCY_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database created for one test and dropped when this value is dropped.
pub struct TestDb {
    pub name: String,
    pub options: PgConnectOptions,
}

impl TestDb {
    /// Creates `tenancy_test_<random>`; panics loudly if Postgres is unreachable.
    pub async fn new() -> Self {
        let admin = PgConnectOptions::from_str(&admin_url())
            .expect("TENANCY_TEST_PG_URL is not a valid URL");
        let mut conn = tokio::time::timeout(Duration::from_secs(10), admin.connect())
            .await
            .unwrap_or_else(|_| panic!("timed out connecting to Postgres at {}", admin_url()))
            .unwrap_or_else(|error| {
                panic!(
                    "cannot connect to Postgres at {} (set TENANCY_TEST_PG_URL): {error}",
                    admin_url()
                )
            });
        let name = format!("tenancy_test_{}", random_token());
        conn.execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await
            .expect("CREATE DATABASE");
        conn.close().await.ok();
        let options = admin.clone().database(&name);
        Self { name, options }
    }

    /// A pool on the test database (small: tests run in parallel).
    pub async fn pool(&self, max_connections: u32) -> PgPool {
        PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(self.options.clone())
            .await
            .expect("connect to the test database")
    }

    /// A single connection on the test database.
    pub async fn connect(&self) -> PgConnection {
        self.options
            .connect()
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // A thread with its own runtime, so this works inside or outside Tokio.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let admin = PgConnectOptions::from_str(&admin_url()).expect("admin url");
                let mut conn = admin.connect().await?;
                conn.execute(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
            panic!(
                "could not drop the test database {}: {dropped:?}",
                self.name
            );
        }
    }
}

pub fn random_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    format!("{:016x}", hasher.finish())
}

pub fn id(text: &str) -> TenantId {
    TenantId::new(text).unwrap()
}

/// A one-table tenant schema with a tenant marker column.
pub fn items_migrations() -> TenantMigrations {
    TenantMigrations::from_sql([(
        1,
        "items",
        "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
         tenant text NOT NULL, name text NOT NULL)",
    )])
    .unwrap()
}

/// A registry and a manager on a fresh pool.
pub async fn manager(db: &TestDb, pool_size: u32, migrations: TenantMigrations) -> PgTenantManager {
    let pool = db.pool(pool_size).await;
    let registry = PgRegistry::connect(pool, RegistryConfig::default())
        .await
        .unwrap();
    PgTenantManager::new(registry, migrations)
}

/// Whether a schema exists.
pub async fn schema_exists(pool: &PgPool, schema: &str) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(schema)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Polls `check` until it holds or `limit` passes; returns whether it held.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
