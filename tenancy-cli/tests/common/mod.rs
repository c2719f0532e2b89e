//! A private registry (and tenant storage) per test, on each backend, for
//! running the real `tenancy` binary; removed again afterwards.

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::string_slice
)]

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;
use sqlx::{AssertSqlSafe, Connection};

/// One isolation mode on one backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pair {
    PostgresSchema,
    PostgresDatabase,
    PostgresShared,
    MysqlDatabase,
    MysqlShared,
    SqliteDatabase,
    SqliteShared,
}

impl Pair {
    pub fn isolation(self) -> &'static str {
        match self {
            Pair::PostgresSchema => "schema",
            Pair::PostgresDatabase | Pair::MysqlDatabase | Pair::SqliteDatabase => "database",
            Pair::PostgresShared | Pair::MysqlShared | Pair::SqliteShared => "shared",
        }
    }

    pub fn is_shared(self) -> bool {
        self.isolation() == "shared"
    }

    fn backend(self) -> &'static str {
        match self {
            Pair::PostgresSchema | Pair::PostgresDatabase | Pair::PostgresShared => "postgres",
            Pair::MysqlDatabase | Pair::MysqlShared => "mysql",
            Pair::SqliteDatabase | Pair::SqliteShared => "sqlite",
        }
    }

    /// The `items` table of this backend's first migration.
    fn items_table(self) -> &'static str {
        match (self.backend(), self.is_shared()) {
            ("postgres", false) => {
                "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);"
            }
            ("postgres", true) => {
                "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id text NOT NULL, name text NOT NULL);"
            }
            ("mysql", false) => {
                "CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(200) NOT NULL);"
            }
            ("mysql", true) => {
                "CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, tenant_id VARCHAR(64) NOT NULL, name VARCHAR(200) NOT NULL, KEY items_tenant (tenant_id));"
            }
            (_, false) => "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
            (_, true) => {
                "CREATE TABLE items (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL);"
            }
        }
    }
}

pub fn pg_admin_url() -> String {
    std::env::var("TENANCY_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn mysql_admin_url() -> String {
    std::env::var("TENANCY_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// `url` (`scheme://user@host:port[/db][?query]`) naming `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority..].find('/') {
        Some(slash) => &base[..authority + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{root}/{database}?{query}"),
        None => format!("{root}/{database}"),
    }
}

/// A unique name part: pid, time and a counter.
fn unique() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{:x}{:x}{:x}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A private registry for one test, a migrations folder, and the
/// environment that points `tenancy` at them.
pub struct Env {
    pub pair: Pair,
    pub name: String,
    pub dir: PathBuf,
    pub vars: Vec<(String, String)>,
}

impl Env {
    /// Creates the registry database (or directory) and migration 1 (`items`).
    pub async fn new(pair: Pair) -> Env {
        let name = format!("cli_{}", unique());
        let dir = std::env::temp_dir().join(format!("tenancy-{name}"));
        std::fs::create_dir_all(dir.join("migrations")).unwrap();
        let mut vars = vec![
            ("TENANCY_ISOLATION".to_owned(), pair.isolation().to_owned()),
            (
                "TENANCY_MIGRATIONS".to_owned(),
                dir.join("migrations").display().to_string(),
            ),
        ];
        match pair.backend() {
            "postgres" => {
                let admin = pg_admin_url();
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("PostgreSQL must be reachable (TENANCY_TEST_PG_URL)");
                sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                vars.push(("TENANCY_DATABASE_URL".into(), with_database(&admin, &name)));
            }
            "mysql" => {
                let admin = mysql_admin_url();
                let mut conn = sqlx::MySqlConnection::connect(&admin)
                    .await
                    .expect("MariaDB must be reachable (TENANCY_TEST_MYSQL_URL)");
                sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                vars.push(("TENANCY_DATABASE_URL".into(), with_database(&admin, &name)));
            }
            _ => {
                let url = format!("sqlite://{}/registry.db", dir.display());
                vars.push(("TENANCY_DATABASE_URL".into(), url));
            }
        }
        if pair.is_shared() {
            vars.push(("TENANCY_SHARED_TABLES".into(), "items".into()));
        }
        let env = Env {
            pair,
            name,
            dir,
            vars,
        };
        env.write_migration(1, "items", pair.items_table());
        env
    }

    /// Adds migration `version` to the migrations folder (or replaces it).
    pub fn write_migration(&self, version: i64, description: &str, sql: &str) {
        self.remove_migration(version);
        let folder = self.dir.join("migrations");
        std::fs::write(folder.join(format!("{version}_{description}.sql")), sql).unwrap();
    }

    /// Takes migration `version` out of the migrations folder.
    pub fn remove_migration(&self, version: i64) {
        for entry in std::fs::read_dir(self.dir.join("migrations")).unwrap() {
            let path = entry.unwrap().path();
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            if file.split('_').next() == Some(&version.to_string()) {
                std::fs::remove_file(&path).unwrap();
            }
        }
    }

    pub fn migrations(&self) -> PathBuf {
        self.dir.join("migrations")
    }

    /// `tenancy ARGS` in this environment (and nothing of the caller's).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::cargo_bin("tenancy").unwrap();
        command
            .env_clear()
            .envs(self.vars.iter().cloned())
            .args(args);
        command
    }

    /// Runs `tenancy ARGS`, returning its output whatever the status.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// Runs `tenancy --json ARGS`, which must succeed, and parses its report.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let output = self.run(&all);
        assert!(
            output.status.success(),
            "tenancy {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| {
            panic!(
                "tenancy {args:?}: not JSON ({error}): {}",
                String::from_utf8_lossy(&output.stdout)
            )
        })
    }

    /// Drops everything this environment made: databases, roles, files.
    pub async fn cleanup(self) {
        let pattern = format!("{}%", self.name);
        match self.pair.backend() {
            "postgres" => {
                let mut conn = sqlx::PgConnection::connect(&pg_admin_url()).await.unwrap();
                let names: Vec<String> =
                    sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE $1")
                        .bind(&pattern)
                        .fetch_all(&mut conn)
                        .await
                        .unwrap();
                for db in names {
                    sqlx::raw_sql(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                }
                let roles: Vec<String> =
                    sqlx::query_scalar("SELECT rolname FROM pg_roles WHERE rolname LIKE $1")
                        .bind(&pattern)
                        .fetch_all(&mut conn)
                        .await
                        .unwrap();
                for role in roles {
                    sqlx::raw_sql(AssertSqlSafe(format!("DROP ROLE IF EXISTS \"{role}\"")))
                        .execute(&mut conn)
                        .await
                        .unwrap();
                }
            }
            "mysql" => {
                let mut conn = sqlx::MySqlConnection::connect(&mysql_admin_url())
                    .await
                    .unwrap();
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT CAST(schema_name AS CHAR) FROM information_schema.schemata WHERE schema_name LIKE ?",
                )
                .bind(&pattern)
                .fetch_all(&mut conn)
                .await
                .unwrap();
                for db in names {
                    sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{db}`")))
                        .execute(&mut conn)
                        .await
                        .unwrap();
                }
            }
            _ => {}
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The text of an output stream.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}
