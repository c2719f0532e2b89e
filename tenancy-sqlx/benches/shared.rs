//! Shared-schema mode: query latency of a tenant-scoped transaction as a ratio
//! to the same query unscoped (with an explicit tenant filter), per backend,
//! measured in one run.
//!
//! ```text
//! cargo bench -p tenancy-sqlx --all-features --bench shared
//! ```
//!
//! Needs a Postgres superuser at `TENANCY_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and MySQL/MariaDB at
//! `TENANCY_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`); works in
//! databases (and a role) of its own, dropped at the end; SQLite in a
//! temporary file. `TENANCY_BENCH_QUICK=1` runs fewer rounds.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor};
use tenancy_core::TenantId;
use tenancy_sqlx::registry::{MySqlRegistry, SqliteRegistry};
use tenancy_sqlx::shared::keyed::{
    MySqlSharedManager, MySqlSharedPool, SqliteSharedManager, SqliteSharedPool,
};
use tenancy_sqlx::shared::rls::RlsManager;
use tenancy_sqlx::{
    Ident, NewTenant, PgRegistry, RegistryConfig, RegistryTenant, RlsPool, TenantMigrations,
};

const TENANTS: usize = 50;
const ROWS: usize = 20;

fn token() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    format!("{:012x}", hasher.finish() & 0xffff_ffff_ffff)
}

fn tenant_id(n: usize) -> TenantId {
    TenantId::new(format!("t{n:02}")).unwrap()
}

struct Settings {
    rounds: usize,
    per_round: usize,
}

async fn round<F, Fut>(iterations: usize, offset: usize, f: &mut F) -> Duration
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    let started = Instant::now();
    for n in 0..iterations {
        f(offset + n).await;
    }
    started.elapsed() / iterations as u32
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// Runs the variants interleaved, `rounds` times, and prints the medians with
/// ratios to the variant named `baseline`.
async fn measure<F, Fut>(
    settings: &Settings,
    backend: &str,
    variants: &mut [(&str, F)],
    baseline: usize,
) where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    for (_, f) in variants.iter_mut() {
        round(100, 0, f).await;
    }
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); variants.len()];
    for r in 0..settings.rounds {
        for (i, (_, f)) in variants.iter_mut().enumerate() {
            samples[i].push(round(settings.per_round, r * settings.per_round, f).await);
        }
    }
    let fastest: Vec<Duration> = samples
        .iter()
        .map(|rounds| rounds.iter().copied().min().unwrap_or_default())
        .collect();
    let medians: Vec<Duration> = samples.into_iter().map(median).collect();
    let (base_median, base_fastest) = (
        medians[baseline].as_secs_f64(),
        fastest[baseline].as_secs_f64(),
    );
    println!(
        "\n{backend}: one task, pool of 2, {} interleaved rounds of {} transactions \
         ({TENANTS} tenants x {ROWS} rows in one table); median round, then fastest round:",
        settings.rounds, settings.per_round
    );
    for (i, (name, _)) in variants.iter().enumerate() {
        let marker = if i == baseline { "  (baseline)" } else { "" };
        println!(
            "  {name:<58} {:7.1} µs {:5.2}x | {:7.1} µs {:5.2}x{marker}",
            medians[i].as_secs_f64() * 1e6,
            medians[i].as_secs_f64() / base_median,
            fastest[i].as_secs_f64() * 1e6,
            fastest[i].as_secs_f64() / base_fastest,
        );
    }
}

// ---------------------------------------------------------------- Postgres

async fn postgres(settings: &Settings) {
    let admin_url = std::env::var("TENANCY_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let admin = PgConnectOptions::from_str(&admin_url).unwrap();
    let name = format!("tenancy_bench_shared_{}", token());
    let role = format!("tenancy_bench_{}", token());
    let mut conn = admin.connect().await.expect("connect to Postgres");
    conn.execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .await
        .unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(admin.clone().database(&name))
        .await
        .unwrap();
    let registry = PgRegistry::connect(pool.clone(), RegistryConfig::default())
        .await
        .unwrap();
    let shared = RlsPool::new(pool.clone())
        .role(Ident::new(&role).unwrap())
        .tables([Ident::new("items").unwrap()]);
    let migrations = TenantMigrations::from_sql([(
        1,
        "items",
        "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)",
    )])
    .unwrap();
    let manager = RlsManager::new(registry, shared.clone(), migrations);
    manager.setup().await.unwrap();
    let mut tenants: Vec<RegistryTenant> = Vec::new();
    for n in 0..TENANTS {
        let tenant = manager
            .create(NewTenant::new(tenant_id(n), "bench"))
            .await
            .unwrap();
        let mut tx = shared.begin(&tenant).await.unwrap();
        sqlx::query("INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, $1) g")
            .bind(ROWS as i32)
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        tenants.push(tenant);
    }
    sqlx::query("ANALYZE items").execute(&pool).await.unwrap();
    let keys: Vec<String> = tenants
        .iter()
        .map(|t| t.storage().shared_key().unwrap().to_string())
        .collect();
    const FILTERED: &str = "SELECT count(*) FROM items WHERE tenant_id = $1 AND name <> ''";
    const SCOPED: &str = "SELECT count(*) FROM items WHERE name <> ''";

    enum Variant {
        Single,
        Unscoped,
        UnscopedAll,
        Scoped { many: bool },
        ScopedFiltered,
    }
    let run = |variant: Variant| {
        let pool = pool.clone();
        let shared = shared.clone();
        let tenants = tenants.clone();
        let keys = keys.clone();
        move |n: usize| {
            let pool = pool.clone();
            let shared = shared.clone();
            let which = match variant {
                Variant::Scoped { many: true } => n % TENANTS,
                _ => 0,
            };
            let tenant = tenants[which].clone();
            let key = keys[which].clone();
            let variant = match variant {
                Variant::Single => 0,
                Variant::Unscoped => 1,
                Variant::UnscopedAll => 2,
                Variant::Scoped { .. } => 3,
                Variant::ScopedFiltered => 4,
            };
            async move {
                let count: i64 = match variant {
                    0 => sqlx::query_scalar(FILTERED)
                        .bind(&key)
                        .fetch_one(&pool)
                        .await
                        .unwrap(),
                    1 | 2 => {
                        let mut tx = pool.begin().await.unwrap();
                        let count = if variant == 1 {
                            sqlx::query_scalar(FILTERED)
                                .bind(&key)
                                .fetch_one(&mut *tx)
                                .await
                        } else {
                            sqlx::query_scalar(SCOPED).fetch_one(&mut *tx).await
                        }
                        .unwrap();
                        tx.commit().await.unwrap();
                        count
                    }
                    3 => {
                        let mut tx = shared.begin(&tenant).await.unwrap();
                        let count = sqlx::query_scalar(SCOPED).fetch_one(&mut tx).await.unwrap();
                        tx.commit().await.unwrap();
                        count
                    }
                    _ => {
                        let mut tx = shared.begin(&tenant).await.unwrap();
                        let count = sqlx::query_scalar(FILTERED)
                            .bind(&key)
                            .fetch_one(&mut tx)
                            .await
                            .unwrap();
                        tx.commit().await.unwrap();
                        count
                    }
                };
                assert!(count as usize == ROWS || count as usize == ROWS * TENANTS);
            }
        }
    };
    let mut variants = [
        (
            "unscoped single statement, tenant filter (no transaction)",
            run(Variant::Single),
        ),
        (
            "unscoped transaction, `WHERE tenant_id = $1` (baseline)",
            run(Variant::Unscoped),
        ),
        (
            "unscoped transaction, no filter (all tenants' rows)",
            run(Variant::UnscopedAll),
        ),
        (
            "RLS transaction (role + key), no WHERE, one tenant",
            run(Variant::Scoped { many: false }),
        ),
        (
            "RLS transaction (role + key), no WHERE, 50 tenants in turn",
            run(Variant::Scoped { many: true }),
        ),
        (
            "RLS transaction, explicit `WHERE tenant_id = $1` as well",
            run(Variant::ScopedFiltered),
        ),
    ];
    measure(settings, "Postgres (row-level security)", &mut variants, 1).await;
    pool.close().await;
    conn.execute(AssertSqlSafe(format!(
        "DROP DATABASE \"{name}\" WITH (FORCE)"
    )))
    .await
    .unwrap();
    conn.execute(AssertSqlSafe(format!("DROP ROLE \"{role}\"")))
        .await
        .unwrap();
    conn.close().await.unwrap();
}

// ------------------------------------------------------ MySQL and SQLite

/// The MySQL / SQLite measurement, written once for both drivers.
macro_rules! keyed_bench {
    ($label:expr, $settings:expr, $pool:expr, $shared:expr, $manager:ty, $registry:expr, $ddl:expr) => {{
        let pool = $pool;
        let shared = $shared;
        let migrations = TenantMigrations::from_sql([(1, "items", $ddl)]).unwrap();
        let manager = <$manager>::new($registry, shared.clone(), migrations);
        manager.setup().await.unwrap();
        let mut tenants: Vec<RegistryTenant> = Vec::new();
        for n in 0..TENANTS {
            let tenant = manager
                .create(NewTenant::new(tenant_id(n), "bench"))
                .await
                .unwrap();
            let mut tx = shared.begin(&tenant).await.unwrap();
            for row in 0..ROWS {
                tx.insert("items")
                    .value("name", format!("item {row}"))
                    .execute()
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
            tenants.push(tenant);
        }
        let keys: Vec<String> = tenants
            .iter()
            .map(|t| t.storage().shared_key().unwrap().to_string())
            .collect();
        const FILTERED: &str = "SELECT COUNT(*) FROM items WHERE tenant_id = ? AND name <> ''";
        const SCOPED: &str = "SELECT COUNT(*) FROM items WHERE tenant_id = {tenant} AND name <> ''";
        let run = |variant: usize| {
            let pool = pool.clone();
            let shared = shared.clone();
            let tenants = tenants.clone();
            let keys = keys.clone();
            move |n: usize| {
                let pool = pool.clone();
                let shared = shared.clone();
                let which = if variant == 3 { n % TENANTS } else { 0 };
                let tenant = tenants[which].clone();
                let key = keys[which].clone();
                async move {
                    let count: i64 = match variant {
                        0 => sqlx::query_scalar(FILTERED)
                            .bind(&key)
                            .fetch_one(&pool)
                            .await
                            .unwrap(),
                        1 => {
                            let mut tx = pool.begin().await.unwrap();
                            let count = sqlx::query_scalar(FILTERED)
                                .bind(&key)
                                .fetch_one(&mut *tx)
                                .await
                                .unwrap();
                            tx.commit().await.unwrap();
                            count
                        }
                        _ => {
                            let mut tx = shared.begin(&tenant).await.unwrap();
                            let count = tx.query_scalar(SCOPED).fetch_one().await.unwrap();
                            tx.commit().await.unwrap();
                            count
                        }
                    };
                    assert_eq!(count as usize, ROWS);
                }
            }
        };
        let mut variants = [
            (
                "unscoped single statement, tenant filter (no transaction)",
                run(0),
            ),
            (
                "unscoped transaction, `WHERE tenant_id = ?` (baseline)",
                run(1),
            ),
            (
                "SharedTransaction, `{tenant}` bound by the helper, one tenant",
                run(2),
            ),
            (
                "SharedTransaction, `{tenant}` bound, 50 tenants in turn",
                run(3),
            ),
        ];
        measure($settings, $label, &mut variants, 1).await;
        pool.close().await;
    }};
}

async fn mysql(settings: &Settings) {
    let admin_url = std::env::var("TENANCY_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned());
    let admin = MySqlConnectOptions::from_str(&admin_url).unwrap();
    let name = format!("tenancy_bench_shared_{}", token());
    let mut conn = admin.connect().await.expect("connect to MySQL/MariaDB");
    conn.execute(AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
        .await
        .unwrap();
    let pool = MySqlPoolOptions::new()
        .max_connections(2)
        .connect_with(admin.clone().database(&name))
        .await
        .unwrap();
    let registry = MySqlRegistry::connect(pool.clone(), RegistryConfig::default())
        .await
        .unwrap();
    let shared = MySqlSharedPool::new(pool.clone()).tables([Ident::new("items").unwrap()]);
    keyed_bench!(
        "MySQL / MariaDB (scoped helpers)",
        settings,
        pool,
        shared,
        MySqlSharedManager,
        registry,
        "CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, tenant_id VARCHAR(63) NOT NULL, \
         name VARCHAR(255) NOT NULL, INDEX items_tenant (tenant_id, id)) ENGINE=InnoDB"
    );
    conn.execute(AssertSqlSafe(format!("DROP DATABASE `{name}`")))
        .await
        .unwrap();
    conn.close().await.unwrap();
}

async fn sqlite(settings: &Settings) {
    let dir = std::env::temp_dir().join(format!("tenancy_bench_shared_{}", token()));
    std::fs::create_dir_all(&dir).unwrap();
    let options = SqliteConnectOptions::new()
        .filename(dir.join("app.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal);
    let pool = SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap();
    let registry = SqliteRegistry::connect(pool.clone(), RegistryConfig::default())
        .await
        .unwrap();
    let shared = SqliteSharedPool::new(pool.clone()).tables([Ident::new("items").unwrap()]);
    keyed_bench!(
        "SQLite (scoped helpers, WAL)",
        settings,
        pool,
        shared,
        SqliteSharedManager,
        registry,
        "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, \
         name TEXT NOT NULL); CREATE INDEX items_tenant ON items (tenant_id, id)"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let quick = std::env::var("TENANCY_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let settings = Settings {
        rounds: 20,
        per_round: if quick { 100 } else { 500 },
    };
    // `cargo bench` passes `--bench`; a name filter is accepted and ignored.
    postgres(&settings).await;
    mysql(&settings).await;
    sqlite(&settings).await;
}
