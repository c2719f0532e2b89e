//! tenancy-sqlx on Postgres: creation throughput, migrate-all time and scoped
//! query latency, each against a baseline measured in the same run.
//!
//! ```text
//! cargo bench -p tenancy-sqlx --features postgres --bench postgres
//! ```
//!
//! Needs a Postgres superuser at `TENANCY_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); works in a database of its
//! own, dropped at the end. `TENANCY_BENCH_QUICK=1` runs a smaller version.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, PgPool};
use tenancy_core::TenantId;
use tenancy_sqlx::schema::SchemaNaming;
use tenancy_sqlx::{
    Ident, MigrateOptions, NewTenant, PgRegistry, RegistryConfig, SchemaManager, SchemaPool,
    TenantMigrations,
};

const ONE_TABLE: &[(i64, &str, &str)] = &[(
    1,
    "items",
    "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
     tenant text NOT NULL, name text NOT NULL)",
)];

const ONE_TABLE_SEEDED: &[(i64, &str, &str)] = &[
    ONE_TABLE[0],
    (
        2,
        "seed",
        "INSERT INTO items (tenant, name) SELECT current_schema(), 'item ' || g FROM generate_series(1, 20) g",
    ),
];

const FIVE_TABLES: &[(i64, &str, &str)] = &[
    (
        1,
        "customers",
        "CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
        tenant text NOT NULL, name text NOT NULL, email text NOT NULL UNIQUE, \
        created_at timestamptz NOT NULL DEFAULT now()); \
        CREATE INDEX customers_name_idx ON customers (name)",
    ),
    (
        2,
        "products",
        "CREATE TABLE products (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
        tenant text NOT NULL, sku text NOT NULL UNIQUE, title text NOT NULL, price numeric(12, 2) NOT NULL); \
        CREATE INDEX products_title_idx ON products (title)",
    ),
    (
        3,
        "orders",
        "CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
        tenant text NOT NULL, customer_id bigint NOT NULL REFERENCES customers (id), \
        placed_at timestamptz NOT NULL DEFAULT now(), status text NOT NULL); \
        CREATE INDEX orders_customer_idx ON orders (customer_id); \
        CREATE INDEX orders_status_idx ON orders (status, placed_at)",
    ),
    (
        4,
        "order lines",
        "CREATE TABLE order_lines (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
        order_id bigint NOT NULL REFERENCES orders (id), product_id bigint NOT NULL REFERENCES products (id), \
        quantity int NOT NULL CHECK (quantity > 0)); \
        CREATE INDEX order_lines_order_idx ON order_lines (order_id); \
        CREATE INDEX order_lines_product_idx ON order_lines (product_id)",
    ),
    (
        5,
        "audit log",
        "CREATE TABLE audit_log (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
        tenant text NOT NULL, at timestamptz NOT NULL DEFAULT now(), event text NOT NULL, payload jsonb); \
        CREATE INDEX audit_log_at_idx ON audit_log (at)",
    ),
];

const SEED_20: &str =
    "INSERT INTO items (tenant, name) SELECT $1, 'item ' || g FROM generate_series(1, 20) g";

struct Bench {
    admin: PgConnectOptions,
    options: PgConnectOptions,
    name: String,
    quick: bool,
}

impl Bench {
    async fn pool(&self, size: u32) -> PgPool {
        PgPoolOptions::new()
            .max_connections(size)
            .acquire_timeout(Duration::from_secs(120))
            .connect_with(self.options.clone())
            .await
            .unwrap()
    }

    async fn manager(
        &self,
        pool: &PgPool,
        label: &str,
        migrations: &[(i64, &'static str, &'static str)],
    ) -> SchemaManager {
        let config = RegistryConfig::new()
            .schema(Ident::new(format!("registry_{label}")).unwrap())
            .channel(Ident::new(format!("changes_{label}")).unwrap())
            .naming(SchemaNaming::with_prefix(format!("{label}_")).unwrap());
        let registry = PgRegistry::connect(pool.clone(), config).await.unwrap();
        SchemaManager::new(
            registry.clone(),
            SchemaPool::for_registry(&registry),
            TenantMigrations::from_sql(migrations.iter().copied()).unwrap(),
        )
    }
}

fn per_second(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

fn tenant(label: &str, n: usize) -> TenantId {
    TenantId::new(format!("{label}{n}")).unwrap()
}

fn seeded(manager: SchemaManager) -> SchemaManager {
    manager.with_seed(|tx, tenant| {
        let id = tenant.id().to_string();
        Box::pin(async move {
            sqlx::query(SEED_20).bind(id).execute(&mut *tx).await?;
            Ok(())
        })
    })
}

/// The floor: one raw transaction per tenant doing the same DDL and seeding.
async fn bare_create_loop(
    pool: &PgPool,
    label: &str,
    count: usize,
    migrations: &[(i64, &str, &str)],
    seed: bool,
) -> Duration {
    let mut conn = pool.acquire().await.unwrap();
    let started = Instant::now();
    for n in 0..count {
        let schema = format!("bare_{label}_{n}");
        let mut sql = format!("BEGIN; CREATE SCHEMA {schema}; SET LOCAL search_path = {schema}; ");
        for (_, _, ddl) in migrations {
            sql.push_str(ddl);
            sql.push_str("; ");
        }
        if seed {
            sql.push_str(&format!(
                "INSERT INTO items (tenant, name) SELECT '{schema}', 'item ' || g FROM generate_series(1, 20) g; "
            ));
        }
        sql.push_str("COMMIT");
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    started.elapsed()
}

async fn creation(
    bench: &Bench,
    title: &str,
    migrations: &[(i64, &'static str, &'static str)],
    seed: bool,
) {
    let count = if bench.quick { 60 } else { 300 };
    let pool = bench.pool(4).await;
    let short = match (seed, migrations.len()) {
        (true, _) => "ch",
        (false, 2) => "cm",
        _ => "c5",
    };
    println!("\ncreate, {title}, {count} tenants one after another:");

    let bare = bare_create_loop(&pool, short, count, migrations, seed).await;
    let bare_rate = per_second(count, bare);
    println!("  bare SQL loop (baseline, 1 round trip each)   {bare_rate:8.1} /s");

    let direct = bench.manager(&pool, &format!("{short}d"), migrations).await;
    let direct = if seed { seeded(direct) } else { direct };
    let started = Instant::now();
    for n in 0..count {
        direct
            .create(NewTenant::new(tenant("d", n), "bench"))
            .await
            .unwrap();
    }
    let rate = per_second(count, started.elapsed());
    println!(
        "  create(), no spares                           {rate:8.1} /s  ({:.2}x baseline)",
        rate / bare_rate
    );

    let spared = bench.manager(&pool, &format!("{short}s"), migrations).await;
    let spared = if seed { seeded(spared) } else { spared };
    let provisioned = Instant::now();
    spared.replenish_spares(count).await.unwrap();
    let provisioning = per_second(count, provisioned.elapsed());
    let started = Instant::now();
    for n in 0..count {
        spared
            .create(NewTenant::new(tenant("s", n), "bench"))
            .await
            .unwrap();
    }
    let rate = per_second(count, started.elapsed());
    println!(
        "  create(), spares ready (burst)                {rate:8.1} /s  ({:.2}x baseline)",
        rate / bare_rate
    );
    println!("  replenish_spares() alone                      {provisioning:8.1} /s");

    // Sustained: a background task keeps replenishing while tenants are created.
    let sustained = bench.manager(&pool, &format!("{short}r"), migrations).await;
    let sustained = if seed { seeded(sustained) } else { sustained };
    let target = 20;
    sustained.replenish_spares(target).await.unwrap();
    let keeper = sustained.clone();
    let refill = tokio::spawn(async move {
        loop {
            keeper.replenish_spares(target).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    let started = Instant::now();
    for n in 0..count {
        sustained
            .create(NewTenant::new(tenant("r", n), "bench"))
            .await
            .unwrap();
    }
    let rate = per_second(count, started.elapsed());
    refill.abort();
    println!(
        "  create(), spares replenished concurrently     {rate:8.1} /s  ({:.2}x baseline)",
        rate / bare_rate
    );
    pool.close().await;
}

async fn setup_tenants(manager: &SchemaManager, label: &str, count: usize) {
    let started = Instant::now();
    let workers = 4;
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..workers {
        let manager = manager.clone();
        let label = label.to_owned();
        tasks.spawn(async move {
            for n in (worker..count).step_by(workers) {
                manager
                    .create(NewTenant::new(tenant(&label, n), "bench"))
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    eprintln!(
        "  (set-up: {count} tenants created in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
}

async fn migrate_all(bench: &Bench, count: usize, label: &str) {
    let pool_size = 8;
    let pool = bench.pool(pool_size).await;
    let base = [ONE_TABLE[0]];
    let v1 = bench.manager(&pool, label, &base).await;
    setup_tenants(&v1, "m", count).await;
    println!("\nmigrate-all, {count} tenants, one migration adding a nullable column:");

    let v2 = v1.with_migrations(
        TenantMigrations::from_sql([
            base[0],
            (2, "note", "ALTER TABLE items ADD COLUMN note text"),
        ])
        .unwrap(),
    );
    let report = v2.migrate_all(MigrateOptions::new()).await.unwrap();
    assert!(
        report.is_success() && report.migrated().count() == count,
        "{report}"
    );
    let parallel = report.elapsed.as_secs_f64();
    println!("  migrate_all(), concurrency {pool_size} (pool size)        {parallel:7.2} s");

    let again = v2.migrate_all(MigrateOptions::new()).await.unwrap();
    assert_eq!(again.up_to_date().count(), count);
    println!(
        "  migrate_all() again, all up to date             {:7.2} s",
        again.elapsed.as_secs_f64()
    );

    let v3 = v1.with_migrations(
        TenantMigrations::from_sql([
            base[0],
            (2, "note", "ALTER TABLE items ADD COLUMN note text"),
            (3, "memo", "ALTER TABLE items ADD COLUMN memo text"),
        ])
        .unwrap(),
    );
    let report = v3
        .migrate_all(MigrateOptions::new().concurrency(1))
        .await
        .unwrap();
    assert!(
        report.is_success() && report.migrated().count() == count,
        "{report}"
    );
    let sequential = report.elapsed.as_secs_f64();
    println!("  migrate_all(), concurrency 1                    {sequential:7.2} s");

    // Baseline: the same kind of change as a bare loop, no bookkeeping.
    let mut conn = pool.acquire().await.unwrap();
    let started = Instant::now();
    for n in 0..count {
        sqlx::raw_sql(AssertSqlSafe(format!(
            "ALTER TABLE {label}_m{n}.items ADD COLUMN extra text"
        )))
        .execute(&mut *conn)
        .await
        .unwrap();
    }
    let bare = started.elapsed().as_secs_f64();
    println!("  bare SQL loop (baseline), sequential            {bare:7.2} s");
    println!(
        "  ratios to the baseline: concurrency {pool_size} {:.2}x, concurrency 1 {:.2}x",
        parallel / bare,
        sequential / bare
    );
    drop(conn);
    pool.close().await;
}

/// Median per-iteration time of one round of `iterations`.
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

async fn latency(bench: &Bench) {
    let rounds = 20;
    let per_round = if bench.quick { 100 } else { 500 };
    let pool = bench.pool(2).await;
    let manager = seeded(bench.manager(&pool, "lat", ONE_TABLE).await);
    let tenants = 50;
    for n in 0..tenants {
        manager
            .create(NewTenant::new(tenant("l", n), "bench"))
            .await
            .unwrap();
    }
    let schemas = manager.schemas().clone();
    let qualified = "SELECT count(*) FROM lat_l0.items WHERE name <> ''";
    let scoped_sql = "SELECT count(*) FROM items WHERE name <> ''";
    println!(
        "\nscoped query latency: one task, transactions of one SELECT, {rounds} interleaved rounds \
         of {per_round}, median round:"
    );

    let mut single = |_: usize| {
        let pool = pool.clone();
        async move {
            let _: i64 = sqlx::query_scalar(qualified)
                .fetch_one(&pool)
                .await
                .unwrap();
        }
    };
    let mut unscoped = |_: usize| {
        let pool = pool.clone();
        async move {
            let mut tx = pool.begin().await.unwrap();
            let _: i64 = sqlx::query_scalar(qualified)
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    };
    let one_tenant = tenant("l", 0);
    let mut scoped_one = |_: usize| {
        let schemas = schemas.clone();
        let id = one_tenant.clone();
        async move {
            let mut tx = schemas.begin(&id).await.unwrap();
            let _: i64 = sqlx::query_scalar(scoped_sql)
                .fetch_one(&mut tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    };
    let mut scoped_many = |n: usize| {
        let schemas = schemas.clone();
        let id = tenant("l", n % tenants);
        async move {
            let mut tx = schemas.begin(&id).await.unwrap();
            let _: i64 = sqlx::query_scalar(scoped_sql)
                .fetch_one(&mut tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    };
    // Warm up every variant (statements prepared and cached).
    round(100, 0, &mut single).await;
    round(100, 0, &mut unscoped).await;
    round(100, 0, &mut scoped_one).await;
    round(100, 0, &mut scoped_many).await;
    let (mut a, mut b, mut c, mut d) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for r in 0..rounds {
        a.push(round(per_round, r * per_round, &mut single).await);
        b.push(round(per_round, r * per_round, &mut unscoped).await);
        c.push(round(per_round, r * per_round, &mut scoped_one).await);
        d.push(round(per_round, r * per_round, &mut scoped_many).await);
    }
    let (single, unscoped, scoped_one, scoped_many) = (median(a), median(b), median(c), median(d));
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let ratio = |d: Duration| d.as_secs_f64() / unscoped.as_secs_f64();
    println!(
        "  unscoped single statement (no transaction)       {:7.1} µs",
        us(single)
    );
    println!(
        "  unscoped transaction (baseline)                  {:7.1} µs",
        us(unscoped)
    );
    println!(
        "  scoped transaction, one tenant                   {:7.1} µs  ({:.2}x baseline)",
        us(scoped_one),
        ratio(scoped_one)
    );
    println!(
        "  scoped transaction, 50 tenants in turn           {:7.1} µs  ({:.2}x baseline)",
        us(scoped_many),
        ratio(scoped_many)
    );
    pool.close().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = std::env::var("TENANCY_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let admin = PgConnectOptions::from_str(&url)
        .unwrap()
        .disable_statement_logging();
    let name = format!("tenancy_bench_{}", std::process::id());
    let mut conn = admin
        .connect()
        .await
        .expect("cannot connect to Postgres (TENANCY_TEST_PG_URL)");
    let version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.execute(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .await
    .unwrap();
    conn.execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .await
        .unwrap();
    let bench = Bench {
        options: admin.clone().database(&name),
        admin,
        name,
        quick: std::env::var("TENANCY_BENCH_QUICK").is_ok_and(|v| v == "1"),
    };
    println!(
        "tenancy-sqlx Postgres benchmark: PostgreSQL {version}, {} CPUs{}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        if bench.quick { ", quick mode" } else { "" }
    );

    creation(
        &bench,
        "1 table + 20 rows seeded by a migration",
        ONE_TABLE_SEEDED,
        false,
    )
    .await;
    creation(
        &bench,
        "1 table + 20 rows seeded per tenant by a create hook",
        ONE_TABLE,
        true,
    )
    .await;
    creation(
        &bench,
        "5 tables + 12 indexes (5 migrations)",
        FIVE_TABLES,
        false,
    )
    .await;
    latency(&bench).await;
    migrate_all(&bench, if bench.quick { 200 } else { 1_000 }, "k1").await;
    if !bench.quick {
        migrate_all(&bench, 10_000, "k10").await;
    }

    let mut conn = bench.admin.connect().await.unwrap();
    conn.execute(AssertSqlSafe(format!(
        "DROP DATABASE {} WITH (FORCE)",
        bench.name
    )))
    .await
    .unwrap();
    conn.close().await.unwrap();
}
