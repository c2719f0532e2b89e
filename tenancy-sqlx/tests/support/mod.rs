//! Test fixtures for the MySQL/MariaDB and SQLite backends and the second
//! Postgres server: a fresh database (or directory) per test, removed when
//! the guard is dropped, even if the test panics. Unreachable servers fail
//! the test loudly; nothing is ever skipped.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod delay_proxy;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, MySqlPool, SqlitePool};

pub fn token() -> String {
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

/// `TENANCY_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`).
pub fn mysql_url() -> String {
    std::env::var("TENANCY_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// `TENANCY_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
pub fn pg_url() -> String {
    std::env::var("TENANCY_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `TENANCY_TEST_PG2_URL` (default `postgres://postgres@127.0.0.1:5433/postgres`):
/// the second Postgres server that `scripts/test.sh` starts.
pub fn pg2_url() -> String {
    std::env::var("TENANCY_TEST_PG2_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5433/postgres".into())
}

/// The server-level options of the MySQL test server (no database selected).
pub fn mysql_server() -> MySqlConnectOptions {
    MySqlConnectOptions::from_str(&mysql_url()).expect("TENANCY_TEST_MYSQL_URL is not a valid URL")
}

/// The admin options of a Postgres server, checked to be reachable.
pub async fn pg_server(url: &str) -> PgConnectOptions {
    let options = PgConnectOptions::from_str(url).expect("not a valid Postgres URL");
    let conn = tokio::time::timeout(Duration::from_secs(10), options.connect())
        .await
        .unwrap_or_else(|_| panic!("timed out connecting to Postgres at {url}"))
        .unwrap_or_else(|error| {
            panic!("cannot connect to Postgres at {url} (is scripts/test.sh's server up?): {error}")
        });
    conn.close().await.ok();
    options
}

/// A MySQL database created for one test and dropped with this value.
pub struct MySqlDb {
    pub name: String,
    pub options: MySqlConnectOptions,
}

impl MySqlDb {
    pub async fn new() -> Self {
        let server = mysql_server();
        let mut conn = tokio::time::timeout(Duration::from_secs(10), server.connect())
            .await
            .unwrap_or_else(|_| panic!("timed out connecting to MySQL at {}", mysql_url()))
            .unwrap_or_else(|error| {
                panic!(
                    "cannot connect to MySQL/MariaDB at {} (set TENANCY_TEST_MYSQL_URL): {error}",
                    mysql_url()
                )
            });
        let name = format!("tenancy_test_{}", token());
        conn.execute(AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
            .await
            .expect("CREATE DATABASE");
        conn.close().await.ok();
        let options = server.database(&name);
        Self { name, options }
    }

    pub async fn pool(&self, max_connections: u32) -> MySqlPool {
        MySqlPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(self.options.clone())
            .await
            .expect("connect to the MySQL test database")
    }
}

impl Drop for MySqlDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let dropped = on_own_runtime(async move {
            let mut conn = mysql_server().connect().await?;
            conn.execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`")))
                .await?;
            conn.close().await
        });
        if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
            panic!(
                "could not drop the MySQL test database {}: {dropped:?}",
                self.name
            );
        }
    }
}

/// Runs `future` on a fresh runtime in its own thread (works inside or outside Tokio).
pub fn on_own_runtime<F>(future: F) -> std::thread::Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(future)
    })
    .join()
}

/// A directory created for one test and removed with this value.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(format!("tenancy_test_{}", token()));
        std::fs::create_dir_all(&path).expect("create a temp dir");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A pool on `name` in this directory (created, WAL mode).
    pub async fn sqlite_pool(&self, name: &str, max_connections: u32) -> SqlitePool {
        let options = SqliteConnectOptions::new()
            .filename(self.0.join(name))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
        SqlitePoolOptions::new()
            .max_connections(max_connections)
            .connect_with(options)
            .await
            .expect("open the SQLite test database")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let removed = std::fs::remove_dir_all(&self.0);
        if removed.is_err() && !std::thread::panicking() {
            panic!("could not remove {}: {removed:?}", self.0.display());
        }
    }
}

/// Removes, on drop, every database whose name starts with `prefix` on a
/// Postgres server (`WITH (FORCE)`) or on the MySQL test server.
pub struct ServerDatabases {
    pub prefix: String,
    pub server: Server,
}

#[derive(Clone)]
pub enum Server {
    Postgres(String),
    MySql,
}

impl ServerDatabases {
    pub fn new(server: Server) -> Self {
        // `t` + 8 hex digits + `_`: a valid naming prefix, unique per test.
        let prefix = format!("t{}_", token().chars().take(8).collect::<String>());
        Self { prefix, server }
    }

    /// The databases with this prefix that exist now.
    pub async fn list(&self) -> Vec<String> {
        list_databases(self.server.clone(), self.prefix.clone())
            .await
            .unwrap()
    }
}

async fn list_databases(server: Server, prefix: String) -> Result<Vec<String>, sqlx::Error> {
    let pattern = format!("{}%", prefix.replace('_', "\\_"));
    match server {
        Server::Postgres(url) => {
            let mut conn = PgConnectOptions::from_str(&url)?.connect().await?;
            let names = sqlx::query_scalar(
                "SELECT datname::text FROM pg_database WHERE datname LIKE $1 ORDER BY 1",
            )
            .bind(pattern)
            .fetch_all(&mut conn)
            .await?;
            conn.close().await?;
            Ok(names)
        }
        Server::MySql => {
            let mut conn = mysql_server().connect().await?;
            let names = sqlx::query_scalar(
                "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ? ORDER BY 1",
            )
            .bind(pattern)
            .fetch_all(&mut conn)
            .await?;
            conn.close().await?;
            Ok(names)
        }
    }
}

impl Drop for ServerDatabases {
    fn drop(&mut self) {
        let server = self.server.clone();
        let prefix = self.prefix.clone();
        let dropped = on_own_runtime(async move {
            let names = list_databases(server.clone(), prefix).await?;
            match server {
                Server::Postgres(url) => {
                    let mut conn = PgConnectOptions::from_str(&url)?.connect().await?;
                    for name in names {
                        conn.execute(AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        )))
                        .await?;
                    }
                    conn.close().await
                }
                Server::MySql => {
                    let mut conn = mysql_server().connect().await?;
                    for name in names {
                        conn.execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`")))
                            .await?;
                    }
                    conn.close().await
                }
            }
        });
        if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
            panic!(
                "could not drop the test databases {}*: {dropped:?}",
                self.prefix
            );
        }
    }
}
