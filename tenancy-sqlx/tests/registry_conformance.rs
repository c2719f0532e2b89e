//! One registry conformance suite, written once and run against every
//! backend: Postgres, MariaDB/MySQL and SQLite. Each scenario drives the
//! registry through `AnyRegistry` (inherent mutations), `&dyn TenantRegistry`
//! and `TenantStore`, on a fresh database per test.

#![cfg(all(feature = "postgres", feature = "mysql", feature = "sqlite"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::any::Any;

use tenancy_sqlx::registry::{MySqlRegistry, SqliteRegistry};
use tenancy_sqlx::{AnyRegistry, PgRegistry, RegistryConfig};

/// A registry on a fresh database, and the guard that removes the database.
type Fixture = (AnyRegistry, Box<dyn Any + Send>);

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

/// Runs every scenario of `suite` against each backend fixture.
macro_rules! conformance {
    ($($backend:ident),*) => {$(
        mod $backend {
            use super::*;

            #[tokio::test]
            async fn crud_and_lookups() {
                let (registry, _guard) = super::$backend().await;
                suite::crud_and_lookups(&registry).await;
            }

            #[tokio::test]
            async fn conflicts_are_typed() {
                let (registry, _guard) = super::$backend().await;
                suite::conflicts_are_typed(&registry).await;
            }

            #[tokio::test]
            async fn mutations_invalidate_caches_at_once() {
                let (registry, _guard) = super::$backend().await;
                suite::mutations_invalidate_caches_at_once(&registry).await;
            }

            #[tokio::test]
            async fn concurrent_creates_of_one_id() {
                let (registry, _guard) = super::$backend().await;
                suite::concurrent_creates_of_one_id(&registry).await;
            }

            #[tokio::test]
            async fn storage_kinds_round_trip() {
                let (registry, _guard) = super::$backend().await;
                suite::storage_kinds_round_trip(&registry).await;
            }

            #[tokio::test]
            async fn other_instances_see_changes_within_the_cache_ttl() {
                let (registry, _guard) = super::$backend().await;
                let other = super::second_instance(&registry);
                suite::other_instances_see_changes_within_the_cache_ttl(&registry, &other).await;
            }

            #[tokio::test]
            async fn dyn_registry() {
                let (registry, _guard) = super::$backend().await;
                suite::dyn_registry(&registry, stringify!($backend)).await;
            }
        }
    )*};
}

conformance!(postgres, pgbouncer, mysql, sqlite);

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

mod suite {
    use std::sync::Arc;
    use std::time::Duration;

    use tenancy_core::{CacheBuilder, DomainName, TenancyError, TenantId, TenantStore};
    use tenancy_sqlx::database::DatabaseLocation;
    use tenancy_sqlx::schema::SchemaName;
    use tenancy_sqlx::{AnyRegistry, NewTenant, Storage, TenantRegistry};

    fn id(text: &str) -> TenantId {
        TenantId::new(text).unwrap()
    }

    fn domain(text: &str) -> DomainName {
        DomainName::new(text).unwrap()
    }

    fn storage(tenant: &str) -> Storage {
        Storage::Database(
            format!("main/tenant_{tenant}")
                .parse::<DatabaseLocation>()
                .unwrap(),
        )
    }

    async fn create(
        registry: &AnyRegistry,
        new: NewTenant,
    ) -> Result<tenancy_sqlx::RegistryTenant, TenancyError> {
        let location = storage(new.id().as_str());
        registry.create_with_storage(new, location).await
    }

    pub(super) async fn crud_and_lookups(registry: &AnyRegistry) {
        let created = create(
            registry,
            NewTenant::new(id("acme"), "Acme Corp")
                .primary_domain(domain("acme.test"))
                .domain(domain("shop.acme.test")),
        )
        .await
        .unwrap();
        assert_eq!(created.storage(), &storage("acme"));
        assert!(created.created_at() > std::time::UNIX_EPOCH);

        let found = registry.find_by_id(&id("acme")).await.unwrap().unwrap();
        assert_eq!(found.name(), "Acme Corp");
        assert!(found.is_active());
        assert_eq!(found.storage(), &storage("acme"));
        assert_eq!(found.primary_domain(), Some(&domain("acme.test")));
        assert_eq!(found.domains().len(), 2);
        let drift = found
            .created_at()
            .duration_since(created.created_at())
            .or_else(|e| Ok::<_, ()>(e.duration()))
            .unwrap();
        assert!(
            drift < Duration::from_secs(2),
            "timestamps agree: {drift:?}"
        );

        // Domains are lower-cased on the way in, and looked up case-insensitively.
        let by_domain = registry
            .find_by_domain(&domain("SHOP.Acme.TEST"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(by_domain.id(), &id("acme"));
        assert!(
            registry
                .find_by_domain(&domain("nope.test"))
                .await
                .unwrap()
                .is_none()
        );
        assert!(registry.find_by_id(&id("nope")).await.unwrap().is_none());

        registry.set_name(&id("acme"), "ACME").await.unwrap();
        registry.deactivate(&id("acme")).await.unwrap();
        let changed = registry.find_by_id(&id("acme")).await.unwrap().unwrap();
        assert_eq!(changed.name(), "ACME");
        assert!(!changed.is_active());
        assert!(changed.updated_at() >= changed.created_at());
        // Deactivating twice is fine (the row exists).
        registry.deactivate(&id("acme")).await.unwrap();
        registry.activate(&id("acme")).await.unwrap();
        assert!(
            registry
                .find_by_id(&id("acme"))
                .await
                .unwrap()
                .unwrap()
                .is_active()
        );

        // A new primary domain demotes the old one.
        registry
            .add_domain(&id("acme"), &domain("new.acme.test"), true)
            .await
            .unwrap();
        let tenant = registry.find_by_id(&id("acme")).await.unwrap().unwrap();
        assert_eq!(tenant.primary_domain(), Some(&domain("new.acme.test")));
        assert_eq!(tenant.domains().iter().filter(|d| d.primary).count(), 1);
        assert_eq!(tenant.domains().len(), 3);
        assert!(
            registry
                .remove_domain(&domain("shop.acme.test"))
                .await
                .unwrap()
        );
        assert!(
            !registry
                .remove_domain(&domain("shop.acme.test"))
                .await
                .unwrap()
        );
        assert!(
            registry
                .find_by_domain(&domain("shop.acme.test"))
                .await
                .unwrap()
                .is_none()
        );

        // Registry-only rename keeps the storage; domains follow the id.
        create(registry, NewTenant::new(id("globex"), "Globex"))
            .await
            .unwrap();
        registry.rename(&id("acme"), &id("initech")).await.unwrap();
        assert!(registry.find_by_id(&id("acme")).await.unwrap().is_none());
        let renamed = registry.find_by_id(&id("initech")).await.unwrap().unwrap();
        assert_eq!(renamed.storage(), &storage("acme"));
        assert_eq!(renamed.name(), "ACME");
        assert_eq!(
            registry
                .find_by_domain(&domain("acme.test"))
                .await
                .unwrap()
                .unwrap()
                .id(),
            &id("initech")
        );

        let ids: Vec<String> = registry
            .list()
            .await
            .unwrap()
            .iter()
            .map(|t| t.id().to_string())
            .collect();
        assert_eq!(ids, ["globex", "initech"]);

        assert!(registry.delete(&id("initech")).await.unwrap());
        assert!(!registry.delete(&id("initech")).await.unwrap());
        assert!(
            registry
                .find_by_domain(&domain("acme.test"))
                .await
                .unwrap()
                .is_none(),
            "domains go with their tenant"
        );
        // A deleted id can be created again, without its old domains.
        let again = create(registry, NewTenant::new(id("initech"), "Again"))
            .await
            .unwrap();
        assert!(again.domains().is_empty());
    }

    pub(super) async fn conflicts_are_typed(registry: &AnyRegistry) {
        create(
            registry,
            NewTenant::new(id("acme"), "Acme").domain(domain("acme.test")),
        )
        .await
        .unwrap();
        let exists = create(registry, NewTenant::new(id("acme"), "again"))
            .await
            .unwrap_err();
        assert!(
            matches!(exists, TenancyError::TenantExists { ref id } if id.as_str() == "acme"),
            "{exists:?}"
        );
        let taken = registry
            .create_with_storage(
                NewTenant::new(id("globex"), "Globex")
                    .domain(domain("globex.test"))
                    .domain(domain("acme.test")),
                storage("globex"),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(taken, TenancyError::DomainTaken { ref domain } if domain.as_str() == "acme.test"),
            "{taken:?}"
        );
        assert!(
            registry.find_by_id(&id("globex")).await.unwrap().is_none(),
            "no half-created tenant"
        );
        assert!(
            registry
                .find_by_domain(&domain("globex.test"))
                .await
                .unwrap()
                .is_none()
        );
        // Two tenants cannot share a storage location.
        let shared = registry
            .create_with_storage(NewTenant::new(id("globex"), "Globex"), storage("acme"))
            .await
            .unwrap_err();
        assert!(
            matches!(shared, TenancyError::SchemaCreation { .. }),
            "{shared:?}"
        );
        // Two primary domains are refused.
        let two = create(
            registry,
            NewTenant::new(id("two"), "Two")
                .primary_domain(domain("a.two.test"))
                .primary_domain(domain("b.two.test")),
        )
        .await
        .unwrap_err();
        assert!(matches!(two, TenancyError::Configuration { .. }), "{two:?}");

        create(registry, NewTenant::new(id("globex"), "Globex"))
            .await
            .unwrap();
        let taken = registry
            .add_domain(&id("globex"), &domain("acme.test"), false)
            .await
            .unwrap_err();
        assert!(
            matches!(taken, TenancyError::DomainTaken { .. }),
            "{taken:?}"
        );
        assert_eq!(
            registry
                .find_by_domain(&domain("acme.test"))
                .await
                .unwrap()
                .unwrap()
                .id(),
            &id("acme"),
            "the domain stays with its owner"
        );
        for error in [
            registry
                .add_domain(&id("nope"), &domain("x.test"), false)
                .await
                .unwrap_err(),
            registry.deactivate(&id("nope")).await.unwrap_err(),
            registry.activate(&id("nope")).await.unwrap_err(),
            registry.set_name(&id("nope"), "x").await.unwrap_err(),
            registry
                .rename(&id("nope"), &id("other"))
                .await
                .unwrap_err(),
        ] {
            assert!(
                matches!(error, TenancyError::TenantNotFound { .. }),
                "{error:?}"
            );
        }
        let clash = registry
            .rename(&id("acme"), &id("globex"))
            .await
            .unwrap_err();
        assert!(
            matches!(clash, TenancyError::TenantExists { ref id } if id.as_str() == "globex"),
            "{clash:?}"
        );
        assert!(registry.find_by_id(&id("acme")).await.unwrap().is_some());
    }

    pub(super) async fn mutations_invalidate_caches_at_once(registry: &AnyRegistry) {
        let cache = Arc::new(
            CacheBuilder::new()
                .ttl(Duration::from_secs(3600))
                .build(registry.clone()),
        );
        registry.subscribe(cache.clone());

        // Negative caching is undone by creation.
        assert!(cache.find_by_id(&id("acme")).await.unwrap().is_none());
        assert!(
            cache
                .find_by_domain(&domain("acme.test"))
                .await
                .unwrap()
                .is_none()
        );
        create(
            registry,
            NewTenant::new(id("acme"), "Acme").domain(domain("acme.test")),
        )
        .await
        .unwrap();
        assert!(cache.find_by_id(&id("acme")).await.unwrap().is_some());
        assert!(
            cache
                .find_by_domain(&domain("acme.test"))
                .await
                .unwrap()
                .is_some()
        );

        registry.deactivate(&id("acme")).await.unwrap();
        assert!(
            !cache
                .find_by_id(&id("acme"))
                .await
                .unwrap()
                .unwrap()
                .is_active()
        );
        assert!(
            !cache
                .find_by_domain(&domain("acme.test"))
                .await
                .unwrap()
                .unwrap()
                .is_active()
        );
        registry.set_name(&id("acme"), "Renamed").await.unwrap();
        assert_eq!(
            cache.find_by_id(&id("acme")).await.unwrap().unwrap().name(),
            "Renamed"
        );

        registry
            .add_domain(&id("acme"), &domain("two.test"), false)
            .await
            .unwrap();
        assert_eq!(
            cache
                .find_by_id(&id("acme"))
                .await
                .unwrap()
                .unwrap()
                .domains()
                .len(),
            2
        );
        registry.remove_domain(&domain("acme.test")).await.unwrap();
        assert!(
            cache
                .find_by_domain(&domain("acme.test"))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(
            cache
                .find_by_id(&id("acme"))
                .await
                .unwrap()
                .unwrap()
                .domains()
                .len(),
            1
        );

        registry.rename(&id("acme"), &id("globex")).await.unwrap();
        assert!(cache.find_by_id(&id("acme")).await.unwrap().is_none());
        assert!(cache.find_by_id(&id("globex")).await.unwrap().is_some());
        registry.delete(&id("globex")).await.unwrap();
        assert!(cache.find_by_id(&id("globex")).await.unwrap().is_none());
    }

    pub(super) async fn concurrent_creates_of_one_id(registry: &AnyRegistry) {
        let tasks: Vec<_> = (0..8)
            .map(|n| {
                let registry = registry.clone();
                tokio::spawn(async move {
                    registry
                        .create_with_storage(
                            NewTenant::new(id("race"), format!("racer {n}")),
                            storage(&format!("race{n}")),
                        )
                        .await
                })
            })
            .collect();
        let mut won = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => won += 1,
                Err(TenancyError::TenantExists { .. }) => {}
                Err(other) => panic!("unexpected error: {other:?}"),
            }
        }
        assert_eq!(won, 1, "exactly one creation wins");
        assert_eq!(registry.list().await.unwrap().len(), 1);
    }

    pub(super) async fn storage_kinds_round_trip(registry: &AnyRegistry) {
        let schema = Storage::Schema(SchemaName::new("tenant_a-b").unwrap());
        registry
            .create_with_storage(NewTenant::new(id("a-b"), "A B"), schema.clone())
            .await
            .unwrap();
        let database = Storage::Database("eu2/tenant_123".parse().unwrap());
        registry
            .create_with_storage(
                NewTenant::new(id("123"), "Digits").inactive(),
                database.clone(),
            )
            .await
            .unwrap();
        assert_eq!(
            registry
                .find_by_id(&id("a-b"))
                .await
                .unwrap()
                .unwrap()
                .storage(),
            &schema
        );
        let digits = registry.find_by_id(&id("123")).await.unwrap().unwrap();
        assert_eq!(digits.storage(), &database);
        assert!(!digits.is_active(), "created inactive");
        assert_eq!(
            digits.storage().database().unwrap().server().as_str(),
            "eu2"
        );
        // Awkward names and a long name with quotes survive.
        let name = "O'Reilly \"&\" Söhne ; DROP TABLE x; --";
        registry.set_name(&id("123"), name).await.unwrap();
        assert_eq!(
            registry
                .find_by_id(&id("123"))
                .await
                .unwrap()
                .unwrap()
                .name(),
            name
        );
    }

    /// Without a notification channel (no `listen()`), another instance's
    /// cache learns of a change when its entry expires: within the TTL.
    pub(super) async fn other_instances_see_changes_within_the_cache_ttl(
        registry: &AnyRegistry,
        other: &AnyRegistry,
    ) {
        let ttl = Duration::from_millis(300);
        let cache = Arc::new(
            CacheBuilder::new()
                .ttl(ttl)
                .negative_ttl(ttl)
                .build(other.clone()),
        );
        other.subscribe(cache.clone());
        create(registry, NewTenant::new(id("acme"), "Acme"))
            .await
            .unwrap();
        assert!(
            cache
                .find_by_id(&id("acme"))
                .await
                .unwrap()
                .unwrap()
                .is_active()
        );
        registry.deactivate(&id("acme")).await.unwrap();
        let changed = std::time::Instant::now();
        loop {
            if !cache
                .find_by_id(&id("acme"))
                .await
                .unwrap()
                .unwrap()
                .is_active()
            {
                break;
            }
            assert!(
                changed.elapsed() < ttl * 3,
                "the other instance saw the change within the TTL"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // A change made through `other` reaches its own cache at once.
        other.activate(&id("acme")).await.unwrap();
        assert!(
            cache
                .find_by_id(&id("acme"))
                .await
                .unwrap()
                .unwrap()
                .is_active()
        );
    }

    pub(super) async fn dyn_registry(registry: &AnyRegistry, backend: &str) {
        // PgBouncer fronts a Postgres registry.
        let expected = if backend == "pgbouncer" {
            "postgres"
        } else {
            backend
        };
        assert_eq!(registry.backend(), expected);
        create(registry, NewTenant::new(id("acme"), "Acme"))
            .await
            .unwrap();
        let dynamic: &dyn TenantRegistry = registry;
        dynamic.set_name(&id("acme"), "Dyn").await.unwrap();
        dynamic
            .add_domain(&id("acme"), &domain("dyn.test"), true)
            .await
            .unwrap();
        let tenant = dynamic
            .find_by_domain(&domain("dyn.test"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(tenant.name(), "Dyn");
        assert_eq!(
            dynamic
                .find_by_id(&id("acme"))
                .await
                .unwrap()
                .unwrap()
                .primary_domain(),
            Some(&domain("dyn.test"))
        );
        assert_eq!(dynamic.list().await.unwrap().len(), 1);
        assert!(dynamic.remove_domain(&domain("dyn.test")).await.unwrap());
        assert!(dynamic.find_by_id(&id("nope")).await.unwrap().is_none());
        let missing = dynamic.set_name(&id("nope"), "x").await.unwrap_err();
        assert!(
            matches!(missing, TenancyError::TenantNotFound { .. }),
            "{missing:?}"
        );
    }
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
