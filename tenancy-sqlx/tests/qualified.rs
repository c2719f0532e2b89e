//! Schema-qualified tenant statements (`SchemaPool::qualified`) against a real
//! Postgres: every statement reaches its own tenant only, alongside
//! `search_path`-scoped transactions on the same pool.

#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use support::{PgDb, id, items_migrations};
use tenancy_core::TenantId;
use tenancy_sqlx::NewTenant;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn qualified_statements_reach_their_own_tenant_only() {
    let db = PgDb::new().await;
    let manager = support::manager(&db, 8, items_migrations()).await;
    let tenants: Vec<TenantId> = (0..20).map(|n| id(&format!("q{n:02}"))).collect();
    for tenant in &tenants {
        manager
            .create(NewTenant::new(tenant.clone(), tenant.as_str()))
            .await
            .unwrap();
    }
    let schemas = manager.schemas().clone();
    let foreign = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..400_usize {
        let tenant = tenants[(task * 7) % tenants.len()].clone();
        let schemas = schemas.clone();
        let foreign = foreign.clone();
        tasks.spawn(async move {
            if task % 2 == 0 {
                // Qualified: no search_path, no transaction.
                let scope = schemas.qualified(&tenant).unwrap();
                sqlx::query(
                    scope
                        .sql("INSERT INTO {schema}.items (tenant, name) VALUES ($1, $2)")
                        .unwrap(),
                )
                .bind(tenant.as_str())
                .bind(format!("task {task}"))
                .execute(schemas.pool())
                .await
                .unwrap();
                let markers: Vec<String> =
                    sqlx::query_scalar(scope.sql("SELECT tenant FROM {schema}.items").unwrap())
                        .fetch_all(schemas.pool())
                        .await
                        .unwrap();
                assert!(!markers.is_empty());
                let others = markers
                    .iter()
                    .filter(|marker| *marker != tenant.as_str())
                    .count();
                foreign.fetch_add(others as u64, Ordering::Relaxed);
            } else {
                // Scoped transactions interleave on the same connections.
                let mut tx = schemas.begin(&tenant).await.unwrap();
                sqlx::query("INSERT INTO items (tenant, name) VALUES ($1, $2)")
                    .bind(tenant.as_str())
                    .bind(format!("task {task}"))
                    .execute(&mut tx)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap();
    }
    assert_eq!(
        foreign.load(Ordering::Relaxed),
        0,
        "a qualified statement read another tenant's rows"
    );
    let mut total = 0_i64;
    for tenant in &tenants {
        let scope = schemas.qualified(tenant).unwrap();
        let (rows, other): (i64, i64) = sqlx::query_as(
            scope
                .sql("SELECT count(*), count(*) FILTER (WHERE tenant <> $1) FROM {schema}.items")
                .unwrap(),
        )
        .bind(tenant.as_str())
        .fetch_one(schemas.pool())
        .await
        .unwrap();
        assert_eq!(other, 0, "tenant {tenant} holds foreign rows");
        total += rows;
    }
    assert_eq!(total, 400, "every insert landed exactly once");
}

#[tokio::test]
async fn unqualified_templates_are_refused_and_forgotten_qualifiers_fail() {
    let db = PgDb::new().await;
    let manager = support::manager(&db, 2, items_migrations()).await;
    let acme = id("acme");
    manager
        .create(NewTenant::new(acme.clone(), "Acme"))
        .await
        .unwrap();
    let schemas = manager.schemas();
    let scope = schemas.qualified(&acme).unwrap();
    assert_eq!(scope.schema().as_str(), "tenant_acme");
    let Err(error) = scope.sql("SELECT * FROM items") else {
        panic!("a template without {{schema}} must be refused");
    };
    assert_eq!(error.kind(), "Configuration");
    // Tenant tables are not on the pool's default search_path: a statement
    // that forgets to qualify fails instead of reading anything.
    let unqualified = sqlx::query("SELECT * FROM items")
        .fetch_all(schemas.pool())
        .await;
    assert!(
        unqualified.is_err(),
        "an unqualified statement must not find tenant tables"
    );
}

/// With more tenants than hot schemas, only the hot schemas' qualified
/// statements are prepared; the others run unnamed, so a connection's
/// prepared statements stay bounded however many tenants it serves.
#[tokio::test]
async fn only_hot_schemas_prepare_their_statements() {
    let db = PgDb::new().await;
    let manager = support::manager(&db, 1, items_migrations()).await;
    let tenants: Vec<TenantId> = (0..30).map(|n| id(&format!("h{n:02}"))).collect();
    for tenant in &tenants {
        manager
            .create(NewTenant::new(tenant.clone(), tenant.as_str()))
            .await
            .unwrap();
    }
    let schemas = manager.schemas().clone().hot_schemas(4);
    // Two tenants are used often, the rest once per round.
    let mut persistent_seen = std::collections::BTreeSet::new();
    for round in 0..5 {
        for (n, tenant) in tenants.iter().enumerate() {
            let uses = if n < 2 { 4 } else { 1 };
            for _ in 0..uses {
                let scope = schemas.qualified(tenant).unwrap();
                if scope.persistent() {
                    persistent_seen.insert(tenant.clone());
                }
                let count: i64 =
                    sqlx::query_scalar(scope.sql("SELECT count(*) FROM {schema}.items").unwrap())
                        .persistent(scope.persistent())
                        .fetch_one(schemas.pool())
                        .await
                        .unwrap();
                assert_eq!(count, 0, "round {round}");
            }
        }
    }
    assert!(
        persistent_seen.contains(&tenants[0]) && persistent_seen.contains(&tenants[1]),
        "the often used tenants are hot: {persistent_seen:?}"
    );
    let prepared: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%.items'",
    )
    .persistent(false)
    .fetch_one(schemas.pool())
    .await
    .unwrap();
    assert!(
        (2..=8).contains(&prepared),
        "{prepared} qualified statements prepared on the one connection"
    );
}
