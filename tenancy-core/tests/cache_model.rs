//! A model of `CachedStore`'s states for one key — fresh, due for a refresh,
//! expired (stale or reloaded), failed, negative — checked against the real
//! cache over random sequences of clock steps, store changes and outages.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests

mod support;

use std::time::Duration;

use proptest::prelude::*;
use support::{Instrumented, cache, id, settle};
use tenancy_core::{CacheBuilder, CachedStore, ManualClock, TenantKey, TenantStore};

const S: u64 = 1_000; // the model counts milliseconds
const TTL: u64 = 10 * S;
const REFRESH_AT: u64 = TTL * 3 / 4; // the default: the last quarter refreshes
const STALE_FOR: u64 = 20 * S;
const RETRY_AFTER: u64 = S;
const NEGATIVE_TTL: u64 = 5 * S;

#[derive(Debug, Clone)]
enum Op {
    Advance(u64),
    /// Creates (or renames) the tenant, or deletes it.
    Store(Option<u32>),
    Failing(bool),
    Find,
    FindCached,
    Invalidate,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::sample::select(vec![0, 250, 500, 1_000, 2_500, 5_000, 7_500, 12_000, 30_000])
            .prop_map(Op::Advance),
        1 => prop::option::weighted(0.8, 0..3u32).prop_map(Op::Store),
        2 => any::<bool>().prop_map(Op::Failing),
        5 => Just(Op::Find),
        3 => Just(Op::FindCached),
        1 => Just(Op::Invalidate),
    ]
}

/// A cached tenant: its version, when it was loaded, its last failed reload.
#[derive(Debug, Clone, Copy)]
struct Cached {
    version: u32,
    loaded: u64,
    failed: Option<u64>,
}

/// What the cache should hold, and what the store holds.
#[derive(Debug, Default)]
struct Model {
    now: u64,
    entry: Option<Cached>,
    negative_until: Option<u64>,
    unknown_failed: Option<u64>,
    store: Option<u32>,
    failing: bool,
    calls: usize,
}

/// A lookup's answer: a version, "unknown", or an error.
type Answer = Result<Option<u32>, ()>;

impl Model {
    fn recent(&self, failed: Option<u64>) -> bool {
        failed.is_some_and(|at| self.now < at + RETRY_AFTER)
    }

    /// One call to the store, as the cache records its outcome.
    fn call(&mut self) -> Answer {
        self.calls += 1;
        if self.failing {
            return Err(());
        }
        Ok(self.store)
    }

    fn loaded(&mut self, found: Option<u32>) {
        self.unknown_failed = None;
        match found {
            Some(version) => {
                self.entry = Some(Cached {
                    version,
                    loaded: self.now,
                    failed: None,
                });
            }
            None => {
                self.entry = None;
                self.negative_until = Some(self.now + NEGATIVE_TTL);
            }
        }
    }

    /// A refresh in the background (finished before the next step).
    fn refresh(&mut self) {
        match self.call() {
            Ok(found) => self.loaded(found),
            Err(()) => {
                let now = self.now;
                if let Some(entry) = &mut self.entry {
                    entry.failed = Some(now);
                }
            }
        }
    }

    /// A lookup; `inline` false models `find_cached`, which never calls the
    /// store itself: `None` when it would have to.
    fn lookup(&mut self, inline: bool) -> Option<Answer> {
        let now = self.now;
        if let Some(entry) = self.entry {
            let expires = entry.loaded + TTL;
            let recent = self.recent(entry.failed);
            if now < entry.loaded + REFRESH_AT || (now < expires && recent) {
                return Some(Ok(Some(entry.version)));
            }
            if now < expires {
                self.refresh();
                return Some(Ok(Some(entry.version)));
            }
            let stale_allowed = now < expires + STALE_FOR;
            match (entry.failed.is_some(), recent, stale_allowed) {
                (true, true, true) => return Some(Ok(Some(entry.version))),
                (true, true, false) => return inline.then_some(Err(())),
                (true, false, true) => {
                    self.refresh();
                    return Some(Ok(Some(entry.version)));
                }
                _ if !inline => return None,
                _ => {}
            }
            return Some(match self.call() {
                Ok(found) => {
                    self.loaded(found);
                    Ok(found)
                }
                Err(()) => {
                    self.entry = Some(Cached {
                        failed: Some(now),
                        ..entry
                    });
                    if stale_allowed {
                        Ok(Some(entry.version))
                    } else {
                        Err(())
                    }
                }
            });
        }
        if self.negative_until.is_some_and(|until| now < until) {
            return Some(Ok(None));
        }
        if !inline {
            return None;
        }
        if self.recent(self.unknown_failed) {
            return Some(Err(()));
        }
        Some(match self.call() {
            Ok(found) => {
                self.loaded(found);
                Ok(found)
            }
            Err(()) => {
                self.unknown_failed = Some(now);
                Err(())
            }
        })
    }
}

fn version(found: Option<tenancy_core::TenantRecord>) -> Option<u32> {
    found.map(|tenant| tenant.name.parse().unwrap())
}

async fn check(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let store: std::sync::Arc<CachedStore<Instrumented>> = cache(
        &[],
        CacheBuilder::new()
            .ttl(Duration::from_millis(TTL))
            .negative_ttl(Duration::from_millis(NEGATIVE_TTL))
            .stale_for(Duration::from_millis(STALE_FOR))
            .retry_after(Duration::from_millis(RETRY_AFTER))
            .clock(clock.clone()),
    );
    let key = TenantKey::Id(id("acme"));
    store.inner().put("acme", "0");
    let mut model = Model {
        store: Some(0),
        ..Model::default()
    };
    for (step, op) in ops.into_iter().enumerate() {
        match op {
            Op::Advance(ms) => {
                clock.advance(Duration::from_millis(ms));
                model.now += ms;
            }
            Op::Store(Some(version)) => {
                store.inner().put("acme", &version.to_string());
                model.store = Some(version);
            }
            Op::Store(None) => {
                store.inner().tenants.remove(&id("acme"));
                model.store = None;
            }
            Op::Failing(failing) => {
                store.inner().set_failing(failing);
                model.failing = failing;
            }
            Op::Invalidate => {
                store.invalidate_tenant(&id("acme"));
                model.entry = None;
                model.negative_until = None;
                model.unknown_failed = None;
            }
            Op::Find => {
                let expected = model.lookup(true).expect("an inline lookup answers");
                let actual = store.find(&key).await.map(version).map_err(|_| ());
                prop_assert_eq!(actual, expected, "step {}: {:?}", step, model);
            }
            Op::FindCached => {
                let expected = model.lookup(false).map(|answer| answer.ok());
                let actual = store.find_cached(&key).map(|found| Some(version(found)));
                prop_assert_eq!(actual, expected, "step {}: {:?}", step, model);
            }
        }
        settle().await;
        prop_assert_eq!(
            store.inner().calls(),
            model.calls,
            "step {}: {:?}",
            step,
            model
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn the_cache_follows_its_model(ops in prop::collection::vec(op(), 1..60)) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(check(ops))?;
    }
}
