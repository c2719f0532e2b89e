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

const V1: (i64, &str, &str) = (
    1,
    "prices",
    "CREATE TABLE prices (id int PRIMARY KEY, price int NOT NULL); \
     INSERT INTO prices VALUES (1, 42)",
);
const V2: (i64, &str, &str) = (
    2,
    "price as text",
    "ALTER TABLE prices ALTER COLUMN price TYPE text USING price::text || ' EUR'",
);

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
