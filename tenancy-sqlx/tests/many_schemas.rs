//! Schema mode with many tenants on several migration versions at once:
//! 1,000 tenants on 3 versions whose tables differ in shape, read and written
//! concurrently through one small pool. Every answer must come back with its
//! own version's column types, and the connections' prepared statements must
//! number those of the versions, not of the tenants.

#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use futures_util::{StreamExt, TryStreamExt, stream};
use sqlx::{Column, Row, TypeInfo};
use support::{PgDb, id};
use tenancy_core::TenantId;
use tenancy_sqlx::migrate::TenantFilter;
use tenancy_sqlx::{MigrateOptions, NewTenant, SchemaPool, TenantMigrations};

const TENANTS: usize = 1_000;
const POOL: u32 = 6;
const CLIENTS: usize = 24;
const ROUNDS: usize = 150;

const V1: (i64, &str, &str) = support::PRICES_V1;
const V2: (i64, &str, &str) = support::PRICES_V2;
const V3: (i64, &str, &str) = (
    3,
    "a note",
    "ALTER TABLE prices ADD COLUMN note text NOT NULL DEFAULT 'v3'",
);

/// Tenant `n`'s version: a third of the tenants on each.
fn version_of(n: usize) -> usize {
    n % 3 + 1
}

fn tenant(n: usize) -> TenantId {
    id(&format!("t{n:04}"))
}

/// What `SELECT * FROM prices WHERE id = 1` must look like per version.
fn expected(version: usize) -> (&'static [&'static str], &'static str) {
    match version {
        1 => (&["int4", "int4"], "42"),
        2 => (&["int4", "text"], "42 EUR"),
        _ => (&["int4", "text", "text"], "42 EUR"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_tenants_on_three_versions_under_mixed_load() {
    let db = PgDb::new().await;
    let migrations = [
        TenantMigrations::from_sql([V1]).unwrap(),
        TenantMigrations::from_sql([V1, V2]).unwrap(),
        TenantMigrations::from_sql([V1, V2, V3]).unwrap(),
    ];
    let manager = support::manager(&db, POOL, migrations[0].clone()).await;
    stream::iter(0..TENANTS)
        .map(|n| {
            let manager = &manager;
            async move { manager.create(NewTenant::new(tenant(n), "t")).await }
        })
        .buffer_unordered(POOL as usize)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    for version in [2, 3] {
        let ids = (0..TENANTS)
            .filter(|n| version_of(*n) >= version)
            .map(tenant);
        let report = manager
            .with_migrations(migrations[version - 1].clone())
            .migrate_all(MigrateOptions::new().filter(TenantFilter::all().only(ids)))
            .await
            .unwrap();
        assert_eq!(report.failed().count(), 0);
    }

    let schemas = manager.schemas().clone();
    stream::iter(0..CLIENTS)
        .map(|client| {
            let schemas = schemas.clone();
            tokio::spawn(async move { client_load(&schemas, client).await })
        })
        .buffer_unordered(CLIENTS)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();

    // Every connection holds the statements of 3 versions at most, none of
    // one schema alone: 2 statement texts × 3 versions.
    // Hold every connection of the pool at once, so each one is looked at.
    let mut held = Vec::new();
    for _ in 0..POOL {
        held.push(schemas.begin(&tenant(0)).await.unwrap());
    }
    for mut tx in held {
        let (by_version, by_schema): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE statement LIKE '/* tenancy version=%'), \
                    count(*) FILTER (WHERE statement LIKE '/* tenancy schema=%') \
             FROM pg_prepared_statements",
        )
        .persistent(false)
        .fetch_one(tx.unpartitioned_connection())
        .await
        .unwrap();
        assert!(
            by_version <= 6,
            "{by_version} version statements on one connection"
        );
        assert_eq!(by_schema, 0);
        tx.commit().await.unwrap();
    }
}

/// One client: reads and writes in tenants picked over all versions.
async fn client_load(schemas: &SchemaPool, client: usize) {
    let mut n = client * 7919 % TENANTS;
    for round in 0..ROUNDS {
        n = (n * 31 + 17 + round) % TENANTS;
        let version = version_of(n);
        let mut tx = schemas.begin(&tenant(n)).await.unwrap();
        let row = sqlx::query("SELECT * FROM prices WHERE id = $1")
            .bind(1)
            .fetch_one(&mut tx)
            .await
            .unwrap_or_else(|error| panic!("t{n:04} (v{version}): {error}"));
        let (types, price) = expected(version);
        let seen: Vec<String> = row
            .columns()
            .iter()
            .map(|column| column.type_info().name().to_lowercase())
            .collect();
        assert_eq!(seen, types, "t{n:04} is on v{version}");
        let got = if version == 1 {
            row.get::<i32, _>("price").to_string()
        } else {
            row.get::<String, _>("price")
        };
        assert_eq!(got, price);
        // A write whose bind type follows the version.
        let key = 1_000 + (client * ROUNDS + round) as i32;
        let insert = sqlx::query("INSERT INTO prices (id, price) VALUES ($1, $2)").bind(key);
        let insert = if version == 1 {
            insert.bind(key)
        } else {
            insert.bind(key.to_string())
        };
        insert.execute(&mut tx).await.unwrap();
        tx.rollback().await.unwrap();
    }
}

/// With affinity, every connection serves only its partition's schemas (the
/// point: Postgres' per-connection catalog caches stay a share of the
/// tenants), through `begin` and qualified statements alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn affinity_keeps_each_connection_to_a_share_of_the_schemas() {
    use std::collections::{BTreeMap, BTreeSet};
    let db = PgDb::new().await;
    let manager = support::manager(&db, 6, TenantMigrations::from_sql([V1]).unwrap()).await;
    let tenants: Vec<TenantId> = (0..30).map(tenant).collect();
    for tenant in &tenants {
        manager
            .create(NewTenant::new(tenant.clone(), "t"))
            .await
            .unwrap();
    }
    let schemas = manager.schemas().clone().affinity(3);
    let mut served: BTreeMap<i32, BTreeSet<TenantId>> = BTreeMap::new();
    for round in 0..6 {
        // Several at once, so that partitions open more than one connection.
        let batch = tenants.iter().map(|tenant| {
            let schemas = schemas.clone();
            let tenant = tenant.clone();
            async move {
                let pid: i32 = if round % 2 == 0 {
                    let mut tx = schemas.begin(&tenant).await.unwrap();
                    let pid = sqlx::query_scalar("SELECT pg_backend_pid() FROM prices LIMIT 1")
                        .fetch_one(&mut tx)
                        .await
                        .unwrap();
                    tx.commit().await.unwrap();
                    pid
                } else {
                    let scope = schemas.qualified(&tenant).unwrap();
                    sqlx::query_scalar(
                        scope
                            .sql("SELECT pg_backend_pid() FROM {schema}.prices LIMIT 1")
                            .unwrap(),
                    )
                    .persistent(scope.persistent())
                    .fetch_one(scope.pool())
                    .await
                    .unwrap()
                };
                (pid, tenant)
            }
        });
        for (pid, tenant) in futures_util::future::join_all(batch).await {
            served.entry(pid).or_default().insert(tenant);
        }
    }
    assert!(served.len() >= 3, "every partition served: {served:?}");
    assert!(
        served.len() <= 6,
        "at most the pool's size: {}",
        served.len()
    );
    for (pid, tenants) in &served {
        assert!(
            tenants.len() < 30,
            "connection {pid} served every schema: affinity is not in effect"
        );
    }
    // The partitions split the tenants: no connection serves tenants of two.
    let mut owner: BTreeMap<TenantId, BTreeSet<i32>> = BTreeMap::new();
    for (pid, tenants) in &served {
        for tenant in tenants {
            owner.entry(tenant.clone()).or_default().insert(*pid);
        }
    }
    for pids in owner.values() {
        assert!(
            pids.len() <= 2,
            "a tenant used more than its partition's 2 connections"
        );
    }
}
