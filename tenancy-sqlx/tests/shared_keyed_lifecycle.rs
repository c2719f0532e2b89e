//! Shared-schema lifecycle on MySQL / MariaDB and SQLite against real
//! databases: drop, rename, atomic create, migrate-all. One suite, expanded
//! for each backend.

#![cfg(any(feature = "mysql", feature = "sqlite"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;
#[macro_use]
#[path = "support/keyed_backends.rs"]
mod keyed_backends;

/// The suite. `$setup` is an async expression giving `(guard, registry)`;
/// `$ddl_*` are the backend's migrations.
macro_rules! suite {
    (
        db: $db:ty,
        registry: $registry:ty,
        pool: $pool:ident,
        setup: |$size:ident| $setup:expr,
        items: $items:expr,
        projects: $projects:expr,
        tasks: $tasks:expr,
        add_column: $add_column:expr,
        failing: $failing:expr,
    ) => {
        use std::collections::HashMap;

        use support::id;
        use sqlx::Row;
        use tenancy_core::TenancyError;
        use tenancy_sqlx::{Ident, MigrateOptions, NewTenant, RegistryTenant, TenantLifecycle, TenantMigrations};
        use tenancy_sqlx::migrate::{MigrationStatus, TenantFilter};
        use tenancy_sqlx::shared::SharedKey;
        use tenancy_sqlx::shared::keyed::{SharedManager, SharedPool};

        type Manager = SharedManager<$db>;

        fn ident(name: &str) -> Ident {
            Ident::new(name).unwrap()
        }

        fn migrations(list: &[(i64, &'static str, &'static str)]) -> TenantMigrations {
            TenantMigrations::from_sql(list.iter().copied()).unwrap()
        }

        fn key(tenant: &RegistryTenant) -> String {
            tenant.storage().shared_key().unwrap().to_string()
        }

        struct Lifecycle {
            manager: Manager,
            shared: SharedPool<$db>,
            registry: $registry,
        }

        async fn lifecycle(registry: $registry) -> Lifecycle {
            let shared = SharedPool::new(registry.pool().clone())
                .tables([ident("projects"), ident("tasks")])
                .$pool();
            let manager = Manager::new(
                registry.clone(),
                shared.clone(),
                migrations(&[$projects, $tasks]),
            );
            manager.setup().await.unwrap();
            Lifecycle { manager, shared, registry }
        }

        async fn fill(shared: &SharedPool<$db>, tenant: &RegistryTenant) {
            let mut tx = shared.begin(tenant).await.unwrap();
            for project in 0..2 {
                tx.insert("projects")
                    .value("name", format!("{} project {project}", tenant.id()))
                    .execute()
                    .await
                    .unwrap();
                let project_id: i64 = tx
                    .query_scalar("SELECT MAX(id) FROM projects WHERE tenant_id = {tenant}")
                    .fetch_one()
                    .await
                    .unwrap();
                for task in 0..3 {
                    tx.insert("tasks")
                        .value("project_id", project_id)
                        .value("title", format!("task {task}"))
                        .execute()
                        .await
                        .unwrap();
                }
            }
            tx.commit().await.unwrap();
        }

        async fn rows_by_key(shared: &SharedPool<$db>) -> HashMap<(String, String), i64> {
            sqlx::query(
                "SELECT 'projects' AS t, tenant_id, COUNT(*) AS n FROM projects GROUP BY tenant_id \
                 UNION ALL SELECT 'tasks' AS t, tenant_id, COUNT(*) AS n FROM tasks GROUP BY tenant_id",
            )
            .fetch_all(shared.pool())
            .await
            .unwrap()
            .iter()
            .map(|row| ((row.get("t"), row.get("tenant_id")), row.get("n")))
            .collect()
        }

        #[tokio::test]
        async fn drop_removes_exactly_that_tenants_rows_and_rename_keeps_data() {
            let $size = 3;
            let (_guard, registry) = $setup;
            let Lifecycle { manager, shared, .. } = lifecycle(registry).await;
            let mut tenants = Vec::new();
            for name in ["a", "b", "c"] {
                let tenant = manager.create(NewTenant::new(id(name), name)).await.unwrap();
                fill(&shared, &tenant).await;
                tenants.push(tenant);
            }
            let before = rows_by_key(&shared).await;
            assert_eq!(before.len(), 6);
            assert!(manager.delete(&id("b")).await.unwrap());
            let after = rows_by_key(&shared).await;
            assert_eq!(after.len(), 4);
            for tenant in [&tenants[0], &tenants[2]] {
                for table in ["projects", "tasks"] {
                    let entry = (table.to_owned(), key(tenant));
                    assert_eq!(after.get(&entry), before.get(&entry));
                }
            }
            assert!(manager.registry().find_by_id(&id("b")).await.unwrap().is_none());
            assert!(!manager.delete(&id("b")).await.unwrap(), "idempotent");

            // Rename: the key and every row stay; the old id is free and starts empty.
            let renamed = manager.rename(&id("a"), &id("a2")).await.unwrap();
            assert_eq!(key(&renamed), key(&tenants[0]));
            assert_eq!(rows_by_key(&shared).await, after);
            let mut tx = shared.begin(&renamed).await.unwrap();
            let projects: i64 = tx
                .query_scalar("SELECT COUNT(*) FROM projects WHERE tenant_id = {tenant}")
                .fetch_one()
                .await
                .unwrap();
            assert_eq!(projects, 2);
            tx.commit().await.unwrap();
            let fresh = manager.create(NewTenant::new(id("a"), "a")).await.unwrap();
            assert_ne!(key(&fresh), key(&tenants[0]));
            let mut tx = shared.begin(&fresh).await.unwrap();
            let projects: i64 = tx
                .query_scalar("SELECT COUNT(*) FROM projects WHERE tenant_id = {tenant}")
                .fetch_one()
                .await
                .unwrap();
            assert_eq!(projects, 0);
            tx.commit().await.unwrap();
            assert!(matches!(
                manager.rename(&id("a2"), &id("c")).await,
                Err(TenancyError::TenantExists { .. })
            ));
            assert!(matches!(
                manager.rename(&id("zz"), &id("yy")).await,
                Err(TenancyError::TenantNotFound { .. })
            ));
        }

        #[tokio::test]
        async fn create_is_atomic_and_exactly_one_concurrent_create_wins() {
            let $size = 4;
            let (_guard, registry) = $setup;
            let Lifecycle { manager, shared, registry } = lifecycle(registry).await;
            let manager = manager.with_seed(|tx, tenant| {
                let fail = tenant.id().as_str() == "bad";
                Box::pin(async move {
                    tx.insert("projects").value("name", "welcome").execute().await?;
                    if fail {
                        tx.insert("tasks")
                            .value("project_id", -1_i64)
                            .value("title", "dangling")
                            .execute()
                            .await?;
                    }
                    Ok(())
                })
            });
            let good = manager.create(NewTenant::new(id("good"), "Good")).await.unwrap();
            let error = manager.create(NewTenant::new(id("bad"), "Bad")).await.unwrap_err();
            assert!(matches!(error, TenancyError::TableCreation { .. }), "{error:?}");
            assert!(registry.find_by_id(&id("bad")).await.unwrap().is_none());
            let rows = rows_by_key(&shared).await;
            assert_eq!(rows.len(), 1, "{rows:?}");
            assert_eq!(rows.get(&("projects".to_owned(), key(&good))), Some(&1));

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
            let taken = manager
                .create_with_key(NewTenant::new(id("adopt"), "Adopt"), SharedKey::new(key(&good)).unwrap())
                .await;
            assert!(matches!(taken, Err(TenancyError::SchemaCreation { .. })), "{taken:?}");
            // The registry reads back what the manager wrote, domains included.
            let domained = manager
                .create(
                    NewTenant::new(id("dom"), "Dom")
                        .primary_domain(tenancy_core::DomainName::new("dom.test").unwrap()),
                )
                .await
                .unwrap();
            let read = registry
                .find_by_domain(&tenancy_core::DomainName::new("dom.test").unwrap())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(read.id(), domained.id());
            assert_eq!(read.storage(), domained.storage());
            let error = manager
                .create(
                    NewTenant::new(id("dom2"), "Dom2")
                        .domain(tenancy_core::DomainName::new("dom.test").unwrap()),
                )
                .await
                .unwrap_err();
            assert!(matches!(error, TenancyError::DomainTaken { .. }), "{error:?}");
        }

        #[tokio::test]
        async fn migrate_all_applies_once_and_reports_every_tenant() {
            let $size = 3;
            let (_guard, registry) = $setup;
            let Lifecycle { manager, shared, registry } = lifecycle(registry).await;
            for name in ["a", "b", "c"] {
                let tenant = manager.create(NewTenant::new(id(name), name)).await.unwrap();
                fill(&shared, &tenant).await;
            }
            let report = manager.migrate_all(MigrateOptions::new()).await.unwrap();
            assert_eq!(report.up_to_date().count(), 3, "{report}");
            let v3 = Manager::new(
                registry.clone(),
                shared.clone(),
                migrations(&[$projects, $tasks, $add_column]),
            );
            let partial = v3
                .migrate_all(MigrateOptions::new().filter(TenantFilter::all().only([id("a")])))
                .await;
            assert!(matches!(partial, Err(TenancyError::Configuration { .. })), "{partial:?}");
            let report = v3.migrate_all(MigrateOptions::new()).await.unwrap();
            assert!(report.is_success(), "{report}");
            for name in ["a", "b", "c"] {
                match &report.get(&id(name)).unwrap().status {
                    MigrationStatus::Migrated { versions } => assert_eq!(versions, &[3]),
                    other => panic!("{name}: {other:?}"),
                }
            }
            let report = v3.migrate_all(MigrateOptions::new()).await.unwrap();
            assert_eq!(report.up_to_date().count(), 3);

            let broken = Manager::new(
                registry.clone(),
                shared.clone(),
                migrations(&[$projects, $tasks, $add_column, $failing]),
            );
            let report = broken.migrate_all(MigrateOptions::new()).await.unwrap();
            assert_eq!(report.failed().count(), 3, "{report}");
            for entry in report.failed() {
                assert!(matches!(&entry.status, MigrationStatus::Failed(TenancyError::Migration { .. })));
            }

            // The lifecycle seam.
            let lifecycle: &dyn TenantLifecycle = &v3;
            lifecycle.deactivate(&id("a")).await.unwrap();
            assert!(!lifecycle.registry().find_by_id(&id("a")).await.unwrap().unwrap().is_active());
            lifecycle.activate(&id("a")).await.unwrap();
            assert!(lifecycle.registry().find_by_id(&id("a")).await.unwrap().unwrap().is_active());
            assert!(lifecycle.delete(&id("a")).await.unwrap());
            assert_eq!(lifecycle.registry().list().await.unwrap().len(), 2);
        }
    };
}

keyed_backends!(suite);
