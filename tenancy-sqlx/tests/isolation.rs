//! Schema-per-tenant isolation against a real Postgres: concurrency,
//! cancellation, aborted transactions, savepoints, cursors, awkward names.
//!
//! Every scenario runs twice: straight to Postgres (`direct::…`) and through
//! PgBouncer in transaction pooling mode (`pgbouncer::…`).

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

use futures_util::TryStreamExt;
use sqlx::{Connection, Executor, PgConnection};
use support::{PgDb, Via, id, items_migrations};
use tenancy_core::{TenancyError, TenantId};
use tenancy_sqlx::schema::SchemaNaming;
use tenancy_sqlx::{NewTenant, PgRegistry, RegistryConfig, SchemaManager, SchemaPool};

via_both! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    thousand_concurrent_tasks_across_fifty_tenants_see_only_their_rows;
    #[tokio::test] cancelled_task_leaves_no_scope_behind;
    #[tokio::test] connection_returned_inside_an_aborted_transaction_is_clean;
    #[tokio::test] savepoint_rollback_keeps_the_tenant_scope;
    #[tokio::test] server_side_cursor_stays_in_the_tenant;
    #[tokio::test] awkward_names_are_quoted_everywhere;
}

/// Runs one unscoped single-value statement on `conn` the way unscoped code
/// must `via`: as is straight to Postgres; behind a transaction pooler, as an
/// unnamed statement inside a transaction of its own (committed if the
/// statement succeeded).
async fn unscoped_scalar<T>(
    conn: &mut PgConnection,
    via: Via,
    sql: &'static str,
) -> Result<T, sqlx::Error>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    match via {
        Via::Direct => sqlx::query_scalar(sql).fetch_one(conn).await,
        Via::PgBouncer => {
            let mut tx = conn.begin().await?;
            let value = sqlx::query_scalar(sql)
                .persistent(false)
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(value)
        }
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

/// Inserts `rows` marker rows into tenant `tenant`.
async fn seed(schemas: &SchemaPool, tenant: &TenantId, rows: usize) {
    let mut tx = schemas.begin(tenant).await.unwrap();
    sqlx::query(
        "INSERT INTO items (tenant, name) SELECT $1, 'seed ' || g FROM generate_series(1, $2) g",
    )
    .bind(tenant.as_str())
    .bind(rows as i32)
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

/// 1,000 concurrent tasks across 50 tenants on a 10-connection pool; every
/// read checks the tenant marker of every row.
async fn thousand_concurrent_tasks_across_fifty_tenants_see_only_their_rows(via: Via) {
    let db = PgDb::new().await;
    let manager = support::manager_via(&db, via, 10, items_migrations()).await;
    let tenants: Vec<TenantId> = (0..50).map(|n| id(&format!("t{n:02}"))).collect();
    for tenant in &tenants {
        manager
            .create(NewTenant::new(tenant.clone(), tenant.as_str()))
            .await
            .unwrap();
        seed(manager.schemas(), tenant, 5).await;
    }
    let schemas = manager.schemas().clone();
    let foreign = Arc::new(AtomicU64::new(0));
    let checked = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..1000_usize {
        let tenant = tenants[(task * 7) % tenants.len()].clone();
        let schemas = schemas.clone();
        let foreign = foreign.clone();
        let checked = checked.clone();
        tasks.spawn(async move {
            let mut tx = schemas.begin(&tenant).await.unwrap();
            sqlx::query("INSERT INTO items (tenant, name) VALUES ($1, $2)")
                .bind(tenant.as_str())
                .bind(format!("task {task}"))
                .execute(&mut tx)
                .await
                .unwrap();
            tokio::task::yield_now().await;
            let markers: Vec<String> = sqlx::query_scalar("SELECT tenant FROM items")
                .fetch_all(&mut tx)
                .await
                .unwrap();
            assert!(markers.len() >= 6);
            for marker in &markers {
                checked.fetch_add(1, Ordering::Relaxed);
                if marker != tenant.as_str() {
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
    let mut committed = 0;
    while let Some(result) = tasks.join_next().await {
        committed += result.unwrap();
    }
    assert_eq!(
        foreign.load(Ordering::Relaxed),
        0,
        "rows of another tenant were read"
    );
    assert!(checked.load(Ordering::Relaxed) >= 6000);
    // Every committed insert landed in its own tenant, and only there.
    let mut total = 0_i64;
    for tenant in &tenants {
        let mut tx = schemas.begin(tenant).await.unwrap();
        let (rows, other): (i64, i64) =
            sqlx::query_as("SELECT count(*), count(*) FILTER (WHERE tenant <> $1) FROM items")
                .bind(tenant.as_str())
                .fetch_one(&mut tx)
                .await
                .unwrap();
        assert_eq!(other, 0);
        total += rows - 5;
        tx.commit().await.unwrap();
    }
    assert_eq!(total, committed);
}

/// A task cancelled mid-transaction leaves nothing on its connection: the
/// same connection then serves another tenant and unscoped code correctly.
/// Through PgBouncer the pool's one connection is a client connection (the
/// server connection behind it may change): no server connection is left
/// inside a transaction.
async fn cancelled_task_leaves_no_scope_behind(via: Via) {
    let db = PgDb::new().await;
    let manager = support::manager_via(&db, via, 1, items_migrations()).await;
    for tenant in ["acme", "globex"] {
        manager
            .create(NewTenant::new(id(tenant), tenant))
            .await
            .unwrap();
        seed(manager.schemas(), &id(tenant), 2).await;
    }
    let schemas = manager.schemas().clone();
    let pool = schemas.pool().clone();
    let mut conn = pool.acquire().await.unwrap();
    let pid_before: i32 = unscoped_scalar(&mut conn, via, "SELECT pg_backend_pid()")
        .await
        .unwrap();
    let default_path: String =
        unscoped_scalar(&mut conn, via, "SELECT current_setting('search_path')")
            .await
            .unwrap();
    drop(conn);

    // Cancelled while a statement runs.
    let task_schemas = schemas.clone();
    let task = tokio::spawn(async move {
        let mut tx = task_schemas.begin(&id("acme")).await.unwrap();
        sqlx::query("INSERT INTO items (tenant, name) VALUES ('acme', 'uncommitted')")
            .execute(&mut tx)
            .await
            .unwrap();
        sqlx::query("SELECT pg_sleep(0.3)")
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());

    // Cancelled between statements (the transaction value is dropped).
    let task_schemas = schemas.clone();
    let (started, wait) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let mut tx = task_schemas.begin(&id("acme")).await.unwrap();
        sqlx::query("INSERT INTO items (tenant, name) VALUES ('acme', 'uncommitted 2')")
            .execute(&mut tx)
            .await
            .unwrap();
        started.send(()).unwrap();
        std::future::pending::<()>().await;
        drop(tx);
    });
    wait.await.unwrap();
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());

    // The same (only) connection, another tenant.
    let mut tx = schemas.begin(&id("globex")).await.unwrap();
    let pid = backend_pid(&mut tx).await;
    if via == Via::Direct {
        assert_eq!(pid, pid_before, "the same connection was reused");
    }
    assert_eq!(search_path(&mut tx).await, "\"tenant_globex\", pg_temp");
    let markers: Vec<String> = sqlx::query_scalar("SELECT tenant FROM items")
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(markers, ["globex", "globex"]);
    tx.commit().await.unwrap();

    // The same connection, unscoped code.
    let mut conn = pool.acquire().await.unwrap();
    let pid: i32 = unscoped_scalar(&mut conn, via, "SELECT pg_backend_pid()")
        .await
        .unwrap();
    if via == Via::Direct {
        assert_eq!(pid, pid_before);
    }
    let path: String = unscoped_scalar(&mut conn, via, "SELECT current_setting('search_path')")
        .await
        .unwrap();
    assert_eq!(path, default_path);
    let error = unscoped_scalar::<i64>(&mut conn, via, "SELECT count(*) FROM items")
        .await
        .unwrap_err();
    assert_eq!(
        sqlstate(&error).as_deref(),
        Some("42P01"),
        "no tenant table is visible unscoped"
    );
    drop(conn);
    assert_eq!(
        backends_in_transaction(&db).await,
        0,
        "no server connection is left inside a transaction"
    );

    // The cancelled inserts were rolled back.
    let mut tx = schemas.begin(&id("acme")).await.unwrap();
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM items ORDER BY id")
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(names, ["seed 1", "seed 2"]);
}

fn sqlstate(error: &sqlx::Error) -> Option<String> {
    error
        .as_database_error()
        .and_then(|db| db.code())
        .map(|code| code.into_owned())
}

/// A transaction dropped while aborted (after an error) is rolled back before
/// its connection is used again.
async fn connection_returned_inside_an_aborted_transaction_is_clean(via: Via) {
    let db = PgDb::new().await;
    let manager = support::manager_via(&db, via, 1, items_migrations()).await;
    for tenant in ["acme", "globex"] {
        manager
            .create(NewTenant::new(id(tenant), tenant))
            .await
            .unwrap();
    }
    let schemas = manager.schemas().clone();
    let mut conn = schemas.pool().acquire().await.unwrap();
    let pid: i32 = unscoped_scalar(&mut conn, via, "SELECT pg_backend_pid()")
        .await
        .unwrap();
    drop(conn);

    let mut tx = schemas.begin(&id("acme")).await.unwrap();
    sqlx::query("INSERT INTO items (tenant, name) VALUES ('acme', 'lost')")
        .execute(&mut tx)
        .await
        .unwrap();
    let error = sqlx::query("SELECT 1 / 0")
        .execute(&mut tx)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&error).as_deref(), Some("22012"));
    let error = sqlx::query("SELECT 1").execute(&mut tx).await.unwrap_err();
    assert_eq!(
        sqlstate(&error).as_deref(),
        Some("25P02"),
        "the transaction is aborted"
    );
    drop(tx); // neither committed nor rolled back

    let mut tx = schemas.begin(&id("globex")).await.unwrap();
    let pid_after = backend_pid(&mut tx).await;
    if via == Via::Direct {
        assert_eq!(pid_after, pid);
    }
    assert_eq!(search_path(&mut tx).await, "\"tenant_globex\", pg_temp");
    sqlx::query("INSERT INTO items (tenant, name) VALUES ('globex', 'kept')")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut conn = schemas.pool().acquire().await.unwrap();
    // SAVEPOINT fails with 25P01 outside a transaction block.
    let error = sqlx::raw_sql("SAVEPOINT probe")
        .execute(&mut *conn)
        .await
        .unwrap_err();
    assert_eq!(
        sqlstate(&error).as_deref(),
        Some("25P01"),
        "not inside a transaction"
    );
    let count: i64 = unscoped_scalar(&mut conn, via, "SELECT count(*) FROM tenant_acme.items")
        .await
        .unwrap();
    assert_eq!(count, 0, "the aborted insert was rolled back");
    drop(conn);
    assert_eq!(
        backends_in_transaction(&db).await,
        0,
        "no server connection is left inside a transaction"
    );
}

/// Rolling back to a savepoint keeps the tenant scope (django-tenants #1262).
async fn savepoint_rollback_keeps_the_tenant_scope(via: Via) {
    let db = PgDb::new().await;
    let manager = support::manager_via(&db, via, 2, items_migrations()).await;
    for tenant in ["acme", "globex"] {
        manager
            .create(NewTenant::new(id(tenant), tenant))
            .await
            .unwrap();
    }
    let schemas = manager.schemas().clone();
    let mut tx = schemas.begin(&id("acme")).await.unwrap();
    sqlx::query("INSERT INTO items (tenant, name) VALUES ('acme', 'before')")
        .execute(&mut tx)
        .await
        .unwrap();
    {
        let mut savepoint = tx.savepoint().await.unwrap();
        sqlx::query("INSERT INTO items (tenant, name) VALUES ('acme', 'inside')")
            .execute(&mut savepoint)
            .await
            .unwrap();
        assert!(
            sqlx::query("SELECT 1 / 0")
                .execute(&mut savepoint)
                .await
                .is_err()
        );
        savepoint.rollback().await.unwrap();
    }
    assert_eq!(search_path(&mut tx).await, "\"tenant_acme\", pg_temp");
    {
        let mut savepoint = tx.savepoint().await.unwrap();
        sqlx::query("INSERT INTO items (tenant, name) VALUES ('acme', 'released')")
            .execute(&mut savepoint)
            .await
            .unwrap();
        savepoint.commit().await.unwrap();
    }
    // A savepoint dropped without commit rolls back too.
    {
        let mut savepoint = tx.savepoint().await.unwrap();
        sqlx::query("INSERT INTO items (tenant, name) VALUES ('acme', 'dropped')")
            .execute(&mut savepoint)
            .await
            .unwrap();
    }
    sqlx::query("INSERT INTO items (tenant, name) VALUES ('acme', 'after')")
        .execute(&mut tx)
        .await
        .unwrap();
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM items ORDER BY id")
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(names, ["before", "released", "after"]);
    tx.commit().await.unwrap();

    let mut tx = schemas.begin(&id("globex")).await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing landed in another tenant");
}

/// A server-side cursor (and sqlx's streaming) reads only the tenant's rows,
/// while another tenant's cursor is open on another connection; the cursor
/// does not survive the transaction.
async fn server_side_cursor_stays_in_the_tenant(via: Via) {
    let db = PgDb::new().await;
    let manager = support::manager_via(&db, via, 2, items_migrations()).await;
    for (tenant, rows) in [("acme", 25), ("globex", 40)] {
        manager
            .create(NewTenant::new(id(tenant), tenant))
            .await
            .unwrap();
        seed(manager.schemas(), &id(tenant), rows).await;
    }
    let schemas = manager.schemas().clone();
    let mut acme = schemas.begin(&id("acme")).await.unwrap();
    let mut globex = schemas.begin(&id("globex")).await.unwrap();
    sqlx::query("DECLARE c CURSOR FOR SELECT tenant FROM items ORDER BY id")
        .execute(&mut acme)
        .await
        .unwrap();
    sqlx::query("DECLARE c CURSOR FOR SELECT tenant FROM items ORDER BY id")
        .execute(&mut globex)
        .await
        .unwrap();
    let (mut seen_acme, mut seen_globex) = (0, 0);
    loop {
        let a: Vec<String> = sqlx::query_scalar("FETCH 4 FROM c")
            .fetch_all(&mut acme)
            .await
            .unwrap();
        let g: Vec<String> = sqlx::query_scalar("FETCH 4 FROM c")
            .fetch_all(&mut globex)
            .await
            .unwrap();
        assert!(a.iter().all(|marker| marker == "acme"));
        assert!(g.iter().all(|marker| marker == "globex"));
        seen_acme += a.len();
        seen_globex += g.len();
        if a.is_empty() && g.is_empty() {
            break;
        }
    }
    assert_eq!((seen_acme, seen_globex), (25, 40));

    // sqlx's own streaming (a portal read row by row).
    let streamed: Vec<String> = sqlx::query_scalar("SELECT tenant FROM items")
        .fetch(&mut globex)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed.len(), 40);
    assert!(streamed.iter().all(|marker| marker == "globex"));
    acme.commit().await.unwrap();
    globex.commit().await.unwrap();

    // The cursor ended with its transaction.
    let mut conn = schemas.pool().acquire().await.unwrap();
    let error = unscoped_scalar::<String>(&mut conn, via, "FETCH 1 FROM c")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&error).as_deref(), Some("34000"));
}

/// Tenant ids that are SQL keywords, start with a digit or contain `-`.
async fn awkward_names_are_quoted_everywhere(via: Via) {
    let db = PgDb::new().await;
    // Direct, for the checks; the manager reaches Postgres `via`.
    let pool = db.pool(2).await;
    let connections = db.connections(via, 2).await;
    for naming in [
        SchemaNaming::default(),
        SchemaNaming::with_prefix("").unwrap(),
    ] {
        let config = RegistryConfig::new().naming(naming.clone());
        let config = if naming.prefix().is_empty() {
            config.schema(tenancy_sqlx::Ident::new("bare_registry").unwrap())
        } else {
            config
        };
        let registry = PgRegistry::connect(connections.clone(), config)
            .await
            .unwrap();
        let manager = SchemaManager::new(
            registry.clone(),
            SchemaPool::for_registry(&registry),
            items_migrations(),
        );
        for name in ["select", "user", "123", "a-b"] {
            let tenant = manager
                .create(NewTenant::new(id(name), name))
                .await
                .unwrap();
            let schema = format!("{}{name}", naming.prefix());
            assert_eq!(tenant.schema().unwrap().as_str(), schema);
            assert!(support::schema_exists(&pool, &schema).await);
            let mut tx = manager.schemas().begin(&tenant).await.unwrap();
            sqlx::query("INSERT INTO items (tenant, name) VALUES ($1, 'x')")
                .bind(name)
                .execute(&mut tx)
                .await
                .unwrap();
            let markers: Vec<String> = sqlx::query_scalar("SELECT tenant FROM items")
                .fetch_all(&mut tx)
                .await
                .unwrap();
            assert_eq!(markers, [name]);
            tx.commit().await.unwrap();
        }
        // `public` and role names are never tenant schemas.
        if naming.prefix().is_empty() {
            let error = manager
                .create(NewTenant::new(id("public"), "p"))
                .await
                .unwrap_err();
            assert!(
                matches!(error, TenancyError::SchemaCreation { .. }),
                "{error:?}"
            );
            let error = manager
                .create(NewTenant::new(id("postgres"), "role"))
                .await
                .unwrap_err();
            assert!(
                matches!(error, TenancyError::SchemaCreation { .. }),
                "{error:?}"
            );
            assert!(
                manager
                    .registry()
                    .list()
                    .await
                    .unwrap()
                    .iter()
                    .all(|t| t.id().as_str() != "postgres")
            );
            assert!(!support::schema_exists(&pool, "postgres").await);
        }
        for name in ["select", "user", "123", "a-b"] {
            assert!(manager.delete(&id(name)).await.unwrap());
            assert!(!support::schema_exists(&pool, &format!("{}{name}", naming.prefix())).await);
        }
    }
}

/// Behind a transaction pooler, what needs session state is refused with a
/// configuration error; `begin` on the same pool works.
#[tokio::test]
async fn qualified_and_session_are_refused_behind_pgbouncer() {
    let db = PgDb::new().await;
    let manager = support::manager_via(&db, Via::PgBouncer, 2, items_migrations()).await;
    manager
        .create(NewTenant::new(id("acme"), "acme"))
        .await
        .unwrap();
    let schemas = manager.schemas();
    assert!(schemas.connections().pooler().is_transaction());
    let error = schemas.qualified(&id("acme")).unwrap_err();
    assert!(
        matches!(error, TenancyError::Configuration { .. }),
        "{error:?}"
    );
    match schemas.session(&id("acme")).await {
        Err(TenancyError::Configuration { .. }) => {}
        Err(error) => panic!("expected a configuration error, got {error:?}"),
        Ok(_) => panic!("SchemaPool::session was allowed behind PgBouncer"),
    }
    seed(schemas, &id("acme"), 3).await;
    let mut tx = schemas.begin(&id("acme")).await.unwrap();
    let markers: Vec<String> = sqlx::query_scalar("SELECT tenant FROM items")
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(markers, ["acme", "acme", "acme"]);
    tx.commit().await.unwrap();
}
