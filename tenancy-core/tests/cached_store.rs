//! `CachedStore`: single flight, negative caching, flood resistance, TTL and
//! invalidation, against a counting inner store.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)] // test helpers

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tenancy_core::{
    CacheBuilder, CachedStore, DomainName, InMemoryStore, Invalidate, Invalidation, TenancyError,
    TenantId, TenantRecord, TenantStore,
};

/// An in-memory store that counts lookups, can be slowed down and can fail.
#[derive(Default)]
struct Counting {
    tenants: InMemoryStore,
    calls: AtomicUsize,
    delay_ms: AtomicUsize,
    failing: AtomicBool,
}

impl Counting {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    async fn enter(&self) -> Result<(), TenancyError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay as u64)).await;
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(TenancyError::unavailable(std::io::Error::other(
                "registry down",
            )));
        }
        Ok(())
    }
}

impl TenantStore for Counting {
    type Tenant = TenantRecord;

    // Read first, then wait: a slow store answers with what it read at the start.
    async fn find_by_id(&self, id: &TenantId) -> Result<Option<TenantRecord>, TenancyError> {
        let found = self.tenants.find_by_id(id).await;
        self.enter().await?;
        found
    }

    async fn find_by_domain(
        &self,
        domain: &DomainName,
    ) -> Result<Option<TenantRecord>, TenancyError> {
        let found = self.tenants.find_by_domain(domain).await;
        self.enter().await?;
        found
    }
}

fn id(text: &str) -> TenantId {
    TenantId::new(text).unwrap()
}

fn domain(text: &str) -> DomainName {
    DomainName::new(text).unwrap()
}

fn store_with(ids: &[&str], builder: CacheBuilder) -> Arc<CachedStore<Counting>> {
    let counting = Counting::default();
    for tenant in ids {
        counting
            .tenants
            .insert(TenantRecord::new(id(tenant), tenant.to_uppercase()));
    }
    Arc::new(builder.build(counting))
}

async fn concurrent_lookups(
    store: &Arc<CachedStore<Counting>>,
    key: &str,
    n: usize,
) -> Vec<Option<TenantRecord>> {
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let store = Arc::clone(store);
            let barrier = Arc::clone(&barrier);
            let key = id(key);
            tokio::spawn(async move {
                barrier.wait().await;
                store.find_by_id(&key).await.unwrap()
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn single_flight_for_a_found_tenant() {
    let store = store_with(&["acme"], CacheBuilder::new());
    store.inner().delay_ms.store(50, Ordering::SeqCst);
    let results = concurrent_lookups(&store, "acme", 100).await;
    assert_eq!(results.len(), 100);
    assert!(
        results
            .iter()
            .all(|found| found.as_ref().map(|t| t.id.as_str()) == Some("acme"))
    );
    assert_eq!(
        store.inner().calls(),
        1,
        "100 concurrent lookups must reach the store once"
    );
    store.find_by_id(&id("acme")).await.unwrap();
    assert_eq!(store.inner().calls(), 1, "then the cache answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn single_flight_and_negative_caching_for_a_missing_tenant() {
    let store = store_with(&["acme"], CacheBuilder::new());
    store.inner().delay_ms.store(50, Ordering::SeqCst);
    let results = concurrent_lookups(&store, "nobody", 100).await;
    assert!(results.iter().all(Option::is_none));
    assert_eq!(store.inner().calls(), 1);
    for _ in 0..10 {
        assert!(store.find_by_id(&id("nobody")).await.unwrap().is_none());
    }
    assert_eq!(store.inner().calls(), 1, "the miss is cached");
}

#[tokio::test]
async fn a_flood_of_unknown_keys_cannot_evict_real_tenants() {
    let real: Vec<String> = (0..50).map(|i| format!("real-{i}")).collect();
    let real_refs: Vec<&str> = real.iter().map(String::as_str).collect();
    let store = store_with(
        &real_refs,
        CacheBuilder::new().capacity(100).negative_capacity(100),
    );
    for tenant in &real {
        assert!(store.find_by_id(&id(tenant)).await.unwrap().is_some());
    }
    assert_eq!(store.inner().calls(), 50);

    for attack in 0..5_000 {
        assert!(
            store
                .find_by_id(&id(&format!("attacker-{attack}")))
                .await
                .unwrap()
                .is_none()
        );
    }
    assert_eq!(store.inner().calls(), 5_050);

    for tenant in &real {
        assert!(store.find_by_id(&id(tenant)).await.unwrap().is_some());
    }
    assert_eq!(
        store.inner().calls(),
        5_050,
        "every real tenant is still cached after the flood"
    );
}

#[tokio::test]
async fn entries_expire_after_their_ttl() {
    let store = store_with(
        &["acme"],
        CacheBuilder::new()
            .ttl(Duration::from_millis(50))
            .negative_ttl(Duration::from_millis(50)),
    );
    store.find_by_id(&id("acme")).await.unwrap();
    store.find_by_id(&id("nobody")).await.unwrap();
    assert_eq!(store.inner().calls(), 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    store.find_by_id(&id("acme")).await.unwrap();
    store.find_by_id(&id("nobody")).await.unwrap();
    assert_eq!(store.inner().calls(), 4, "both entries expired");
}

#[tokio::test]
async fn zero_negative_ttl_disables_negative_caching() {
    let store = store_with(&[], CacheBuilder::new().negative_ttl(Duration::ZERO));
    for _ in 0..3 {
        assert!(store.find_by_id(&id("nobody")).await.unwrap().is_none());
    }
    assert_eq!(store.inner().calls(), 3);
}

#[tokio::test]
async fn invalidating_a_tenant_drops_its_id_and_its_domains() {
    let store = store_with(
        &["acme", "globex"],
        CacheBuilder::new().ttl(Duration::from_secs(600)),
    );
    store
        .inner()
        .tenants
        .add_domain(domain("acme.test"), &id("acme"))
        .unwrap();
    store
        .inner()
        .tenants
        .add_domain(domain("shop.acme.test"), &id("acme"))
        .unwrap();
    for key in ["acme.test", "shop.acme.test"] {
        assert!(store.find_by_domain(&domain(key)).await.unwrap().is_some());
    }
    store.find_by_id(&id("acme")).await.unwrap();
    store.find_by_id(&id("globex")).await.unwrap();
    assert_eq!(store.inner().calls(), 4);

    store
        .inner()
        .tenants
        .insert(TenantRecord::new(id("acme"), "ACME").deactivated());
    store.invalidate_tenant(&id("acme"));

    assert!(!store.find_by_id(&id("acme")).await.unwrap().unwrap().active);
    assert!(
        !store
            .find_by_domain(&domain("acme.test"))
            .await
            .unwrap()
            .unwrap()
            .active
    );
    assert!(
        !store
            .find_by_domain(&domain("shop.acme.test"))
            .await
            .unwrap()
            .unwrap()
            .active
    );
    store.find_by_id(&id("globex")).await.unwrap();
    assert_eq!(
        store.inner().calls(),
        7,
        "acme and its two domains reloaded, globex still cached"
    );
}

#[tokio::test]
async fn invalidating_a_domain_and_everything() {
    let store = store_with(
        &["acme", "globex"],
        CacheBuilder::new().ttl(Duration::from_secs(600)),
    );
    // An unknown domain is negatively cached, then registered.
    assert!(
        store
            .find_by_domain(&domain("globex.test"))
            .await
            .unwrap()
            .is_none()
    );
    store
        .inner()
        .tenants
        .add_domain(domain("globex.test"), &id("globex"))
        .unwrap();
    assert!(
        store
            .find_by_domain(&domain("globex.test"))
            .await
            .unwrap()
            .is_none(),
        "still negatively cached"
    );
    store.invalidate_domain(&domain("globex.test"));
    assert_eq!(
        store
            .find_by_domain(&domain("globex.test"))
            .await
            .unwrap()
            .unwrap()
            .id,
        id("globex")
    );

    // A created tenant is negatively cached until its id is invalidated.
    assert!(store.find_by_id(&id("initech")).await.unwrap().is_none());
    store
        .inner()
        .tenants
        .insert(TenantRecord::new(id("initech"), "Initech"));
    assert!(store.find_by_id(&id("initech")).await.unwrap().is_none());
    let cache: &dyn Invalidate = &*store;
    cache.invalidate(&Invalidation::Tenant(id("initech"))).await;
    assert!(store.find_by_id(&id("initech")).await.unwrap().is_some());

    let before = store.inner().calls();
    cache.invalidate(&Invalidation::All).await;
    store.find_by_id(&id("initech")).await.unwrap();
    store.find_by_domain(&domain("globex.test")).await.unwrap();
    assert_eq!(store.inner().calls(), before + 2, "everything was dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_errors_are_shared_by_waiters_and_never_cached() {
    // Retried at once: without it a failing key waits `retry_after` (1 s).
    let store = store_with(&["acme"], CacheBuilder::new().retry_after(Duration::ZERO));
    store.inner().failing.store(true, Ordering::SeqCst);
    store.inner().delay_ms.store(200, Ordering::SeqCst);
    let barrier = Arc::new(tokio::sync::Barrier::new(20));
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                store.find_by_id(&id("acme")).await
            })
        })
        .collect();
    for task in tasks {
        let error = task.await.unwrap().unwrap_err();
        assert_eq!(error.kind(), "StoreUnavailable");
        assert_eq!(error.status(), 503);
        let source = std::error::Error::source(&error).expect("the cause is kept");
        let cause = std::error::Error::source(source).expect("the store's own error");
        assert_eq!(cause.to_string(), "the tenant store is unavailable");
    }
    assert_eq!(
        store.inner().calls(),
        1,
        "the waiters shared the one failing call"
    );
    store.inner().failing.store(false, Ordering::SeqCst);
    store.inner().delay_ms.store(0, Ordering::SeqCst);
    assert!(
        store.find_by_id(&id("acme")).await.unwrap().is_some(),
        "errors are not cached"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_that_races_an_invalidation_is_not_cached() {
    let store = store_with(&["acme"], CacheBuilder::new().ttl(Duration::from_secs(600)));
    store.inner().delay_ms.store(200, Ordering::SeqCst);
    let racing = {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.find_by_id(&id("acme")).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The tenant is deactivated while the lookup is in flight.
    store
        .inner()
        .tenants
        .insert(TenantRecord::new(id("acme"), "ACME").deactivated());
    store.invalidate_tenant(&id("acme"));
    let stale = racing.await.unwrap().unwrap().unwrap();
    assert!(stale.active, "the in-flight lookup read the old row");

    store.inner().delay_ms.store(0, Ordering::SeqCst);
    let fresh = store.find_by_id(&id("acme")).await.unwrap().unwrap();
    assert!(!fresh.active, "the stale answer was not cached");
    assert_eq!(store.inner().calls(), 2);
}
