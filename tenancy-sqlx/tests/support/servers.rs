//! Databases that a test (or the code under test) creates on a server,
//! found by a per-test name prefix and dropped with the guard.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor};

use super::ids::token;
use super::mysql::mysql_server;
use super::runtime::clean_up;

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
        clean_up(
            format_args!("the test databases {}*", self.prefix),
            async move {
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
                            super::mysql::drop_database_forcefully(&mut conn, &name).await?;
                        }
                        conn.close().await
                    }
                }
            },
        );
    }
}
