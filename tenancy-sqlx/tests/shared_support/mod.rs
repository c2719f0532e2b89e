//! Test support for shared-schema mode: a fresh Postgres database (and
//! per-test roles) or MySQL database per test, dropped at the end even when
//! the test panics; a temporary directory for SQLite.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tenancy_core::TenantId;

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

/// Runs `work` on a thread with its own runtime (usable from `Drop`, inside or outside Tokio).
fn block_on_thread<F, T>(work: F) -> std::thread::Result<T>
where
    F: FnOnce() -> std::pin::Pin<Box<dyn Future<Output = T> + Send>> + Send + 'static,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(work())
    })
    .join()
}

#[cfg(feature = "postgres")]
pub mod pg {
    use super::*;
    use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, PgConnection, PgPool};
    use std::str::FromStr;
    use std::sync::Mutex;

    pub fn admin_url() -> String {
        std::env::var("TENANCY_TEST_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
    }

    pub fn admin_options() -> PgConnectOptions {
        PgConnectOptions::from_str(&admin_url()).expect("TENANCY_TEST_PG_URL is not a valid URL")
    }

    /// A database (and the roles created through [`PgTest::role`]) for one test.
    pub struct PgTest {
        pub name: String,
        pub options: PgConnectOptions,
        roles: Mutex<Vec<String>>,
    }

    impl PgTest {
        /// Creates `tenancy_test_<random>`; panics loudly if Postgres is unreachable.
        pub async fn new() -> Self {
            let admin = admin_options();
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
            Self {
                name,
                options,
                roles: Mutex::new(Vec::new()),
            }
        }

        /// A fresh role name, dropped (cluster-wide) at the end of the test.
        pub fn role(&self, prefix: &str) -> String {
            let name = format!("{prefix}_{}", random_token());
            self.roles.lock().unwrap().push(name.clone());
            name
        }

        /// A small pool on the test database (tests run in parallel).
        pub async fn pool(&self, max_connections: u32) -> PgPool {
            self.pool_with(self.options.clone(), max_connections).await
        }

        pub async fn pool_with(&self, options: PgConnectOptions, max_connections: u32) -> PgPool {
            PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(options)
                .await
                .expect("connect to the test database")
        }

        /// One connection to the test database as the admin (superuser).
        pub async fn connect(&self) -> PgConnection {
            self.options
                .connect()
                .await
                .expect("connect to the test database")
        }

        /// Runs SQL as the admin on the test database.
        pub async fn exec(&self, sql: &str) {
            let mut conn = self.connect().await;
            sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|error| panic!("{sql}: {error}"));
            conn.close().await.ok();
        }
    }

    impl Drop for PgTest {
        fn drop(&mut self) {
            let name = self.name.clone();
            let roles = std::mem::take(&mut *self.roles.lock().unwrap());
            let dropped = block_on_thread(move || {
                Box::pin(async move {
                    let mut conn = admin_options().connect().await?;
                    conn.execute(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .await?;
                    for role in roles {
                        conn.execute(AssertSqlSafe(format!("DROP ROLE IF EXISTS \"{role}\"")))
                            .await?;
                    }
                    conn.close().await
                })
            });
            if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
                panic!(
                    "could not drop the test database {}: {dropped:?}",
                    self.name
                );
            }
        }
    }
}

#[cfg(feature = "mysql")]
pub mod mysql {
    use super::*;
    use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
    use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, MySqlPool};
    use std::str::FromStr;

    pub fn admin_url() -> String {
        std::env::var("TENANCY_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
    }

    pub fn admin_options() -> MySqlConnectOptions {
        MySqlConnectOptions::from_str(&admin_url())
            .expect("TENANCY_TEST_MYSQL_URL is not a valid URL")
    }

    /// A MySQL/MariaDB database for one test.
    pub struct MySqlTest {
        pub name: String,
        pub options: MySqlConnectOptions,
    }

    impl MySqlTest {
        pub async fn new() -> Self {
            let admin = admin_options();
            let mut conn = tokio::time::timeout(Duration::from_secs(10), admin.connect())
                .await
                .unwrap_or_else(|_| panic!("timed out connecting to MySQL at {}", admin_url()))
                .unwrap_or_else(|error| {
                    panic!(
                        "cannot connect to MySQL/MariaDB at {} (set TENANCY_TEST_MYSQL_URL): {error}",
                        admin_url()
                    )
                });
            let name = format!("tenancy_test_{}", random_token());
            conn.execute(AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
                .await
                .expect("CREATE DATABASE");
            conn.close().await.ok();
            let options = admin.clone().database(&name);
            Self { name, options }
        }

        pub async fn pool(&self, max_connections: u32) -> MySqlPool {
            MySqlPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(self.options.clone())
                .await
                .expect("connect to the test database")
        }
    }

    impl Drop for MySqlTest {
        fn drop(&mut self) {
            let name = self.name.clone();
            let dropped = block_on_thread(move || {
                Box::pin(async move {
                    let mut conn = admin_options().connect().await?;
                    conn.execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`")))
                        .await?;
                    conn.close().await
                })
            });
            if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
                panic!(
                    "could not drop the test database {}: {dropped:?}",
                    self.name
                );
            }
        }
    }
}

#[cfg(feature = "sqlite")]
pub mod sqlite {
    use super::*;
    use sqlx::SqlitePool;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

    /// A temporary directory with one SQLite database, removed at the end.
    pub struct SqliteTest {
        pub dir: std::path::PathBuf,
        pub options: SqliteConnectOptions,
    }

    impl SqliteTest {
        pub fn new() -> Self {
            let dir = std::env::temp_dir().join(format!("tenancy_test_{}", random_token()));
            std::fs::create_dir_all(&dir).expect("create the test directory");
            let options = SqliteConnectOptions::new()
                .filename(dir.join("app.db"))
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(30))
                .foreign_keys(true);
            Self { dir, options }
        }

        pub async fn pool(&self, max_connections: u32) -> SqlitePool {
            SqlitePoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(self.options.clone())
                .await
                .expect("open the test database")
        }
    }

    impl Drop for SqliteTest {
        fn drop(&mut self) {
            let removed = std::fs::remove_dir_all(&self.dir);
            if removed.is_err() && !std::thread::panicking() {
                panic!("could not remove {}: {removed:?}", self.dir.display());
            }
        }
    }
}
