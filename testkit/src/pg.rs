//! A fresh Postgres database per test, dropped `WITH (FORCE)` at the end, even
//! when the test fails, reached directly or through PgBouncer ([`Via`]).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, PgPool};
use tenancy_sqlx::postgres::{PgConnections, Pooler};

/// The server to test against: `TENANCY_TEST_PG_URL`, or the local default.
pub fn admin_url() -> String {
    std::env::var("TENANCY_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// PgBouncer in transaction pooling mode in front of `TENANCY_TEST_PG_URL`:
/// `TENANCY_TEST_PGBOUNCER_URL`, which `scripts/test.sh` sets (it starts
/// PgBouncer with `scripts/pgbouncer.sh`). Unset is an error, never a skip.
pub fn pgbouncer_url() -> String {
    std::env::var("TENANCY_TEST_PGBOUNCER_URL").unwrap_or_else(|_| {
        panic!(
            "TENANCY_TEST_PGBOUNCER_URL is not set: run the tests with scripts/test.sh \
             (it starts PgBouncer with scripts/pgbouncer.sh) or set it to a PgBouncer \
             in transaction mode in front of TENANCY_TEST_PG_URL"
        )
    })
}

/// How a case reaches Postgres: every case runs both ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Straight to the server.
    Direct,
    /// Through PgBouncer in transaction pooling mode (`default_pool_size = 2`).
    PgBouncer,
}

/// A database created for one test, dropped when this value is dropped.
#[derive(Debug)]
pub struct TestDb {
    /// The database's name.
    pub name: String,
    /// Direct connect options for the database.
    pub options: PgConnectOptions,
}

impl TestDb {
    /// Creates `tenancy_adapter_test_<random>`; panics loudly if Postgres is unreachable.
    pub async fn new() -> Self {
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
    pub async fn pool(&self, max_connections: u32) -> PgPool {
        self.pool_with(self.options.clone(), max_connections).await
    }

    /// The options of the test database through PgBouncer (which forwards
    /// every database name to the test server), adjusted for a transaction
    /// pooler.
    pub fn pgbouncer_options(&self) -> PgConnectOptions {
        let options = PgConnectOptions::from_str(&pgbouncer_url())
            .expect("TENANCY_TEST_PGBOUNCER_URL is not a valid Postgres URL")
            .database(&self.name);
        Pooler::Transaction.adjust(options)
    }

    /// Connections to the test database reached `via`, with `max_connections`
    /// for the traffic; through PgBouncer, plus a direct pool (two
    /// connections) for `LISTEN` and migrations.
    pub async fn connections(&self, via: Via, max_connections: u32) -> PgConnections {
        match via {
            Via::Direct => PgConnections::new(self.pool(max_connections).await),
            Via::PgBouncer => {
                let traffic = self
                    .pool_with(self.pgbouncer_options(), max_connections)
                    .await;
                PgConnections::pooled(traffic).with_direct(self.pool(2).await)
            }
        }
    }

    /// A pool on the test database with these connect options.
    pub async fn pool_with(&self, options: PgConnectOptions, max_connections: u32) -> PgPool {
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
