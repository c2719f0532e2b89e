//! Database mode across servers: placement on the least used server, and
//! moving a tenant between the two PostgreSQL clusters `scripts/test.sh`
//! runs and between SQLite directories; a move that fails leaves the
//! tenant served from its source, complete.

#![cfg(all(feature = "postgres", feature = "mysql", feature = "sqlite"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::Duration;

use sqlx::{AssertSqlSafe, ConnectOptions, Connection};
use support::{MySqlDb, PgDb, TempDir, id, mysql_server, pg_server, pg_url, pg2_url};
use tenancy_core::TenancyError;
use tenancy_sqlx::database::{
    DatabaseNaming, MySqlDatabases, PgDatabases, PoolConfig, SqliteDatabases,
};
use tenancy_sqlx::registry::{MySqlRegistry, SqliteRegistry};
use tenancy_sqlx::{
    DatabaseManager, Ident, NewTenant, PgRegistry, RegistryConfig, TenantMigrations, TenantPools,
};

const PG_TASKS: &str = "CREATE TABLE projects (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL); \
     CREATE TABLE tasks (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
       project_id bigint NOT NULL REFERENCES projects (id), title text NOT NULL)";

fn ident(name: &str) -> Ident {
    Ident::new(name).unwrap()
}

/// The databases named `pattern` on the server at `url`.
async fn databases(url: &str, pattern: &str) -> Vec<String> {
    let mut admin = pg_server(url).await.connect().await.unwrap();
    let names = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname LIKE $1 ORDER BY 1",
    )
    .bind(pattern)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();
    names
}

/// Drops the databases named `pattern` on both servers.
async fn drop_databases(pattern: &str) {
    for url in [pg_url(), pg2_url()] {
        let mut admin = pg_server(&url).await.connect().await.unwrap();
        for name in databases(&url, pattern).await {
            sqlx::raw_sql(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await
            .unwrap();
        }
        admin.close().await.unwrap();
    }
}

#[tokio::test]
async fn a_tenant_moves_between_postgres_servers_with_its_data() {
    let db = PgDb::new().await;
    let ours = format!("{}\\_%", db.name);
    let registry = PgRegistry::connect(db.pool(4).await, RegistryConfig::default())
        .await
        .unwrap();
    let databases_of = PgDatabases::new(ident("first"), pg_server(&pg_url()).await)
        .server(ident("second"), pg_server(&pg2_url()).await)
        .naming(DatabaseNaming::with_prefix(format!("{}_", db.name)).unwrap());
    let migrations = TenantMigrations::from_sql([(1, "tasks", PG_TASKS)]).unwrap();
    let manager = DatabaseManager::new(
        registry,
        TenantPools::new(databases_of, PoolConfig::new()),
        migrations,
    );

    // Placement: the least used server, ties by name.
    let acme = manager
        .create_on_least_used(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    assert_eq!(
        acme.storage().database().unwrap().server().as_str(),
        "first"
    );
    let globex = manager
        .create_on_least_used(NewTenant::new(id("globex"), "Globex"))
        .await
        .unwrap();
    assert_eq!(
        globex.storage().database().unwrap().server().as_str(),
        "second"
    );
    let counts = manager.tenants_per_server().await.unwrap();
    assert_eq!(counts.values().copied().collect::<Vec<_>>(), [1, 1]);

    let mut conn = manager.connect(&acme).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO projects (name) VALUES ('launch'); \
         INSERT INTO tasks (project_id, title) VALUES (1, 'plan'), (1, 'ship'); \
         DELETE FROM tasks WHERE id = 2",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    drop(conn);

    let moved = manager
        .move_tenant(&id("acme"), &ident("second"), Duration::ZERO)
        .await
        .unwrap();
    assert!(moved.is_active());
    assert_eq!(
        moved.storage().database().unwrap().server().as_str(),
        "second"
    );
    let found = manager
        .registry()
        .find_by_id(&id("acme"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.storage(), moved.storage());
    let mut conn = manager.connect(&moved).await.unwrap();
    let titles: Vec<String> = sqlx::query_scalar("SELECT title FROM tasks ORDER BY id")
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    assert_eq!(titles, ["plan"]);
    let next: i64 = sqlx::query_scalar(
        "INSERT INTO tasks (project_id, title) VALUES (1, 'again') RETURNING id",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(next, 3, "the identity continues on the new server");
    drop(conn);
    let acme_db = moved.storage().database().unwrap().database().to_string();
    assert!(
        databases(&pg_url(), &acme_db).await.is_empty(),
        "the source is dropped"
    );
    assert_eq!(
        databases(&pg2_url(), &acme_db).await,
        std::slice::from_ref(&acme_db)
    );

    // Refusals: the same server, an unknown one; nothing changes.
    for (server, expected) in [("second", "already"), ("third", "no database server")] {
        let refused = manager
            .move_tenant(&id("acme"), &ident(server), Duration::ZERO)
            .await;
        assert!(
            matches!(&refused, Err(TenancyError::Configuration { message }) if message.contains(expected)),
            "{refused:?}"
        );
    }

    // A copy that fails (the source has a table the migrations do not
    // make): the copy is dropped, the tenant is served from its source.
    let mut conn = manager.connect(&moved).await.unwrap();
    sqlx::raw_sql("CREATE TABLE notes (body text); INSERT INTO notes VALUES ('kept')")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    let failed = manager
        .move_tenant(&id("acme"), &ident("first"), Duration::ZERO)
        .await;
    assert!(
        matches!(&failed, Err(TenancyError::SchemaCreation { .. }))
            && format!("{failed:?}").contains("notes"),
        "{failed:?}"
    );
    let after = manager
        .registry()
        .find_by_id(&id("acme"))
        .await
        .unwrap()
        .unwrap();
    assert!(after.is_active(), "reactivated on its source");
    assert_eq!(after.storage(), moved.storage());
    assert!(
        databases(&pg_url(), &acme_db).await.is_empty(),
        "the failed copy is dropped"
    );
    let mut conn = manager.connect(&after).await.unwrap();
    let kept: String = sqlx::query_scalar("SELECT body FROM notes")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(kept, "kept");
    drop(conn);

    for tenant in ["acme", "globex"] {
        assert!(manager.delete(&id(tenant)).await.unwrap());
    }
    drop_databases(&ours).await;
}

#[tokio::test]
async fn a_tenant_moves_between_sqlite_directories() {
    let dir = TempDir::new();
    let registry = SqliteRegistry::connect(
        dir.sqlite_pool("registry.db", 4).await,
        RegistryConfig::default(),
    )
    .await
    .unwrap();
    let databases = SqliteDatabases::new(dir.path().join("a"))
        .unwrap()
        .directory(ident("b"), dir.path().join("b"))
        .unwrap();
    let migrations = TenantMigrations::from_sql([(
        1,
        "notes",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)",
    )])
    .unwrap();
    let manager = DatabaseManager::new(
        registry,
        TenantPools::new(databases, PoolConfig::new()),
        migrations,
    );
    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    let mut conn = manager.connect(&acme).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO notes (body) VALUES ('one'), ('two'); DELETE FROM notes WHERE id = 2",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    drop(conn);
    let source_file = dir.path().join("a").join(format!(
        "{}.db",
        acme.storage().database().unwrap().database()
    ));
    assert!(source_file.exists());

    let moved = manager
        .move_tenant(&id("acme"), &ident("b"), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(moved.storage().database().unwrap().server().as_str(), "b");
    assert!(!source_file.exists(), "the source file is removed");
    let mut conn = manager.connect(&moved).await.unwrap();
    let next: i64 = sqlx::query_scalar("INSERT INTO notes (body) VALUES ('three') RETURNING id")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(next, 3, "AUTOINCREMENT continues");
    let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM notes ORDER BY id")
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    assert_eq!(bodies, ["one", "three"]);
    drop(conn);

    // A deactivated tenant moves and stays deactivated.
    manager.deactivate(&id("acme")).await.unwrap();
    let back = manager
        .move_tenant(&id("acme"), &ident("local"), Duration::ZERO)
        .await
        .unwrap();
    assert!(!back.is_active(), "a move does not activate a tenant");
    assert_eq!(
        back.storage().database().unwrap().server().as_str(),
        "local"
    );
    assert!(source_file.exists(), "back in the first directory");
}

#[tokio::test]
async fn moving_between_mysql_servers_is_refused_and_changes_nothing() {
    let db = MySqlDb::new().await;
    let registry = MySqlRegistry::connect(db.pool(4).await, RegistryConfig::default())
        .await
        .unwrap();
    let databases = MySqlDatabases::new(ident("first"), mysql_server())
        .server(ident("second"), mysql_server())
        .naming(DatabaseNaming::with_prefix(format!("{}_", db.name)).unwrap());
    let migrations =
        TenantMigrations::from_sql([(1, "notes", "CREATE TABLE notes (body TEXT)")]).unwrap();
    let manager = DatabaseManager::new(
        registry,
        TenantPools::new(databases, PoolConfig::new()),
        migrations,
    );
    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    let refused = manager
        .move_tenant(&id("acme"), &ident("second"), Duration::ZERO)
        .await;
    let message = format!("{:?}", refused.as_ref().err());
    assert!(
        matches!(refused, Err(TenancyError::Configuration { .. })),
        "{message}"
    );
    assert!(
        message.contains("cannot be copied between servers"),
        "{message}"
    );
    let after = manager
        .registry()
        .find_by_id(&id("acme"))
        .await
        .unwrap()
        .unwrap();
    assert!(after.is_active());
    assert_eq!(after.storage(), acme.storage());
    assert!(manager.delete(&id("acme")).await.unwrap());
}
