//! Migrating every tenant: report, idempotence, failures, filters, progress,
//! per-schema (not per-database) locking.
//!
//! Every scenario runs twice: straight to Postgres (`direct::…`) and with the
//! tenant traffic through PgBouncer in transaction pooling mode
//! (`pgbouncer::…`, migrations on the direct pool beside it).

#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::via_both;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::{Connection, Executor};
use support::{PgDb, Via, eventually, id, items_migrations};

use tenancy_core::{TenancyError, TenantEvent, TenantId};
use tenancy_sqlx::migrate::{MigrationError, MigrationStatus, TenantFilter};
use tenancy_sqlx::{MigrateOptions, NewTenant, SchemaManager, TenantMigrations};

const ITEMS: &str = "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
                     tenant text NOT NULL, name text NOT NULL)";

fn with_v2(sql: &str) -> TenantMigrations {
    TenantMigrations::from_sql([(1, "items", ITEMS.to_owned()), (2, "v2", sql.to_owned())]).unwrap()
}

via_both! {
    #[tokio::test] report_then_everything_up_to_date;
    #[tokio::test] a_failing_tenant_does_not_stop_the_run_and_is_retried_later;
    #[tokio::test] changed_or_unknown_history_is_reported;
    #[tokio::test] filters_select_a_subset;
    #[tokio::test] progress_is_reported_for_every_tenant;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    schemas_migrate_in_parallel_under_per_schema_locks;
}

async fn setup(db: &PgDb, via: Via, count: usize) -> (SchemaManager, Vec<TenantId>) {
    let v1 = support::manager_via(db, via, 4, items_migrations()).await;
    let ids: Vec<TenantId> = (0..count).map(|n| id(&format!("t{n}"))).collect();
    for tenant in &ids {
        v1.create(NewTenant::new(tenant.clone(), tenant.as_str()))
            .await
            .unwrap();
    }
    (v1, ids)
}

async fn versions(manager: &SchemaManager, tenant: &TenantId) -> Vec<i64> {
    let mut tx = manager.schemas().begin(tenant).await.unwrap();
    let versions = sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    versions
}

async fn report_then_everything_up_to_date(via: Via) {
    let db = PgDb::new().await;
    let (v1, ids) = setup(&db, via, 6).await;
    let v2 = v1.with_migrations(with_v2("ALTER TABLE items ADD COLUMN note text"));
    let mut events = v2.registry().events();
    let report = v2
        .migrate_all(MigrateOptions::new().concurrency(3))
        .await
        .unwrap();
    assert!(report.is_success(), "{report}");
    assert_eq!(report.tenants.len(), 6);
    // Every migrated tenant is reported, once.
    let mut migrated = Vec::new();
    while let Ok(event) = events.try_recv() {
        migrated.push(event);
    }
    let mut expected: Vec<TenantEvent> = ids.iter().cloned().map(TenantEvent::Migrated).collect();
    expected.sort_by(|a, b| a.tenant().cmp(&b.tenant()));
    assert_eq!(
        migrated, expected,
        "the report is in id order, and so are the events"
    );
    for entry in &report.tenants {
        assert!(
            matches!(&entry.status, MigrationStatus::Migrated { versions } if versions == &[2]),
            "{entry:?}"
        );
    }
    let listed: Vec<&TenantId> = report.tenants.iter().map(|t| &t.id).collect();
    let mut sorted = ids.iter().collect::<Vec<_>>();
    sorted.sort();
    assert_eq!(listed, sorted, "the report is in id order");
    for tenant in &ids {
        assert_eq!(versions(&v2, tenant).await, [1, 2]);
        let mut tx = v2.schemas().begin(tenant).await.unwrap();
        sqlx::query("INSERT INTO items (tenant, name, note) VALUES ('x', 'y', 'z')")
            .execute(&mut tx)
            .await
            .unwrap();
    }

    let again = v2.migrate_all(MigrateOptions::new()).await.unwrap();
    assert_eq!(again.up_to_date().count(), 6, "{again}");
    assert_eq!(again.migrated().count(), 0);
    assert!(again.to_string().contains("6 up to date"));
    assert_eq!(v2.migrate(&ids[0]).await.unwrap(), Vec::<i64>::new());
    assert!(
        events.try_recv().is_err(),
        "nothing migrated, nothing reported"
    );
}

async fn a_failing_tenant_does_not_stop_the_run_and_is_retried_later(via: Via) {
    let db = PgDb::new().await;
    let (v1, ids) = setup(&db, via, 5).await;
    // Break one tenant: its table is gone, so v2 fails there.
    let broken = ids[2].clone();
    sqlx::raw_sql("DROP TABLE tenant_t2.items")
        .execute(v1.registry().pool())
        .await
        .unwrap();
    let v2 = v1.with_migrations(with_v2("ALTER TABLE items ADD COLUMN note text"));
    let report = v2
        .migrate_all(MigrateOptions::new().concurrency(2))
        .await
        .unwrap();
    assert!(!report.is_success());
    assert_eq!(report.migrated().count(), 4);
    let failed: Vec<&TenantId> = report.failed().map(|t| &t.id).collect();
    assert_eq!(failed, [&broken]);
    let MigrationStatus::Failed(error) = &report.get(&broken).unwrap().status else {
        panic!("not failed");
    };
    assert!(
        matches!(error, TenancyError::Migration { tenant, .. } if *tenant == broken),
        "{error:?}"
    );
    let source = std::error::Error::source(error)
        .unwrap()
        .downcast_ref::<MigrationError>()
        .unwrap();
    assert!(
        matches!(
            source,
            MigrationError::Apply {
                first: 2,
                last: 2,
                ..
            }
        ),
        "{source:?}"
    );
    assert_eq!(
        versions(&v2, &broken).await,
        [1],
        "the failed tenant is unchanged"
    );

    // Fix it by hand; the next run migrates only it.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "BEGIN; SET LOCAL search_path = tenant_t2; {ITEMS}; COMMIT"
    )))
    .execute(v1.registry().pool())
    .await
    .unwrap();
    let report = v2.migrate_all(MigrateOptions::new()).await.unwrap();
    assert!(report.is_success());
    let migrated: Vec<&TenantId> = report.migrated().map(|t| &t.id).collect();
    assert_eq!(migrated, [&broken]);
}

async fn changed_or_unknown_history_is_reported(via: Via) {
    let db = PgDb::new().await;
    let (v1, ids) = setup(&db, via, 2).await;
    sqlx::raw_sql("UPDATE tenant_t0._sqlx_migrations SET checksum = '\\x00'")
        .execute(v1.registry().pool())
        .await
        .unwrap();
    let report = v1.migrate_all(MigrateOptions::new()).await.unwrap();
    let MigrationStatus::Failed(error) = &report.get(&ids[0]).unwrap().status else {
        panic!("checksum mismatch not reported");
    };
    let source = std::error::Error::source(error)
        .unwrap()
        .downcast_ref::<MigrationError>()
        .unwrap();
    assert!(matches!(
        source,
        MigrationError::VersionMismatch { version: 1 }
    ));
    assert!(matches!(
        report.get(&ids[1]).unwrap().status,
        MigrationStatus::UpToDate
    ));

    let empty = v1.with_migrations(TenantMigrations::empty());
    let report = empty.migrate_all(MigrateOptions::new()).await.unwrap();
    let MigrationStatus::Failed(error) = &report.get(&ids[1]).unwrap().status else {
        panic!("unknown version not reported");
    };
    let source = std::error::Error::source(error)
        .unwrap()
        .downcast_ref::<MigrationError>()
        .unwrap();
    assert!(matches!(
        source,
        MigrationError::VersionMissing { version: 1 }
    ));
}

async fn filters_select_a_subset(via: Via) {
    let db = PgDb::new().await;
    let (v1, ids) = setup(&db, via, 6).await;
    v1.deactivate(&ids[5]).await.unwrap();
    let v2 = v1.with_migrations(with_v2("ALTER TABLE items ADD COLUMN note text"));

    let only = v2
        .migrate_all(
            MigrateOptions::new()
                .filter(TenantFilter::all().only([ids[0].clone(), ids[1].clone()])),
        )
        .await
        .unwrap();
    assert_eq!(only.tenants.len(), 2);
    assert_eq!(only.skipped, 4);
    assert_eq!(
        versions(&v2, &ids[2]).await,
        [1],
        "not selected, not migrated"
    );

    let after = v2
        .migrate_all(MigrateOptions::new().filter(TenantFilter::all().after(ids[3].clone())))
        .await
        .unwrap();
    let selected: Vec<&TenantId> = after.tenants.iter().map(|t| &t.id).collect();
    assert_eq!(selected, [&ids[4], &ids[5]]);

    let active = v2
        .migrate_all(MigrateOptions::new().filter(TenantFilter::all().active_only()))
        .await
        .unwrap();
    assert_eq!(active.tenants.len(), 5);
    assert!(active.get(&ids[5]).is_none());
    assert_eq!(active.migrated().count(), 2, "t2 and t3 were still pending");

    let named = v2
        .migrate_all(
            MigrateOptions::new().filter(TenantFilter::all().matching(|t| t.name() == "t0")),
        )
        .await
        .unwrap();
    assert_eq!(named.tenants.len(), 1);
}

async fn progress_is_reported_for_every_tenant(via: Via) {
    let db = PgDb::new().await;
    let (v1, _) = setup(&db, via, 7).await;
    let v2 = v1.with_migrations(with_v2("ALTER TABLE items ADD COLUMN note text"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let report = v2
        .migrate_all(
            MigrateOptions::new()
                .concurrency(3)
                .on_progress(move |progress| {
                    sink.lock().unwrap().push((
                        progress.done,
                        progress.total,
                        progress.tenant.id.clone(),
                    ));
                }),
        )
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    let done: Vec<usize> = seen.iter().map(|(done, _, _)| *done).collect();
    assert_eq!(done, (1..=7).collect::<Vec<_>>());
    assert!(seen.iter().all(|(_, total, _)| *total == 7));
    let mut tenants: Vec<&TenantId> = seen.iter().map(|(_, _, id)| id).collect();
    tenants.sort();
    let reported: Vec<&TenantId> = report.tenants.iter().map(|t| &t.id).collect();
    assert_eq!(tenants, reported);
}

/// While one tenant's migration is blocked, the others complete: there is no
/// database-wide migration lock. Two concurrent runs apply each migration once.
///
/// Through PgBouncer (two server connections per database in the test
/// set-up), the second run starts once the other schemas are done: the
/// blocked schema's transaction holds one server connection and the second
/// run's wait for that schema's lock the other, so starting both at once
/// would leave no server connection for the other schemas. The second run is
/// still seen waiting on the blocked schema's lock before the gate opens.
async fn schemas_migrate_in_parallel_under_per_schema_locks(via: Via) {
    let db = PgDb::new().await;
    let (v1, ids) = setup(&db, via, 4).await;
    let slow = ids[0].clone();
    let v2 = v1.with_migrations(with_v2(
        "ALTER TABLE items ADD COLUMN note text; \
             DO $$ BEGIN IF current_schema() = 'tenant_t0' THEN \
               PERFORM pg_advisory_lock(4242); PERFORM pg_advisory_unlock(4242); \
             END IF; END $$",
    ));
    let mut gate = db.connect().await;
    gate.execute("SELECT pg_advisory_lock(4242)").await.unwrap();

    let first = tokio::spawn({
        let v2 = v2.clone();
        async move {
            v2.migrate_all(MigrateOptions::new().concurrency(2))
                .await
                .unwrap()
        }
    });
    let second_run = || {
        tokio::spawn({
            let v2 = v2.clone();
            async move {
                v2.migrate_all(MigrateOptions::new().concurrency(2))
                    .await
                    .unwrap()
            }
        })
    };
    let mut second = (via == Via::Direct).then(second_run);
    // A pool of its own, so polling never waits for the runs' connections.
    let pool = db.pool(1).await;
    let others_done = eventually(Duration::from_secs(30), || {
        let pool = pool.clone();
        async move {
            let mut done = 0;
            for n in 1..4 {
                let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT count(*) FROM tenant_t{n}._sqlx_migrations WHERE version = 2"
                )))
                .fetch_one(&pool)
                .await
                .unwrap();
                done += count;
            }
            done == 3
        }
    })
    .await;
    let slow_versions: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_t0._sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    let second = match second.take() {
        Some(second) => second,
        None => {
            let second = second_run();
            // The first run waits on the gate, the second on the schema lock.
            let both_waiting = eventually(Duration::from_secs(30), || {
                let pool = pool.clone();
                async move {
                    let waiting: i64 = sqlx::query_scalar(
                        "SELECT count(*) FROM pg_stat_activity \
                         WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    )
                    .fetch_one(&pool)
                    .await
                    .unwrap();
                    waiting >= 2
                }
            })
            .await;
            assert!(both_waiting, "the second run waits for the blocked schema");
            second
        }
    };
    gate.execute("SELECT pg_advisory_unlock(4242)")
        .await
        .unwrap();
    gate.close().await.unwrap();
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    assert!(others_done, "the other schemas waited for the blocked one");
    assert_eq!(
        slow_versions, 1,
        "the blocked schema was still at v1 meanwhile"
    );
    assert!(
        first.is_success() && second.is_success(),
        "{first} / {second}"
    );
    for tenant in &ids {
        let migrated = [&first, &second]
            .iter()
            .filter(|report| {
                matches!(
                    report.get(tenant).unwrap().status,
                    MigrationStatus::Migrated { .. }
                )
            })
            .count();
        assert_eq!(migrated, 1, "{tenant} migrated by exactly one run");
        assert_eq!(versions(&v2, tenant).await, [1, 2]);
    }
    assert_eq!(versions(&v2, &slow).await, [1, 2]);
}
