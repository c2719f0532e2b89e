//! Tenant lifecycle: atomic create, concurrent creates, rename, (de)activate,
//! idempotent drop, spare schemas.
//!
//! Every scenario runs twice: straight to Postgres (`direct::…`) and through
//! PgBouncer in transaction pooling mode (`pgbouncer::…`). Catalog checks and
//! set-up statements of the test itself go over the direct pool.

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
use std::time::Duration;

use sqlx::PgPool;
use support::{PgDb, Via, id, items_migrations, schema_exists};
use tenancy_core::{CacheBuilder, DomainName, HeaderResolver, Tenancy, TenancyError, TenantStore};
use tenancy_sqlx::migrate::MigrationError;
use tenancy_sqlx::{NewTenant, SchemaManager, TenantMigrations};

via_both! {
    #[tokio::test] create_is_atomic_when_a_migration_fails;
    #[tokio::test] create_is_atomic_when_the_seed_or_the_schema_fails;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)] concurrent_creates_of_one_id;
    #[tokio::test] rename_moves_schema_registry_and_caches;
    #[tokio::test] deactivate_activate_and_idempotent_delete;
    #[tokio::test] spare_schemas_are_claimed_and_caught_up;
}

/// The registry's pool with session semantics, for the test's own catalog
/// checks and set-up statements: the registry pool itself when direct, the
/// direct pool beside it behind PgBouncer.
fn direct_pool(manager: &SchemaManager) -> PgPool {
    manager
        .registry()
        .connections()
        .direct()
        .expect("a direct pool")
        .clone()
}

async fn registry_has(manager: &SchemaManager, tenant: &str) -> bool {
    manager
        .registry()
        .find_by_id(&id(tenant))
        .await
        .unwrap()
        .is_some()
}

async fn create_is_atomic_when_a_migration_fails(via: Via) {
    let db = PgDb::new().await;
    let migrations = TenantMigrations::from_sql([
        (1, "items", "CREATE TABLE items (id int PRIMARY KEY)"),
        (2, "broken", "ALTER TABLE no_such_table ADD COLUMN x int"),
    ])
    .unwrap();
    let manager = support::manager_via(&db, via, 2, migrations).await;
    let pool = direct_pool(&manager);
    let error = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, TenancyError::TableCreation { .. }),
        "{error:?}"
    );
    let source = std::error::Error::source(&error).unwrap();
    let migration = source
        .downcast_ref::<MigrationError>()
        .expect("a MigrationError source");
    assert_eq!(migration.sqlstate().as_deref(), Some("42P01"));
    assert!(!registry_has(&manager, "acme").await, "no registry row");
    assert!(!schema_exists(&pool, "tenant_acme").await, "no schema");
}

async fn create_is_atomic_when_the_seed_or_the_schema_fails(via: Via) {
    let db = PgDb::new().await;
    let manager = support::manager_via(&db, via, 2, items_migrations())
        .await
        .with_seed(|tx, tenant| {
            let fail = tenant.id().as_str() == "bad";
            Box::pin(async move {
                sqlx::query("INSERT INTO items (tenant, name) VALUES ('seed', 'seeded')")
                    .execute(&mut *tx)
                    .await?;
                if fail {
                    return Err("the seed refuses".into());
                }
                Ok(())
            })
        });
    let pool = direct_pool(&manager);

    let error = manager
        .create(NewTenant::new(id("bad"), "Bad"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, TenancyError::TableCreation { .. }),
        "{error:?}"
    );
    assert!(!registry_has(&manager, "bad").await);
    assert!(!schema_exists(&pool, "tenant_bad").await);

    // A schema that exists outside the registry is never adopted.
    sqlx::raw_sql("CREATE SCHEMA tenant_orphan")
        .execute(&pool)
        .await
        .unwrap();
    let error = manager
        .create(NewTenant::new(id("orphan"), "Orphan"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, TenancyError::SchemaCreation { ref schema, .. } if schema == "tenant_orphan"),
        "{error:?}"
    );
    assert!(!registry_has(&manager, "orphan").await);

    // An id too long for the prefix is refused before touching anything.
    let long = "a".repeat(60);
    let error = manager
        .create(NewTenant::new(id(&long), "Long"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, TenancyError::SchemaCreation { .. }),
        "{error:?}"
    );
    assert!(!registry_has(&manager, &long).await);

    // A good tenant is seeded inside the creation transaction.
    let good = manager
        .create(NewTenant::new(id("good"), "Good"))
        .await
        .unwrap();
    let mut tx = manager.schemas().begin(&good).await.unwrap();
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM items")
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(names, ["seeded"]);
    let history: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(history, [1]);
}

/// Two concurrent creations of one id: exactly one wins, the other gets
/// `TenantExists` (the seed makes the first hold its row lock for a while).
async fn concurrent_creates_of_one_id(via: Via) {
    let db = PgDb::new().await;
    let manager = support::manager_via(&db, via, 4, items_migrations())
        .await
        .with_seed(|_, _| {
            Box::pin(async {
                tokio::time::sleep(Duration::from_millis(200)).await;
                Ok(())
            })
        });
    for round in 0..3 {
        let tenant = id(&format!("race{round}"));
        let (a, b) = tokio::join!(
            manager.create(NewTenant::new(tenant.clone(), "a")),
            manager.create(NewTenant::new(tenant.clone(), "b")),
        );
        let (wins, losses): (Vec<_>, Vec<_>) = [a, b].into_iter().partition(Result::is_ok);
        assert_eq!(wins.len(), 1, "exactly one creation succeeds");
        let loss = losses.into_iter().next().unwrap().unwrap_err();
        assert!(
            matches!(loss, TenancyError::TenantExists { ref id } if *id == tenant),
            "{loss:?}"
        );
        assert!(schema_exists(&direct_pool(&manager), &format!("tenant_{tenant}")).await);
    }
}

async fn rename_moves_schema_registry_and_caches(via: Via) {
    let db = PgDb::new().await;
    let manager = support::manager_via(&db, via, 2, items_migrations()).await;
    let pool = direct_pool(&manager);
    let cache = Arc::new(
        CacheBuilder::new()
            .ttl(Duration::from_secs(3600))
            .build(manager.registry().clone()),
    );
    manager.registry().subscribe(cache.clone());
    let domain = DomainName::new("acme.test").unwrap();
    manager
        .create(NewTenant::new(id("acme"), "Acme").primary_domain(domain.clone()))
        .await
        .unwrap();
    manager
        .create(NewTenant::new(id("globex"), "Globex"))
        .await
        .unwrap();
    let mut tx = manager.schemas().begin(&id("acme")).await.unwrap();
    sqlx::query("INSERT INTO items (tenant, name) VALUES ('acme', 'kept')")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(cache.find_by_id(&id("acme")).await.unwrap().is_some());
    assert!(cache.find_by_id(&id("initech")).await.unwrap().is_none());

    let renamed = manager.rename(&id("acme"), &id("initech")).await.unwrap();
    assert_eq!(renamed.schema().unwrap().as_str(), "tenant_initech");
    assert_eq!(renamed.primary_domain(), Some(&domain));
    assert!(!schema_exists(&pool, "tenant_acme").await);
    assert!(schema_exists(&pool, "tenant_initech").await);
    assert!(
        cache.find_by_id(&id("acme")).await.unwrap().is_none(),
        "old id forgotten"
    );
    assert_eq!(
        cache
            .find_by_id(&id("initech"))
            .await
            .unwrap()
            .unwrap()
            .name(),
        "Acme"
    );
    assert_eq!(
        cache.find_by_domain(&domain).await.unwrap().unwrap().id(),
        &id("initech")
    );
    let mut tx = manager.schemas().begin(&renamed).await.unwrap();
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM items")
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(names, ["kept"]);
    tx.commit().await.unwrap();

    let taken = manager
        .rename(&id("initech"), &id("globex"))
        .await
        .unwrap_err();
    assert!(
        matches!(taken, TenancyError::TenantExists { ref id } if id.as_str() == "globex"),
        "{taken:?}"
    );
    assert!(
        schema_exists(&pool, "tenant_initech").await,
        "unchanged after a failed rename"
    );
    let missing = manager.rename(&id("nope"), &id("nope2")).await.unwrap_err();
    assert!(
        matches!(missing, TenancyError::TenantNotFound { .. }),
        "{missing:?}"
    );

    // A schema (not in the registry) already has the new name.
    sqlx::raw_sql("CREATE SCHEMA tenant_hooli")
        .execute(&pool)
        .await
        .unwrap();
    let error = manager
        .rename(&id("initech"), &id("hooli"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, TenancyError::SchemaRename { .. }),
        "{error:?}"
    );
    assert!(
        registry_has(&manager, "initech").await,
        "the registry rename was rolled back"
    );
    assert!(!registry_has(&manager, "hooli").await);
}

async fn deactivate_activate_and_idempotent_delete(via: Via) {
    let db = PgDb::new().await;
    let manager = support::manager_via(&db, via, 2, items_migrations()).await;
    let pool = direct_pool(&manager);
    let cache = Arc::new(
        CacheBuilder::new()
            .ttl(Duration::from_secs(3600))
            .build(manager.registry().clone()),
    );
    manager.registry().subscribe(cache.clone());
    let tenancy = Tenancy::new(HeaderResolver::new("x-tenant").unwrap(), cache.clone());
    manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    assert!(tenancy.load(&id("acme")).await.is_ok());

    manager.deactivate(&id("acme")).await.unwrap();
    assert!(matches!(
        tenancy.load(&id("acme")).await,
        Err(TenancyError::TenantInactive { .. })
    ));
    manager.activate(&id("acme")).await.unwrap();
    assert!(tenancy.load(&id("acme")).await.is_ok());
    assert!(matches!(
        manager.deactivate(&id("nope")).await,
        Err(TenancyError::TenantNotFound { .. })
    ));

    assert!(manager.delete(&id("acme")).await.unwrap());
    assert!(!schema_exists(&pool, "tenant_acme").await);
    assert!(!registry_has(&manager, "acme").await);
    assert!(matches!(
        tenancy.load(&id("acme")).await,
        Err(TenancyError::TenantNotFound { .. })
    ));
    assert!(
        !manager.delete(&id("acme")).await.unwrap(),
        "dropping again is a no-op"
    );

    // A registry-only rename keeps the storage; dropping the old id must not
    // touch the schema that now belongs to the renamed tenant.
    manager
        .create(NewTenant::new(id("globex"), "Globex"))
        .await
        .unwrap();
    manager
        .registry()
        .rename(&id("globex"), &id("hooli"))
        .await
        .unwrap();
    assert!(!manager.delete(&id("globex")).await.unwrap());
    assert!(schema_exists(&pool, "tenant_globex").await);
    assert!(manager.delete(&id("hooli")).await.unwrap());
    assert!(!schema_exists(&pool, "tenant_globex").await);
}

async fn spare_schemas_are_claimed_and_caught_up(via: Via) {
    let db = PgDb::new().await;
    let v1 = support::manager_via(&db, via, 2, items_migrations()).await;
    let pool = direct_pool(&v1);
    assert_eq!(v1.replenish_spares(2).await.unwrap(), 2);
    assert_eq!(v1.replenish_spares(2).await.unwrap(), 0);
    assert_eq!(v1.spare_count().await.unwrap(), 2);

    let acme = v1.create(NewTenant::new(id("acme"), "Acme")).await.unwrap();
    assert_eq!(v1.spare_count().await.unwrap(), 1, "a spare was claimed");
    let mut tx = v1.schemas().begin(&acme).await.unwrap();
    sqlx::query("INSERT INTO items (tenant, name) VALUES ('acme', 'x')")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // A newer migration: the remaining spare is caught up when claimed.
    let v2_migrations = TenantMigrations::from_sql([
        (
            1,
            "items",
            items_migrations()
                .iter()
                .next()
                .unwrap()
                .sql
                .as_str()
                .to_owned(),
        ),
        (
            2,
            "note",
            "ALTER TABLE items ADD COLUMN note text".to_owned(),
        ),
    ])
    .unwrap();
    let v2 = v1.with_migrations(v2_migrations);
    let globex = v2
        .create(NewTenant::new(id("globex"), "Globex"))
        .await
        .unwrap();
    assert_eq!(v2.spare_count().await.unwrap(), 0);
    let mut tx = v2.schemas().begin(&globex).await.unwrap();
    sqlx::query("INSERT INTO items (tenant, name, note) VALUES ('globex', 'y', 'z')")
        .execute(&mut tx)
        .await
        .unwrap();
    let history: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut tx)
            .await
            .unwrap();
    assert_eq!(history, [1, 2]);
    tx.commit().await.unwrap();

    // A failed creation gives the spare back.
    v2.replenish_spares(1).await.unwrap();
    let error = v2
        .create(NewTenant::new(id("acme"), "dup"))
        .await
        .unwrap_err();
    assert!(matches!(error, TenancyError::TenantExists { .. }));
    assert_eq!(v2.spare_count().await.unwrap(), 1);

    assert_eq!(v2.drop_spares().await.unwrap(), 1);
    let spares: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname LIKE '%\\_spare\\_%'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(spares, 0);
}
