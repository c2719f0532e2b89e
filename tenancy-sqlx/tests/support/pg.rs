//! Postgres: the server URLs, a database (and roles) per test, and the
//! schema-mode helpers.

use std::str::FromStr;
use std::sync::Mutex;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, PgConnection, PgPool};
use tenancy_sqlx::{PgRegistry, PgTenantManager, RegistryConfig, TenantMigrations};

use super::ids::{test_name, token};
use super::runtime::{clean_up, connect_loudly, small_pool};

/// `TENANCY_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`):
/// the admin URL (a database to connect to for CREATE / DROP DATABASE).
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

/// The admin options of the main test server.
pub fn pg_admin() -> PgConnectOptions {
    PgConnectOptions::from_str(&pg_url()).expect("TENANCY_TEST_PG_URL is not a valid URL")
}

/// The admin options of a Postgres server, checked to be reachable.
pub async fn pg_server(url: &str) -> PgConnectOptions {
    let options = PgConnectOptions::from_str(url).expect("not a valid Postgres URL");
    let conn = connect_loudly(&options, "Postgres", url, "is scripts/test.sh's server up?").await;
    conn.close().await.ok();
    options
}

/// A database (and the roles created through [`PgDb::role`]) for one test,
/// dropped `WITH (FORCE)` when this value is dropped.
pub struct PgDb {
    pub name: String,
    pub options: PgConnectOptions,
    roles: Mutex<Vec<String>>,
}

impl PgDb {
    /// Creates `tenancy_test_<random>`; panics loudly if Postgres is unreachable.
    pub async fn new() -> Self {
        let admin = pg_admin();
        let mut conn =
            connect_loudly(&admin, "Postgres", &pg_url(), "set TENANCY_TEST_PG_URL").await;
        let name = test_name();
        conn.execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await
            .expect("CREATE DATABASE");
        conn.close().await.ok();
        let options = admin.database(&name);
        Self {
            name,
            options,
            roles: Mutex::new(Vec::new()),
        }
    }

    /// A fresh role name, dropped (cluster-wide) at the end of the test.
    pub fn role(&self, prefix: &str) -> String {
        let name = format!("{prefix}_{}", token());
        self.roles.lock().unwrap().push(name.clone());
        name
    }

    /// A small pool on the test database (tests run in parallel).
    pub async fn pool(&self, max_connections: u32) -> PgPool {
        self.pool_with(self.options.clone(), max_connections).await
    }

    pub async fn pool_with(&self, options: PgConnectOptions, max_connections: u32) -> PgPool {
        small_pool(options, max_connections).await
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

impl Drop for PgDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let roles = std::mem::take(&mut *self.roles.lock().unwrap());
        clean_up(
            format_args!("the test database {}", self.name),
            async move {
                let mut conn = pg_admin().connect().await?;
                conn.execute(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .await?;
                for role in roles {
                    conn.execute(AssertSqlSafe(format!("DROP ROLE IF EXISTS \"{role}\"")))
                        .await?;
                }
                conn.close().await
            },
        );
    }
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

/// A registry and a schema-per-tenant manager on a fresh pool.
pub async fn manager(db: &PgDb, pool_size: u32, migrations: TenantMigrations) -> PgTenantManager {
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
