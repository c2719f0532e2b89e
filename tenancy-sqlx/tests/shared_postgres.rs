//! Shared-schema mode on Postgres against a real server: row-level security
//! under concurrency, forgotten `WHERE`s, queries without a tenant, a
//! superuser URL, a non-superuser owner, round trips.
//!
//! The scenarios in [`via_both!`] run twice: straight to Postgres
//! (`direct::…`) and through PgBouncer in transaction pooling mode
//! (`pgbouncer::…`). Direct only: the non-superuser owner (a per-test login
//! role, which the test PgBouncer's auth file does not list) and the round
//! trip count (a TCP proxy in front of the server).

#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::via_both;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, PgConnection, PgPool, Row};
use support::pg::PgDb;
use support::{Via, id};
use tenancy_sqlx::postgres::PgConnections;
use tenancy_sqlx::shared::rls::{RlsManager, RlsTransaction};
use tenancy_sqlx::{
    Ident, NewTenant, PgRegistry, RegistryConfig, RegistryTenant, RlsPool, TenantAccess,
    TenantMigrations,
};

via_both! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    thousand_concurrent_tasks_across_fifty_tenants_see_only_their_rows;
    #[tokio::test] forgotten_where_only_reaches_the_current_tenant;
    #[tokio::test] without_a_tenant_nothing_is_visible_and_inserts_fail;
    #[tokio::test] superuser_url_still_gets_row_level_security;
    #[tokio::test] cancelled_transaction_leaves_no_scope_behind;
    #[tokio::test] savepoint_rollback_keeps_the_scope;
}

/// Runs one unscoped statement on `conn` the way unscoped code must `via`:
/// as is straight to Postgres; behind a transaction pooler, as an unnamed
/// statement inside a transaction of its own.
async fn unscoped_rows(conn: &mut PgConnection, via: Via, sql: &'static str) -> Vec<PgRow> {
    match via {
        Via::Direct => sqlx::query(sql).fetch_all(conn).await.unwrap(),
        Via::PgBouncer => {
            let mut tx = conn.begin().await.unwrap();
            let rows = sqlx::query(sql)
                .persistent(false)
                .fetch_all(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            rows
        }
    }
}

/// [`unscoped_rows`] on a connection from `pool`.
async fn unscoped_pool_rows(pool: &PgPool, via: Via, sql: &'static str) -> Vec<PgRow> {
    let mut conn = pool.acquire().await.unwrap();
    unscoped_rows(&mut conn, via, sql).await
}

/// Whether statements on a raw connection may be named (prepared and kept):
/// not behind a transaction pooler.
fn named(via: Via) -> bool {
    via == Via::Direct
}

/// One connection to the test database as the admin, reached `via`.
async fn admin_connection(db: &PgDb, via: Via) -> PgConnection {
    match via {
        Via::Direct => db.connect().await,
        Via::PgBouncer => db.pgbouncer_options().connect().await.unwrap(),
    }
}

/// Server connections of the test database still inside a transaction
/// (seen from a direct admin connection), other than the one asking.
async fn backends_in_transaction(db: &PgDb) -> i64 {
    let mut conn = db.connect().await;
    let count = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    conn.close().await.ok();
    count
}

fn ident(name: &str) -> Ident {
    Ident::new(name).unwrap()
}

fn items_migrations() -> TenantMigrations {
    TenantMigrations::from_sql([(
        1,
        "items",
        "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
         marker text NOT NULL, name text NOT NULL)",
    )])
    .unwrap()
}

/// A registry, an RLS pool (a per-test tenant role) and a manager, set up and audited.
async fn manager_on(db: &PgDb, connections: impl Into<PgConnections>) -> RlsManager {
    let connections = connections.into();
    let role = db.role("tenancy_t");
    let registry = PgRegistry::connect(connections.clone(), RegistryConfig::default())
        .await
        .unwrap();
    let shared = RlsPool::new(connections)
        .role(ident(&role))
        .tables([ident("items")]);
    let manager = RlsManager::new(registry, shared, items_migrations());
    manager.setup().await.unwrap();
    manager
}

async fn manager(db: &PgDb, via: Via, pool_size: u32) -> RlsManager {
    manager_on(db, db.connections(via, pool_size).await).await
}

/// Inserts `rows` rows with `tenant`'s marker, without naming the tenant column.
async fn seed(shared: &RlsPool, tenant: &RegistryTenant, rows: i32) {
    let mut tx = shared.begin(tenant).await.unwrap();
    sqlx::query(
        "INSERT INTO items (marker, name) SELECT $1, 'seed ' || g FROM generate_series(1, $2) g",
    )
    .bind(tenant.id().as_str())
    .bind(rows)
    .execute(&mut tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn markers(tx: &mut RlsTransaction<'_>) -> Vec<String> {
    sqlx::query_scalar("SELECT marker FROM items ORDER BY id")
        .fetch_all(&mut *tx)
        .await
        .unwrap()
}

/// 1,000 concurrent tasks across 50 tenants on a 10-connection pool; every
/// read checks the marker of every row, and no query has a tenant filter.
async fn thousand_concurrent_tasks_across_fifty_tenants_see_only_their_rows(via: Via) {
    let db = PgDb::new().await;
    let manager = manager(&db, via, 10).await;
    let mut tenants = Vec::new();
    for n in 0..50 {
        let tenant = manager
            .create(NewTenant::new(id(&format!("t{n:02}")), format!("T{n}")))
            .await
            .unwrap();
        seed(manager.shared(), &tenant, 5).await;
        tenants.push(tenant);
    }
    let shared = manager.shared().clone();
    let foreign = Arc::new(AtomicU64::new(0));
    let checked = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..1000_usize {
        let tenant = tenants[(task * 7) % tenants.len()].clone();
        let shared = shared.clone();
        let foreign = foreign.clone();
        let checked = checked.clone();
        tasks.spawn(async move {
            let mut tx = shared.begin(&tenant).await.unwrap();
            sqlx::query("INSERT INTO items (marker, name) VALUES ($1, $2)")
                .bind(tenant.id().as_str())
                .bind(format!("task {task}"))
                .execute(&mut tx)
                .await
                .unwrap();
            tokio::task::yield_now().await;
            let seen = markers(&mut tx).await;
            assert!(seen.len() >= 6, "own rows are visible");
            for marker in &seen {
                checked.fetch_add(1, Ordering::Relaxed);
                if marker != tenant.id().as_str() {
                    foreign.fetch_add(1, Ordering::Relaxed);
                }
            }
            // Every third task rolls back instead of committing.
            if task % 3 == 0 {
                tx.rollback().await.unwrap();
                0
            } else {
                tx.commit().await.unwrap();
                1
            }
        });
    }
    let mut committed = 0_i64;
    while let Some(result) = tasks.join_next().await {
        committed += result.unwrap();
    }
    assert_eq!(
        foreign.load(Ordering::Relaxed),
        0,
        "rows of another tenant were read"
    );
    assert!(checked.load(Ordering::Relaxed) >= 6000);

    // Seen unscoped (the superuser bypasses RLS): every row carries the key of
    // the tenant whose marker it has, and every committed insert is there.
    let rows = unscoped_pool_rows(
        shared.pool(),
        via,
        "SELECT marker, tenant_id, count(*) AS n FROM items GROUP BY 1, 2",
    )
    .await;
    let mut total = 0_i64;
    for row in &rows {
        let marker: String = row.get("marker");
        let key: String = row.get("tenant_id");
        let tenant = tenants.iter().find(|t| t.id().as_str() == marker).unwrap();
        assert_eq!(tenant.storage().shared_key().unwrap().as_str(), key);
        total += row.get::<i64, _>("n");
    }
    assert_eq!(rows.len(), 50);
    assert_eq!(total, 250 + committed);
}

/// A query with a forgotten `WHERE` (select, update, delete) only reaches the
/// current tenant's rows.
async fn forgotten_where_only_reaches_the_current_tenant(via: Via) {
    let db = PgDb::new().await;
    let manager = manager(&db, via, 2).await;
    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    let globex = manager
        .create(NewTenant::new(id("globex"), "Globex"))
        .await
        .unwrap();
    seed(manager.shared(), &acme, 3).await;
    seed(manager.shared(), &globex, 4).await;

    let mut tx = manager.shared().begin(&acme).await.unwrap();
    assert_eq!(markers(&mut tx).await, ["acme", "acme", "acme"]);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(count, 3);
    let updated = sqlx::query("UPDATE items SET name = 'renamed'")
        .execute(&mut tx)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 3);
    let deleted = sqlx::query("DELETE FROM items")
        .execute(&mut tx)
        .await
        .unwrap();
    assert_eq!(deleted.rows_affected(), 3);
    tx.commit().await.unwrap();

    let mut tx = manager.shared().begin(&globex).await.unwrap();
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM items ORDER BY id")
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(names, ["seed 1", "seed 2", "seed 3", "seed 4"]);
    tx.commit().await.unwrap();
}

/// Without a tenant: no rows, and inserts fail; a row for another tenant
/// cannot be written even by naming its key.
async fn without_a_tenant_nothing_is_visible_and_inserts_fail(via: Via) {
    let db = PgDb::new().await;
    let manager = manager(&db, via, 2).await;
    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    let globex = manager
        .create(NewTenant::new(id("globex"), "Globex"))
        .await
        .unwrap();
    seed(manager.shared(), &acme, 3).await;
    let role = manager.shared().role_name().quoted();
    let mut conn = admin_connection(&db, via).await;

    // The tenant role, no key set at all in this session.
    let mut tx = conn
        .begin_with(AssertSqlSafe(format!("BEGIN; SET LOCAL ROLE {role}")))
        .await
        .unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .persistent(named(via))
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(count, 0, "no key, no rows");
    insert_without_tenant_is_refused(&mut tx, via).await;
    tx.rollback().await.unwrap();

    // After a tenant transaction on the same connection the key is gone again.
    let mut scoped = manager.shared().begin_on(&mut conn, &acme).await.unwrap();
    assert_eq!(markers(&mut scoped).await.len(), 3);
    // Writing a row for another tenant by naming its key fails the policy check.
    let other_key = globex.storage().shared_key().unwrap().as_str().to_owned();
    let error =
        sqlx::query("INSERT INTO items (tenant_id, marker, name) VALUES ($1, 'x', 'smuggled')")
            .bind(&other_key)
            .execute(&mut scoped)
            .await
            .unwrap_err();
    assert_eq!(error.as_database_error().unwrap().code().unwrap(), "42501");
    scoped.rollback().await.unwrap();
    let mut tx = conn
        .begin_with(AssertSqlSafe(format!("BEGIN; SET LOCAL ROLE {role}")))
        .await
        .unwrap();
    let (count, setting): (i64, Option<String>) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM items), current_setting('tenancy.tenant', true)",
    )
    .persistent(named(via))
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(count, 0, "the key did not outlive its transaction");
    assert_eq!(setting.as_deref(), Some(""));
    insert_without_tenant_is_refused(&mut tx, via).await;
    tx.rollback().await.unwrap();

    // Outside any tenant transaction the connection is the login role again.
    let rows = unscoped_rows(&mut conn, via, "SELECT current_user::text").await;
    let user: String = rows[0].get(0);
    assert_eq!(user, "postgres");
}

/// The usual local setup: the URL names a superuser. Tenant transactions
/// still run as the restricted role, so row-level security applies; the same
/// query outside a tenant transaction (as the superuser) sees everything.
async fn superuser_url_still_gets_row_level_security(via: Via) {
    let db = PgDb::new().await;
    let manager = manager(&db, via, 2).await;
    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    let globex = manager
        .create(NewTenant::new(id("globex"), "Globex"))
        .await
        .unwrap();
    seed(manager.shared(), &acme, 2).await;
    seed(manager.shared(), &globex, 2).await;

    let audit = manager.shared().audit().await.unwrap();
    assert!(audit.login_is_superuser(), "the test URL names a superuser");
    assert_eq!(audit.role(), manager.shared().role_name().as_str());
    assert_eq!(audit.tables(), ["public.items"]);

    let pool = manager.shared().pool();
    let everything: i64 =
        unscoped_pool_rows(pool, via, "SELECT count(*) FROM items").await[0].get(0);
    assert_eq!(everything, 4, "the superuser itself bypasses RLS");

    let mut tx = manager.shared().begin(&acme).await.unwrap();
    let (session, current, superuser): (String, String, bool) = sqlx::query_as(
        "SELECT session_user::text, current_user::text, \
         (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
    )
    .fetch_one(&mut tx)
    .await
    .unwrap();
    assert_eq!(session, "postgres");
    assert_eq!(current, manager.shared().role_name().as_str());
    assert!(!superuser);
    assert_eq!(markers(&mut tx).await, ["acme", "acme"]);
    tx.commit().await.unwrap();

    // Also through the dyn-compatible access seam.
    let access: &dyn TenantAccess<Tenant = RegistryTenant, Handle = RlsTransaction<'static>> =
        manager.shared();
    let mut tx = access.open(&globex).await.unwrap();
    assert_eq!(markers(&mut tx).await, ["globex", "globex"]);
    tx.commit().await.unwrap();
}

/// A non-superuser login that owns the tables (with only CREATEROLE): set-up
/// works, the audit passes, and FORCE keeps even the owner under the policy.
#[tokio::test]
async fn non_superuser_owner_login_works_and_is_forced() {
    let db = PgDb::new().await;
    let owner = db.role("tenancy_owner");
    db.exec(&format!(
        "CREATE ROLE \"{owner}\" LOGIN CREATEROLE; \
         GRANT ALL ON DATABASE \"{}\" TO \"{owner}\"; \
         GRANT CREATE ON SCHEMA public TO \"{owner}\"",
        db.name
    ))
    .await;
    let pool = db.pool_with(db.options.clone().username(&owner), 3).await;
    let manager = manager_on(&db, pool.clone()).await;
    let audit = manager.shared().audit().await.unwrap();
    assert!(!audit.login_is_superuser());
    assert_eq!(audit.login(), owner);

    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    let globex = manager
        .create(NewTenant::new(id("globex"), "Globex"))
        .await
        .unwrap();
    seed(manager.shared(), &acme, 2).await;
    seed(manager.shared(), &globex, 3).await;
    let mut tx = manager.shared().begin(&globex).await.unwrap();
    assert_eq!(markers(&mut tx).await, ["globex"; 3]);
    tx.commit().await.unwrap();

    // The owner without a tenant key sees nothing: FORCE ROW LEVEL SECURITY.
    let visible: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(visible, 0);
    // Dropping a tenant works for the owner too (it sets the key to delete).
    assert!(manager.delete(acme.id()).await.unwrap());
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&db.pool(1).await)
        .await
        .unwrap();
    assert_eq!(left, 3);
}

/// A tenant transaction costs the round trips of an unscoped one: `BEGIN`,
/// `SET LOCAL ROLE` and `set_config` travel together in one simple query.
#[tokio::test]
async fn tenant_transaction_adds_no_round_trip() {
    let db = PgDb::new().await;
    let manager = manager(&db, Via::Direct, 1).await;
    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    seed(manager.shared(), &acme, 2).await;
    let proxy = support::proxy::RoundTrips::start(&db.options).await;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(proxy.options.clone())
        .await
        .unwrap();
    let shared = RlsPool::new(pool.clone())
        .role(manager.shared().role_name().clone())
        .tables([ident("items")]);
    const QUERY: &str = "SELECT count(*) FROM items WHERE name <> ''";

    async fn unscoped(pool: &PgPool) {
        let mut tx = pool.begin().await.unwrap();
        let _: i64 = sqlx::query_scalar(QUERY).fetch_one(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
    }
    async fn scoped(shared: &RlsPool, tenant: &RegistryTenant) -> i64 {
        let mut tx = shared.begin(tenant).await.unwrap();
        let count: i64 = sqlx::query_scalar(QUERY).fetch_one(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        count
    }
    unscoped(&pool).await;
    assert_eq!(scoped(&shared, &acme).await, 2);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let before = proxy.get();
    unscoped(&pool).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let plain = proxy.get() - before;
    let before = proxy.get();
    scoped(&shared, &acme).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let tenant = proxy.get() - before;
    eprintln!("round trips: unscoped transaction {plain}, tenant transaction {tenant}");
    assert!(plain >= 3, "BEGIN, query, COMMIT at least (got {plain})");
    assert_eq!(tenant, plain, "scoping adds no round trip");
}

/// A cancelled tenant transaction leaves neither role nor key on its connection.
async fn cancelled_transaction_leaves_no_scope_behind(via: Via) {
    let db = PgDb::new().await;
    let manager = manager(&db, via, 1).await;
    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    seed(manager.shared(), &acme, 2).await;
    let shared = manager.shared().clone();
    let task_shared = shared.clone();
    let task_tenant = acme.clone();
    let (started, wait) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let mut tx = task_shared.begin(&task_tenant).await.unwrap();
        sqlx::query("INSERT INTO items (marker, name) VALUES ('acme', 'uncommitted')")
            .execute(&mut tx)
            .await
            .unwrap();
        started.send(()).unwrap();
        sqlx::query("SELECT pg_sleep(5)")
            .execute(&mut tx)
            .await
            .unwrap();
    });
    wait.await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());

    let mut conn = shared.pool().acquire().await.unwrap();
    let row = unscoped_rows(
        &mut conn,
        via,
        "SELECT current_user::text, current_setting('tenancy.tenant', true), \
         (SELECT count(*) FROM items)",
    )
    .await
    .remove(0);
    let (user, setting, rows): (String, Option<String>, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(user, "postgres");
    assert!(setting.unwrap_or_default().is_empty());
    assert_eq!(rows, 2, "the uncommitted insert was rolled back");
    conn.execute("SELECT 1").await.unwrap();
    drop(conn);
    assert_eq!(
        backends_in_transaction(&db).await,
        0,
        "no server connection is left inside a transaction"
    );
}

/// Savepoints keep the scope: rolling back to one cannot undo the role or key.
async fn savepoint_rollback_keeps_the_scope(via: Via) {
    let db = PgDb::new().await;
    let manager = manager(&db, via, 1).await;
    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    let globex = manager
        .create(NewTenant::new(id("globex"), "Globex"))
        .await
        .unwrap();
    seed(manager.shared(), &acme, 1).await;
    seed(manager.shared(), &globex, 1).await;
    let mut tx = manager.shared().begin(&acme).await.unwrap();
    {
        let mut savepoint = tx.savepoint().await.unwrap();
        sqlx::query("INSERT INTO items (marker, name) VALUES ('acme', 'inner')")
            .execute(&mut savepoint)
            .await
            .unwrap();
        savepoint.rollback().await.unwrap();
    }
    assert_eq!(markers(&mut tx).await, ["acme"]);
    let key: String = sqlx::query_scalar("SELECT current_setting('tenancy.tenant')")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(key, tx.key().as_str());
    tx.commit().await.unwrap();
}

/// An insert with no tenant key set fails: the key column stays NULL
/// (`23502`) or the policy refuses the row (`42501`).
async fn insert_without_tenant_is_refused(tx: &mut PgConnection, via: Via) {
    let error = sqlx::query("INSERT INTO items (marker, name) VALUES ('x', 'no tenant')")
        .persistent(named(via))
        .execute(&mut *tx)
        .await
        .unwrap_err();
    let code = error
        .as_database_error()
        .unwrap()
        .code()
        .unwrap()
        .into_owned();
    assert!(
        matches!(code.as_str(), "23502" | "42501"),
        "insert without a tenant failed with {code}"
    );
}
