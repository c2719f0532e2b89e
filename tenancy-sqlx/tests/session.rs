//! Session mode and the round-trip cost of scoping, against a real Postgres.

#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, Row};
use support::proxy::RoundTrips;
use support::{PgDb, eventually, id, items_migrations};
use tenancy_core::{TenancyError, TenantId};
use tenancy_sqlx::{NewTenant, SchemaPool};

async fn seed(schemas: &SchemaPool, tenant: &TenantId, rows: i32) {
    let mut tx = schemas.begin(tenant).await.unwrap();
    sqlx::query(
        "INSERT INTO items (tenant, name) SELECT $1, 'seed ' || g FROM generate_series(1, $2) g",
    )
    .bind(tenant.as_str())
    .bind(rows)
    .execute(&mut tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn backend_pid(executor: impl Executor<'_, Database = sqlx::Postgres>) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(executor)
        .await
        .unwrap()
}

async fn search_path(executor: impl Executor<'_, Database = sqlx::Postgres>) -> String {
    sqlx::query_scalar("SELECT current_setting('search_path')")
        .fetch_one(executor)
        .await
        .unwrap()
}

/// Session mode: scoped on acquire, reset on release; a failed reset closes
/// the connection; a dropped session is reset in the background.
#[tokio::test]
async fn session_mode_resets_or_closes() {
    let db = PgDb::new().await;
    let manager = support::manager(&db, 1, items_migrations()).await;
    manager
        .create(NewTenant::new(id("acme"), "acme"))
        .await
        .unwrap();
    seed(manager.schemas(), &id("acme"), 3).await;
    let schemas = manager.schemas().clone();
    let pool = schemas.pool().clone();
    let default_path = search_path(&pool).await;
    let pid = backend_pid(&pool).await;

    // Scoped across several transactions, then reset.
    let mut session = schemas.session(&id("acme")).await.unwrap();
    assert_eq!(search_path(&mut session).await, "\"tenant_acme\", pg_temp");
    for _ in 0..2 {
        let mut tx = session.begin().await.unwrap();
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
            .fetch_one(&mut tx)
            .await
            .unwrap();
        assert_eq!(count, 3);
        tx.commit().await.unwrap();
    }
    session.release().await.unwrap();
    assert_eq!(backend_pid(&pool).await, pid, "returned to the pool");
    assert_eq!(search_path(&pool).await, default_path, "reset on release");

    // Dropped without release (a cancelled request): reset in the background.
    let session = schemas.session(&id("acme")).await.unwrap();
    drop(session);
    assert!(
        eventually(Duration::from_secs(10), || async {
            search_path(&pool).await == default_path
        })
        .await
    );
    assert_eq!(backend_pid(&pool).await, pid);

    // The reset fails (the connection is left in an aborted transaction that
    // sqlx does not track): the connection is closed, never reused.
    let mut session = schemas.session(&id("acme")).await.unwrap();
    sqlx::raw_sql("BEGIN").execute(&mut session).await.unwrap();
    assert!(
        sqlx::query("SELECT 1 / 0")
            .execute(&mut session)
            .await
            .is_err()
    );
    let error = session.release().await.unwrap_err();
    assert!(matches!(error, TenancyError::Storage { .. }), "{error:?}");
    let new_pid = backend_pid(&pool).await;
    assert_ne!(new_pid, pid, "the connection was closed, not returned");
    assert_eq!(search_path(&pool).await, default_path);
}

/// A scoped transaction costs exactly the round trips of an unscoped one:
/// `BEGIN` and `set_config` travel together in one simple query.
#[tokio::test]
async fn scoped_transaction_adds_no_round_trip() {
    let db = PgDb::new().await;
    let manager = support::manager(&db, 1, items_migrations()).await;
    manager
        .create(NewTenant::new(id("acme"), "acme"))
        .await
        .unwrap();
    let proxy = RoundTrips::start(&db.options).await;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(proxy.options.clone())
        .await
        .unwrap();
    let schemas = SchemaPool::new(pool.clone());
    let query = "SELECT count(*) FROM pg_class WHERE relname = 'items'";

    async fn unscoped(pool: &sqlx::PgPool, query: &'static str) {
        let mut tx = pool.begin().await.unwrap();
        let _: i64 = sqlx::query_scalar(query).fetch_one(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
    }
    async fn scoped(schemas: &SchemaPool, query: &'static str) {
        let mut tx = schemas.begin(&id("acme")).await.unwrap();
        let _: i64 = sqlx::query_scalar(query).fetch_one(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
    }
    // Warm up: statements prepared and cached, connection idle in the pool.
    unscoped(&pool, query).await;
    scoped(&schemas, query).await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let before = proxy.get();
    unscoped(&pool, query).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let plain = proxy.get() - before;

    let before = proxy.get();
    scoped(&schemas, query).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let tenant = proxy.get() - before;

    eprintln!("round trips: unscoped transaction {plain}, scoped transaction {tenant}");
    assert!(plain >= 3, "BEGIN, query, COMMIT at least (got {plain})");
    assert_eq!(tenant, plain, "scoping adds no round trip");

    // Sanity: the counter does count (a bare query is one round trip fewer).
    let before = proxy.get();
    let _: i64 = sqlx::query_scalar(query).fetch_one(&pool).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(proxy.get() - before, plain - 2);
    let row = sqlx::query("SELECT 1 AS one")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(row.get::<i32, _>("one"), 1);
}

/// Nothing relies on pool hooks (`before_acquire` does not run for new
/// connections): the first, freshly opened connection of a pool is scoped.
#[tokio::test]
async fn fresh_connections_are_scoped_without_pool_hooks() {
    let db = PgDb::new().await;
    let manager = support::manager(&db, 1, items_migrations()).await;
    manager
        .create(NewTenant::new(id("acme"), "acme"))
        .await
        .unwrap();
    for session_mode in [false, true] {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .connect_lazy_with(db.options.clone());
        assert_eq!(pool.size(), 0, "no connection yet");
        let schemas = SchemaPool::new(pool.clone());
        if session_mode {
            let mut session = schemas.session(&id("acme")).await.unwrap();
            assert_eq!(search_path(&mut session).await, "\"tenant_acme\", pg_temp");
            session.release().await.unwrap();
        } else {
            let mut tx = schemas.begin(&id("acme")).await.unwrap();
            assert_eq!(search_path(&mut tx).await, "\"tenant_acme\", pg_temp");
            tx.commit().await.unwrap();
        }
        pool.close().await;
    }
}
