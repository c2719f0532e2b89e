//! Cloning a tenant, beyond the lifecycle suite's case: foreign keys,
//! generated columns and counters carried over on every database mode's
//! backend; a copy that fails leaves no tenant and no storage; a source
//! that is not migrated, or shared tables whose generated keys are
//! referenced, are refused.

#![cfg(all(feature = "postgres", feature = "mysql", feature = "sqlite"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use sqlx::{AssertSqlSafe, ConnectOptions, Connection};
use support::{
    MySqlDb, PgDb, TempDir, id, manager, mysql_server, pg_server, pg_url, schema_exists,
};
use tenancy_core::TenancyError;
use tenancy_sqlx::database::{
    DatabaseNaming, MySqlDatabases, PgDatabases, PoolConfig, SqliteDatabases,
};
use tenancy_sqlx::registry::{MySqlRegistry, SqliteRegistry};
use tenancy_sqlx::shared::keyed::{SqliteSharedManager, SqliteSharedPool};
use tenancy_sqlx::{
    DatabaseManager, Ident, MigrateOptions, NewTenant, PgRegistry, RegistryConfig,
    TenantMigrations, TenantPools,
};

/// Projects and their tasks (a foreign key, a generated column) and an
/// invoice-number sequence, in Postgres.
const PG_PROJECTS: &str = "CREATE TYPE mood AS ENUM ('calm', 'busy'); \
     CREATE TABLE projects (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, \
       moods mood[] NOT NULL DEFAULT '{}'); \
     CREATE TABLE settings (key text PRIMARY KEY, value text NOT NULL); \
     INSERT INTO settings VALUES ('plan', 'free'); \
     CREATE TABLE events (at date NOT NULL, what text NOT NULL) PARTITION BY RANGE (at); \
     CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01'); \
     CREATE TABLE tasks (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
       project_id bigint NOT NULL REFERENCES projects (id), title text NOT NULL, \
       title_length int GENERATED ALWAYS AS (length(title)) STORED); \
     CREATE SEQUENCE invoice_numbers";

fn pg_projects() -> TenantMigrations {
    TenantMigrations::from_sql([(1, "projects", PG_PROJECTS)]).unwrap()
}

/// The next release: short titles, checked NOT VALID (existing rows keep
/// theirs, a fresh database enforces it on every row, copies included).
fn pg_projects_with_check() -> TenantMigrations {
    TenantMigrations::from_sql([
        (1, "projects", PG_PROJECTS),
        (
            2,
            "short titles",
            "ALTER TABLE tasks ADD CONSTRAINT short CHECK (length(title) < 10) NOT VALID",
        ),
    ])
    .unwrap()
}

/// A project with two tasks, the second deleted again (the identity stays
/// at 2), and three invoice numbers drawn.
const PG_DATA: &str = "INSERT INTO projects (name, moods) VALUES ('launch', '{busy,calm}'); \
     UPDATE settings SET value = 'pro'; \
     INSERT INTO events VALUES ('2026-12-07', 'cloned'); \
     INSERT INTO tasks (project_id, title) VALUES (1, 'plan'), (1, 'ship'); \
     DELETE FROM tasks WHERE id = 2; \
     SELECT nextval('invoice_numbers'), nextval('invoice_numbers'), nextval('invoice_numbers')";

/// What a Postgres tenant's copy must hold: the task, its generated column,
/// and counters that continue where the source's stopped.
const PG_CHECK: &str = "WITH again AS (INSERT INTO tasks (project_id, title) VALUES (1, 'again') RETURNING id) \
     SELECT (SELECT count(*) FROM tasks)::int8 \
              + (SELECT count(*) - 1 FROM settings WHERE value = 'pro') \
              + (SELECT count(*) - 1 FROM events) \
              + (SELECT count(*) - 1 FROM projects WHERE moods = '{busy,calm}'), \
            (SELECT title_length FROM tasks WHERE id = 1)::int8, \
            nextval('invoice_numbers'), \
            (SELECT id FROM again)";

#[tokio::test]
async fn schema_mode_copies_rows_in_key_order_with_their_counters() {
    let db = PgDb::new().await;
    let manager = manager(&db, 4, pg_projects()).await;
    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    let mut tx = manager.schemas().begin(&acme).await.unwrap();
    sqlx::raw_sql(PG_DATA).execute(&mut tx).await.unwrap();
    tx.commit().await.unwrap();

    let copy = manager
        .clone_tenant(&id("acme"), NewTenant::new(id("copy"), "Copy"))
        .await
        .unwrap();
    let mut tx = manager.schemas().begin(&copy).await.unwrap();
    let checked: (i64, i64, i64, i64) = sqlx::query_as(PG_CHECK).fetch_one(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        checked,
        (1, 4, 4, 3),
        "rows, generated column, sequence, identity"
    );
    let mut tx = manager.schemas().begin(&acme).await.unwrap();
    let tasks: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(tasks, 1, "the source is untouched");
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_copy_that_fails_leaves_no_tenant_and_no_schema() {
    let db = PgDb::new().await;
    let v1 = TenantMigrations::from_sql([(
        1,
        "items",
        "CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL)",
    )])
    .unwrap();
    let manager = manager(&db, 4, v1).await;
    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    let mut tx = manager.schemas().begin(&acme).await.unwrap();
    sqlx::raw_sql("INSERT INTO items VALUES (1, -1)")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // A check the existing row breaks, added without validating it: a fresh
    // schema enforces it, so copying the row fails.
    let v2 = TenantMigrations::from_sql([
        (
            1,
            "items",
            "CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL)",
        ),
        (
            2,
            "positive",
            "ALTER TABLE items ADD CONSTRAINT qty_positive CHECK (qty > 0) NOT VALID",
        ),
    ])
    .unwrap();
    let not_migrated = manager
        .with_migrations(v2.clone())
        .clone_tenant(&id("acme"), NewTenant::new(id("copy"), "Copy"))
        .await;
    assert!(
        matches!(&not_migrated, Err(TenancyError::Configuration { message }) if message.contains("migrate it")),
        "{not_migrated:?}"
    );
    let v2_manager = manager.with_migrations(v2);
    assert!(
        v2_manager
            .migrate_all(MigrateOptions::new())
            .await
            .unwrap()
            .is_success()
    );

    let failed = v2_manager
        .clone_tenant(&id("acme"), NewTenant::new(id("copy"), "Copy"))
        .await;
    assert!(
        matches!(&failed, Err(TenancyError::SchemaCreation { .. }))
            && format!("{failed:?}").contains("qty_positive"),
        "{failed:?}"
    );
    assert!(
        manager
            .registry()
            .find_by_id(&id("copy"))
            .await
            .unwrap()
            .is_none()
    );
    let schema = manager
        .schemas()
        .schema_naming()
        .schema_for(&id("copy"))
        .unwrap();
    assert!(
        !schema_exists(manager.schemas().pool(), schema.as_str()).await,
        "no schema is left"
    );
}

#[tokio::test]
async fn postgres_databases_are_copied_with_their_counters_and_a_failure_drops_the_copy() {
    let db = PgDb::new().await;
    let registry = PgRegistry::connect(db.pool(4).await, RegistryConfig::default())
        .await
        .unwrap();
    let naming = DatabaseNaming::with_prefix(format!("{}_", db.name)).unwrap();
    let databases =
        PgDatabases::new(Ident::new("default").unwrap(), pg_server(&pg_url()).await).naming(naming);
    let pools = TenantPools::new(databases, PoolConfig::new());
    let manager = DatabaseManager::new(registry, pools, pg_projects());
    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    let mut conn = manager.connect(&acme).await.unwrap();
    sqlx::raw_sql(PG_DATA).execute(&mut *conn).await.unwrap();
    drop(conn);

    let copy = manager
        .clone_tenant(&id("acme"), NewTenant::new(id("copy"), "Copy"))
        .await
        .unwrap();
    let mut conn = manager.connect(&copy).await.unwrap();
    let checked: (i64, i64, i64, i64) = sqlx::query_as(PG_CHECK)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(
        checked,
        (1, 4, 4, 3),
        "rows, generated column, sequence, identity"
    );
    drop(conn);

    // acme gets a title the next release's check refuses: acme keeps it,
    // but the copy's fresh database enforces the check, so the copy fails.
    let mut conn = manager.connect(&acme).await.unwrap();
    sqlx::raw_sql("INSERT INTO tasks (project_id, title) VALUES (1, 'a title too long')")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    let strict = manager.with_migrations(pg_projects_with_check());
    assert!(
        strict
            .migrate_all(MigrateOptions::new())
            .await
            .unwrap()
            .is_success()
    );
    let names = |pattern: String| async move {
        let mut admin = pg_server(&pg_url()).await.connect().await.unwrap();
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT datname::text FROM pg_database WHERE datname LIKE $1 ORDER BY 1",
        )
        .bind(pattern)
        .fetch_all(&mut admin)
        .await
        .unwrap();
        admin.close().await.unwrap();
        names
    };
    let ours = format!("{}\\_%", db.name);
    let before = names(ours.clone()).await;
    let refused = strict
        .clone_tenant(&id("acme"), NewTenant::new(id("third"), "Third"))
        .await;
    assert!(
        matches!(&refused, Err(TenancyError::SchemaCreation { .. }))
            && format!("{refused:?}").contains("short"),
        "{refused:?}"
    );
    assert!(
        manager
            .registry()
            .find_by_id(&id("third"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        names(ours.clone()).await,
        before,
        "the failed copy's database is dropped"
    );

    for tenant in ["acme", "copy"] {
        manager.delete(&id(tenant)).await.unwrap();
    }
    let mut admin = pg_server(&pg_url()).await.connect().await.unwrap();
    for name in names(ours).await {
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn mariadb_databases_keep_their_auto_increment_counters() {
    let db = MySqlDb::new().await;
    let registry = MySqlRegistry::connect(db.pool(4).await, RegistryConfig::default())
        .await
        .unwrap();
    let naming = DatabaseNaming::with_prefix(format!("{}_", db.name)).unwrap();
    let databases =
        MySqlDatabases::new(Ident::new("default").unwrap(), mysql_server()).naming(naming);
    let migrations = TenantMigrations::from_sql([(
        1,
        "tasks",
        "CREATE TABLE projects (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL); \
         CREATE TABLE tasks (id BIGINT AUTO_INCREMENT PRIMARY KEY, project_id BIGINT NOT NULL, \
           title VARCHAR(50) NOT NULL, title_length INT AS (CHAR_LENGTH(title)) STORED, \
           FOREIGN KEY (project_id) REFERENCES projects (id))",
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
        "INSERT INTO projects (name) VALUES ('launch'); \
         INSERT INTO tasks (project_id, title) VALUES (1, 'plan'), (1, 'ship'), (1, 'party'); \
         DELETE FROM tasks WHERE id = 3",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    drop(conn);
    let copy = manager
        .clone_tenant(&id("acme"), NewTenant::new(id("copy"), "Copy"))
        .await
        .unwrap();
    let mut conn = manager.connect(&copy).await.unwrap();
    let lengths: Vec<i32> = sqlx::query_scalar("SELECT title_length FROM tasks ORDER BY id")
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    assert_eq!(lengths, [4, 4]);
    let next = sqlx::query("INSERT INTO tasks (project_id, title) VALUES (1, 'again')")
        .execute(&mut *conn)
        .await
        .unwrap()
        .last_insert_id();
    assert_eq!(next, 4, "the counter continues past the deleted row");
    drop(conn);
    for tenant in ["acme", "copy"] {
        assert!(manager.delete(&id(tenant)).await.unwrap());
    }
}

#[tokio::test]
async fn sqlite_files_keep_their_autoincrement_counters() {
    let dir = TempDir::new();
    let registry = SqliteRegistry::connect(
        dir.sqlite_pool("registry.db", 4).await,
        RegistryConfig::default(),
    )
    .await
    .unwrap();
    let databases = SqliteDatabases::new(dir.path().join("tenants")).unwrap();
    let migrations = TenantMigrations::from_sql([(
        1,
        "tasks",
        "CREATE TABLE projects (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL); \
         CREATE TABLE tasks (id INTEGER PRIMARY KEY AUTOINCREMENT, \
           project_id INTEGER NOT NULL REFERENCES projects (id), title TEXT NOT NULL, \
           title_length INTEGER GENERATED ALWAYS AS (length(title)) STORED)",
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
        "INSERT INTO projects (name) VALUES ('launch'); \
         INSERT INTO tasks (project_id, title) VALUES (1, 'plan'), (1, 'ship'), (1, 'party'); \
         DELETE FROM tasks WHERE id = 3",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    drop(conn);
    let copy = manager
        .clone_tenant(&id("acme"), NewTenant::new(id("copy"), "Copy"))
        .await
        .unwrap();
    let mut conn = manager.connect(&copy).await.unwrap();
    let lengths: Vec<i64> = sqlx::query_scalar("SELECT title_length FROM tasks ORDER BY id")
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    assert_eq!(lengths, [4, 4]);
    let next: i64 = sqlx::query_scalar(
        "INSERT INTO tasks (project_id, title) VALUES (1, 'again') RETURNING id",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(next, 4, "AUTOINCREMENT continues past the deleted row");
}

#[tokio::test]
async fn shared_tables_whose_generated_keys_are_referenced_are_refused() {
    let dir = TempDir::new();
    let pool = dir.sqlite_pool("app.db", 4).await;
    let registry = SqliteRegistry::connect(pool.clone(), RegistryConfig::default())
        .await
        .unwrap();
    let migrations = TenantMigrations::from_sql([(
        1,
        "tasks",
        "CREATE TABLE projects (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL); \
         CREATE TABLE tasks (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, \
           project_id INTEGER NOT NULL REFERENCES projects (id), title TEXT NOT NULL)",
    )])
    .unwrap();
    let shared = SqliteSharedPool::new(pool).tables([
        Ident::new("projects").unwrap(),
        Ident::new("tasks").unwrap(),
    ]);
    let manager = SqliteSharedManager::new(registry, shared, migrations);
    manager.setup().await.unwrap();
    manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    let refused = manager
        .clone_tenant(&id("acme"), NewTenant::new(id("copy"), "Copy"))
        .await;
    assert!(
        matches!(&refused, Err(TenancyError::Configuration { message }) if message.contains("tasks references the generated key of projects")),
        "{refused:?}"
    );
    assert!(
        manager
            .registry()
            .find_by_id(&id("copy"))
            .await
            .unwrap()
            .is_none()
    );
}
