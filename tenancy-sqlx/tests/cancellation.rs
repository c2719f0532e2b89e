//! A scoped `begin` dropped after `BEGIN` was sent but before its reply
//! arrived (an HTTP client that disconnects at that moment) leaves nothing
//! behind: a proxy holds the server's reply to `BEGIN`, the future is dropped
//! there, and the next user of the pool finds no open transaction, the
//! default `search_path` and the login role.

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
use sqlx::{PgPool, Row};
use support::proxy::HoldProxy;
use support::{PgDb, eventually, id, items_migrations};
use tenancy_sqlx::shared::rls::RlsManager;
use tenancy_sqlx::{Ident, NewTenant, PgRegistry, RegistryConfig, RlsPool};

/// A one-connection pool to `db` through `proxy`, its connection opened.
/// No test before acquire, so `begin` sends `BEGIN` first thing.
async fn pool_through(db: &PgDb, proxy: &HoldProxy) -> PgPool {
    let options = db.options.clone().host("127.0.0.1").port(proxy.port);
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await
        .unwrap();
    sqlx::query("SELECT 1").execute(&pool).await.unwrap();
    // The connection is back (its release ping answered) before any hold.
    assert!(eventually(Duration::from_secs(10), || async { pool.num_idle() == 1 }).await);
    pool
}

/// Sessions of `db` that sit inside a transaction.
async fn open_transactions(db: &PgDb) -> i64 {
    let admin = db.pool(1).await;
    let count = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 \
         AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()",
    )
    .bind(&db.name)
    .fetch_one(&admin)
    .await
    .unwrap();
    admin.close().await;
    count
}

/// Drops `begin` while the proxy holds the reply to its `BEGIN`, once the
/// server shows the transaction open; then releases the reply.
async fn drop_mid_begin<F: Future>(db: &PgDb, proxy: &HoldProxy, begin: F) {
    proxy.set_hold(true);
    let mut begin = Box::pin(begin);
    let opened = tokio::select! {
        _ = &mut begin => panic!("begin completed although its reply was held"),
        opened = eventually(Duration::from_secs(10), || async { open_transactions(db).await == 1 }) => opened,
    };
    if !opened {
        let admin = db.pool(1).await;
        let rows: Vec<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT datname::text, state, query FROM pg_stat_activity WHERE datname = $1",
        )
        .bind(&db.name)
        .fetch_all(&admin)
        .await
        .unwrap();
        panic!("the BEGIN never reached the server: {rows:?}");
    }
    drop(begin);
    proxy.set_hold(false);
}

/// What the next user of the pool's connection finds: `search_path`,
/// current and login role, and whether it is outside a transaction block
/// (`SAVEPOINT` outside one fails with 25P01).
async fn next_user_state(pool: &PgPool) -> (String, String, String, bool) {
    let mut conn = pool.acquire().await.unwrap();
    let row = sqlx::query(
        "SELECT current_setting('search_path'), current_user::text, session_user::text",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let savepoint = sqlx::raw_sql("SAVEPOINT probe").execute(&mut *conn).await;
    let outside = matches!(
        &savepoint,
        Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("25P01")
    );
    (row.get(0), row.get(1), row.get(2), outside)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_begin_dropped_before_its_reply_leaves_no_open_transaction() {
    let db = PgDb::new().await;
    let manager = support::manager(&db, 2, items_migrations()).await;
    manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    let proxy = HoldProxy::start("127.0.0.1", db.options.get_port()).await;
    let pool = pool_through(&db, &proxy).await;
    let schemas = tenancy_sqlx::SchemaPool::new(pool.clone());
    // The first `begin` in a schema reads its migration version first
    // (outside any transaction); after it, `begin` sends `BEGIN` first thing.
    schemas
        .begin(&id("acme"))
        .await
        .unwrap()
        .commit()
        .await
        .unwrap();
    assert!(eventually(Duration::from_secs(10), || async { pool.num_idle() == 1 }).await);

    drop_mid_begin(&db, &proxy, schemas.begin(&id("acme"))).await;

    let (search_path, user, login, fresh_transaction) = next_user_state(&pool).await;
    assert_eq!(
        search_path, "\"$user\", public",
        "the tenant's search_path leaked"
    );
    assert_eq!(user, login);
    assert!(
        fresh_transaction,
        "the next user ran inside the dropped transaction"
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            open_transactions(&db).await == 0
        })
        .await,
        "a transaction stayed open on the server"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rls_begin_dropped_before_its_reply_leaves_the_login_role() {
    let db = PgDb::new().await;
    let role = db.role("cancel_tenant");
    let registry = PgRegistry::connect(db.pool(2).await, RegistryConfig::default())
        .await
        .unwrap();
    let setup = RlsPool::new(registry.pool().clone())
        .role(Ident::new(&role).unwrap())
        .tables([Ident::new("items").unwrap()]);
    let manager = RlsManager::new(registry, setup.clone(), items_migrations());
    manager.setup().await.unwrap();
    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    let proxy = HoldProxy::start("127.0.0.1", db.options.get_port()).await;
    let pool = pool_through(&db, &proxy).await;
    let shared = RlsPool::new(pool.clone())
        .role(Ident::new(&role).unwrap())
        .tables([Ident::new("items").unwrap()]);

    drop_mid_begin(&db, &proxy, shared.begin(&acme)).await;

    let (_, user, login, fresh_transaction) = next_user_state(&pool).await;
    assert_eq!(user, login, "the tenant role leaked to the next user");
    assert!(
        fresh_transaction,
        "the next user ran inside the dropped transaction"
    );
    let key: Option<String> = sqlx::query_scalar("SELECT current_setting('tenancy.tenant', true)")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(key.unwrap_or_default().is_empty(), "the tenant key leaked");
}

/// The backstop: a tenant transaction left idle past the timeout is ended by
/// the server (SQLSTATE 25P03), and its connection is not reused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_in_transaction_timeout_ends_a_forgotten_transaction() {
    let db = PgDb::new().await;
    let manager = support::manager(&db, 2, items_migrations()).await;
    manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    let schemas = manager
        .schemas()
        .clone()
        .idle_in_transaction_timeout(Duration::from_millis(200));
    let mut tx = schemas.begin(&id("acme")).await.unwrap();
    let timeout: String =
        sqlx::query_scalar("SELECT current_setting('idle_in_transaction_session_timeout')")
            .fetch_one(&mut tx)
            .await
            .unwrap();
    assert_eq!(timeout, "200ms");
    assert!(
        eventually(Duration::from_secs(10), || async {
            open_transactions(&db).await == 0
        })
        .await,
        "the server did not end the idle transaction"
    );
    let after = sqlx::query("SELECT 1").execute(&mut tx).await;
    assert!(after.is_err(), "the ended transaction still answered");
    drop(tx);
    // The pool still serves, on a healthy connection, outside any transaction.
    let mut next = schemas.begin(&id("acme")).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&mut next)
        .await
        .unwrap();
    assert_eq!(rows, 0);
    next.commit().await.unwrap();
}
