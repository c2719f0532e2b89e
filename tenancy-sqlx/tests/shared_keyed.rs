//! Shared-schema mode on MySQL / MariaDB and SQLite against real databases:
//! the scoped helpers under concurrency and their refusals. One suite,
//! expanded for each backend.

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
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU64, Ordering};

        use sqlx::Row;
        use support::id;
        use tenancy_sqlx::shared::keyed::{SharedManager, SharedPool, SharedQueryError, SharedTransaction,};
        use tenancy_sqlx::{Ident, NewTenant, RegistryTenant, TenantAccess, TenantMigrations};

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

        /// The configuration error inside a sqlx error.
        fn query_error(error: sqlx::Error) -> SharedQueryError {
            match error {
                sqlx::Error::Configuration(source) => {
                    source.downcast_ref::<SharedQueryError>().unwrap().clone()
                }
                other => panic!("expected a configuration error, got {other:?}"),
            }
        }

        async fn markers(tx: &mut SharedTransaction<$db>) -> Vec<String> {
            tx.query_scalar("SELECT marker FROM items WHERE tenant_id = {tenant} ORDER BY id")
                .fetch_all()
                .await
                .unwrap()
        }

        async fn seed(shared: &SharedPool<$db>, tenant: &RegistryTenant, rows: usize) {
            let mut tx = shared.begin(tenant).await.unwrap();
            for n in 0..rows {
                tx.insert("items")
                    .value("marker", tenant.id().as_str())
                    .value("name", format!("seed {n}"))
                    .execute()
                    .await
                    .unwrap();
            }
            tx.commit().await.unwrap();
        }

        /// 1,000 concurrent tasks across 50 tenants; every read checks every row's marker.
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn thousand_concurrent_tasks_across_fifty_tenants_see_only_their_rows() {
            let $size = 8;
            let (_guard, registry) = $setup;
            let shared = SharedPool::new(registry.pool().clone()).tables([ident("items")]);
            let shared = shared.$pool();
            let manager = Manager::new(registry, shared.clone(), migrations(&[$items]));
            manager.setup().await.unwrap();
            let mut tenants = Vec::new();
            for n in 0..50 {
                let tenant = manager
                    .create(NewTenant::new(id(&format!("t{n:02}")), format!("T{n}")))
                    .await
                    .unwrap();
                seed(&shared, &tenant, 5).await;
                tenants.push(tenant);
            }
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
                    tx.insert("items")
                        .value("marker", tenant.id().as_str())
                        .value("name", format!("task {task}"))
                        .execute()
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
                    if task % 3 == 0 {
                        tx.rollback().await.unwrap();
                        0_i64
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
            // Unscoped: every row carries the key of the tenant whose marker it has.
            let rows = sqlx::query(
                "SELECT marker, tenant_id, COUNT(*) AS n FROM items GROUP BY marker, tenant_id",
            )
            .fetch_all(shared.pool())
            .await
            .unwrap();
            assert_eq!(rows.len(), 50);
            let mut total = 0_i64;
            for row in &rows {
                let marker: String = row.get("marker");
                let tenant_key: String = row.get("tenant_id");
                let tenant = tenants.iter().find(|t| t.id().as_str() == marker).unwrap();
                assert_eq!(key(tenant), tenant_key);
                total += row.get::<i64, _>("n");
            }
            assert_eq!(total, 250 + committed);
        }

        #[tokio::test]
        async fn helpers_reach_only_the_current_tenant_and_refuse_misuse() {
            let $size = 2;
            let (_guard, registry) = $setup;
            let shared = SharedPool::new(registry.pool().clone()).tables([ident("items")]);
            let manager = Manager::new(registry, shared.clone(), migrations(&[$items]));
            manager.setup().await.unwrap();
            let acme = manager
                .create(NewTenant::new(id("acme"), "Acme"))
                .await
                .unwrap();
            let globex = manager
                .create(NewTenant::new(id("globex"), "Globex"))
                .await
                .unwrap();
            seed(&shared, &acme, 3).await;
            seed(&shared, &globex, 4).await;

            let access: &dyn TenantAccess<Tenant = RegistryTenant, Handle = SharedTransaction<$db>> = &shared;
            let mut tx = access.open(&acme).await.unwrap();
            assert_eq!(markers(&mut tx).await, ["acme"; 3]);
            let updated = tx
                .query("UPDATE items SET name = ? WHERE tenant_id = {tenant}")
                .bind("renamed")
                .execute()
                .await
                .unwrap();
            assert_eq!(updated.rows_affected(), 3);
            #[derive(sqlx::FromRow)]
            struct Item {
                id: i64,
                name: String,
            }
            let first: Item = tx
                .query_as("SELECT id, name FROM items WHERE tenant_id = {tenant} ORDER BY id")
                .fetch_one()
                .await
                .unwrap();
            assert_eq!(first.name, "renamed");
            let deleted = tx
                .query("DELETE FROM items WHERE id = ? AND tenant_id = {tenant}")
                .bind(first.id)
                .execute()
                .await
                .unwrap();
            assert_eq!(deleted.rows_affected(), 1);
            // Another tenant's row id is invisible and untouchable through the helpers.
            let mut other = shared.begin(&globex).await.unwrap();
            let globex_id: i64 = other
                .query_scalar("SELECT MIN(id) FROM items WHERE tenant_id = {tenant}")
                .fetch_one()
                .await
                .unwrap();
            other.commit().await.unwrap();
            let stolen: Option<Item> = tx
                .query_as("SELECT id, name FROM items WHERE id = ? AND tenant_id = {tenant}")
                .bind(globex_id)
                .fetch_optional()
                .await
                .unwrap();
            assert!(stolen.is_none());
            let deleted = tx
                .query("DELETE FROM items WHERE tenant_id = {tenant} AND id = ?")
                .bind(globex_id)
                .execute()
                .await
                .unwrap();
            assert_eq!(deleted.rows_affected(), 0);

            // Misuse is refused before anything reaches the database.
            let error = tx
                .query("SELECT * FROM items")
                .fetch_all()
                .await
                .unwrap_err();
            assert_eq!(query_error(error), SharedQueryError::MissingTenant);
            let error = tx
                .query("DELETE FROM items WHERE '{tenant}' = tenant_id")
                .execute()
                .await
                .unwrap_err();
            assert_eq!(query_error(error), SharedQueryError::MissingTenant);
            let error = tx
                .query("SELECT * FROM items WHERE tenant_id = {tenant} AND id = ?")
                .fetch_all()
                .await
                .unwrap_err();
            assert_eq!(
                query_error(error),
                SharedQueryError::Arguments {
                    expected: 1,
                    given: 0
                }
            );
            let error = tx
                .query("SELECT * FROM items WHERE tenant_id = {tenant}")
                .bind(1_i64)
                .fetch_all()
                .await
                .unwrap_err();
            assert_eq!(
                query_error(error),
                SharedQueryError::Arguments {
                    expected: 0,
                    given: 1
                }
            );
            let error = tx
                .insert("items")
                .value("tenant_id", key(&globex))
                .value("marker", "x")
                .value("name", "smuggled")
                .execute()
                .await
                .unwrap_err();
            assert!(matches!(
                query_error(error),
                SharedQueryError::TenantColumn { .. }
            ));
            let error = tx
                .insert("items; DROP TABLE items")
                .value("name", "x")
                .execute()
                .await
                .unwrap_err();
            assert!(matches!(
                query_error(error),
                SharedQueryError::InvalidIdentifier(_)
            ));
            tx.commit().await.unwrap();

            let mut tx = shared.begin(&globex).await.unwrap();
            assert_eq!(markers(&mut tx).await, ["globex"; 4]);
            let names: Vec<String> = tx
                .query_scalar("SELECT name FROM items WHERE tenant_id = {tenant} ORDER BY id")
                .fetch_all()
                .await
                .unwrap();
            assert!(names.iter().all(|name| name.starts_with("seed")));
            assert_eq!(tx.key().as_str(), key(&globex));
            tx.commit().await.unwrap();
        }

        #[tokio::test]
        async fn check_refuses_tables_without_a_not_null_tenant_column() {
            let $size = 2;
            let (_guard, registry) = $setup;
            let manager = Manager::new(
                registry.clone(),
                SharedPool::new(registry.pool().clone()).tables([ident("items")]),
                migrations(&[$items]),
            );
            manager.setup().await.unwrap();
            let error = SharedPool::new(registry.pool().clone())
                .tables([ident("items"), ident("missing")])
                .check()
                .await
                .unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("the tenant table missing does not exist"),
                "{error}"
            );
            let error = SharedPool::new(registry.pool().clone())
                .column(ident("owner"))
                .tables([ident("items")])
                .check()
                .await
                .unwrap_err();
            assert!(
                error
                    .to_string()
                    .contains("items has no tenant column `owner`"),
                "{error}"
            );
            sqlx::query("CREATE TABLE notes (tenant_id VARCHAR(63), body TEXT)")
                .execute(registry.pool())
                .await
                .unwrap();
            let error = SharedPool::new(registry.pool().clone())
                .tables([ident("notes")])
                .check()
                .await
                .unwrap_err();
            assert!(
                error.to_string().contains("notes.tenant_id is nullable"),
                "{error}"
            );
        }
    };
}

keyed_backends!(suite);
