//! `CachedStore` bounds concurrent lookups of uncached keys: a flood of
//! unknown tenants fails fast instead of taking the store from known ones.
//! Time is Tokio's paused clock, so waits are exact.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

mod support;

use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use support::{Instrumented, TokioClock, cache, id, name, settle};
use tenancy_core::{
    CacheBuilder, CachedStore, ManualClock, TenancyError, TenantRecord, TenantStore,
};
use tokio::time::Instant;

const TTL: Duration = Duration::from_secs(2);
const MISS_WAIT: Duration = Duration::from_millis(250);

fn builder() -> CacheBuilder {
    CacheBuilder::new()
        .ttl(TTL)
        .max_concurrent_misses(4)
        .miss_wait(MISS_WAIT)
        .clock(TokioClock::new())
}

type Outcome = (Result<Option<TenantRecord>, TenancyError>, Duration);

fn flood(
    store: &Arc<CachedStore<Instrumented>>,
    keys: Vec<String>,
) -> Vec<tokio::task::JoinHandle<Outcome>> {
    keys.into_iter()
        .map(|key| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                let started = Instant::now();
                let result = store.find_by_id(&id(&key)).await;
                (result, started.elapsed())
            })
        })
        .collect()
}

fn is_rejection(error: &TenancyError) -> bool {
    error.kind() == "StoreUnavailable"
        && std::error::Error::source(error)
            .map(ToString::to_string)
            .as_deref()
            == Some("too many concurrent lookups of uncached tenants")
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_unknown_keys_fails_fast_and_known_tenants_are_served() {
    let store = cache(&["acme", "globex", "initech"], builder());
    // acme will be expired during the flood, initech due for a refresh, globex fresh.
    store.find_by_id(&id("acme")).await.unwrap();
    tokio::time::advance(TTL + Duration::from_millis(100)).await;
    store.find_by_id(&id("initech")).await.unwrap();
    tokio::time::advance(TTL * 8 / 10).await;
    store.find_by_id(&id("globex")).await.unwrap();
    store.inner().set_delay(Duration::from_secs(1));

    let flooding = flood(&store, (0..100).map(|i| format!("unknown-{i}")).collect());
    settle().await;
    assert_eq!(
        store.inner().in_flight(),
        4,
        "four unknown keys in the store"
    );

    // Meanwhile: a fresh tenant answers at once, one due for a refresh too
    // (its refresh takes no miss slot), and an expired one is reloaded
    // without queueing behind the flood.
    let at_once = |tenant: &'static str| {
        let store = Arc::clone(&store);
        async move {
            tokio::time::timeout(Duration::from_millis(1), store.find_by_id(&id(tenant)))
                .await
                .expect("answered at once")
                .unwrap()
        }
    };
    assert_eq!(name(&at_once("globex").await), Some("globex"));
    assert_eq!(name(&at_once("initech").await), Some("initech"));
    let started = Instant::now();
    assert_eq!(
        name(&store.find_by_id(&id("acme")).await.unwrap()),
        Some("acme")
    );
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(1),
        "the expired tenant waited only for the store itself"
    );
    assert_eq!(
        store.inner().calls_for("initech"),
        2,
        "refreshed during the flood"
    );

    let mut found = 0;
    let mut rejected = 0;
    for task in flooding {
        let (result, elapsed) = task.await.unwrap();
        match result {
            Ok(None) => {
                found += 1;
                assert_eq!(elapsed, Duration::from_secs(1));
            }
            Err(error) => {
                assert!(is_rejection(&error), "{error:?}");
                assert_eq!(error.status(), 503);
                assert_eq!(elapsed, MISS_WAIT, "failed fast after `miss_wait`");
                rejected += 1;
            }
            Ok(Some(tenant)) => panic!("unexpected {tenant:?}"),
        }
    }
    assert_eq!((found, rejected), (4, 96));
    // Four unknown keys, plus acme's reload and initech's refresh.
    assert_eq!(store.inner().max_in_flight(), 6);
    assert_eq!(store.inner().calls(), 3 + 4 + 2);
    let stats = store.stats();
    assert_eq!(stats.rejected_misses, 96);
    assert_eq!(stats.misses, 3 + 4);
    assert_eq!(stats.refreshes, 2);
}

#[tokio::test(start_paused = true)]
async fn single_flight_still_applies_under_the_limit() {
    let store = cache(&[], builder());
    store.inner().set_delay(Duration::from_secs(1));
    let lookups = flood(&store, vec!["nobody".to_owned(); 100]);
    for task in lookups {
        assert!(task.await.unwrap().0.unwrap().is_none());
    }
    assert_eq!(
        store.inner().calls(),
        1,
        "100 lookups of one key, 1 store call"
    );
    assert_eq!(store.stats().rejected_misses, 0);
}

#[tokio::test(start_paused = true)]
async fn lookups_waiting_on_a_rejected_key_share_the_rejection() {
    let store = cache(&[], builder().max_concurrent_misses(1));
    store.inner().set_delay(Duration::from_secs(1));
    let first = flood(&store, vec!["first".to_owned()]);
    settle().await;
    let waiting = flood(&store, vec!["second".to_owned(); 20]);
    for task in waiting {
        let (result, elapsed) = task.await.unwrap();
        assert!(is_rejection(&result.unwrap_err()));
        assert_eq!(
            elapsed, MISS_WAIT,
            "all rejected together, not one after another"
        );
    }
    assert!(first.into_iter().next().unwrap().await.unwrap().0.is_ok());
    assert_eq!(store.stats().rejected_misses, 20);
    // A rejection is not remembered: with a free slot the key is looked up.
    store.inner().set_delay(Duration::ZERO);
    assert!(store.find_by_id(&id("second")).await.unwrap().is_none());
    assert_eq!(store.inner().calls_for("second"), 1);
}

#[tokio::test(start_paused = true)]
async fn zero_miss_wait_fails_at_once() {
    let store = cache(
        &[],
        builder().max_concurrent_misses(0).miss_wait(Duration::ZERO),
    );
    store.inner().set_delay(Duration::from_secs(1));
    let lookups = flood(&store, (0..10).map(|i| format!("k{i}")).collect());
    let mut rejected = 0;
    for task in lookups {
        let (result, elapsed) = task.await.unwrap();
        if let Err(error) = result {
            assert!(is_rejection(&error));
            assert_eq!(elapsed, Duration::ZERO);
            rejected += 1;
        }
    }
    assert_eq!(rejected, 9, "a limit of 0 counts as 1");
    assert_eq!(store.inner().max_in_flight(), 1);
}

#[test]
fn outside_a_tokio_runtime_nothing_panics_and_entries_simply_expire() {
    let clock = ManualClock::new();
    let store = cache(
        &["acme"],
        CacheBuilder::new()
            .ttl(TTL)
            .max_concurrent_misses(1)
            .clock(clock.clone()),
    );
    let lookup = |key: &str| block_on(store.find_by_id(&id(key)));
    assert!(lookup("acme").unwrap().is_some());
    assert!(lookup("nobody").unwrap().is_none());
    // Due for a refresh, but nothing to spawn it on: served, not refreshed.
    clock.advance(TTL * 9 / 10);
    assert!(lookup("acme").unwrap().is_some());
    assert_eq!(store.inner().calls(), 2);
    // Expired: reloaded by the lookup itself.
    clock.advance(TTL);
    assert!(lookup("acme").unwrap().is_some());
    assert_eq!(store.inner().calls(), 3);
    // Stale on error works too.
    store.inner().set_failing(true);
    clock.advance(TTL * 2);
    assert!(lookup("acme").unwrap().is_some());
    assert!(lookup("acme").unwrap().is_some());
    assert_eq!(
        store.inner().calls(),
        4,
        "retried no sooner than `retry_after`"
    );
    assert!(lookup("new").is_err());
}

/// Polls a future to completion on this thread, with no runtime around.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::yield_now();
    }
}
