//! Database per tenant: provisioning rate per backend, and many tenants
//! served round-robin under one connection budget, each next to a baseline
//! measured in the same run.
//!
//! ```text
//! cargo bench -p tenancy-sqlx --all-features --bench database
//! ```
//!
//! Needs Postgres at `TENANCY_TEST_PG_URL` and `TENANCY_TEST_PG2_URL` (the
//! second server of `scripts/test.sh`) and MariaDB/MySQL at
//! `TENANCY_TEST_MYSQL_URL`; everything it creates (databases named
//! `b<random>_*`, a temporary directory) is removed at the end.
//! `TENANCY_BENCH_QUICK=1` runs a smaller version, `TENANCY_BENCH_ONLY=serving`
//! only the serving part.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sqlx::mysql::MySqlConnectOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor};
use tenancy_core::TenantId;
use tenancy_sqlx::database::{
    DatabaseBackend, DatabaseNaming, MySqlDatabases, PgDatabases, PoolConfig, SqliteDatabases,
};
use tenancy_sqlx::registry::{MySqlRegistry, SqliteRegistry};
use tenancy_sqlx::{
    AnyRegistry, DatabaseManager, Ident, NewTenant, PgRegistry, RegistryConfig, RegistryTenant,
    TenantMigrations, TenantPools, TenantRegistry,
};

/// One table and 20 seeded rows, in SQL every backend accepts.
const TABLE: &str = "CREATE TABLE items (id BIGINT PRIMARY KEY, tenant VARCHAR(63) NOT NULL, name VARCHAR(200) NOT NULL)";

fn seed() -> String {
    let rows: Vec<String> = (1..=20)
        .map(|n| format!("({n}, 't', 'item {n}')"))
        .collect();
    format!(
        "INSERT INTO items (id, tenant, name) VALUES {}",
        rows.join(", ")
    )
}

fn migrations() -> TenantMigrations {
    TenantMigrations::from_sql([(1, "items", TABLE.to_owned()), (2, "seed", seed())]).unwrap()
}

fn quick() -> bool {
    std::env::var("TENANCY_BENCH_QUICK").is_ok_and(|value| value == "1")
}

fn token() -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    format!("{:08x}", hasher.finish() & 0xffff_ffff)
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn pg_url() -> String {
    env(
        "TENANCY_TEST_PG_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
    )
}

fn pg2_url() -> String {
    env(
        "TENANCY_TEST_PG2_URL",
        "postgres://postgres@127.0.0.1:5433/postgres",
    )
}

fn mysql_url() -> String {
    env("TENANCY_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")
}

fn id(n: usize) -> TenantId {
    TenantId::new(format!("t{n}")).unwrap()
}

/// Creates `count` tenants one after another; returns tenants per second.
async fn provision<B: DatabaseBackend>(
    manager: &DatabaseManager<B, impl TenantRegistry + 'static>,
    count: usize,
) -> f64 {
    // The first creation prepares the server (Postgres: the template); not timed.
    manager
        .create(NewTenant::new(TenantId::new("warmup").unwrap(), "warm-up"))
        .await
        .unwrap();
    let started = Instant::now();
    for n in 0..count {
        manager
            .create(NewTenant::new(id(n), format!("T{n}")))
            .await
            .unwrap();
    }
    count as f64 / started.elapsed().as_secs_f64()
}

fn line(name: &str, rate: f64, baseline: f64) {
    println!(
        "{name:<44} {rate:>9.1} tenants/s   baseline {baseline:>9.1}/s   ratio {:>5.2}",
        rate / baseline
    );
}

// ---------------------------------------------------------------- Postgres

/// Drops every database named `prefix*` on the server of `url`.
async fn pg_cleanup(url: &str, prefix: &str) {
    let mut conn = PgConnectOptions::from_str(url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE $1")
            .bind(format!("{prefix}%"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
    for name in names {
        conn.execute(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .await
        .unwrap();
    }
    conn.close().await.unwrap();
}

async fn pg_registry(prefix: &str) -> (PgRegistry, String) {
    let name = format!("{prefix}registry");
    let mut admin = PgConnectOptions::from_str(&pg_url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    admin
        .execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .await
        .unwrap();
    admin.close().await.unwrap();
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect_with(
            PgConnectOptions::from_str(&pg_url())
                .unwrap()
                .database(&name),
        )
        .await
        .unwrap();
    (
        PgRegistry::connect(pool, RegistryConfig::default())
            .await
            .unwrap(),
        name,
    )
}

/// Baseline: `CREATE DATABASE` (from `template1`) and the migrations' SQL on
/// a new connection, no registry: what provisioning costs without a template.
async fn pg_baseline(url: &str, prefix: &str, count: usize) -> f64 {
    let admin_options = PgConnectOptions::from_str(url).unwrap();
    let mut admin = admin_options.connect().await.unwrap();
    let started = Instant::now();
    for n in 0..count {
        let name = format!("{prefix}base{n}");
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .await
            .unwrap();
        let mut conn = admin_options
            .clone()
            .database(&name)
            .connect()
            .await
            .unwrap();
        sqlx::raw_sql(AssertSqlSafe(format!("{TABLE}; {}", seed())))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let rate = count as f64 / started.elapsed().as_secs_f64();
    admin.close().await.unwrap();
    rate
}

async fn postgres_provisioning(count: usize) {
    for (label, url) in [
        ("postgres (server 1, fsync on)", pg_url()),
        ("postgres (server 2, fsync off)", pg2_url()),
    ] {
        let prefix = format!("b{}_", token());
        let (registry, _) = pg_registry(&prefix).await;
        let backend = PgDatabases::new(
            Ident::new("main").unwrap(),
            PgConnectOptions::from_str(&url).unwrap(),
        )
        .naming(DatabaseNaming::with_prefix(&prefix).unwrap());
        let manager = DatabaseManager::new(
            registry.clone(),
            TenantPools::new(backend, PoolConfig::new().max_connections(4)),
            migrations(),
        );
        let rate = provision(&manager, count).await;
        let baseline = pg_baseline(&url, &prefix, count).await;
        line(&format!("create, {label}"), rate, baseline);
        drop(manager);
        registry.pool().close().await;
        pg_cleanup(&url, &prefix).await;
        if url != pg_url() {
            pg_cleanup(&pg_url(), &prefix).await;
        }
    }
}

// ---------------------------------------------------------------- MySQL

async fn mysql_provisioning(count: usize) {
    let prefix = format!("b{}_", token());
    let server = MySqlConnectOptions::from_str(&mysql_url()).unwrap();
    let registry_name = format!("{prefix}registry");
    let mut admin = server.connect().await.unwrap();
    admin
        .execute(AssertSqlSafe(format!("CREATE DATABASE `{registry_name}`")))
        .await
        .unwrap();
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(4)
        .connect_with(server.clone().database(&registry_name))
        .await
        .unwrap();
    let registry = MySqlRegistry::connect(pool, RegistryConfig::default())
        .await
        .unwrap();
    let backend = MySqlDatabases::new(Ident::new("main").unwrap(), server.clone())
        .naming(DatabaseNaming::with_prefix(&prefix).unwrap());
    let manager = DatabaseManager::new(
        registry.clone(),
        TenantPools::new(backend, PoolConfig::new().max_connections(4)),
        migrations(),
    );
    let rate = provision(&manager, count).await;

    // Baseline: CREATE DATABASE and the migrations' SQL, no registry, no history.
    let started = Instant::now();
    for n in 0..count {
        let name = format!("{prefix}base{n}");
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
            .await
            .unwrap();
        let mut conn = server.clone().database(&name).connect().await.unwrap();
        sqlx::raw_sql(AssertSqlSafe(TABLE))
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::raw_sql(AssertSqlSafe(seed()))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let baseline = count as f64 / started.elapsed().as_secs_f64();
    line("create, mariadb", rate, baseline);
    drop(manager);
    registry.pool().close().await;
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?",
    )
    .bind(format!("{prefix}%"))
    .fetch_all(&mut admin)
    .await
    .unwrap();
    for name in names {
        admin
            .execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`")))
            .await
            .unwrap();
    }
    admin.close().await.unwrap();
}

// ---------------------------------------------------------------- SQLite

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn sqlite_manager(dir: &TempDir, pools: PoolConfig) -> DatabaseManager<SqliteDatabases> {
    let options = SqliteConnectOptions::new()
        .filename(dir.0.join("registry.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .unwrap();
    let registry = SqliteRegistry::connect(pool, RegistryConfig::default())
        .await
        .unwrap();
    let backend = SqliteDatabases::new(dir.0.join("tenants")).unwrap();
    DatabaseManager::new(
        AnyRegistry::from(registry),
        TenantPools::new(backend, pools),
        migrations(),
    )
}

async fn sqlite_provisioning(count: usize) {
    let dir = TempDir(std::env::temp_dir().join(format!("tenancy_bench_{}", token())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let manager = sqlite_manager(&dir, PoolConfig::new()).await;
    let rate = provision(&manager, count).await;

    // Baseline: a new WAL file and the migrations' SQL, no registry, no history.
    let base = dir.0.join("baseline");
    std::fs::create_dir_all(&base).unwrap();
    let started = Instant::now();
    for n in 0..count {
        let mut conn = SqliteConnectOptions::new()
            .filename(base.join(format!("t{n}.db")))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .connect()
            .await
            .unwrap();
        sqlx::raw_sql(AssertSqlSafe(format!("BEGIN; {TABLE}; {}; COMMIT", seed())))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
    }
    let baseline = count as f64 / started.elapsed().as_secs_f64();
    line("create, sqlite (one file per tenant)", rate, baseline);
}

// ---------------------------------------------------------------- serving

/// `requests` queries over `tenants` round-robin from `tasks` concurrent
/// tasks; returns requests per second.
async fn round_robin<B>(
    manager: &DatabaseManager<B, impl TenantRegistry + 'static>,
    tenants: &[RegistryTenant],
    tasks: usize,
    requests: usize,
) -> f64
where
    B: DatabaseBackend,
    for<'c> &'c mut tenancy_sqlx::database::BackendConnection<B>:
        Executor<'c, Database = B::Database>,
    i64: sqlx::Type<B::Database> + for<'r> sqlx::Decode<'r, B::Database>,
    (i64,): for<'r> sqlx::FromRow<'r, <B::Database as sqlx::Database>::Row>,
    <B::Database as sqlx::Database>::Arguments: sqlx::IntoArguments<B::Database>,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..tasks)
        .map(|_| {
            let manager = manager.clone();
            let tenants = tenants.to_vec();
            let next = next.clone();
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= requests {
                        return;
                    }
                    let tenant = &tenants[n % tenants.len()];
                    let mut conn = manager.connect(tenant).await.unwrap();
                    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM items")
                        .fetch_one(&mut *conn)
                        .await
                        .unwrap();
                    assert_eq!(count, 20);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    requests as f64 / started.elapsed().as_secs_f64()
}

async fn sqlite_serving(count: usize, requests: usize) {
    let dir = TempDir(std::env::temp_dir().join(format!("tenancy_bench_{}", token())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let manager = sqlite_manager(
        &dir,
        PoolConfig::new()
            .max_connections(50)
            .max_connections_per_tenant(2)
            .max_pools(1000),
    )
    .await;
    let created = Instant::now();
    let tenants: Vec<RegistryTenant> = futures_util::stream::iter(0..count)
        .map(|n| {
            let manager = manager.clone();
            async move {
                manager
                    .create(NewTenant::new(id(n), format!("T{n}")))
                    .await
                    .unwrap()
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    println!(
        "sqlite: {count} tenants created in {:.1} s ({:.0}/s, 4 at a time)",
        created.elapsed().as_secs_f64(),
        count as f64 / created.elapsed().as_secs_f64()
    );
    let rate = round_robin(&manager, &tenants, 64, requests).await;
    let stats = manager.pools().stats();
    manager.pools().close_all().await;

    // The same tenants with a pool for each (as many open pools as tenants).
    let wide = DatabaseManager::new(
        manager.registry().clone(),
        TenantPools::new(
            manager.backend().clone(),
            PoolConfig::new()
                .max_connections(50)
                .max_connections_per_tenant(2)
                .max_pools(count as u64),
        ),
        migrations(),
    );
    let wide_rate = round_robin(&wide, &tenants, 64, requests).await;
    let wide_stats = wide.pools().stats();
    wide.pools().close_all().await;

    // A hot set: the requests go to 20 of the tenants (20 x 2 connections fit the budget).
    let hot = DatabaseManager::new(
        manager.registry().clone(),
        TenantPools::new(
            manager.backend().clone(),
            PoolConfig::new()
                .max_connections(50)
                .max_connections_per_tenant(2)
                .max_pools(1000),
        ),
        migrations(),
    );
    let hot_rate = round_robin(&hot, &tenants[..20], 64, requests).await;
    let hot_stats = hot.pools().stats();
    hot.pools().close_all().await;

    // Baseline: the same query on one SQLite database through one sqlx pool of 50.
    let options = SqliteConnectOptions::new()
        .filename(dir.0.join("single.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    let single = SqlitePoolOptions::new()
        .max_connections(50)
        .connect_with(options)
        .await
        .unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!("{TABLE}; {}", seed())))
        .execute(&single)
        .await
        .unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..64)
        .map(|_| {
            let single = single.clone();
            let next = next.clone();
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < requests {
                    let mut conn = single.acquire().await.unwrap();
                    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM items")
                        .fetch_one(&mut *conn)
                        .await
                        .unwrap();
                    assert_eq!(count, 20);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let baseline = requests as f64 / started.elapsed().as_secs_f64();
    println!(
        "sqlite, {count} tenants round-robin, budget 50: {rate:>8.0} req/s   one database, one pool of 50: {baseline:>8.0} req/s   ratio {:.2}",
        rate / baseline
    );
    println!(
        "    {requests} requests: pools opened {}, pools closed {}, connections opened {}, reassigned {}, open at the end {}",
        stats.pools_opened,
        stats.pools_closed,
        stats.connections_opened,
        stats.connections_reassigned,
        stats.open_connections
    );
    println!(
        "sqlite, {count} tenants round-robin, budget 50, {count} open pools: {wide_rate:>8.0} req/s   ratio {:.2}",
        wide_rate / baseline
    );
    println!(
        "    {requests} requests: pools opened {}, pools closed {}, connections opened {}, reassigned {}",
        wide_stats.pools_opened,
        wide_stats.pools_closed,
        wide_stats.connections_opened,
        wide_stats.connections_reassigned
    );
    println!(
        "sqlite, hot set of 20 of the {count} tenants, budget 50: {hot_rate:>8.0} req/s   ratio {:.2}",
        hot_rate / baseline
    );
    println!(
        "    {requests} requests: pools opened {}, connections opened {}",
        hot_stats.pools_opened, hot_stats.connections_opened
    );
    single.close().await;
}

async fn pg_serving(count: usize, requests: usize) {
    let prefix = format!("b{}_", token());
    let (registry, _) = pg_registry(&prefix).await;
    let url = pg2_url();
    let backend = PgDatabases::new(
        Ident::new("main").unwrap(),
        PgConnectOptions::from_str(&url).unwrap(),
    )
    .naming(DatabaseNaming::with_prefix(&prefix).unwrap());
    let manager = DatabaseManager::new(
        registry.clone(),
        TenantPools::new(
            backend,
            PoolConfig::new()
                .max_connections(50)
                .max_connections_per_tenant(2)
                .max_pools(1000),
        ),
        migrations(),
    );
    let tenants: Vec<RegistryTenant> = futures_util::stream::iter(0..count)
        .map(|n| {
            let manager = manager.clone();
            async move {
                manager
                    .create(NewTenant::new(id(n), format!("T{n}")))
                    .await
                    .unwrap()
            }
        })
        .buffer_unordered(4)
        .collect()
        .await;
    let rate = round_robin(&manager, &tenants, 64, requests).await;
    let stats = manager.pools().stats();
    manager.pools().close_all().await;
    // Baseline: the same query on one database through one sqlx pool of 50.
    let single = sqlx::postgres::PgPoolOptions::new()
        .max_connections(50)
        .connect_with(
            PgConnectOptions::from_str(&url)
                .unwrap()
                .database(tenants[0].storage().database().unwrap().database().as_str()),
        )
        .await
        .unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..64)
        .map(|_| {
            let single = single.clone();
            let next = next.clone();
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < requests {
                    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM items")
                        .fetch_one(&single)
                        .await
                        .unwrap();
                    assert_eq!(count, 20);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let baseline = requests as f64 / started.elapsed().as_secs_f64();
    println!(
        "postgres, {count} tenants round-robin, budget 50: {rate:>8.0} req/s   one database, one pool of 50: {baseline:>8.0} req/s   ratio {:.2}",
        rate / baseline
    );
    println!(
        "    {requests} requests: pools opened {}, pools closed {}, connections opened {}, reassigned {}",
        stats.pools_opened,
        stats.pools_closed,
        stats.connections_opened,
        stats.connections_reassigned
    );
    single.close().await;
    drop(manager);
    registry.pool().close().await;
    pg_cleanup(&url, &prefix).await;
    pg_cleanup(&pg_url(), &prefix).await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let quick = quick();
        let serving_only = std::env::var("TENANCY_BENCH_ONLY").is_ok_and(|only| only == "serving");
        if !serving_only {
            println!(
                "== database per tenant: provisioning, one tenant after another (1 table + 20 seeded rows)"
            );
            postgres_provisioning(if quick { 20 } else { 100 }).await;
            mysql_provisioning(if quick { 20 } else { 200 }).await;
            sqlite_provisioning(if quick { 100 } else { 1000 }).await;
        }
        println!("== serving: tenants round-robin, 64 concurrent tasks, budget 50 connections (2 per tenant, 1,000 open pools)");
        let (tenants, requests) = if quick { (1000, 5000) } else { (10_000, 50_000) };
        sqlite_serving(tenants, requests).await;
        let (tenants, requests) = if quick { (100, 2000) } else { (500, 10_000) };
        pg_serving(tenants, requests).await;
    });
    // Give spawned closes a moment before the runtime goes.
    std::thread::sleep(Duration::from_millis(100));
}
