//! An instrumented in-memory store (counters, delays, failures) and a clock
//! that follows Tokio's (pausable) time, shared by the cache tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // not every test uses every helper

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tenancy_core::{
    CacheBuilder, CachedStore, Clock, DomainName, InMemoryStore, TenancyError, TenantId, TenantKey,
    TenantRecord, TenantStore,
};

/// An in-memory store that counts calls (in total, per key, and at once),
/// can be slowed down and can fail.
#[derive(Default)]
pub(crate) struct Instrumented {
    pub(crate) tenants: InMemoryStore,
    calls: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    delay_ms: AtomicU64,
    failing: AtomicBool,
    calls_by_key: Mutex<HashMap<String, usize>>,
}

impl Instrumented {
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub(crate) fn calls_for(&self, key: &str) -> usize {
        self.calls_by_key
            .lock()
            .unwrap()
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// The most calls that were in the store at the same time.
    pub(crate) fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    pub(crate) fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    pub(crate) fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Adds or replaces a tenant named `name`.
    pub(crate) fn put(&self, tenant: &str, name: &str) {
        self.tenants.insert(TenantRecord::new(id(tenant), name));
    }

    async fn call<T>(&self, key: &TenantKey, found: T) -> Result<T, TenancyError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        *self
            .calls_by_key
            .lock()
            .unwrap()
            .entry(key.to_string())
            .or_default() += 1;
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let _leave = Leave(&self.in_flight);
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(TenancyError::unavailable(std::io::Error::other(
                "registry down",
            )));
        }
        Ok(found)
    }
}

/// Leaves the in-flight count even if the call is cancelled.
struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl TenantStore for Instrumented {
    type Tenant = TenantRecord;

    // Read first, then wait: a slow store answers with what it read at the start.
    async fn find_by_id(&self, id: &TenantId) -> Result<Option<TenantRecord>, TenancyError> {
        let found = self.tenants.find_by_id(id).await?;
        self.call(&TenantKey::Id(id.clone()), found).await
    }

    async fn find_by_domain(
        &self,
        domain: &DomainName,
    ) -> Result<Option<TenantRecord>, TenancyError> {
        let found = self.tenants.find_by_domain(domain).await?;
        self.call(&TenantKey::Domain(domain.clone()), found).await
    }
}

/// The cache's clock, following Tokio's: paused in `start_paused` tests, it
/// moves only with `tokio::time::advance` or when every task sleeps.
#[derive(Debug)]
pub(crate) struct TokioClock(tokio::time::Instant);

impl TokioClock {
    pub(crate) fn new() -> Self {
        Self(tokio::time::Instant::now())
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

pub(crate) fn id(text: &str) -> TenantId {
    TenantId::new(text).unwrap()
}

/// A cache over an instrumented store holding `tenants` (named after their id).
pub(crate) fn cache(tenants: &[&str], builder: CacheBuilder) -> Arc<CachedStore<Instrumented>> {
    let store = Instrumented::default();
    for tenant in tenants {
        store.put(tenant, tenant);
    }
    Arc::new(builder.build(store))
}

/// The name of the tenant a lookup found.
pub(crate) fn name(found: &Option<TenantRecord>) -> Option<&str> {
    found.as_ref().map(|tenant| &*tenant.name)
}

/// Lets spawned tasks (refreshes) run on a current-thread runtime.
pub(crate) async fn settle() {
    for _ in 0..8 {
        tokio::task::yield_now().await;
    }
}
