//! MySQL / MariaDB: the server URL and a database per test.

use std::str::FromStr;

use sqlx::mysql::MySqlConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, MySqlPool};

use super::ids::test_name;
use super::runtime::{clean_up, connect_loudly, small_pool};

/// `TENANCY_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`).
pub fn mysql_url() -> String {
    std::env::var("TENANCY_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// The server-level options of the MySQL test server (no database selected).
pub fn mysql_server() -> MySqlConnectOptions {
    MySqlConnectOptions::from_str(&mysql_url()).expect("TENANCY_TEST_MYSQL_URL is not a valid URL")
}

/// A MySQL database created for one test and dropped with this value.
pub struct MySqlDb {
    pub name: String,
    pub options: MySqlConnectOptions,
}

impl MySqlDb {
    /// Creates `tenancy_test_<random>`; panics loudly if the server is unreachable.
    pub async fn new() -> Self {
        let server = mysql_server();
        let mut conn = connect_loudly(
            &server,
            "MySQL/MariaDB",
            &mysql_url(),
            "set TENANCY_TEST_MYSQL_URL",
        )
        .await;
        let name = test_name();
        conn.execute(AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
            .await
            .expect("CREATE DATABASE");
        conn.close().await.ok();
        let options = server.database(&name);
        Self { name, options }
    }

    /// A small pool on the test database (tests run in parallel).
    pub async fn pool(&self, max_connections: u32) -> MySqlPool {
        small_pool(self.options.clone(), max_connections).await
    }
}

impl Drop for MySqlDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        clean_up(
            format_args!("the MySQL test database {}", self.name),
            async move {
                let mut conn = mysql_server().connect().await?;
                drop_database_forcefully(&mut conn, &name).await?;
                conn.close().await
            },
        );
    }
}

/// `DROP DATABASE` after ending every other session on that database: a
/// session still open there (a pool not yet closed, a transaction left open
/// by a failing test) holds metadata locks that would make the drop wait
/// for a day. MySQL has no `WITH (FORCE)`; this is its equivalent.
pub async fn drop_database_forcefully(
    conn: &mut sqlx::MySqlConnection,
    name: &str,
) -> Result<(), sqlx::Error> {
    let sessions: Vec<i64> = sqlx::query_scalar(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()",
    )
    .bind(name)
    .fetch_all(&mut *conn)
    .await?;
    for session in sessions {
        // A session that ended meanwhile is not an error.
        let _ = conn.execute(AssertSqlSafe(format!("KILL {session}"))).await;
    }
    conn.execute("SET SESSION lock_wait_timeout = 60").await?;
    conn.execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`")))
        .await?;
    Ok(())
}
