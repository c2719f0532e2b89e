//! Postgres: the server URLs, a database (and roles) per test, and the
//! schema-mode helpers.

use std::str::FromStr;
use std::sync::Mutex;

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, PgConnection, PgPool};
use tenancy_sqlx::postgres::{PgConnections, Pooler};
use tenancy_sqlx::{PgRegistry, RegistryConfig, SchemaManager, SchemaPool, TenantMigrations};

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

/// `TENANCY_TEST_PGBOUNCER_URL`: PgBouncer in transaction pooling mode in
/// front of the main test server, which `scripts/test.sh` starts. Unset is an
/// error, never a skip.
pub fn pgbouncer_url() -> String {
    std::env::var("TENANCY_TEST_PGBOUNCER_URL").unwrap_or_else(|_| {
        panic!(
            "TENANCY_TEST_PGBOUNCER_URL is not set: run the tests with scripts/test.sh \
             (it starts PgBouncer with scripts/pgbouncer.sh) or set it to a PgBouncer \
             in transaction mode in front of TENANCY_TEST_PG_URL"
        )
    })
}

/// Generates a `#[tokio::test]` per scenario and per way of reaching
/// Postgres: `direct::name` and `pgbouncer::name`, each calling the
/// test file's `async fn name(via: Via)`.
macro_rules! via_both {
    ($(#[$test:meta] $name:ident;)*) => {
        mod direct {
            $(#[$test] async fn $name() { super::$name($crate::support::Via::Direct).await })*
        }
        mod pgbouncer {
            $(#[$test] async fn $name() { super::$name($crate::support::Via::PgBouncer).await })*
        }
    };
}
pub(crate) use via_both;

/// How a test reaches Postgres.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Straight to the server.
    Direct,
    /// Through PgBouncer in transaction pooling mode.
    PgBouncer,
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

    /// The options of this database through PgBouncer.
    pub fn pgbouncer_options(&self) -> PgConnectOptions {
        let options = PgConnectOptions::from_str(&pgbouncer_url())
            .expect("TENANCY_TEST_PGBOUNCER_URL is not a valid URL")
            .database(&self.name);
        Pooler::Transaction.adjust(options)
    }

    /// Connections to this database through PgBouncer, with a direct pool
    /// (two connections) for LISTEN and migrations.
    pub async fn pooled(&self, max_connections: u32) -> PgConnections {
        let traffic = small_pool(self.pgbouncer_options(), max_connections).await;
        PgConnections::pooled(traffic).with_direct(self.pool(2).await)
    }

    /// Connections to this database, reached `via`.
    pub async fn connections(&self, via: Via, max_connections: u32) -> PgConnections {
        match via {
            Via::Direct => PgConnections::new(self.pool(max_connections).await),
            Via::PgBouncer => self.pooled(max_connections).await,
        }
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

/// Version 1 of the price table: `price int`, one row (1, 42).
pub const PRICES_V1: (i64, &str, &str) = (
    1,
    "prices",
    "CREATE TABLE prices (id int PRIMARY KEY, price int NOT NULL); \
     INSERT INTO prices VALUES (1, 42)",
);

/// Version 2: `price` becomes `text` ('42 EUR'): a statement prepared under
/// one version changes result type under the other.
pub const PRICES_V2: (i64, &str, &str) = (
    2,
    "price as text",
    "ALTER TABLE prices ALTER COLUMN price TYPE text USING price::text || ' EUR'",
);

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
pub async fn manager(db: &PgDb, pool_size: u32, migrations: TenantMigrations) -> SchemaManager {
    manager_via(db, Via::Direct, pool_size, migrations).await
}

/// [`manager`], reaching Postgres `via`.
pub async fn manager_via(
    db: &PgDb,
    via: Via,
    pool_size: u32,
    migrations: TenantMigrations,
) -> SchemaManager {
    let connections = db.connections(via, pool_size).await;
    let registry = PgRegistry::connect(connections, RegistryConfig::default())
        .await
        .unwrap();
    SchemaManager::new(
        registry.clone(),
        SchemaPool::for_registry(&registry),
        migrations,
    )
}

/// Whether a schema exists.
pub async fn schema_exists(pool: &PgPool, schema: &str) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(schema)
        .fetch_one(pool)
        .await
        .unwrap()
}
