//! The shared-schema lifecycle on Postgres: create (atomic, with a seed),
//! rename (data untouched), drop (exactly the tenant's rows, atomically with
//! its registry row), migrate-all with a truthful per-tenant report.
//!
//! Every scenario runs twice: straight to Postgres (`direct::…`) and through
//! PgBouncer in transaction pooling mode (`pgbouncer::…`). The test's own
//! unscoped checks go over the direct pool.

#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::via_both;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::{PgPool, Row};
use support::pg::PgDb;
use support::{Via, id};
use tenancy_core::TenancyError;
use tenancy_sqlx::migrate::{MigrationStatus, TenantFilter};
use tenancy_sqlx::shared::SharedKey;
use tenancy_sqlx::shared::rls::RlsManager;
use tenancy_sqlx::{
    Ident, MigrateOptions, NewTenant, PgRegistry, RegistryConfig, RegistryTenant, RlsPool,
    TenantLifecycle, TenantMigrations,
};

fn ident(name: &str) -> Ident {
    Ident::new(name).unwrap()
}

const PROJECTS: (i64, &str, &str) = (
    1,
    "projects",
    "CREATE TABLE projects (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)",
);
const TASKS: (i64, &str, &str) = (
    2,
    "tasks",
    "CREATE TABLE tasks (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
     project_id bigint NOT NULL REFERENCES projects (id), title text NOT NULL)",
);

struct Setup {
    manager: RlsManager,
    registry: PgRegistry,
    shared: RlsPool,
}

via_both! {
    #[tokio::test] drop_removes_exactly_that_tenants_rows_with_its_registry_row;
    #[tokio::test] drop_is_atomic_with_the_registry_row;
    #[tokio::test] rename_keeps_the_data_and_frees_the_old_id;
    #[tokio::test] create_is_atomic_and_seeds_as_the_tenant;
    #[tokio::test] migrate_all_applies_once_and_reports_every_tenant;
    #[tokio::test] the_lifecycle_seam_drives_shared_mode;
}

/// The pool with session semantics beside `shared`, for the test's own
/// unscoped checks: `shared`'s pool itself when direct, the direct pool
/// beside it behind PgBouncer.
fn direct(shared: &RlsPool) -> &PgPool {
    shared.connections().direct().expect("a direct pool")
}

async fn setup(db: &PgDb, via: Via) -> Setup {
    let connections = db.connections(via, 3).await;
    let role = db.role("tenancy_t");
    let registry = PgRegistry::connect(connections.clone(), RegistryConfig::default())
        .await
        .unwrap();
    let shared = RlsPool::new(connections)
        .role(ident(&role))
        .tables([ident("projects"), ident("tasks")]);
    let migrations = TenantMigrations::from_sql([PROJECTS, TASKS]).unwrap();
    let manager = RlsManager::new(registry.clone(), shared.clone(), migrations);
    manager.setup().await.unwrap();
    Setup {
        manager,
        registry,
        shared,
    }
}

/// Two projects with three tasks each for `tenant`.
async fn fill(shared: &RlsPool, tenant: &RegistryTenant) {
    let mut tx = shared.begin(tenant).await.unwrap();
    for project in 0..2 {
        let project_id: i64 =
            sqlx::query_scalar("INSERT INTO projects (name) VALUES ($1) RETURNING id")
                .bind(format!("{} project {project}", tenant.id()))
                .fetch_one(&mut tx)
                .await
                .unwrap();
        sqlx::query(
            "INSERT INTO tasks (project_id, title) SELECT $1, 'task ' || g FROM generate_series(1, 3) g",
        )
        .bind(project_id)
        .execute(&mut tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

/// Rows per tenant key and table, seen unscoped (the test login is a superuser).
async fn rows_by_key(pool: &PgPool) -> HashMap<(String, String), i64> {
    sqlx::query(
        "SELECT 'projects' AS t, tenant_id, count(*) AS n FROM projects GROUP BY tenant_id \
         UNION ALL SELECT 'tasks', tenant_id, count(*) FROM tasks GROUP BY tenant_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|row| ((row.get("t"), row.get("tenant_id")), row.get("n")))
    .collect()
}

fn key(tenant: &RegistryTenant) -> String {
    tenant.storage().shared_key().unwrap().to_string()
}

async fn drop_removes_exactly_that_tenants_rows_with_its_registry_row(via: Via) {
    let db = PgDb::new().await;
    let Setup {
        manager, shared, ..
    } = setup(&db, via).await;
    let mut tenants = Vec::new();
    for name in ["a", "b", "c"] {
        let tenant = manager
            .create(NewTenant::new(id(name), name))
            .await
            .unwrap();
        fill(&shared, &tenant).await;
        tenants.push(tenant);
    }
    let before = rows_by_key(direct(&shared)).await;
    assert_eq!(before.len(), 6);

    assert!(manager.delete(&id("b")).await.unwrap());
    let after = rows_by_key(direct(&shared)).await;
    for tenant in [&tenants[0], &tenants[2]] {
        for table in ["projects", "tasks"] {
            let entry = (table.to_owned(), key(tenant));
            assert_eq!(after.get(&entry), before.get(&entry), "{entry:?} untouched");
        }
    }
    assert!(
        after.keys().all(|(_, k)| *k != key(&tenants[1])),
        "b's rows are gone"
    );
    assert_eq!(after.len(), 4);
    assert!(
        manager
            .registry()
            .find_by_id(&id("b"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(!manager.delete(&id("b")).await.unwrap(), "idempotent");

    // Dropped and created again: starts empty, under a new key.
    let again = manager.create(NewTenant::new(id("b"), "b")).await.unwrap();
    assert_ne!(key(&again), key(&tenants[1]));
    let mut tx = shared.begin(&again).await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM projects")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(count, 0);
    tx.commit().await.unwrap();
}

async fn drop_is_atomic_with_the_registry_row(via: Via) {
    let db = PgDb::new().await;
    let Setup {
        manager, shared, ..
    } = setup(&db, via).await;
    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    fill(&shared, &acme).await;
    // A table outside tenancy refers to one of acme's projects without a
    // cascade, so deleting acme's rows fails: the registry row must stay too.
    db.exec(
        "CREATE TABLE audit_refs (project_id bigint REFERENCES projects (id)); \
         INSERT INTO audit_refs SELECT min(id) FROM projects",
    )
    .await;
    let error = manager.delete(acme.id()).await.unwrap_err();
    assert!(
        matches!(error, TenancyError::SchemaDrop { .. }),
        "{error:?}"
    );
    assert!(
        manager
            .registry()
            .find_by_id(acme.id())
            .await
            .unwrap()
            .is_some()
    );
    let rows = rows_by_key(direct(&shared)).await;
    assert_eq!(rows.get(&("tasks".to_owned(), key(&acme))), Some(&6));
    db.exec("DROP TABLE audit_refs").await;
    assert!(manager.delete(acme.id()).await.unwrap());
    assert!(rows_by_key(direct(&shared)).await.is_empty());
}

async fn rename_keeps_the_data_and_frees_the_old_id(via: Via) {
    let db = PgDb::new().await;
    let Setup {
        manager, shared, ..
    } = setup(&db, via).await;
    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    let globex = manager
        .create(NewTenant::new(id("globex"), "Globex"))
        .await
        .unwrap();
    fill(&shared, &acme).await;
    let before = rows_by_key(direct(&shared)).await;

    let renamed = manager.rename(&id("acme"), &id("acme-corp")).await.unwrap();
    assert_eq!(renamed.id(), &id("acme-corp"));
    assert_eq!(key(&renamed), key(&acme), "the key is stable");
    assert_eq!(
        rows_by_key(direct(&shared)).await,
        before,
        "no data row changed"
    );
    assert!(
        manager
            .registry()
            .find_by_id(&id("acme"))
            .await
            .unwrap()
            .is_none()
    );
    let mut tx = shared.begin(&renamed).await.unwrap();
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM projects ORDER BY id")
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(names, ["acme project 0", "acme project 1"]);
    tx.commit().await.unwrap();

    // The old id can be taken by a new tenant, which starts empty.
    let newcomer = manager
        .create(NewTenant::new(id("acme"), "New"))
        .await
        .unwrap();
    let mut tx = shared.begin(&newcomer).await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM tasks")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(count, 0);
    tx.commit().await.unwrap();

    assert!(matches!(
        manager.rename(&id("acme-corp"), globex.id()).await,
        Err(TenancyError::TenantExists { .. })
    ));
    assert!(matches!(
        manager.rename(&id("nobody"), &id("somebody")).await,
        Err(TenancyError::TenantNotFound { .. })
    ));
}

async fn create_is_atomic_and_seeds_as_the_tenant(via: Via) {
    let db = PgDb::new().await;
    let Setup {
        manager, shared, ..
    } = setup(&db, via).await;
    let manager = manager.with_seed(|tx, tenant| {
        let fail = tenant.id().as_str() == "bad";
        Box::pin(async move {
            sqlx::query("INSERT INTO projects (name) VALUES ('welcome')")
                .execute(&mut *tx)
                .await?;
            if fail {
                sqlx::query("INSERT INTO tasks (project_id, title) VALUES (-1, 'dangling')")
                    .execute(&mut *tx)
                    .await?;
            }
            Ok(())
        })
    });
    let good = manager
        .create(NewTenant::new(id("good"), "Good"))
        .await
        .unwrap();
    let error = manager
        .create(NewTenant::new(id("bad"), "Bad"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, TenancyError::TableCreation { .. }),
        "{error:?}"
    );
    assert!(
        manager
            .registry()
            .find_by_id(&id("bad"))
            .await
            .unwrap()
            .is_none()
    );
    let rows = rows_by_key(direct(&shared)).await;
    assert_eq!(rows.len(), 1, "only good's seed row exists: {rows:?}");
    assert_eq!(rows.get(&("projects".to_owned(), key(&good))), Some(&1));

    // Concurrent creations of one id: exactly one wins.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let manager = manager.clone();
        tasks.spawn(async move { manager.create(NewTenant::new(id("race"), "Race")).await });
    }
    let (mut won, mut exists) = (0, 0);
    while let Some(result) = tasks.join_next().await {
        match result.unwrap() {
            Ok(_) => won += 1,
            Err(TenancyError::TenantExists { .. }) => exists += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((won, exists), (1, 5));

    // A chosen key adopts existing rows; a key in use is refused.
    let adopted = manager
        .create_with_key(
            NewTenant::new(id("adopt"), "Adopt"),
            SharedKey::new(key(&good)).unwrap(),
        )
        .await;
    assert!(
        matches!(adopted, Err(TenancyError::SchemaCreation { .. })),
        "{adopted:?}"
    );
}

async fn migrate_all_applies_once_and_reports_every_tenant(via: Via) {
    let db = PgDb::new().await;
    let Setup {
        manager,
        registry,
        shared,
    } = setup(&db, via).await;
    for name in ["a", "b", "c"] {
        let tenant = manager
            .create(NewTenant::new(id(name), name))
            .await
            .unwrap();
        fill(&shared, &tenant).await;
    }
    let report = manager.migrate_all(MigrateOptions::new()).await.unwrap();
    assert_eq!(report.up_to_date().count(), 3, "{report}");

    // A new column and a new tenant table, declared: protected in the same transaction.
    let v3 = (
        3,
        "comments",
        "ALTER TABLE tasks ADD COLUMN priority int; \
         CREATE TABLE comments (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text NOT NULL)",
    );
    let shared_v3 = shared.clone().tables([ident("comments")]);
    let v3_manager = RlsManager::new(
        registry.clone(),
        shared_v3.clone(),
        TenantMigrations::from_sql([PROJECTS, TASKS, v3]).unwrap(),
    );
    // A filter that leaves tenants out cannot be honoured while migrations are pending.
    let partial = v3_manager
        .migrate_all(MigrateOptions::new().filter(TenantFilter::all().only([id("a")])))
        .await;
    assert!(
        matches!(partial, Err(TenancyError::Configuration { .. })),
        "{partial:?}"
    );

    let progressed = Arc::new(AtomicUsize::new(0));
    let counter = progressed.clone();
    let report = v3_manager
        .migrate_all(MigrateOptions::new().on_progress(move |progress| {
            assert_eq!(progress.total, 3);
            counter.fetch_add(1, Ordering::SeqCst);
        }))
        .await
        .unwrap();
    assert!(report.is_success(), "{report}");
    assert_eq!(progressed.load(Ordering::SeqCst), 3);
    for name in ["a", "b", "c"] {
        match &report.get(&id(name)).unwrap().status {
            MigrationStatus::Migrated { versions } => assert_eq!(versions, &[3]),
            other => panic!("{name}: {other:?}"),
        }
    }
    shared_v3.audit().await.unwrap();
    let a = manager
        .registry()
        .find_by_id(&id("a"))
        .await
        .unwrap()
        .unwrap();
    let mut tx = shared_v3.begin(&a).await.unwrap();
    sqlx::query("INSERT INTO comments (body) VALUES ('hi')")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let b = manager
        .registry()
        .find_by_id(&id("b"))
        .await
        .unwrap()
        .unwrap();
    let mut tx = shared_v3.begin(&b).await.unwrap();
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM comments")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(seen, 0, "the new table is isolated from the start");
    tx.commit().await.unwrap();

    // Again: every tenant up to date; a partial filter is fine with nothing pending.
    let report = v3_manager
        .migrate_all(MigrateOptions::new().filter(TenantFilter::all().only([id("b")])))
        .await
        .unwrap();
    assert_eq!(report.tenants.len(), 1);
    assert_eq!(report.skipped, 2);
    assert_eq!(report.up_to_date().count(), 1);

    // A failing migration: every tenant reports the failure; nothing changed.
    let broken = RlsManager::new(
        registry,
        shared_v3.clone(),
        TenantMigrations::from_sql([
            PROJECTS,
            TASKS,
            v3,
            (
                4,
                "half",
                "ALTER TABLE tasks ADD COLUMN done boolean; SELECT 1/0",
            ),
        ])
        .unwrap(),
    );
    let report = broken.migrate_all(MigrateOptions::new()).await.unwrap();
    assert_eq!(report.failed().count(), 3, "{report}");
    for entry in report.failed() {
        match &entry.status {
            MigrationStatus::Failed(TenancyError::Migration { tenant, source }) => {
                assert_eq!(tenant, &entry.id);
                assert!(source.to_string().contains("shared tables"), "{source}");
            }
            other => panic!("{other:?}"),
        }
    }
    let has_done: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns \
         WHERE table_name = 'tasks' AND column_name = 'done')",
    )
    .fetch_one(direct(&shared))
    .await
    .unwrap();
    assert!(!has_done, "the failed migration was rolled back");
}

async fn the_lifecycle_seam_drives_shared_mode(via: Via) {
    let db = PgDb::new().await;
    let Setup {
        manager, shared, ..
    } = setup(&db, via).await;
    let lifecycle: &dyn TenantLifecycle = &manager;
    let acme = lifecycle
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    fill(&shared, &acme).await;
    lifecycle.deactivate(acme.id()).await.unwrap();
    let listed = lifecycle.registry().list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].is_active());
    lifecycle.activate(acme.id()).await.unwrap();
    let renamed = lifecycle.rename(acme.id(), &id("acme2")).await.unwrap();
    assert!(renamed.is_active());
    let report = lifecycle.migrate_all(MigrateOptions::new()).await.unwrap();
    assert_eq!(report.up_to_date().count(), 1);
    assert!(lifecycle.delete(&id("acme2")).await.unwrap());
    assert!(rows_by_key(direct(&shared)).await.is_empty());
    assert!(!lifecycle.delete(&id("acme2")).await.unwrap());
}
