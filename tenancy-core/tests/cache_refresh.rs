//! `CachedStore` refreshes tenants ahead of expiry: a tenant in steady use
//! never waits on the store, even a slow one. Time is Tokio's paused clock.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

mod support;

use std::time::Duration;

use support::{TokioClock, cache, id, name, settle};
use tenancy_core::{CacheBuilder, TenantKey, TenantStore};

const TTL: Duration = Duration::from_secs(10);

fn builder() -> CacheBuilder {
    CacheBuilder::new().ttl(TTL).clock(TokioClock::new())
}

/// A lookup that must answer without waiting on the store.
async fn at_once(
    store: &tenancy_core::CachedStore<support::Instrumented>,
    tenant: &str,
) -> Option<String> {
    let found = tokio::time::timeout(Duration::from_millis(1), store.find_by_id(&id(tenant)))
        .await
        .expect("answered without waiting on the store")
        .unwrap();
    name(&found).map(str::to_owned)
}

#[tokio::test(start_paused = true)]
async fn a_used_entry_is_refreshed_in_the_background_before_it_expires() {
    let store = cache(&["acme"], builder());
    store.inner().put("acme", "v1");
    assert_eq!(at_once_or_load(&store).await.as_deref(), Some("v1"));
    assert_eq!(store.inner().calls(), 1);

    // The store changes and becomes slow (1 s per call).
    store.inner().put("acme", "v2");
    store.inner().set_delay(Duration::from_secs(1));

    // At 60% of the TTL nothing happens.
    tokio::time::advance(TTL * 6 / 10).await;
    assert_eq!(at_once(&store, "acme").await.as_deref(), Some("v1"));
    settle().await;
    assert_eq!(
        store.inner().calls(),
        1,
        "no refresh before the last quarter"
    );

    // At 80%: answered at once with the old value, refreshed behind it.
    tokio::time::advance(TTL * 2 / 10).await;
    assert_eq!(at_once(&store, "acme").await.as_deref(), Some("v1"));
    let key = TenantKey::Id(id("acme"));
    assert_eq!(
        store.find_cached(&key).unwrap().map(|t| t.name.to_string()),
        Some("v1".to_owned()),
        "the synchronous path serves it too"
    );
    settle().await;
    assert_eq!(store.inner().in_flight(), 1, "the refresh is in the store");

    // More lookups while the refresh is in flight: served, no second refresh.
    for _ in 0..50 {
        assert_eq!(at_once(&store, "acme").await.as_deref(), Some("v1"));
    }
    settle().await;
    assert_eq!(store.inner().calls(), 2, "one refresh per key at a time");
    assert_eq!(store.inner().max_in_flight(), 1);

    // The refresh lands; the next lookup sees the new value, still at once.
    tokio::time::sleep(Duration::from_secs(1)).await;
    settle().await;
    assert_eq!(at_once(&store, "acme").await.as_deref(), Some("v2"));
    let stats = store.stats();
    assert_eq!(stats.refreshes, 1);
    assert_eq!(stats.misses, 1);
    assert_eq!(stats.stale_served, 0);

    // The refreshed entry lives a full TTL from its refresh: past the old
    // expiry, nothing reaches the store.
    tokio::time::advance(TTL / 2).await;
    assert_eq!(at_once(&store, "acme").await.as_deref(), Some("v2"));
    settle().await;
    assert_eq!(store.inner().calls(), 2);
}

/// The first lookup of a key may wait on the store (it is not cached yet).
async fn at_once_or_load(
    store: &tenancy_core::CachedStore<support::Instrumented>,
) -> Option<String> {
    name(&store.find_by_id(&id("acme")).await.unwrap()).map(str::to_owned)
}

#[tokio::test(start_paused = true)]
async fn a_steady_tenant_never_waits_on_a_slow_store() {
    let store = cache(&["acme"], builder());
    store.find_by_id(&id("acme")).await.unwrap();
    store.inner().set_delay(Duration::from_secs(1));
    // One lookup per second for ten TTLs: every one answered at once.
    for second in 0..100 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            at_once(&store, "acme").await.as_deref(),
            Some("acme"),
            "second {second}"
        );
    }
    let stats = store.stats();
    assert_eq!(stats.misses, 1, "only the first lookup missed");
    assert!(
        (10..=14).contains(&stats.refreshes),
        "about one refresh per TTL: {stats:?}"
    );
    assert_eq!(stats.stale_served, 0, "never expired");
}

#[tokio::test(start_paused = true)]
async fn refresh_ahead_can_be_tuned_or_disabled() {
    // Half of the TTL.
    let store = cache(&["acme"], builder().refresh_ahead(0.5));
    store.find_by_id(&id("acme")).await.unwrap();
    tokio::time::advance(TTL * 4 / 10).await;
    at_once(&store, "acme").await;
    settle().await;
    assert_eq!(store.inner().calls(), 1);
    tokio::time::advance(TTL * 2 / 10).await;
    at_once(&store, "acme").await;
    settle().await;
    assert_eq!(store.inner().calls(), 2, "refreshed at 60% of the TTL");

    // Disabled: the entry expires and the next lookup reloads it.
    let store = cache(&["acme"], builder().refresh_ahead(0.0));
    store.find_by_id(&id("acme")).await.unwrap();
    tokio::time::advance(TTL * 99 / 100).await;
    at_once(&store, "acme").await;
    settle().await;
    assert_eq!(store.inner().calls(), 1, "no refresh ahead");
    tokio::time::advance(TTL / 50).await;
    store.find_by_id(&id("acme")).await.unwrap();
    assert_eq!(store.inner().calls(), 2, "reloaded on expiry");

    // Out-of-range fractions are clamped, NaN disables: no panic.
    for fraction in [f64::NAN, -1.0, 2.0, f64::INFINITY] {
        let store = cache(&["acme"], builder().refresh_ahead(fraction));
        assert!(store.find_by_id(&id("acme")).await.unwrap().is_some());
        at_once(&store, "acme").await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_refresh_keeps_the_value_and_retries_after_a_pause() {
    let store = cache(&["acme"], builder().retry_after(Duration::from_secs(1)));
    store.find_by_id(&id("acme")).await.unwrap();
    store.inner().set_failing(true);
    tokio::time::advance(TTL * 8 / 10).await;
    assert_eq!(at_once(&store, "acme").await.as_deref(), Some("acme"));
    settle().await;
    assert_eq!(store.inner().calls(), 2, "the refresh failed");

    // Within `retry_after`, lookups do not start another refresh.
    for _ in 0..10 {
        assert_eq!(at_once(&store, "acme").await.as_deref(), Some("acme"));
    }
    settle().await;
    assert_eq!(store.inner().calls(), 2);

    // After it, the next lookup retries; the store is back.
    store.inner().put("acme", "v2");
    store.inner().set_failing(false);
    tokio::time::advance(Duration::from_millis(1_100)).await;
    assert_eq!(at_once(&store, "acme").await.as_deref(), Some("acme"));
    settle().await;
    assert_eq!(store.inner().calls(), 3);
    assert_eq!(at_once(&store, "acme").await.as_deref(), Some("v2"));
}

#[tokio::test(start_paused = true)]
async fn a_refresh_that_finds_the_tenant_gone_forgets_it() {
    let store = cache(&["acme"], builder());
    store.find_by_id(&id("acme")).await.unwrap();
    store.inner().tenants.remove(&id("acme"));
    tokio::time::advance(TTL * 8 / 10).await;
    assert!(at_once(&store, "acme").await.is_some(), "served meanwhile");
    settle().await;
    assert!(at_once(&store, "acme").await.is_none(), "now known missing");
    assert_eq!(store.inner().calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_invalidation_during_a_refresh_wins() {
    let store = cache(&["acme"], builder());
    store.find_by_id(&id("acme")).await.unwrap();
    store.inner().set_delay(Duration::from_secs(1));
    tokio::time::advance(TTL * 8 / 10).await;
    at_once(&store, "acme").await;
    settle().await;
    // The tenant is renamed while the refresh (which read the old row) is in flight.
    store.inner().put("acme", "renamed");
    store.invalidate_tenant(&id("acme"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    settle().await;
    store.inner().set_delay(Duration::ZERO);
    assert_eq!(
        name(&store.find_by_id(&id("acme")).await.unwrap()),
        Some("renamed"),
        "the refresh's older answer was not cached"
    );
}
