//! Database per tenant: one lifecycle suite, written once (as a macro, so
//! each backend's connection type is concrete) and run on Postgres (two
//! servers), Postgres with the tenant traffic and the registry through
//! PgBouncer in transaction pooling mode (`pgbouncer::…`), MariaDB/MySQL and
//! SQLite.

#![cfg(all(feature = "postgres", feature = "mysql", feature = "sqlite"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::any::Any;
use std::str::FromStr;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor};
use support::{Server, ServerDatabases, TempDir, Via, id};
use tenancy_sqlx::database::{
    DatabaseBackend, DatabaseLocation, DatabaseNaming, MySqlDatabases, PgDatabases, PoolConfig,
    SqliteDatabases,
};
use tenancy_sqlx::registry::{MySqlRegistry, SqliteRegistry};
use tenancy_sqlx::{
    AnyRegistry, DatabaseManager, Ident, PgRegistry, RegistryConfig, TenantMigrations, TenantPools,
};

type Check = Arc<dyn Fn(DatabaseLocation) -> BoxFuture<'static, bool> + Send + Sync>;
type MakeOrphan = Arc<dyn Fn(String) -> BoxFuture<'static, ()> + Send + Sync>;

/// A manager on fresh storage, and how to look at that storage directly.
struct Fixture<B: DatabaseBackend> {
    manager: DatabaseManager<B>,
    /// Whether the database at a location exists.
    exists: Check,
    /// Creates a database (or file) outside the registry, on the default server.
    orphan: MakeOrphan,
    /// Whether a rename renames the database (false: MySQL and SQLite keep
    /// the name and only the registry changes).
    renames: bool,
    /// The naming prefix of the tenant databases.
    prefix: String,
    /// Whether tenant connections go through a transaction pooler (user
    /// queries then run in a transaction, unnamed).
    pooled: bool,
    _guards: Vec<Box<dyn Any + Send>>,
}

/// Whether tenant traffic goes through a transaction pooler: the part of a
/// [`Fixture`] that `on_tenant!` reads, for closures that cannot borrow it.
#[derive(Clone, Copy)]
struct Pooled {
    pooled: bool,
}

fn items() -> TenantMigrations {
    TenantMigrations::from_sql([(
        1,
        "items",
        "CREATE TABLE items (id BIGINT PRIMARY KEY, tenant VARCHAR(63) NOT NULL, name VARCHAR(200) NOT NULL)",
    )])
    .unwrap()
}

fn items_then(extra: &'static str) -> TenantMigrations {
    TenantMigrations::from_sql([
        (
            1,
            "items",
            "CREATE TABLE items (id BIGINT PRIMARY KEY, tenant VARCHAR(63) NOT NULL, name VARCHAR(200) NOT NULL)",
        ),
        (2, "second", extra),
    ])
    .unwrap()
}

/// Runs `$query` (a sqlx query, not yet executed) with `$method` on the
/// tenant connection `$conn` the way user code must: as is, or, behind a
/// transaction pooler, as an unnamed statement in a transaction of its own.
macro_rules! on_tenant {
    ($fx:expr, $conn:ident, $query:expr, $method:ident) => {{
        if $fx.pooled {
            let mut tx = sqlx::Connection::begin(&mut *$conn).await.unwrap();
            let out = $query.persistent(false).$method(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
            out
        } else {
            $query.$method(&mut *$conn).await.unwrap()
        }
    }};
}

/// Postgres database-per-tenant on the server at `url` (the admin
/// connection); `via` PgBouncer, the registry and the tenant traffic of the
/// `main` server go through it.
async fn pg_fixture(
    migrations: TenantMigrations,
    url: String,
    pools: PoolConfig,
    via: Via,
) -> Fixture<PgDatabases> {
    let registry_db = support::PgDb::new().await;
    let registry = PgRegistry::connect(
        registry_db.connections(via, 2).await,
        RegistryConfig::default(),
    )
    .await
    .unwrap();
    let admin = support::pg_server(&url).await;
    let guard = ServerDatabases::new(Server::Postgres(url.clone()));
    let main = Ident::new("main").unwrap();
    let backend = PgDatabases::new(main.clone(), admin.clone())
        .naming(DatabaseNaming::with_prefix(&guard.prefix).unwrap());
    let backend = match via {
        Via::Direct => backend,
        Via::PgBouncer => backend.through_pooler(
            main,
            PgConnectOptions::from_str(&support::pgbouncer_url())
                .expect("TENANCY_TEST_PGBOUNCER_URL is not a valid URL"),
        ),
    };
    let manager = DatabaseManager::new(
        AnyRegistry::from(registry),
        TenantPools::new(backend, pools),
        migrations,
    );
    let exists_admin = admin.clone();
    let exists: Check = Arc::new(move |location: DatabaseLocation| {
        let admin = exists_admin.clone();
        Box::pin(async move {
            let mut conn = admin.connect().await.unwrap();
            let found: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(location.database().as_str())
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
            conn.close().await.unwrap();
            found
        })
    });
    let orphan: MakeOrphan = Arc::new(move |name: String| {
        let admin = admin.clone();
        Box::pin(async move {
            let mut conn = admin.connect().await.unwrap();
            conn.execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .await
                .unwrap();
            conn.close().await.unwrap();
        })
    });
    let prefix = guard.prefix.clone();
    Fixture {
        manager,
        exists,
        orphan,
        renames: true,
        prefix,
        pooled: via == Via::PgBouncer,
        _guards: vec![Box::new(guard), Box::new(registry_db)],
    }
}

async fn postgres(migrations: TenantMigrations) -> Fixture<PgDatabases> {
    pg_fixture(
        migrations,
        support::pg_url(),
        PoolConfig::new().max_connections(4),
        Via::Direct,
    )
    .await
}

/// Postgres with the registry and the tenant traffic through PgBouncer; the
/// databases are created, migrated, renamed and dropped directly.
async fn pgbouncer(migrations: TenantMigrations) -> Fixture<PgDatabases> {
    pg_fixture(
        migrations,
        support::pg_url(),
        PoolConfig::new().max_connections(4),
        Via::PgBouncer,
    )
    .await
}

async fn mysql(migrations: TenantMigrations) -> Fixture<MySqlDatabases> {
    let registry_db = support::MySqlDb::new().await;
    let registry = MySqlRegistry::connect(registry_db.pool(2).await, RegistryConfig::default())
        .await
        .unwrap();
    let guard = ServerDatabases::new(Server::MySql);
    let backend = MySqlDatabases::new(Ident::new("main").unwrap(), support::mysql_server())
        .naming(DatabaseNaming::with_prefix(&guard.prefix).unwrap());
    let manager = DatabaseManager::new(
        AnyRegistry::from(registry),
        TenantPools::new(backend, PoolConfig::new().max_connections(4)),
        migrations,
    );
    let exists: Check = Arc::new(|location: DatabaseLocation| {
        Box::pin(async move {
            let mut conn = support::mysql_server().connect().await.unwrap();
            let found: Option<String> = sqlx::query_scalar(
                "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            )
            .bind(location.database().as_str())
            .fetch_optional(&mut conn)
            .await
            .unwrap();
            conn.close().await.unwrap();
            found.is_some()
        })
    });
    let orphan: MakeOrphan = Arc::new(|name: String| {
        Box::pin(async move {
            let mut conn = support::mysql_server().connect().await.unwrap();
            conn.execute(AssertSqlSafe(format!("CREATE DATABASE `{name}`")))
                .await
                .unwrap();
            conn.close().await.unwrap();
        })
    });
    let prefix = guard.prefix.clone();
    Fixture {
        manager,
        exists,
        orphan,
        renames: false,
        prefix,
        pooled: false,
        _guards: vec![Box::new(guard), Box::new(registry_db)],
    }
}

async fn sqlite(migrations: TenantMigrations) -> Fixture<SqliteDatabases> {
    let dir = TempDir::new();
    let registry = SqliteRegistry::connect(
        dir.sqlite_pool("registry.db", 2).await,
        RegistryConfig::default(),
    )
    .await
    .unwrap();
    let tenants = dir.path().join("tenants");
    let backend = SqliteDatabases::new(&tenants).unwrap();
    let manager = DatabaseManager::new(
        AnyRegistry::from(registry),
        TenantPools::new(backend.clone(), PoolConfig::new().max_connections(4)),
        migrations,
    );
    let files = backend;
    let exists: Check = Arc::new(move |location: DatabaseLocation| {
        let path = files.path_of(&location).unwrap();
        Box::pin(async move { path.exists() })
    });
    let orphan: MakeOrphan = Arc::new(move |name: String| {
        let path = tenants.join(format!("{name}.db"));
        Box::pin(async move { std::fs::write(path, b"").unwrap() })
    });
    Fixture {
        manager,
        exists,
        orphan,
        renames: false,
        prefix: "tenant_".to_owned(),
        pooled: false,
        _guards: vec![Box::new(dir)],
    }
}

/// The suite; `$ph` is the backend's bind placeholder style (`$1` or `?`).
macro_rules! database_suite {
    ($($backend:ident: $fixture:expr, $insert:literal;)*) => {$(
        mod $backend {
            use super::*;
            use tenancy_core::TenancyError;
            use tenancy_sqlx::{MigrateOptions, NewTenant, TenantLifecycle};
            use tenancy_sqlx::migrate::{MigrationError, MigrationStatus, TenantFilter};

            #[tokio::test]
            async fn lifecycle() {
                let fx = $fixture(items()).await;
                let manager = &fx.manager;
                let acme = manager
                    .create(NewTenant::new(id("acme"), "Acme").primary_domain(tenancy_core::DomainName::new("acme.test").unwrap()))
                    .await
                    .unwrap();
                assert!(acme.is_active());
                let location = acme.storage().database().unwrap().clone();
                assert!((fx.exists)(location.clone()).await, "database created");
                let globex = manager.create(NewTenant::new(id("globex"), "Globex")).await.unwrap();

                // Each tenant writes and reads its own database only.
                for (tenant, rows) in [(&acme, 3), (&globex, 2)] {
                    let mut conn = manager.connect(tenant).await.unwrap();
                    for row in 0..rows {
                        on_tenant!(fx, conn, sqlx::query($insert).bind(row).bind(tenant.id().as_str()).bind(format!("item {row}")), execute);
                    }
                }
                for (tenant, rows) in [(&acme, 3_usize), (&globex, 2)] {
                    let mut conn = manager.connect(tenant).await.unwrap();
                    let owners: Vec<String> = on_tenant!(fx, conn, sqlx::query_scalar("SELECT tenant FROM items"), fetch_all);
                    assert_eq!(owners.len(), rows);
                    assert!(owners.iter().all(|owner| owner == tenant.id().as_str()), "{owners:?}");
                }

                // Deactivate closes the pool and keeps the data; activate serves again.
                manager.deactivate(&id("acme")).await.unwrap();
                assert!(!manager.registry().find_by_id(&id("acme")).await.unwrap().unwrap().is_active());
                assert!((fx.exists)(location.clone()).await);
                manager.activate(&id("acme")).await.unwrap();

                // Rename keeps data and domains; the old id is gone.
                let renamed = manager.rename(&id("acme"), &id("initech")).await.unwrap();
                assert_eq!(renamed.id(), &id("initech"));
                assert_eq!(renamed.primary_domain().unwrap().as_str(), "acme.test");
                assert!(manager.registry().find_by_id(&id("acme")).await.unwrap().is_none());
                let new_location = renamed.storage().database().unwrap().clone();
                if fx.renames {
                    assert_ne!(new_location, location);
                    assert!(new_location.database().as_str().ends_with("initech"));
                    assert!(!(fx.exists)(location.clone()).await, "old name gone");
                } else {
                    assert_eq!(new_location, location, "MySQL and SQLite keep the database name");
                }
                let mut conn = manager.connect(&renamed).await.unwrap();
                let count: i64 = on_tenant!(fx, conn, sqlx::query_scalar("SELECT COUNT(*) FROM items"), fetch_one);
                assert_eq!(count, 3, "data kept");
                drop(conn);
                let clash = manager.rename(&id("initech"), &id("globex")).await.unwrap_err();
                assert!(matches!(clash, TenancyError::TenantExists { .. }), "{clash:?}");
                let missing = manager.rename(&id("nope"), &id("other")).await.unwrap_err();
                assert!(matches!(missing, TenancyError::TenantNotFound { .. }), "{missing:?}");

                // A new tenant under the old id starts empty (MySQL picks another name).
                let again = manager.create(NewTenant::new(id("acme"), "Acme again")).await.unwrap();
                let mut conn = manager.connect(&again).await.unwrap();
                let count: i64 = on_tenant!(fx, conn, sqlx::query_scalar("SELECT COUNT(*) FROM items"), fetch_one);
                assert_eq!(count, 0);
                drop(conn);

                // Drop: database and row gone, idempotent.
                assert!(manager.delete(&id("initech")).await.unwrap());
                assert!(!(fx.exists)(new_location).await, "database dropped");
                assert!(manager.registry().find_by_id(&id("initech")).await.unwrap().is_none());
                assert!(!manager.delete(&id("initech")).await.unwrap());
                assert!(manager.registry().find_by_domain(&tenancy_core::DomainName::new("acme.test").unwrap()).await.unwrap().is_none());
                for tenant in ["acme", "globex"] {
                    assert!(manager.delete(&id(tenant)).await.unwrap());
                }
                assert!(manager.registry().list().await.unwrap().is_empty());
            }

            #[tokio::test]
            async fn create_is_atomic_when_a_migration_fails() {
                let fx = $fixture(items_then("ALTER TABLE no_such_table ADD COLUMN x INT")).await;
                let error = fx.manager.create(NewTenant::new(id("acme"), "Acme")).await.unwrap_err();
                assert!(matches!(error, TenancyError::TableCreation { .. }), "{error:?}");
                let source = std::error::Error::source(&error).unwrap();
                assert!(source.downcast_ref::<MigrationError>().is_some(), "a MigrationError source: {source:?}");
                assert!(fx.manager.registry().find_by_id(&id("acme")).await.unwrap().is_none(), "no registry row");
                let location = DatabaseLocation::new(
                    fx.manager.backend().default_server().clone(),
                    format!("{}acme", name_prefix(&fx)).parse().unwrap(),
                );
                assert!(!(fx.exists)(location).await, "no database");
            }

            #[tokio::test]
            async fn existing_storage_is_never_adopted() {
                let fx = $fixture(items()).await;
                let natural = format!("{}acme", name_prefix(&fx));
                (fx.orphan)(natural.clone()).await;
                let created = fx.manager.create(NewTenant::new(id("acme"), "Acme")).await;
                if fx.renames {
                    let error = created.unwrap_err();
                    assert!(matches!(error, TenancyError::SchemaCreation { .. }), "{error:?}");
                    assert!(fx.manager.registry().find_by_id(&id("acme")).await.unwrap().is_none());
                } else {
                    let tenant = created.unwrap();
                    assert_ne!(tenant.storage().database().unwrap().database().as_str(), natural, "another name");
                }
                let orphan = DatabaseLocation::new(fx.manager.backend().default_server().clone(), natural.parse().unwrap());
                assert!((fx.exists)(orphan).await, "the orphan is left alone");
            }

            #[tokio::test]
            async fn migrate_all_reports_per_tenant() {
                let fx = $fixture(items()).await;
                for tenant in ["a", "b", "c"] {
                    fx.manager.create(NewTenant::new(id(tenant), tenant)).await.unwrap();
                }
                // Tenant b gets in the way of the next migration.
                let b = fx.manager.registry().find_by_id(&id("b")).await.unwrap().unwrap();
                let mut conn = fx.manager.connect(&b).await.unwrap();
                sqlx::raw_sql("CREATE TABLE notes (id INT)").execute(&mut *conn).await.unwrap();
                drop(conn);

                let next = DatabaseManager::new(fx.manager.registry().clone(), TenantPools::new(fx.manager.backend().clone(), PoolConfig::new().max_connections(4)), items_then("CREATE TABLE notes (id BIGINT PRIMARY KEY, body VARCHAR(100))"));
                let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
                let counter = seen.clone();
                let report = next
                    .migrate_all(MigrateOptions::new().concurrency(2).on_progress(move |_| {
                        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }))
                    .await
                    .unwrap();
                assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 3);
                assert_eq!(report.migrated().count(), 2, "{report}");
                let failed: Vec<&str> = report.failed().map(|t| t.id.as_str()).collect();
                assert_eq!(failed, ["b"]);
                assert!(matches!(
                    report.get(&id("b")).unwrap().status,
                    MigrationStatus::Failed(TenancyError::Migration { .. })
                ));
                let again = next.migrate_all(MigrateOptions::new().filter(TenantFilter::all().only([id("a"), id("c")]))).await.unwrap();
                assert_eq!(again.up_to_date().count(), 2, "{again}");
                assert_eq!(again.skipped, 1);
                // New tenants start at the latest version.
                next.create(NewTenant::new(id("d"), "d")).await.unwrap();
                let d = next.migrate_all(MigrateOptions::new().filter(TenantFilter::all().only([id("d")]))).await.unwrap();
                assert_eq!(d.up_to_date().count(), 1, "{d}");
                let d = next.registry().find_by_id(&id("d")).await.unwrap().unwrap();
                let mut conn = next.connect(&d).await.unwrap();
                let rows: i64 = on_tenant!(fx, conn, sqlx::query_scalar("SELECT COUNT(*) FROM notes"), fetch_one);
                assert_eq!(rows, 0);
            }

            #[tokio::test]
            async fn create_if_missing_and_for_each_tenant() {
                let fx = $fixture(items()).await;
                let lifecycle: Arc<dyn TenantLifecycle> = Arc::new(fx.manager.clone());
                let tasks: Vec<_> = (0..4)
                    .map(|_| {
                        let lifecycle = lifecycle.clone();
                        tokio::spawn(async move {
                            lifecycle.create_if_missing(NewTenant::new(id("once"), "Once")).await
                        })
                    })
                    .collect();
                let mut created = 0;
                for task in tasks {
                    let (tenant, new) = task.await.unwrap().unwrap();
                    assert_eq!(tenant.id(), &id("once"));
                    created += usize::from(new);
                }
                assert_eq!(created, 1, "created exactly once");
                let (again, new) = lifecycle.create_if_missing(NewTenant::new(id("once"), "Renamed")).await.unwrap();
                assert!(!new);
                assert_eq!(again.name(), "Once", "an existing tenant is returned as it is");

                fx.manager.create(NewTenant::new(id("zeta"), "Zeta")).await.unwrap();
                fx.manager.create(NewTenant::new(id("quiet"), "Quiet")).await.unwrap();
                fx.manager.deactivate(&id("quiet")).await.unwrap();
                let acme_once = fx.manager.registry().find_by_id(&id("once")).await.unwrap().unwrap();
                let mut conn = fx.manager.connect(&acme_once).await.unwrap();
                on_tenant!(fx, conn, sqlx::query($insert).bind(1_i64).bind("once").bind("item"), execute);
                drop(conn);
                let fx_pooled = Pooled { pooled: fx.pooled };
                let pools = fx.manager.pools().clone();
                let results = fx
                    .manager
                    .for_each_tenant(2, move |tenant| {
                        let pools = pools.clone();
                        async move {
                            // The job runs in its tenant's scope: open_current opens that tenant.
                            let mut conn = tenancy_core::TenantAccess::open_current(&pools).await?;
                            // The scope reaches the data: only `once` has an item.
                            let count: i64 = on_tenant!(fx_pooled, conn, sqlx::query_scalar("SELECT count(*) FROM items"), fetch_one);
                            assert_eq!(count, i64::from(tenant.id().as_str() == "once"), "{}", tenant.id());
                            drop(conn);
                            assert_eq!(tenancy_core::scope::current_id().as_ref(), Some(tenant.id()));
                            if tenant.id().as_str() == "zeta" {
                                return Err(TenancyError::Configuration { message: "zeta fails".into() });
                            }
                            Ok(tenant.id().as_str().to_uppercase())
                        }
                    })
                    .await
                    .unwrap();
                let ids: Vec<_> = results.iter().map(|(id, _)| id.as_str()).collect();
                assert_eq!(ids, ["once", "zeta"], "active tenants only, ordered by id");
                assert_eq!(results[0].1.as_deref().unwrap(), "ONCE");
                assert_eq!(results[1].1.as_ref().unwrap_err().kind(), "Configuration");
            }

            #[tokio::test]
            async fn concurrent_creates_and_the_dyn_lifecycle() {
                let fx = $fixture(items()).await;
                let lifecycle: Arc<dyn TenantLifecycle> = Arc::new(fx.manager.clone());
                let tasks: Vec<_> = (0..4)
                    .map(|_| {
                        let lifecycle = lifecycle.clone();
                        tokio::spawn(async move { lifecycle.create(NewTenant::new(id("race"), "Race")).await })
                    })
                    .collect();
                let mut won = 0;
                for task in tasks {
                    match task.await.unwrap() {
                        Ok(_) => won += 1,
                        Err(TenancyError::TenantExists { .. }) => {}
                        Err(other) => panic!("unexpected: {other:?}"),
                    }
                }
                assert_eq!(won, 1);
                lifecycle.deactivate(&id("race")).await.unwrap();
                assert!(!lifecycle.registry().find_by_id(&id("race")).await.unwrap().unwrap().is_active());
                lifecycle.activate(&id("race")).await.unwrap();
                let report = lifecycle.migrate_all(MigrateOptions::new()).await.unwrap();
                assert_eq!(report.up_to_date().count(), 1, "{report}");
                assert!(lifecycle.delete(&id("race")).await.unwrap());
                assert!(matches!(
                    lifecycle.deactivate(&id("race")).await.unwrap_err(),
                    TenancyError::TenantNotFound { .. }
                ));
            }
        }
    )*};
}

/// The naming prefix of a fixture's databases.
fn name_prefix<B: DatabaseBackend>(fx: &Fixture<B>) -> String {
    fx.prefix.clone()
}

database_suite! {
    postgres: postgres, "INSERT INTO items (id, tenant, name) VALUES ($1, $2, $3)";
    pgbouncer: pgbouncer, "INSERT INTO items (id, tenant, name) VALUES ($1, $2, $3)";
    mysql: mysql, "INSERT INTO items (id, tenant, name) VALUES (?, ?, ?)";
    sqlite: sqlite, "INSERT INTO items (id, tenant, name) VALUES (?, ?, ?)";
}

/// Tenants on two Postgres servers: each lands where placement says, and is
/// served from there.
#[tokio::test]
async fn tenants_on_two_postgres_servers() {
    let fx = pg_fixture(
        items(),
        support::pg_url(),
        PoolConfig::new().max_connections(4),
        Via::Direct,
    )
    .await;
    let second_url = support::pg2_url();
    let second = support::pg_server(&second_url).await;
    let guard2 = ServerDatabases::new(Server::Postgres(second_url.clone()));
    let backend = fx
        .manager
        .backend()
        .clone()
        .server(Ident::new("second").unwrap(), second.clone())
        .naming(DatabaseNaming::with_prefix(&guard2.prefix).unwrap());
    let manager = DatabaseManager::new(
        fx.manager.registry().clone(),
        TenantPools::new(backend, PoolConfig::new().max_connections(4)).with_placement(|new| {
            Ident::new(if new.id().as_str().starts_with("eu") {
                "second"
            } else {
                "main"
            })
            .unwrap()
        }),
        items(),
    );
    let local = manager
        .create(tenancy_sqlx::NewTenant::new(id("us1"), "US"))
        .await
        .unwrap();
    let remote = manager
        .create(tenancy_sqlx::NewTenant::new(id("eu1"), "EU"))
        .await
        .unwrap();
    assert_eq!(
        local.storage().database().unwrap().server().as_str(),
        "main"
    );
    assert_eq!(
        remote.storage().database().unwrap().server().as_str(),
        "second"
    );
    // The remote database really is on the second server, and only there.
    assert_eq!(
        guard2.list().await,
        vec![
            format!("{}_template", guard2.prefix),
            format!("{}eu1", guard2.prefix)
        ]
    );
    let on_main = ServerDatabases {
        prefix: guard2.prefix.clone(),
        server: Server::Postgres(support::pg_url()),
    };
    assert!(
        on_main
            .list()
            .await
            .iter()
            .all(|name| !name.ends_with("eu1"))
    );
    // `on_main` also removes, at the end, what this test created on the first server.

    for (tenant, port) in [
        (
            &local,
            PgConnectOptions::from_str(&support::pg_url())
                .unwrap()
                .get_port(),
        ),
        (&remote, second.get_port()),
    ] {
        let mut conn = manager.connect(tenant).await.unwrap();
        sqlx::query("INSERT INTO items (id, tenant, name) VALUES (1, $1, 'x')")
            .bind(tenant.id().as_str())
            .execute(&mut *conn)
            .await
            .unwrap();
        let served: i32 = sqlx::query_scalar("SELECT current_setting('port')::int")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(served as u16, port);
    }
    let report = manager
        .migrate_all(tenancy_sqlx::MigrateOptions::new())
        .await
        .unwrap();
    assert_eq!(report.up_to_date().count(), 2, "{report}");
    let renamed = manager.rename(&id("eu1"), &id("eu2")).await.unwrap();
    assert_eq!(
        renamed.storage().database().unwrap().server().as_str(),
        "second"
    );
    assert!(manager.delete(&id("eu2")).await.unwrap());
    assert!(manager.delete(&id("us1")).await.unwrap());
    assert_eq!(
        guard2.list().await,
        vec![format!("{}_template", guard2.prefix)]
    );
    let unknown = manager
        .create_on(
            tenancy_sqlx::NewTenant::new(id("x"), "X"),
            &Ident::new("nowhere").unwrap(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, tenancy_core::TenancyError::Configuration { .. }),
        "{unknown:?}"
    );
}

/// Postgres cannot rename a database other sessions are connected to: the
/// rename fails with `SchemaRename` and changes nothing.
#[tokio::test]
async fn postgres_rename_refuses_while_others_are_connected() {
    let fx = postgres(items()).await;
    let tenant = fx
        .manager
        .create(tenancy_sqlx::NewTenant::new(id("busy"), "Busy"))
        .await
        .unwrap();
    let location = tenant.storage().database().unwrap().clone();
    // Another process's connection.
    let other = fx
        .manager
        .backend()
        .connect_options(&location)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let error = fx
        .manager
        .rename(&id("busy"), &id("quiet"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, tenancy_core::TenancyError::SchemaRename { .. }),
        "{error:?}"
    );
    let still = fx
        .manager
        .registry()
        .find_by_id(&id("busy"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.storage().database(), Some(&location));
    assert!((fx.exists)(location).await);
    other.close().await.unwrap();
    let renamed = fx.manager.rename(&id("busy"), &id("quiet")).await.unwrap();
    assert!(
        renamed
            .storage()
            .database()
            .unwrap()
            .database()
            .as_str()
            .ends_with("quiet")
    );
}
