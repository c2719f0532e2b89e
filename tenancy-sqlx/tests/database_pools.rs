//! Per-tenant pools: the global connection budget (read from the servers'
//! own connection lists while under load), single flight, LRU and idle
//! eviction, no stalling behind a slow tenant server, the access handle.

#![cfg(all(feature = "postgres", feature = "mysql", feature = "sqlite"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

mod support;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use support::proxy::DelayProxy;
use support::{Server, ServerDatabases, id};
use tenancy_core::TenancyError;
use tenancy_sqlx::database::{
    DatabaseBackend, DatabaseNaming, MySqlDatabases, PgDatabases, PoolConfig,
};
use tenancy_sqlx::registry::MySqlRegistry;
use tenancy_sqlx::schema::SchemaName;
use tenancy_sqlx::{
    DatabaseManager, Ident, NewTenant, PgRegistry, RegistryConfig, RegistryTenant, Storage,
    TenantAccess, TenantMigrations, TenantPools, TenantRegistry,
};

fn items() -> TenantMigrations {
    TenantMigrations::from_sql([(
        1,
        "items",
        "CREATE TABLE items (id BIGINT PRIMARY KEY, tenant VARCHAR(63) NOT NULL)",
    )])
    .unwrap()
}

struct Pg {
    manager: DatabaseManager<PgDatabases, PgRegistry>,
    guard: ServerDatabases,
    _registry: support::PgDb,
}

async fn pg(pools: PoolConfig, extra: Option<(Ident, PgConnectOptions)>) -> Pg {
    pg_on(support::pg_url(), pools, extra).await
}

/// Tenant databases on the server of `url` (the registry is on the first server).
async fn pg_on(url: String, pools: PoolConfig, extra: Option<(Ident, PgConnectOptions)>) -> Pg {
    let registry_db = support::PgDb::new().await;
    let registry = PgRegistry::connect(registry_db.pool(4).await, RegistryConfig::default())
        .await
        .unwrap();
    let admin = support::pg_server(&url).await;
    let guard = ServerDatabases::new(Server::Postgres(url));
    let mut backend = PgDatabases::new(Ident::new("main").unwrap(), admin)
        .naming(DatabaseNaming::with_prefix(&guard.prefix).unwrap());
    if let Some((name, options)) = extra {
        backend = backend.server(name, options);
    }
    Pg {
        manager: DatabaseManager::new(registry, TenantPools::new(backend, pools), items()),
        guard,
        _registry: registry_db,
    }
}

/// A database-per-tenant manager on SQLite in `dir`: the registry in
/// `registry.db`, tenant files in `tenants/`. Called twice on one directory, it
/// stands for two processes.
async fn sqlite_manager(
    dir: &support::TempDir,
    pools: PoolConfig,
) -> DatabaseManager<tenancy_sqlx::database::SqliteDatabases, tenancy_sqlx::registry::SqliteRegistry>
{
    let registry = tenancy_sqlx::registry::SqliteRegistry::connect(
        dir.sqlite_pool("registry.db", 2).await,
        RegistryConfig::default(),
    )
    .await
    .unwrap();
    let backend = tenancy_sqlx::database::SqliteDatabases::new(dir.path().join("tenants")).unwrap();
    DatabaseManager::new(registry, TenantPools::new(backend, pools), items())
}

/// Creates `count` tenants `t0..` (a few at a time).
async fn create_many<B: DatabaseBackend>(
    manager: &DatabaseManager<B, impl TenantRegistry + 'static>,
    count: usize,
) -> Vec<RegistryTenant> {
    futures_util::stream::iter(0..count)
        .map(|n| async move {
            manager
                .create(NewTenant::new(id(&format!("t{n}")), format!("T{n}")))
                .await
                .unwrap()
        })
        .buffer_unordered(4)
        .collect()
        .await
}

/// Server connections to databases named `prefix*`, from the server's own list.
async fn pg_connections(admin: &mut sqlx::PgConnection, prefix: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname LIKE $1")
        .bind(format!("{}%", prefix.replace('_', "\\_")))
        .fetch_one(admin)
        .await
        .unwrap()
}

/// Polls the server's tenant connections until `done` holds (up to 5 s).
async fn pg_connections_until(prefix: &str, done: impl Fn(i64) -> bool) -> bool {
    let mut admin = PgConnectOptions::from_str(&support::pg_url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if done(pg_connections(&mut admin, prefix).await) {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn mysql_connections(admin: &mut sqlx::MySqlConnection, prefix: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB LIKE ?")
        .bind(format!("{}%", prefix.replace('_', "\\_")))
        .fetch_one(admin)
        .await
        .unwrap()
}

/// Runs `requests` queries from `tasks` concurrent tasks over `tenants`
/// (pseudo-randomly), while `watch` polls the server; returns (errors, max seen).
async fn load<B, W, F>(
    manager: &DatabaseManager<B, impl TenantRegistry + 'static>,
    tenants: &[RegistryTenant],
    tasks: usize,
    requests: usize,
    mut watch: W,
) -> (u64, i64)
where
    B: DatabaseBackend,
    W: FnMut() -> F + Send + 'static,
    F: Future<Output = i64> + Send,
    for<'c> &'c mut tenancy_sqlx::database::BackendConnection<B>:
        sqlx::Executor<'c, Database = B::Database>,
    i64: sqlx::Type<B::Database> + for<'r> sqlx::Decode<'r, B::Database>,
    (i64,): for<'r> sqlx::FromRow<'r, <B::Database as sqlx::Database>::Row>,
    <B::Database as sqlx::Database>::Arguments: sqlx::IntoArguments<B::Database>,
{
    let done = Arc::new(AtomicBool::new(false));
    let stop = done.clone();
    let poller = tokio::spawn(async move {
        let mut max = 0;
        let mut polls = 0_u32;
        while !stop.load(Ordering::SeqCst) {
            max = max.max(watch().await);
            polls += 1;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert!(
            polls > 10,
            "the server was polled during the run ({polls} polls)"
        );
        max
    });
    let errors = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..tasks)
        .map(|task| {
            let manager = manager.clone();
            let tenants = tenants.to_vec();
            let errors = errors.clone();
            tokio::spawn(async move {
                let mut state = (task as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                for _ in 0..requests {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let tenant = &tenants[(state % tenants.len() as u64) as usize];
                    let result = async {
                        let mut conn = manager.connect(tenant).await?;
                        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM items")
                            .fetch_one(&mut *conn)
                            .await
                            .map_err(TenancyError::storage)?;
                        Ok::<i64, TenancyError>(count)
                    }
                    .await;
                    if let Err(error) = result {
                        eprintln!("request for {} failed: {error:?}", tenant.id());
                        errors.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let max = poller.await.unwrap();
    (errors.load(Ordering::SeqCst), max)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_of_20_holds_for_500_postgres_tenants_under_load() {
    // The 500 databases live on the second server (a throw-away cluster
    // without fsync, where creating them is fast); the registry on the first.
    let fx = pg_on(
        support::pg2_url(),
        // The server lists a closed session until its backend has exited; on
        // this 2-core machine under a parallel test run that can take longer
        // than the default 20 ms grace, so the assertion below (read from the
        // server's own list) gets a grace that covers a loaded machine.
        PoolConfig::new()
            .max_connections(20)
            .max_connections_per_tenant(2)
            .close_grace(Duration::from_millis(100)),
        None,
    )
    .await;
    let tenants = create_many(&fx.manager, 500).await;
    let admin = PgConnectOptions::from_str(&support::pg2_url()).unwrap();
    let prefix = fx.guard.prefix.clone();
    let mut watcher = admin.connect().await.unwrap();
    assert_eq!(
        pg_connections(&mut watcher, &prefix).await,
        0,
        "no tenant connections before the run"
    );
    let watcher = Arc::new(tokio::sync::Mutex::new(watcher));
    let (errors, max) = load(&fx.manager, &tenants, 40, 100, move || {
        let watcher = watcher.clone();
        let prefix = prefix.clone();
        async move { pg_connections(&mut *watcher.lock().await, &prefix).await }
    })
    .await;
    let stats = fx.manager.pools().stats();
    eprintln!("max server connections {max}, {stats:?}");
    assert_eq!(errors, 0, "no request failed");
    assert!(max <= 20, "at most 20 server connections, saw {max}");
    // Most permits spend their time in the close grace here (a connection
    // lives a few ms, the grace 100 ms), so the server sees fewer at once.
    assert!(
        max >= 2,
        "tenant connections were seen on the server (saw {max})"
    );
    assert!(stats.open_connections <= 20);
    assert!(
        stats.connections_closed > 1000,
        "the budget forced connections to be closed and reopened: {stats:?}"
    );
    assert!(stats.pools_opened >= 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budget_of_10_holds_for_100_mysql_tenants_under_load() {
    let registry_db = support::MySqlDb::new().await;
    let registry = MySqlRegistry::connect(registry_db.pool(4).await, RegistryConfig::default())
        .await
        .unwrap();
    let guard = ServerDatabases::new(Server::MySql);
    let backend = MySqlDatabases::new(Ident::new("main").unwrap(), support::mysql_server())
        .naming(DatabaseNaming::with_prefix(&guard.prefix).unwrap());
    let manager = DatabaseManager::new(
        registry,
        TenantPools::new(
            backend,
            PoolConfig::new()
                .max_connections(10)
                .max_connections_per_tenant(2)
                // As in the Postgres test: cover the server's lag on a loaded machine.
                .close_grace(Duration::from_millis(100)),
        ),
        items(),
    );
    let tenants = create_many(&manager, 100).await;
    let prefix = guard.prefix.clone();
    let watcher = Arc::new(tokio::sync::Mutex::new(
        support::mysql_server().connect().await.unwrap(),
    ));
    let (errors, max) = load(&manager, &tenants, 24, 100, move || {
        let watcher = watcher.clone();
        let prefix = prefix.clone();
        async move { mysql_connections(&mut *watcher.lock().await, &prefix).await }
    })
    .await;
    let stats = manager.pools().stats();
    eprintln!("max server connections {max}, {stats:?}");
    assert_eq!(errors, 0);
    assert!(max <= 10, "at most 10 server connections, saw {max}");
    assert!(max >= 5, "the budget was actually used (saw {max})");
    assert!(
        stats.connections_closed > 500,
        "the budget forced connections to be closed and reopened: {stats:?}"
    );
    drop(manager);
}

/// With the budget spent on another tenant's idle connections, a request
/// takes one of them over (closing it first) instead of waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_of_other_tenants_are_reassigned() {
    let fx = pg(
        PoolConfig::new()
            .max_connections(2)
            .max_connections_per_tenant(2),
        None,
    )
    .await;
    let tenants = create_many(&fx.manager, 3).await;
    let (a, b) = (&tenants[0], &tenants[1]);
    let first = fx.manager.connect(a).await.unwrap();
    let second = fx.manager.connect(a).await.unwrap();
    drop((first, second));
    assert_eq!(
        fx.manager.pools().stats().open_connections,
        2,
        "both stay open, idle"
    );
    let mut conn = fx.manager.connect(b).await.unwrap();
    sqlx::query("SELECT 1").execute(&mut *conn).await.unwrap();
    let stats = fx.manager.pools().stats();
    assert_eq!(stats.connections_reassigned, 1, "{stats:?}");
    assert_eq!(stats.open_connections, 2);
    // One of a's connections is still idle and is reused without a new one.
    let again = fx.manager.connect(a).await.unwrap();
    assert_eq!(fx.manager.pools().stats().connections_opened, 3);
    drop(again);
    let mut admin = PgConnectOptions::from_str(&support::pg_url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    assert!(pg_connections(&mut admin, &fx.guard.prefix).await <= 2);
    // With both connections busy, a third tenant waits for one and is served.
    let busy = fx.manager.connect(a).await.unwrap();
    let waiting = {
        let manager = fx.manager.clone();
        let c = tenants[2].clone();
        tokio::spawn(async move { manager.connect(&c).await.map(|_| ()) })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished(), "the budget is spent: it waits");
    drop((conn, busy));
    waiting.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_first_requests_open_one_pool() {
    let fx = pg(
        PoolConfig::new()
            .max_connections(10)
            .max_connections_per_tenant(3),
        None,
    )
    .await;
    let tenant = fx
        .manager
        .create(NewTenant::new(id("hot"), "Hot"))
        .await
        .unwrap();
    assert_eq!(
        fx.manager.pools().stats().pools_opened,
        0,
        "creation does not open a pool"
    );
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let manager = fx.manager.clone();
            let tenant = tenant.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let mut conn = manager.connect(&tenant).await?;
                sqlx::query_scalar::<_, i64>("SELECT count(*) FROM items")
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(TenancyError::storage)
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), 0);
    }
    let stats = fx.manager.pools().stats();
    assert_eq!(stats.pools_opened, 1, "{stats:?}");
    assert!(
        stats.connections_opened <= 3,
        "at most the per-tenant limit: {stats:?}"
    );
    let mut admin = PgConnectOptions::from_str(&support::pg_url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    assert!(pg_connections(&mut admin, &fx.guard.prefix).await <= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_tenant_server_does_not_stall_the_others() {
    let server = PgConnectOptions::from_str(&support::pg_url()).unwrap();
    let proxy =
        DelayProxy::start(server.get_host(), server.get_port(), Duration::from_secs(3)).await;
    let slow_server = server.clone().host("127.0.0.1").port(proxy.port);
    let fx = pg(
        PoolConfig::new()
            .max_connections(4)
            .max_connections_per_tenant(1),
        Some((Ident::new("slow").unwrap(), slow_server)),
    )
    .await;
    let slow = fx
        .manager
        .create_on(
            NewTenant::new(id("slow"), "Slow"),
            &Ident::new("slow").unwrap(),
        )
        .await
        .unwrap();
    let fast = create_many(&fx.manager, 8).await;
    proxy.set_slow(true);
    let connecting = proxy.accepted();

    let manager = fx.manager.clone();
    let pending = tokio::spawn(async move {
        let mut conn = manager.connect(&slow).await?;
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM items")
            .fetch_one(&mut *conn)
            .await
            .map_err(TenancyError::storage)
    });
    // Wait until the slow tenant's connection attempt is in flight (it holds a budget permit).
    assert!(
        support::eventually(Duration::from_secs(2), || async {
            proxy.accepted() > connecting
        })
        .await
    );

    // Meanwhile every other tenant is served, many times over, through the remaining budget.
    for round in 0..5 {
        for tenant in &fast {
            let mut conn = fx.manager.connect(tenant).await.unwrap();
            let count: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(count, 0, "round {round}");
        }
    }
    assert!(
        !pending.is_finished(),
        "the others were served while the slow tenant was still connecting"
    );
    assert_eq!(
        pending.await.unwrap().unwrap(),
        0,
        "the slow tenant is served too, just later"
    );
    assert!(fx.manager.pools().stats().open_connections <= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_are_lru_evicted_and_closed_when_idle() {
    let fx = pg(
        PoolConfig::new()
            .max_connections(10)
            .max_pools(3)
            .pool_idle_timeout(Duration::from_millis(600)),
        None,
    )
    .await;
    let tenants = create_many(&fx.manager, 5).await;
    let pools = fx.manager.pools();
    for tenant in &tenants {
        let mut conn = fx.manager.connect(tenant).await.unwrap();
        sqlx::query("SELECT 1").execute(&mut *conn).await.unwrap();
    }
    assert!(
        pools.open_pools().await <= 3,
        "beyond max_pools the least recently used pools close"
    );
    let stats = pools.stats();
    assert!(stats.pools_closed >= 2, "{stats:?}");
    let prefix = fx.guard.prefix.clone();
    assert!(
        pg_connections_until(&prefix, |open| open <= 3).await,
        "evicted pools' connections are closed"
    );
    // The remaining pools close once idle, with their connections.
    assert!(
        support::eventually(Duration::from_secs(10), || async {
            pools.open_pools().await == 0
        })
        .await
    );
    assert!(
        pg_connections_until(&prefix, |open| open == 0).await,
        "idle pools' connections are closed"
    );
    // Permits come back once the server has had its grace to end the sessions.
    assert!(
        support::eventually(Duration::from_secs(2), || async {
            pools.stats().open_connections == 0
        })
        .await
    );
}

#[tokio::test]
async fn the_access_handle_is_a_connection_of_the_tenant_database() {
    let dir = support::TempDir::new();
    let manager = sqlite_manager(&dir, PoolConfig::new().max_connections(2)).await;
    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    let access: &dyn TenantAccess<
        Tenant = RegistryTenant,
        Handle = tenancy_sqlx::database::TenantConnection<tenancy_sqlx::database::SqliteDatabases>,
    > = manager.pools();

    let mut handle = access.open(&acme).await.unwrap();
    assert_eq!(handle.location(), acme.storage().database().unwrap());
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *handle)
        .await
        .unwrap();
    assert_eq!(mode, "wal", "tenant files are in WAL mode");
    sqlx::query("INSERT INTO items (id, tenant) VALUES (1, 'acme')")
        .execute(&mut *handle)
        .await
        .unwrap();
    {
        // A transaction dropped without commit rolls back before the connection is reused.
        let mut tx = handle.begin().await.unwrap();
        sqlx::query("INSERT INTO items (id, tenant) VALUES (2, 'acme')")
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    drop(handle);
    let mut handle = access.open(&acme).await.unwrap();
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM items")
        .fetch_all(&mut *handle)
        .await
        .unwrap();
    assert_eq!(ids, [1]);
    drop(handle);

    let schema_tenant = RegistryTenant::builder(
        id("other"),
        "Other",
        Storage::Schema(SchemaName::new("tenant_other").unwrap()),
    )
    .build();
    let error = access.open(&schema_tenant).await.unwrap_err();
    assert!(
        matches!(error, TenancyError::Configuration { .. }),
        "{error:?}"
    );
    // The file of a tenant id can never leave the directory.
    let path = manager
        .backend()
        .path_of(acme.storage().database().unwrap())
        .unwrap();
    assert!(path.starts_with(dir.path().join("tenants")));
    assert_eq!(path.file_name().unwrap(), "tenant_acme.db");
}

/// A transaction dropped without commit is rolled back as the connection goes
/// back to the pool, not when it is next used: the idle connection holds no
/// locks and is not left "idle in transaction" on the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_transaction_is_flushed_before_the_connection_idles() {
    let fx = pg(PoolConfig::new().max_connections(4), None).await;
    let acme = fx
        .manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    let location = acme.storage().database().unwrap().clone();
    {
        let mut conn = fx.manager.connect(&acme).await.unwrap();
        sqlx::query("INSERT INTO items (id, tenant) VALUES (1, 'acme')")
            .execute(&mut *conn)
            .await
            .unwrap();
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("UPDATE items SET tenant = 'locked' WHERE id = 1")
            .execute(&mut *tx)
            .await
            .unwrap();
        // Dropped here, uncommitted, with the row locked; then the connection.
    }
    assert_eq!(fx.manager.pools().stats().open_connections, 1);

    // Another session (not from the pool) can take the row lock at once.
    let url = format!(
        "{}/{}",
        support::pg_url().rsplit_once('/').unwrap().0,
        location.database()
    );
    let mut other = PgConnectOptions::from_str(&url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    sqlx::raw_sql("SET lock_timeout = '3s'")
        .execute(&mut other)
        .await
        .unwrap();
    let updated = sqlx::query("UPDATE items SET tenant = 'other' WHERE id = 1")
        .execute(&mut other)
        .await
        .expect("the dropped transaction's lock was released");
    assert_eq!(updated.rows_affected(), 1);
    let stuck: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity \
         WHERE datname = $1 AND state LIKE 'idle in transaction%'",
    )
    .bind(location.database().as_str())
    .fetch_one(&mut other)
    .await
    .unwrap();
    assert_eq!(stuck, 0, "no pooled connection idles inside a transaction");
    other.close().await.unwrap();

    // The pooled connection is reused, outside any transaction.
    let mut conn = fx.manager.connect(&acme).await.unwrap();
    let owner: String = sqlx::query_scalar("SELECT tenant FROM items WHERE id = 1")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(owner, "other");
    assert_eq!(fx.manager.pools().stats().connections_opened, 1, "reused");
    drop(conn);
    fx.manager.pools().close_all().await;
    drop(fx.guard);
}

/// SQLite keeps a renamed tenant's file; a new tenant with the old id gets a
/// file of its own, and connections pooled for the old name never serve it.
#[tokio::test]
async fn sqlite_rename_then_recreate_never_mixes_tenants() {
    let dir = support::TempDir::new();
    let pools = PoolConfig::new()
        .max_connections(4)
        .acquire_timeout(Duration::MAX);
    let manager = sqlite_manager(&dir, pools).await;
    let old = manager
        .create(NewTenant::new(id("old"), "Old"))
        .await
        .unwrap();
    {
        let mut conn = manager.connect(&old).await.unwrap();
        sqlx::query("INSERT INTO items (id, tenant) VALUES (1, 'old')")
            .execute(&mut *conn)
            .await
            .unwrap();
    } // idles in the pool of the old file
    let renamed = manager.rename(&id("old"), &id("new")).await.unwrap();
    assert_eq!(
        renamed.storage().database(),
        old.storage().database(),
        "the file keeps its name"
    );
    let again = manager
        .create(NewTenant::new(id("old"), "Old again"))
        .await
        .unwrap();
    assert_ne!(
        again.storage().database(),
        old.storage().database(),
        "the taken file name is never reused"
    );
    let mut conn = manager.connect(&again).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM items")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(
        rows, 0,
        "the new tenant sees none of the renamed tenant's rows"
    );
    drop(conn);
    let mut conn = manager.connect(&renamed).await.unwrap();
    let owners: Vec<String> = sqlx::query_scalar("SELECT tenant FROM items")
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    assert_eq!(owners, ["old"], "the renamed tenant keeps its rows");
    drop(conn);

    // Dropped (its file, still named after `old`, goes) and created again
    // under the same id: a database of its own, empty. (Re-creating the very
    // same file name is covered by the two-manager test below.)
    manager.delete(&id("new")).await.unwrap();
    let fresh = manager
        .create(NewTenant::new(id("new"), "New again"))
        .await
        .unwrap();
    let mut conn = manager.connect(&fresh).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM items")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

/// Two processes (two managers) serve one SQLite directory. One drops a
/// tenant and creates it again under the same id (the same file name); the
/// other's pooled connection to the deleted file is never reused for it.
#[tokio::test]
async fn sqlite_recreated_file_is_not_served_from_another_process_pool() {
    let dir = support::TempDir::new();
    let pools = || PoolConfig::new().max_connections(4);
    let first = sqlite_manager(&dir, pools()).await;
    let second = sqlite_manager(&dir, pools()).await;
    let old = first
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    {
        let mut conn = second.connect(&old).await.unwrap();
        sqlx::query("INSERT INTO items (id, tenant) VALUES (1, 'old acme')")
            .execute(&mut *conn)
            .await
            .unwrap();
    } // idles in the second manager's pool
    assert!(first.delete(&id("acme")).await.unwrap());
    let again = first
        .create(NewTenant::new(id("acme"), "Acme again"))
        .await
        .unwrap();
    assert_eq!(
        again.storage().database(),
        old.storage().database(),
        "the freed file name is used again"
    );
    let mut conn = second.connect(&again).await.unwrap();
    let rows: Vec<String> = sqlx::query_scalar("SELECT tenant FROM items")
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    assert!(rows.is_empty(), "served the deleted file's rows: {rows:?}");
    assert_eq!(
        second.pools().stats().connections_opened,
        2,
        "the stale connection was closed and a new one opened"
    );
}
