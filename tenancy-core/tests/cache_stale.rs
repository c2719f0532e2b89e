//! `CachedStore` keeps known tenants resolving through a store outage, for a
//! bounded time, without hammering the failing store; unknown keys are never
//! served stale. Time is Tokio's paused clock (or a `ManualClock`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

mod support;

use std::time::Duration;

use support::{Instrumented, TokioClock, cache, id, name, settle};
use tenancy_core::{CacheBuilder, CachedStore, ManualClock, TenancyError, TenantStore};

const TTL: Duration = Duration::from_secs(10);
const STALE_FOR: Duration = Duration::from_secs(60);

fn builder() -> CacheBuilder {
    CacheBuilder::new()
        .ttl(TTL)
        .negative_ttl(TTL)
        .stale_for(STALE_FOR)
        .retry_after(Duration::from_secs(1))
        .clock(TokioClock::new())
}

async fn find(
    store: &CachedStore<Instrumented>,
    tenant: &str,
) -> Result<Option<String>, TenancyError> {
    store
        .find_by_id(&id(tenant))
        .await
        .map(|found| name(&found).map(str::to_owned))
}

fn assert_unavailable(result: Result<Option<String>, TenancyError>) {
    let error = result.expect_err("the store's error");
    assert_eq!(error.kind(), "StoreUnavailable", "{error:?}");
}

#[tokio::test(start_paused = true)]
async fn expired_tenants_are_served_stale_until_the_bound_then_the_error() {
    let store = cache(&["acme"], builder());
    assert_eq!(find(&store, "acme").await.unwrap().as_deref(), Some("acme"));
    assert_eq!(find(&store, "nobody").await.unwrap(), None);
    store.inner().set_failing(true);
    tokio::time::advance(TTL + Duration::from_secs(1)).await;

    // The expired tenant is served; the store was asked once.
    assert_eq!(find(&store, "acme").await.unwrap().as_deref(), Some("acme"));
    assert_eq!(store.inner().calls_for("acme"), 2);
    // The unknown key is not: its negative entry expired.
    assert_unavailable(find(&store, "nobody").await);
    assert_eq!(store.inner().calls_for("nobody"), 2);

    // Within `retry_after`, nothing reaches the store.
    for _ in 0..20 {
        assert_eq!(find(&store, "acme").await.unwrap().as_deref(), Some("acme"));
        assert_unavailable(find(&store, "nobody").await);
    }
    settle().await;
    assert_eq!(store.inner().calls(), 4, "a failing key is not hammered");

    // Every second or so one retry, in the background for the known tenant.
    let mut last = store.inner().calls_for("acme");
    for _ in 0..10 {
        tokio::time::advance(Duration::from_millis(1_500)).await;
        for _ in 0..5 {
            assert_eq!(find(&store, "acme").await.unwrap().as_deref(), Some("acme"));
        }
        settle().await;
        let calls = store.inner().calls_for("acme");
        assert_eq!(calls, last + 1, "one retry per `retry_after`");
        last = calls;
    }
    assert!(store.stats().stale_served >= 70, "{:?}", store.stats());

    // Past the stale bound: the error.
    tokio::time::advance(STALE_FOR).await;
    assert_unavailable(find(&store, "acme").await);
    assert_unavailable(find(&store, "acme").await);
    let error = find(&store, "acme").await.unwrap_err();
    let shared = std::error::Error::source(&error).expect("the shared failure");
    let cause = std::error::Error::source(shared).expect("the store's own error");
    assert_eq!(cause.to_string(), "the tenant store is unavailable");
}

#[tokio::test(start_paused = true)]
async fn the_store_coming_back_heals_everything_without_a_restart() {
    let store = cache(&["acme"], builder());
    find(&store, "acme").await.unwrap();
    assert_eq!(
        find(&store, "initech").await.unwrap(),
        None,
        "unknown, cached"
    );
    store.inner().set_failing(true);
    tokio::time::advance(TTL * 2).await;
    assert_eq!(find(&store, "acme").await.unwrap().as_deref(), Some("acme"));
    assert_unavailable(find(&store, "initech").await);

    // A tenant is created and acme renamed during the outage; then the store is back.
    store.inner().put("initech", "Initech");
    store.inner().put("acme", "Acme 2");
    store.inner().set_failing(false);
    tokio::time::advance(Duration::from_millis(1_100)).await;
    // The first lookup still gets the stale tenant while the retry runs.
    assert_eq!(find(&store, "acme").await.unwrap().as_deref(), Some("acme"));
    settle().await;
    assert_eq!(
        find(&store, "acme").await.unwrap().as_deref(),
        Some("Acme 2")
    );
    assert_eq!(
        find(&store, "initech").await.unwrap().as_deref(),
        Some("Initech"),
        "a tenant created during the outage appears once the store is back"
    );
    let stats = store.stats();
    assert!(stats.stale_served >= 2, "{stats:?}");
}

#[tokio::test(start_paused = true)]
async fn during_an_outage_a_slow_failing_store_delays_only_the_first_lookup() {
    let store = cache(&["acme"], builder());
    find(&store, "acme").await.unwrap();
    store.inner().set_failing(true);
    store.inner().set_delay(Duration::from_secs(3));
    tokio::time::advance(TTL + Duration::from_secs(1)).await;

    // The first lookup after expiry waits for the failure, then gets the stale tenant.
    let started = tokio::time::Instant::now();
    assert_eq!(find(&store, "acme").await.unwrap().as_deref(), Some("acme"));
    assert_eq!(started.elapsed(), Duration::from_secs(3));

    // From then on, lookups are answered at once: retries run in the background.
    for _ in 0..20 {
        tokio::time::advance(Duration::from_millis(700)).await;
        let found = tokio::time::timeout(Duration::from_millis(1), find(&store, "acme"))
            .await
            .expect("no lookup waits on the failing store");
        assert_eq!(found.unwrap().as_deref(), Some("acme"));
    }
}

#[tokio::test(start_paused = true)]
async fn concurrent_lookups_of_an_expired_tenant_share_one_failing_reload() {
    let store = cache(&["acme"], builder());
    find(&store, "acme").await.unwrap();
    store.inner().set_failing(true);
    store.inner().set_delay(Duration::from_secs(1));
    tokio::time::advance(TTL + Duration::from_secs(1)).await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { find(&store, "acme").await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().as_deref(), Some("acme"));
    }
    assert_eq!(store.inner().calls(), 2, "one load, one failing reload");
    assert_eq!(store.stats().stale_served, 50);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_reload_keeps_the_stale_tenant() {
    let store = cache(&["acme"], builder());
    find(&store, "acme").await.unwrap();
    store.inner().set_failing(true);
    store.inner().set_delay(Duration::from_secs(5));
    tokio::time::advance(TTL + Duration::from_secs(1)).await;
    // A client gives up while the reload hangs.
    let gave_up = tokio::time::timeout(Duration::from_secs(1), find(&store, "acme")).await;
    assert!(gave_up.is_err());
    store.inner().set_delay(Duration::ZERO);
    assert_eq!(
        find(&store, "acme").await.unwrap().as_deref(),
        Some("acme"),
        "the expired tenant was put back"
    );
}

#[tokio::test]
async fn invalidated_tenants_are_never_served_stale() {
    let clock = ManualClock::new();
    let store = cache(&["acme"], builder().clock(clock.clone()));
    find(&store, "acme").await.unwrap();
    store.inner().set_failing(true);
    store.invalidate_tenant(&id("acme"));
    clock.advance(TTL + Duration::from_secs(1));
    assert_unavailable(find(&store, "acme").await);
}

#[tokio::test]
async fn zero_stale_for_returns_errors_at_expiry() {
    let clock = ManualClock::new();
    let store = cache(
        &["acme"],
        builder().stale_for(Duration::ZERO).clock(clock.clone()),
    );
    find(&store, "acme").await.unwrap();
    store.inner().set_failing(true);
    clock.advance(TTL);
    assert_unavailable(find(&store, "acme").await);
    assert_eq!(store.stats().stale_served, 0);
}
