//! A fresh Postgres database per test, dropped `WITH (FORCE)` at the end, even
//! when the test fails.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, PgPool};

/// The server to test against: `TENANCY_TEST_PG_URL`, or the local default.
pub(crate) fn admin_url() -> String {
    std::env::var("TENANCY_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database created for one test, dropped when this value is dropped.
pub(crate) struct TestDb {
    pub(crate) name: String,
    pub(crate) options: PgConnectOptions,
}

impl TestDb {
    /// Creates `tenancy_adapter_test_<random>`; panics loudly if Postgres is unreachable.
    pub(crate) async fn new() -> Self {
        let admin = PgConnectOptions::from_str(&admin_url())
            .expect("TENANCY_TEST_PG_URL is not a valid Postgres URL");
        let mut conn = tokio::time::timeout(Duration::from_secs(10), admin.connect())
            .await
            .unwrap_or_else(|_| panic!("timed out connecting to Postgres at {}", admin_url()))
            .unwrap_or_else(|error| {
                panic!(
                    "cannot connect to Postgres at {} (set TENANCY_TEST_PG_URL): {error}",
                    admin_url()
                )
            });
        let name = format!("tenancy_adapter_test_{}", random_token());
        conn.execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await
            .expect("CREATE DATABASE");
        conn.close().await.ok();
        let options = admin.database(&name);
        Self { name, options }
    }

    /// A pool on the test database.
    pub(crate) async fn pool(&self, max_connections: u32) -> PgPool {
        self.pool_with(self.options.clone(), max_connections).await
    }

    /// A pool on the test database with these connect options.
    pub(crate) async fn pool_with(
        &self,
        options: PgConnectOptions,
        max_connections: u32,
    ) -> PgPool {
        PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // A thread with its own runtime: works inside any runtime, or none.
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

fn random_token() -> String {
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
