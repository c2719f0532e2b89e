//! The registry suite (`tenancy_sqlx::registry_suite!`) run against every
//! registry of this crate — Postgres, Postgres through PgBouncer,
//! MariaDB/MySQL and SQLite, each through `AnyRegistry` on a fresh database
//! per test — and against the reference `MemoryRegistry`; then what is
//! particular to our registries: `AnyRegistry::connect` from a URL, the
//! backend it names, registries with their own tables sharing a database.

#![cfg(all(
    feature = "postgres",
    feature = "mysql",
    feature = "sqlite",
    feature = "testing"
))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use tenancy_sqlx::registry::{MySqlRegistry, SqliteRegistry};
use tenancy_sqlx::testing::{Guard, RegistryHarness};
use tenancy_sqlx::{AnyRegistry, PgRegistry, RegistryConfig};

/// A registry on a fresh database, and the guard that removes the database.
type Fixture = (AnyRegistry, Guard);

async fn postgres() -> Fixture {
    let db = support::PgDb::new().await;
    let registry = PgRegistry::connect(db.pool(3).await, RegistryConfig::default())
        .await
        .unwrap();
    (registry.into(), Box::new(db))
}

/// Postgres through PgBouncer in transaction pooling mode.
async fn pgbouncer() -> Fixture {
    let db = support::PgDb::new().await;
    let registry = PgRegistry::connect(db.pooled(3).await, RegistryConfig::default())
        .await
        .unwrap();
    (registry.into(), Box::new(db))
}

async fn mysql() -> Fixture {
    let db = support::MySqlDb::new().await;
    let registry = MySqlRegistry::connect(db.pool(3).await, RegistryConfig::default())
        .await
        .unwrap();
    // Migrating twice is a no-op.
    registry.migrate().await.unwrap();
    (registry.into(), Box::new(db))
}

async fn sqlite() -> Fixture {
    let dir = support::TempDir::new();
    let registry = SqliteRegistry::connect(
        dir.sqlite_pool("registry.db", 3).await,
        RegistryConfig::default(),
    )
    .await
    .unwrap();
    registry.migrate().await.unwrap();
    (registry.into(), Box::new(dir))
}

/// A second registry instance on the same database (as another process would
/// have): its own subscribers, no shared memory with the first.
fn second_instance(registry: &AnyRegistry) -> AnyRegistry {
    match registry {
        AnyRegistry::Postgres(r) => PgRegistry::new(r.connections().clone(), r.config().clone())
            .unwrap()
            .into(),
        AnyRegistry::MySql(r) => MySqlRegistry::new(r.pool().clone(), r.config().clone())
            .unwrap()
            .into(),
        AnyRegistry::Sqlite(r) => SqliteRegistry::new(r.pool().clone(), r.config().clone())
            .unwrap()
            .into(),
        _ => unreachable!("all three backends are enabled"),
    }
}

/// The registry suite on each backend, through [`AnyRegistry`].
macro_rules! backends {
    ($($backend:ident),*) => {$(
        mod $backend {
            use super::*;

            struct Harness;

            impl RegistryHarness for Harness {
                type Registry = AnyRegistry;

                async fn registry() -> (AnyRegistry, Guard) {
                    super::$backend().await
                }

                fn second_instance(registry: &AnyRegistry) -> AnyRegistry {
                    super::second_instance(registry)
                }
            }

            tenancy_sqlx::registry_suite!(#[tokio::test] Harness);
        }
    )*};
}

backends!(postgres, pgbouncer, mysql, sqlite);

/// The reference registry in memory; its second instance is a clone (the
/// same tenants and subscribers).
mod memory {
    use tenancy_sqlx::testing::{Guard, MemoryRegistry, RegistryHarness};

    struct Harness;

    impl RegistryHarness for Harness {
        type Registry = MemoryRegistry;

        async fn registry() -> (MemoryRegistry, Guard) {
            (MemoryRegistry::default(), Box::new(()))
        }

        fn second_instance(registry: &MemoryRegistry) -> MemoryRegistry {
            registry.clone()
        }
    }

    tenancy_sqlx::registry_suite!(
        #[tokio::test]
        Harness
    );
}

/// Each backend's registry names its backend (PgBouncer fronts Postgres).
#[tokio::test]
async fn any_registry_names_its_backend() {
    for (fixture, expected) in [
        (postgres().await, "postgres"),
        (pgbouncer().await, "postgres"),
        (mysql().await, "mysql"),
        (sqlite().await, "sqlite"),
    ] {
        let (registry, _guard) = fixture;
        assert_eq!(registry.backend(), expected);
    }
}

/// `AnyRegistry::connect` picks the backend from the URL scheme.
#[tokio::test]
async fn any_registry_connects_from_a_url() {
    let dir = support::TempDir::new();
    let path = dir.path().join("nested").join("registry.db");
    let sqlite = AnyRegistry::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert_eq!(sqlite.backend(), "sqlite");
    assert!(path.exists(), "the file (and its directory) are created");
    assert!(sqlite.list().await.unwrap().is_empty());
    drop(sqlite);

    let db = support::MySqlDb::new().await;
    let url = format!("{}/{}", support::mysql_url().trim_end_matches('/'), db.name);
    let mysql = AnyRegistry::connect_with(&url.replacen("mysql:", "mariadb:", 1), 2)
        .await
        .unwrap();
    assert_eq!(mysql.backend(), "mysql");
    assert!(mysql.list().await.unwrap().is_empty());

    let pg = support::PgDb::new().await;
    let url = format!(
        "{}/{}",
        support::pg_url().rsplit_once('/').unwrap().0,
        pg.name
    );
    let postgres = AnyRegistry::connect_with(&url, 2).await.unwrap();
    assert_eq!(postgres.backend(), "postgres");
    assert!(postgres.listen().is_some());
    drop(postgres);

    let unknown = AnyRegistry::connect("mssql://localhost/x")
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, tenancy_core::TenancyError::Configuration { .. }),
        "{unknown:?}"
    );
    let down = AnyRegistry::connect_with("postgres://postgres@127.0.0.1:1/x", 1)
        .await
        .unwrap_err();
    assert!(
        matches!(down, tenancy_core::TenancyError::StoreUnavailable { .. }),
        "{down:?}"
    );
}

/// Tables named so long that a naive MySQL lock name would pass 64 characters.
fn long_tables(tag: &str) -> RegistryConfig {
    let pad = "x".repeat(40);
    RegistryConfig::new()
        .tenants_table(tenancy_sqlx::Ident::new(format!("{tag}_{pad}_tenants")).unwrap())
        .domains_table(tenancy_sqlx::Ident::new(format!("{tag}_{pad}_domains")).unwrap())
}

/// Two registries with their own tables share one database: each gets its
/// tables and sees only its own tenants.
async fn two_registries_share_a_database(first: AnyRegistry, second: AnyRegistry) {
    use tenancy_core::TenantId;
    use tenancy_sqlx::{NewTenant, Storage};
    let acme = TenantId::new("acme").unwrap();
    let storage = || Storage::Database("main/tenant_acme".parse().unwrap());
    first
        .create_with_storage(NewTenant::new(acme.clone(), "Acme in the first"), storage())
        .await
        .unwrap();
    assert!(second.find_by_id(&acme).await.unwrap().is_none());
    second
        .create_with_storage(
            NewTenant::new(acme.clone(), "Acme in the second"),
            storage(),
        )
        .await
        .unwrap();
    let first_name = first.find_by_id(&acme).await.unwrap().unwrap();
    let second_name = second.find_by_id(&acme).await.unwrap().unwrap();
    assert_eq!(first_name.name(), "Acme in the first");
    assert_eq!(second_name.name(), "Acme in the second");
}

#[tokio::test]
async fn mysql_registries_with_their_own_tables_share_a_database() {
    let db = support::MySqlDb::new().await;
    let pool = db.pool(3).await;
    let first = MySqlRegistry::connect(pool.clone(), long_tables("a"))
        .await
        .unwrap();
    let second = MySqlRegistry::connect(pool, long_tables("b"))
        .await
        .unwrap();
    two_registries_share_a_database(first.into(), second.into()).await;
}

#[tokio::test]
async fn sqlite_registries_with_their_own_tables_share_a_database() {
    let dir = support::TempDir::new();
    let pool = dir.sqlite_pool("registry.db", 3).await;
    let first = SqliteRegistry::connect(pool.clone(), long_tables("a"))
        .await
        .unwrap();
    let second = SqliteRegistry::connect(pool, long_tables("b"))
        .await
        .unwrap();
    two_registries_share_a_database(first.into(), second.into()).await;
}
