//! The mode × backend pairs the app supports, each set up in a fresh,
//! private database (or directory) and removed again afterwards.

use std::path::PathBuf;

use sqlx::{AssertSqlSafe, Connection};

/// One isolation mode on one database backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pair {
    SqliteDatabase,
    SqliteShared,
    PostgresSchema,
    PostgresDatabase,
    PostgresShared,
    MysqlDatabase,
    MysqlShared,
    /// Postgres through PgBouncer in transaction mode, with a direct URL.
    PgBouncerSchema,
    PgBouncerDatabase,
    PgBouncerShared,
}

impl Pair {
    pub const ALL: [Pair; 10] = [
        Pair::SqliteDatabase,
        Pair::SqliteShared,
        Pair::PostgresSchema,
        Pair::PostgresDatabase,
        Pair::PostgresShared,
        Pair::MysqlDatabase,
        Pair::MysqlShared,
        Pair::PgBouncerSchema,
        Pair::PgBouncerDatabase,
        Pair::PgBouncerShared,
    ];

    pub fn isolation(self) -> &'static str {
        match self {
            Pair::PostgresSchema | Pair::PgBouncerSchema => "schema",
            Pair::SqliteDatabase
            | Pair::PostgresDatabase
            | Pair::MysqlDatabase
            | Pair::PgBouncerDatabase => "database",
            Pair::SqliteShared
            | Pair::PostgresShared
            | Pair::MysqlShared
            | Pair::PgBouncerShared => "shared",
        }
    }

    pub fn is_postgres(self) -> bool {
        matches!(
            self,
            Pair::PostgresSchema
                | Pair::PostgresDatabase
                | Pair::PostgresShared
                | Pair::PgBouncerSchema
                | Pair::PgBouncerDatabase
                | Pair::PgBouncerShared
        )
    }

    /// Whether the app reaches Postgres through PgBouncer.
    pub fn is_pgbouncer(self) -> bool {
        matches!(
            self,
            Pair::PgBouncerSchema | Pair::PgBouncerDatabase | Pair::PgBouncerShared
        )
    }
}

pub fn pg_admin_url() -> String {
    std::env::var("TENANCY_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// PgBouncer in transaction mode in front of the test server, started by
/// `scripts/test.sh`; unset is an error, never a skip.
fn pgbouncer_url() -> String {
    std::env::var("TENANCY_TEST_PGBOUNCER_URL").unwrap_or_else(|_| {
        panic!(
            "TENANCY_TEST_PGBOUNCER_URL is not set: run the tests with scripts/test.sh \
             (it starts PgBouncer) or point it at a PgBouncer in transaction mode"
        )
    })
}

fn mysql_admin_url() -> String {
    std::env::var("TENANCY_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

/// Replaces the database name of a URL.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let root = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{root}/{database}?{query}"),
        None => format!("{root}/{database}"),
    }
}

/// A private environment for one app under test.
pub struct Environment {
    pub pair: Pair,
    pub name: String,
    pub workdir: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Environment {
    /// Creates the databases (or directory) for `pair`.
    pub async fn new(pair: Pair) -> Environment {
        let name = format!("e2e_{}", uuid_like());
        let workdir = std::env::temp_dir().join(format!("tenancy-{name}"));
        std::fs::create_dir_all(&workdir).unwrap();
        let mut env = vec![("TENANCY_ISOLATION".to_owned(), pair.isolation().to_owned())];
        match pair {
            Pair::SqliteDatabase | Pair::SqliteShared => {
                env.push((
                    "TENANCY_DATABASE_URL".into(),
                    format!("sqlite://{}/registry.db", workdir.display()),
                ));
            }
            Pair::PgBouncerSchema | Pair::PgBouncerDatabase | Pair::PgBouncerShared => {
                let admin = pg_admin_url();
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("PostgreSQL must be reachable");
                sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let pooler = pgbouncer_url();
                env.push(("TENANCY_DATABASE_URL".into(), with_database(&pooler, &name)));
                env.push((
                    "TENANCY_DIRECT_DATABASE_URL".into(),
                    with_database(&admin, &name),
                ));
                if pair == Pair::PgBouncerDatabase {
                    env.push((
                        "TENANCY_TENANT_DATABASE_URL".into(),
                        with_database(&pooler, &format!("{name}_{{tenant}}")),
                    ));
                }
            }
            Pair::PostgresSchema | Pair::PostgresDatabase | Pair::PostgresShared => {
                let admin = pg_admin_url();
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("PostgreSQL must be reachable");
                sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                env.push(("TENANCY_DATABASE_URL".into(), with_database(&admin, &name)));
                if pair == Pair::PostgresDatabase {
                    env.push((
                        "TENANCY_TENANT_DATABASE_URL".into(),
                        with_database(&admin, &format!("{name}_{{tenant}}")),
                    ));
                }
            }
            Pair::MysqlDatabase | Pair::MysqlShared => {
                let admin = mysql_admin_url();
                let mut conn = sqlx::MySqlConnection::connect(&admin)
                    .await
                    .expect("MariaDB must be reachable");
                sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                env.push(("TENANCY_DATABASE_URL".into(), with_database(&admin, &name)));
                if pair == Pair::MysqlDatabase {
                    env.push((
                        "TENANCY_TENANT_DATABASE_URL".into(),
                        with_database(&admin, &format!("{name}_{{tenant}}")),
                    ));
                }
            }
        }
        Environment {
            pair,
            name,
            workdir,
            env,
        }
    }

    /// The environment plus extra variables.
    pub fn with(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        for (key, value) in extra {
            env.retain(|(k, _)| k != key);
            env.push(((*key).to_owned(), (*value).to_owned()));
        }
        env
    }

    /// Drops every database this environment created, and its directory.
    pub async fn cleanup(self) {
        let pattern = format!("{}%", self.name);
        if self.pair.is_postgres() {
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
            // Roles the shared mode may have created for this database.
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
        } else if matches!(self.pair, Pair::MysqlDatabase | Pair::MysqlShared) {
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
        let _ = std::fs::remove_dir_all(&self.workdir);
    }
}

/// A short random name part (time + pid + counter; no extra dependency).
pub fn uuid_like() -> String {
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
