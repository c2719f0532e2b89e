//! sqlx's per-connection statement cache against tenants on different
//! migration versions (a column type differs).

#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use sqlx::Row;
use support::{PgDb, id};
use tenancy_core::TenantId;
use tenancy_sqlx::migrate::TenantFilter;
use tenancy_sqlx::schema::StatementCache;
use tenancy_sqlx::{MigrateOptions, NewTenant, SchemaManager, SchemaPool, TenantMigrations};

const V1: (i64, &str, &str) = support::PRICES_V1;
const V2: (i64, &str, &str) = support::PRICES_V2;

/// `old` stays on v1, `new` is migrated to v2; one pool of one connection.
async fn two_versions(db: &PgDb) -> (SchemaManager, TenantId, TenantId) {
    let v1 = support::manager(db, 1, TenantMigrations::from_sql([V1]).unwrap()).await;
    let (old, new) = (id("old"), id("new"));
    v1.create(NewTenant::new(old.clone(), "old")).await.unwrap();
    v1.create(NewTenant::new(new.clone(), "new")).await.unwrap();
    let v2 = v1.with_migrations(TenantMigrations::from_sql([V1, V2]).unwrap());
    let report = v2
        .migrate_all(MigrateOptions::new().filter(TenantFilter::all().only([new.clone()])))
        .await
        .unwrap();
    assert_eq!(report.migrated().count(), 1);
    (v2, old, new)
}

/// Runs the same statement text alternately in both tenants, decoding the
/// column by its reported type.
async fn alternate(
    schemas: &SchemaPool,
    old: &TenantId,
    new: &TenantId,
) -> Result<Vec<String>, sqlx::Error> {
    let mut seen = Vec::new();
    for tenant in [old, new, old, new] {
        let mut tx = schemas.begin(tenant).await.unwrap();
        let row = sqlx::query("SELECT id, price FROM prices WHERE id = $1")
            .bind(1)
            .fetch_one(&mut tx)
            .await?;
        let value = if tenant == old {
            row.try_get::<i32, _>("price")?.to_string()
        } else {
            row.try_get::<String, _>("price")?
        };
        seen.push(value);
        tx.commit().await?;
    }
    Ok(seen)
}

#[tokio::test]
async fn per_schema_statements_survive_different_versions() {
    let db = PgDb::new().await;
    let (manager, old, new) = two_versions(&db).await;
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(manager.schemas().pool())
        .await
        .unwrap();
    let seen = alternate(manager.schemas(), &old, &new).await.unwrap();
    assert_eq!(seen, ["42", "42 EUR", "42", "42 EUR"]);
    // All on one connection, with its statement cache in use.
    let again: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(manager.schemas().pool())
        .await
        .unwrap();
    assert_eq!(pid, again);
}

/// The control experiment: without the partitioning the very same sequence
/// fails, proving the test above exercises the trap.
#[tokio::test]
async fn shared_statements_hit_the_trap() {
    let db = PgDb::new().await;
    let (manager, old, new) = two_versions(&db).await;
    let shared = manager
        .schemas()
        .clone()
        .statement_cache(StatementCache::Shared);
    let error = alternate(&shared, &old, &new).await.unwrap_err();
    let code = error
        .as_database_error()
        .and_then(|db| db.code())
        .map(|c| c.into_owned());
    eprintln!("shared statements failed as expected: {error}");
    let is_trap =
        code.as_deref() == Some("0A000") || matches!(error, sqlx::Error::ColumnDecode { .. });
    assert!(is_trap, "expected 0A000 or a decode error, got {error:?}");
}

/// Prepared statements (`Executor::prepare`) through a scoped transaction are
/// per schema too.
#[tokio::test]
async fn explicit_prepare_is_per_schema() {
    let db = PgDb::new().await;
    let (manager, old, new) = two_versions(&db).await;
    for (tenant, expected) in [(&old, "int4"), (&new, "text"), (&old, "int4")] {
        let mut tx = manager.schemas().begin(tenant).await.unwrap();
        let statement = sqlx::Executor::prepare(
            &mut tx,
            sqlx::SqlSafeStr::into_sql_str("SELECT price FROM prices"),
        )
        .await
        .unwrap();
        use sqlx::{Column, Statement, TypeInfo};
        assert_eq!(
            statement.columns()[0].type_info().name().to_lowercase(),
            expected
        );
        tx.commit().await.unwrap();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "mood", rename_all = "lowercase")]
enum Mood {
    Happy,
    Sad,
}

/// sqlx also caches custom type OIDs per connection, by *name*. A custom type
/// bound as a parameter must therefore have one OID for all tenants: keep it
/// in a shared schema listed after the tenant schema. Tenants on one
/// connection then bind it correctly in turn.
#[tokio::test]
async fn custom_types_live_in_a_shared_schema() {
    let db = PgDb::new().await;
    let pool = db.pool(1).await;
    sqlx::raw_sql("CREATE SCHEMA shared; CREATE TYPE shared.mood AS ENUM ('happy', 'sad')")
        .execute(&pool)
        .await
        .unwrap();
    let manager = support::manager(
        &db,
        1,
        TenantMigrations::from_sql([(
            1,
            "moods",
            "CREATE TABLE moods (tenant text NOT NULL, mood mood NOT NULL)",
        )])
        .unwrap(),
    )
    .await;
    let schemas = manager
        .schemas()
        .clone()
        .shared_schemas([tenancy_sqlx::Ident::new("shared").unwrap()]);
    let manager = SchemaManager::new(
        manager.registry().clone(),
        schemas.clone(),
        manager.migrations().clone(),
    );
    for tenant in ["acme", "globex"] {
        manager
            .create(NewTenant::new(id(tenant), tenant))
            .await
            .unwrap();
    }
    for (tenant, mood) in [
        ("acme", Mood::Happy),
        ("globex", Mood::Sad),
        ("acme", Mood::Sad),
    ] {
        let mut tx = schemas.begin(&id(tenant)).await.unwrap();
        sqlx::query("INSERT INTO moods (tenant, mood) VALUES ($1, $2)")
            .bind(tenant)
            .bind(mood)
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let mut tx = schemas.begin(&id("acme")).await.unwrap();
    let moods: Vec<Mood> = sqlx::query_scalar("SELECT mood FROM moods ORDER BY mood")
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(moods, [Mood::Happy, Mood::Sad]);
    tx.commit().await.unwrap();
    pool.close().await;
}

/// How many prepared statements the connection behind `pool` holds whose
/// text contains `needle`.
async fn prepared_with(tx: &mut tenancy_sqlx::schema::TenantTransaction<'_>, needle: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE $1")
        .bind(format!("%{needle}%"))
        .persistent(false)
        .fetch_one(tx.unpartitioned_connection())
        .await
        .unwrap()
}

/// Tenants on one migration version share one prepared statement per
/// connection (the per-version default); per schema, each has its own.
#[tokio::test]
async fn tenants_on_one_version_share_prepared_statements() {
    let db = PgDb::new().await;
    let manager = support::manager(&db, 1, TenantMigrations::from_sql([V1]).unwrap()).await;
    let tenants = [id("a"), id("b"), id("c")];
    for tenant in &tenants {
        manager
            .create(NewTenant::new(tenant.clone(), "t"))
            .await
            .unwrap();
    }
    for (cache, expected) in [
        (StatementCache::PerVersion, 1),
        (StatementCache::PerSchema, 3),
    ] {
        let schemas = manager.schemas().clone().statement_cache(cache);
        let marker = format!("marker_{expected}");
        let sql = format!("SELECT price AS {marker} FROM prices WHERE id = $1");
        for tenant in &tenants {
            let mut tx = schemas.begin(tenant).await.unwrap();
            let price: i32 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
                .bind(1)
                .fetch_one(&mut tx)
                .await
                .unwrap();
            assert_eq!(price, 42);
            tx.commit().await.unwrap();
        }
        let mut tx = schemas.begin(&tenants[0]).await.unwrap();
        assert_eq!(
            prepared_with(&mut tx, &format!("AS {marker} FROM")).await,
            expected,
            "{cache:?}"
        );
        tx.commit().await.unwrap();
    }
}

/// A tenant migrated through the pool's manager leaves its old statements
/// behind: on the very same connection its next query is prepared for the
/// new version (no 0A000, no stale column type).
#[tokio::test]
async fn a_migrated_tenant_does_not_reuse_its_old_statements() {
    let db = PgDb::new().await;
    let v1 = support::manager(&db, 1, TenantMigrations::from_sql([V1]).unwrap()).await;
    let (a, b) = (id("a"), id("b"));
    for tenant in [&a, &b] {
        v1.create(NewTenant::new(tenant.clone(), "t"))
            .await
            .unwrap();
    }
    let price = |tenant: TenantId, schemas: SchemaPool| async move {
        let mut tx = schemas.begin(&tenant).await.unwrap();
        let row = sqlx::query("SELECT price FROM prices WHERE id = $1")
            .bind(1)
            .fetch_one(&mut tx)
            .await?;
        let type_name = {
            use sqlx::{Column, TypeInfo};
            row.columns()[0].type_info().name().to_lowercase()
        };
        tx.commit().await?;
        Ok::<_, sqlx::Error>(type_name)
    };
    assert_eq!(
        price(a.clone(), v1.schemas().clone()).await.unwrap(),
        "int4"
    );
    let v2 = v1.with_migrations(TenantMigrations::from_sql([V1, V2]).unwrap());
    v2.migrate(&a).await.unwrap();
    for _ in 0..2 {
        assert_eq!(
            price(a.clone(), v2.schemas().clone()).await.unwrap(),
            "text"
        );
        assert_eq!(
            price(b.clone(), v2.schemas().clone()).await.unwrap(),
            "int4"
        );
    }
}

/// A migration by another process (here: another pool, which shares no
/// memory with this one) is noticed at the first statement Postgres refuses:
/// that query fails with 0A000, and from then on the schema has statements of
/// its own and answers with the new column type.
#[tokio::test]
async fn a_migration_elsewhere_costs_at_most_one_refused_query() {
    let db = PgDb::new().await;
    let v1 = support::manager(&db, 1, TenantMigrations::from_sql([V1]).unwrap()).await;
    let (a, b) = (id("a"), id("b"));
    for tenant in [&a, &b] {
        v1.create(NewTenant::new(tenant.clone(), "t"))
            .await
            .unwrap();
    }
    let schemas = v1.schemas().clone();
    let run = |tenant: TenantId| price_row(schemas.clone(), tenant);
    // Both tenants' versions are now known to `schemas`, sharing one statement.
    run(a.clone()).await.unwrap();
    run(b.clone()).await.unwrap();
    // Another process migrates `a`.
    let elsewhere = SchemaManager::new(
        v1.registry().clone(),
        SchemaPool::new(db.pool(1).await),
        TenantMigrations::from_sql([V1, V2]).unwrap(),
    );
    elsewhere.migrate(&a).await.unwrap();
    let mut refused = 0;
    let mut seen = None;
    for _ in 0..3 {
        match run(a.clone()).await {
            Ok(row) => seen = Some(row.try_get::<String, _>("price").unwrap()),
            Err(error) => {
                let code = error
                    .as_database_error()
                    .and_then(|e| e.code())
                    .map(|c| c.into_owned());
                assert_eq!(code.as_deref(), Some("0A000"), "{error:?}");
                refused += 1;
            }
        }
    }
    assert_eq!(refused, 1);
    assert_eq!(seen.as_deref(), Some("42 EUR"));
    // `b`, still on v1, keeps the shared statement.
    assert_eq!(
        run(b).await.unwrap().try_get::<i32, _>("price").unwrap(),
        42
    );
}

/// With the registry followed (the manager's gate), another process's
/// migration reaches this one as a `Migrated` event, which forgets the
/// schema's version: the next query prepares for the new version, and no
/// query is refused.
#[tokio::test]
async fn a_migration_reported_by_the_registry_costs_no_refused_query() {
    use tenancy_core::{CacheBuilder, HeaderResolver, TenantEvent};
    use tenancy_sqlx::{PgRegistry, RegistryConfig};

    let db = PgDb::new().await;
    let elsewhere = support::manager(&db, 1, TenantMigrations::from_sql([V1]).unwrap()).await;
    let (a, b) = (id("a"), id("b"));
    for tenant in [&a, &b] {
        elsewhere
            .create(NewTenant::new(tenant.clone(), "t"))
            .await
            .unwrap();
    }
    // This process: its own registry instance, pool and gate.
    let registry = PgRegistry::connect(db.pool(2).await, RegistryConfig::default())
        .await
        .unwrap();
    let here = SchemaManager::new(
        registry.clone(),
        SchemaPool::new(db.pool(1).await),
        TenantMigrations::from_sql([V1]).unwrap(),
    );
    let _gate = here.gate(
        HeaderResolver::new("x-tenant").unwrap(),
        CacheBuilder::new(),
    );
    let mut events = registry.events();
    // The gate's listener starts in the background: rename until it reports.
    let mut following = false;
    for attempt in 0..100 {
        elsewhere
            .registry()
            .set_name(&b, &format!("probe {attempt}"))
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(200);
        while let Ok(Ok(event)) = tokio::time::timeout_at(deadline, events.recv()).await {
            following |= event == TenantEvent::Updated(b.clone());
        }
        if following {
            break;
        }
    }
    assert!(following, "this process never heard of the other's changes");

    let schemas = here.schemas().clone();
    let run = |tenant: TenantId| price_row(schemas.clone(), tenant);
    run(a.clone()).await.unwrap();
    run(b.clone()).await.unwrap();
    elsewhere
        .with_migrations(TenantMigrations::from_sql([V1, V2]).unwrap())
        .migrate(&a)
        .await
        .unwrap();
    // The event reaches the registry's receivers after the version is forgotten.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("the migration was never reported")
            .unwrap();
        if event == TenantEvent::Migrated(a.clone()) {
            break;
        }
    }
    let row = run(a.clone()).await.expect("no refused query");
    assert_eq!(row.try_get::<String, _>("price").unwrap(), "42 EUR");
    assert_eq!(
        run(b).await.unwrap().try_get::<i32, _>("price").unwrap(),
        42,
        "b, still on v1, keeps its statement"
    );
}

/// Price 1 of `tenant`, in a transaction of its own.
async fn price_row(
    schemas: SchemaPool,
    tenant: TenantId,
) -> Result<sqlx::postgres::PgRow, sqlx::Error> {
    let mut tx = schemas.begin(&tenant).await.unwrap();
    let row = sqlx::query("SELECT id, price FROM prices WHERE id = $1")
        .bind(1)
        .fetch_one(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(row)
}

/// A schema without a migration history (made by hand) works: its
/// statements are its own.
#[tokio::test]
async fn a_schema_without_history_gets_statements_of_its_own() {
    let db = PgDb::new().await;
    let pool = db.pool(1).await;
    sqlx::raw_sql(
        "CREATE SCHEMA tenant_hand1; CREATE TABLE tenant_hand1.prices (id int, price int); \
         INSERT INTO tenant_hand1.prices VALUES (1, 7); \
         CREATE SCHEMA tenant_hand2; CREATE TABLE tenant_hand2.prices (id int, price text); \
         INSERT INTO tenant_hand2.prices VALUES (1, 'seven')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let schemas = SchemaPool::new(pool.clone());
    for _ in 0..2 {
        let mut tx = schemas.begin(&id("hand1")).await.unwrap();
        let p: i32 = sqlx::query_scalar("SELECT price FROM prices")
            .fetch_one(&mut tx)
            .await
            .unwrap();
        assert_eq!(p, 7);
        tx.commit().await.unwrap();
        let mut tx = schemas.begin(&id("hand2")).await.unwrap();
        let p: String = sqlx::query_scalar("SELECT price FROM prices")
            .fetch_one(&mut tx)
            .await
            .unwrap();
        assert_eq!(p, "seven");
        tx.commit().await.unwrap();
    }
    pool.close().await;
}

/// Migrations kept in a history table of another name: the pool reads
/// versions from it once told (`version_table`); until then each schema has
/// statements of its own (correct, only less shared).
#[tokio::test]
async fn a_custom_history_table_is_read_once_named() {
    let db = PgDb::new().await;
    let history = tenancy_sqlx::Ident::new("schema_history").unwrap();
    let migrations = TenantMigrations::from_sql([V1])
        .unwrap()
        .history_table(history.clone());
    let manager = support::manager(&db, 1, migrations).await;
    for tenant in ["a", "b"] {
        manager
            .create(NewTenant::new(id(tenant), tenant))
            .await
            .unwrap();
    }
    for (schemas, tag) in [
        (manager.schemas().clone(), "/* tenancy schema=%"),
        (
            manager.schemas().clone().version_table(history),
            "/* tenancy version=%",
        ),
    ] {
        for tenant in ["a", "b"] {
            let mut tx = schemas.begin(&id(tenant)).await.unwrap();
            let price: i32 = sqlx::query_scalar("SELECT price FROM prices WHERE id = $1")
                .bind(1)
                .fetch_one(&mut tx)
                .await
                .unwrap();
            assert_eq!(price, 42);
            tx.commit().await.unwrap();
        }
        let mut tx = schemas.begin(&id("a")).await.unwrap();
        let tagged: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_prepared_statements \
             WHERE statement LIKE $1 AND statement LIKE '%FROM prices%'",
        )
        .bind(tag)
        .persistent(false)
        .fetch_one(tx.unpartitioned_connection())
        .await
        .unwrap();
        assert!(tagged >= 1, "no statement tagged {tag}");
        tx.commit().await.unwrap();
    }
}
