//! The Postgres registry: store, mutations, cache invalidation, NOTIFY.

#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{PgDb, eventually, id};
use tenancy_core::{CacheBuilder, DomainName, HeaderResolver, Tenancy, TenancyError, TenantStore};
use tenancy_sqlx::{Ident, NewTenant, PgRegistry, RegistryConfig, Storage};

fn domain(text: &str) -> DomainName {
    DomainName::new(text).unwrap()
}

#[tokio::test]
async fn crud_and_lookups() {
    let db = PgDb::new().await;
    let registry = PgRegistry::connect(db.pool(2).await, RegistryConfig::default())
        .await
        .unwrap();
    // Migrating twice is a no-op.
    registry.migrate().await.unwrap();

    let created = registry
        .create(
            NewTenant::new(id("acme"), "Acme Corp")
                .primary_domain(domain("acme.test"))
                .domain(domain("shop.acme.test")),
        )
        .await
        .unwrap();
    assert_eq!(
        created.storage(),
        &Storage::Schema("tenant_acme".parse().unwrap())
    );
    assert!(created.created_at() > std::time::UNIX_EPOCH);

    let found = registry.find_by_id(&id("acme")).await.unwrap().unwrap();
    assert_eq!(found.name(), "Acme Corp");
    assert!(found.is_active());
    assert_eq!(found.primary_domain(), Some(&domain("acme.test")));
    assert_eq!(found.domains().len(), 2);
    assert_eq!(found.created_at(), created.created_at());

    let by_domain = registry
        .find_by_domain(&domain("shop.acme.test"))
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

    // Conflicts are typed.
    let exists = registry
        .create(NewTenant::new(id("acme"), "again"))
        .await
        .unwrap_err();
    assert!(matches!(exists, TenancyError::TenantExists { ref id } if id.as_str() == "acme"));
    let taken = registry
        .create(NewTenant::new(id("globex"), "Globex").domain(domain("acme.test")))
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
    registry
        .create(NewTenant::new(id("globex"), "Globex"))
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
    let missing = registry
        .add_domain(&id("nope"), &domain("x.test"), false)
        .await
        .unwrap_err();
    assert!(
        matches!(missing, TenancyError::TenantNotFound { .. }),
        "{missing:?}"
    );
    assert!(matches!(
        registry.deactivate(&id("nope")).await.unwrap_err(),
        TenancyError::TenantNotFound { .. }
    ));

    // Registry-only rename keeps the storage; domains follow the id.
    let clash = registry
        .rename(&id("acme"), &id("globex"))
        .await
        .unwrap_err();
    assert!(matches!(clash, TenancyError::TenantExists { ref id } if id.as_str() == "globex"));
    registry.rename(&id("acme"), &id("initech")).await.unwrap();
    let renamed = registry.find_by_id(&id("initech")).await.unwrap().unwrap();
    assert_eq!(renamed.storage().location(), "tenant_acme");
    assert_eq!(
        registry
            .find_by_domain(&domain("acme.test"))
            .await
            .unwrap()
            .unwrap()
            .id(),
        &id("initech")
    );

    let list = registry.list().await.unwrap();
    let ids: Vec<&str> = list.iter().map(|t| t.id().as_str()).collect();
    assert_eq!(ids, ["globex", "initech"]);

    assert!(registry.delete(&id("initech")).await.unwrap());
    assert!(!registry.delete(&id("initech")).await.unwrap());
    assert!(
        registry
            .find_by_domain(&domain("acme.test"))
            .await
            .unwrap()
            .is_none(),
        "domains cascade"
    );
}

#[tokio::test]
async fn custom_names_are_validated_and_quoted() {
    let db = PgDb::new().await;
    let config = RegistryConfig::new()
        .schema(Ident::new("select").unwrap())
        .tenants_table(Ident::new("user").unwrap())
        .domains_table(Ident::new("order").unwrap())
        .channel(Ident::new("group").unwrap());
    let registry = PgRegistry::connect(db.pool(2).await, config).await.unwrap();
    registry
        .create(NewTenant::new(id("a-b"), "A B").domain(domain("a-b.test")))
        .await
        .unwrap();
    assert_eq!(
        registry
            .find_by_domain(&domain("a-b.test"))
            .await
            .unwrap()
            .unwrap()
            .id(),
        &id("a-b")
    );
    let same = RegistryConfig::new()
        .tenants_table(Ident::new("t").unwrap())
        .domains_table(Ident::new("t").unwrap());
    assert!(PgRegistry::new(db.pool(1).await, same).is_err());
}

#[tokio::test]
async fn mutations_invalidate_subscribed_caches_at_once() {
    let db = PgDb::new().await;
    let registry = PgRegistry::connect(db.pool(2).await, RegistryConfig::default())
        .await
        .unwrap();
    let cache = Arc::new(
        CacheBuilder::new()
            .ttl(Duration::from_secs(3600))
            .build(registry.clone()),
    );
    registry.subscribe(cache.clone());

    // Negative caching is undone by creation.
    assert!(cache.find_by_id(&id("acme")).await.unwrap().is_none());
    registry
        .create(NewTenant::new(id("acme"), "Acme").domain(domain("acme.test")))
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

    registry.remove_domain(&domain("acme.test")).await.unwrap();
    assert!(
        cache
            .find_by_domain(&domain("acme.test"))
            .await
            .unwrap()
            .is_none()
    );

    registry.delete(&id("acme")).await.unwrap();
    assert!(cache.find_by_id(&id("acme")).await.unwrap().is_none());
}

/// Two registry instances (two pools, two caches, two pipelines): a
/// deactivation through one is seen by the other through LISTEN/NOTIFY, far
/// sooner than its one-hour cache TTL.
#[tokio::test]
async fn other_instances_see_changes_through_notify() {
    let db = PgDb::new().await;
    let a = PgRegistry::connect(db.pool(2).await, RegistryConfig::default())
        .await
        .unwrap();
    let b = PgRegistry::connect(db.pool(2).await, RegistryConfig::default())
        .await
        .unwrap();
    let cache_b = Arc::new(
        CacheBuilder::new()
            .ttl(Duration::from_secs(3600))
            .build(b.clone()),
    );
    b.subscribe(cache_b.clone());
    let listener = b.listen();
    listener.wait_listening(1).await;
    let tenancy_b = Tenancy::new(HeaderResolver::new("x-tenant").unwrap(), cache_b.clone());

    a.create(NewTenant::new(id("acme"), "Acme")).await.unwrap();
    // `b` had cached "unknown": the creation notification clears it.
    assert!(
        eventually(Duration::from_secs(10), || async {
            tenancy_b.load(&id("acme")).await.is_ok()
        })
        .await,
        "instance b never saw the creation"
    );

    let started = Instant::now();
    a.deactivate(&id("acme")).await.unwrap();
    let seen = eventually(Duration::from_secs(10), || async {
        matches!(
            tenancy_b.load(&id("acme")).await,
            Err(TenancyError::TenantInactive { .. })
        )
    })
    .await;
    assert!(
        seen,
        "instance b never saw the deactivation (its cache TTL is one hour)"
    );
    eprintln!(
        "deactivation seen by the other instance after {:?}",
        started.elapsed()
    );
    assert_eq!(listener.connections(), 1, "no reconnection happened");
}

/// The listener reconnects after its connection is killed, and then
/// invalidates everything (changes made while it was deaf are unknown).
#[tokio::test]
async fn listener_reconnects_and_invalidates_everything() {
    let db = PgDb::new().await;
    let pool = db.pool(2).await;
    let registry = PgRegistry::connect(pool.clone(), RegistryConfig::default())
        .await
        .unwrap();
    let other = PgRegistry::connect(db.pool(1).await, RegistryConfig::default())
        .await
        .unwrap();
    let cache = Arc::new(
        CacheBuilder::new()
            .ttl(Duration::from_secs(3600))
            .build(registry.clone()),
    );
    registry.subscribe(cache.clone());
    registry
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    registry
        .create(NewTenant::new(id("globex"), "Globex"))
        .await
        .unwrap();
    let listener = registry.listen();
    listener.wait_listening(1).await;
    assert!(
        cache
            .find_by_id(&id("acme"))
            .await
            .unwrap()
            .unwrap()
            .is_active()
    );

    // A change nobody is told about (as if its notification were lost).
    sqlx::query("UPDATE tenancy.tenants SET active = false WHERE id = 'acme'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(
        cache
            .find_by_id(&id("acme"))
            .await
            .unwrap()
            .unwrap()
            .is_active(),
        "still cached"
    );

    // Kill the listener's connection.
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(killed, [true], "exactly one listener backend");

    tokio::time::timeout(Duration::from_secs(30), listener.wait_listening(2))
        .await
        .expect("the listener did not reconnect");
    assert!(
        !cache
            .find_by_id(&id("acme"))
            .await
            .unwrap()
            .unwrap()
            .is_active(),
        "everything was invalidated after reconnecting"
    );

    // And notifications flow again.
    assert!(
        cache
            .find_by_id(&id("globex"))
            .await
            .unwrap()
            .unwrap()
            .is_active()
    );
    other.deactivate(&id("globex")).await.unwrap();
    assert!(
        eventually(Duration::from_secs(10), || async {
            !cache
                .find_by_id(&id("globex"))
                .await
                .unwrap()
                .unwrap()
                .is_active()
        })
        .await,
        "notifications after the reconnection were not received"
    );
}

#[tokio::test]
async fn unreachable_database_is_store_unavailable() {
    let db = PgDb::new().await;
    let pool = db.pool(1).await;
    let registry = PgRegistry::connect(pool.clone(), RegistryConfig::default())
        .await
        .unwrap();
    let listener = registry.listen();
    listener.wait_listening(1).await;
    pool.close().await;
    assert!(
        eventually(Duration::from_secs(10), || async { listener.is_finished() }).await,
        "the listener stops when the registry's pool is closed"
    );
    let error = registry.find_by_id(&id("acme")).await.unwrap_err();
    assert!(
        matches!(error, TenancyError::StoreUnavailable { .. }),
        "{error:?}"
    );
    assert_eq!(error.status(), 503);
}
