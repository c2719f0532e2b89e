//! [`CachedStore`]: a bounded, TTL-based, single-flight cache over a store,
//! that keeps serving through store failures and floods of unknown keys.

mod builder;
mod clock;
mod entry;
mod error;
mod lookup;
mod refresh;
mod stats;

pub use builder::CacheBuilder;
pub use clock::{Clock, ManualClock};
pub use stats::CacheStats;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use quick_cache::sync::Cache;
use tokio::sync::Semaphore;

use self::entry::{Entry, Failure, Lifetimes};
use self::stats::Counters;
use super::TenantStore;
use super::invalidate::{BoxFuture, Invalidate, Invalidation};
use crate::domain::DomainName;
use crate::error::TenancyError;
use crate::id::TenantId;
use crate::key::TenantKey;

/// Caches the answers of another [`TenantStore`], and keeps answering when
/// it is slow, down, or flooded with unknown keys.
///
/// - **TTL**: found tenants expire after [`ttl`](CacheBuilder::ttl) (default
///   5 s), so changes made by other processes show up within it even without
///   change notifications.
/// - **Refresh ahead**: a tenant looked up in the last quarter of its TTL
///   ([`refresh_ahead`](CacheBuilder::refresh_ahead)) is served at once and
///   refreshed by a spawned task, at most one per key: a tenant in steady use
///   never waits on the store.
/// - **Stale on error**: when reloading an expired tenant fails, the expired
///   tenant is served (and the failure logged) for up to
///   [`stale_for`](CacheBuilder::stale_for) (default 5 minutes) after its
///   expiry; beyond that the error is returned. A failing key is retried no
///   sooner than [`retry_after`](CacheBuilder::retry_after) (default 1 s),
///   in the background while its stale tenant is served. An expired tenant
///   whose refresh is still in flight is served stale too.
/// - **Negative caching**: unknown keys are remembered for
///   [`negative_ttl`](CacheBuilder::negative_ttl) (default 5 s), so a flood of
///   requests for a missing tenant does not reach the store. They are never
///   served stale.
/// - **Bounded, and safe against key floods**: found tenants and unknown keys
///   live in two separate bounded caches. Attacker-chosen hosts can only ever
///   produce unknown keys, so they can evict each other but never a real
///   tenant. At most [`max_concurrent_misses`](CacheBuilder::max_concurrent_misses)
///   (default 4) lookups of uncached keys are in the store at once; others
///   wait up to [`miss_wait`](CacheBuilder::miss_wait) (default 250 ms), then
///   fail with [`TenancyError::StoreUnavailable`]. Known tenants never wait
///   for those slots.
/// - **Single flight**: concurrent lookups of one key share a single call to
///   the inner store (and share its error, if it fails).
/// - **Invalidation**: by tenant (which also drops the custom domains cached
///   for it), by domain, or everything; through the methods below or the
///   [`Invalidate`] trait. A lookup or refresh that races an invalidation is
///   not cached, and an invalidated tenant is never served stale.
/// - **Observable**: [`stats`](Self::stats) counts hits, misses, stale
///   answers, refreshes and rejected misses.
///
/// The cache is [`quick_cache`](https://docs.rs/quick_cache)'s concurrent
/// S3-FIFO-style cache, which is also resistant to scans. Refreshes ahead
/// are spawned on the current Tokio runtime; without one, entries simply
/// expire and are reloaded by the next lookup.
///
/// ```
/// use tenancy_core::{CachedStore, InMemoryStore, TenantId, TenantRecord, TenantStore};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let acme = TenantId::new("acme")?;
/// let store = CachedStore::new(InMemoryStore::from_iter([TenantRecord::new(acme.clone(), "Acme")]));
/// assert!(store.find_by_id(&acme).await?.is_some());
///
/// store.inner().remove(&acme);
/// assert!(store.find_by_id(&acme).await?.is_some(), "still cached");
/// store.invalidate_tenant(&acme);
/// assert!(store.find_by_id(&acme).await?.is_none());
/// # Ok(()) }
/// ```
pub struct CachedStore<S: TenantStore> {
    shared: Arc<Shared<S>>,
}

/// The cache's state, shared with the refresh tasks it spawns.
struct Shared<S: TenantStore> {
    inner: S,
    settings: CacheBuilder,
    lifetimes: Lifetimes,
    /// Found tenants, kept past their expiry for serving stale.
    found: Cache<TenantKey, Entry<S::Tenant>>,
    /// Unknown keys, with their expiry.
    missing: Cache<TenantKey, Duration>,
    /// Recent store failures for keys not in `found`, shared with lookups
    /// that waited on the failing one and, for `retry_after`, with later ones.
    failed: Cache<TenantKey, Arc<Failure>>,
    /// Custom domains cached per tenant, to drop them with the tenant.
    domains: Mutex<HashMap<TenantId, Vec<DomainName>>>,
    /// Keys with a refresh in flight.
    refreshing: Mutex<HashSet<TenantKey>>,
    /// Slots for lookups of uncached keys.
    miss_slots: Semaphore,
    /// Bumped by every invalidation; a lookup that sees it move is not cached.
    generation: AtomicU64,
    /// Bumped by every recorded failure; a lookup shares only failures
    /// recorded after it started (or within `retry_after`).
    failures: AtomicU64,
    counters: Counters,
}

impl<S: TenantStore> Shared<S> {
    fn new(inner: S, settings: CacheBuilder) -> Self {
        let slots = settings
            .max_concurrent_misses
            .clamp(1, Semaphore::MAX_PERMITS);
        Self {
            inner,
            lifetimes: Lifetimes {
                refresh_after: settings.refresh_after(),
                ttl: settings.ttl,
                stale_for: settings.stale_for,
            },
            found: Cache::new(settings.capacity.max(1)),
            missing: Cache::new(settings.negative_capacity.max(1)),
            failed: Cache::new(1_024),
            domains: Mutex::new(HashMap::new()),
            refreshing: Mutex::new(HashSet::new()),
            miss_slots: Semaphore::new(slots),
            generation: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            counters: Counters::default(),
            settings,
        }
    }

    fn now(&self) -> Duration {
        self.settings.clock.now()
    }

    fn lock_domains(&self) -> MutexGuard<'_, HashMap<TenantId, Vec<DomainName>>> {
        self.domains.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_refreshing(&self) -> MutexGuard<'_, HashSet<TenantKey>> {
        self.refreshing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn forget(&self, key: &TenantKey) {
        self.found.remove(key);
        self.missing.remove(key);
        self.failed.remove(key);
    }
}

impl<S: TenantStore + 'static> CachedStore<S> {
    /// A cache with default settings in front of `inner`.
    pub fn new(inner: S) -> Self {
        CacheBuilder::default().build(inner)
    }
}

impl<S: TenantStore> CachedStore<S> {
    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.shared.inner
    }

    /// The number of found tenants (including expired ones kept for serving
    /// stale) and of unknown keys currently cached.
    pub fn len(&self) -> (usize, usize) {
        (self.shared.found.len(), self.shared.missing.len())
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.shared.found.is_empty() && self.shared.missing.is_empty()
    }

    /// What the cache has done so far: hits, misses, stale answers,
    /// refreshes and rejected misses.
    pub fn stats(&self) -> CacheStats {
        self.shared.counters.snapshot()
    }

    /// Forgets a tenant: its id, and every custom domain cached for it.
    pub fn invalidate_tenant(&self, id: &TenantId) {
        let shared = &self.shared;
        shared.generation.fetch_add(1, Ordering::SeqCst);
        shared.forget(&TenantKey::Id(id.clone()));
        let domains = shared.lock_domains().remove(id);
        for domain in domains.unwrap_or_default() {
            shared.forget(&TenantKey::Domain(domain));
        }
    }

    /// Forgets a custom domain (found or unknown).
    pub fn invalidate_domain(&self, domain: &DomainName) {
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        self.shared.forget(&TenantKey::Domain(domain.clone()));
    }

    /// Forgets everything.
    pub fn invalidate_all(&self) {
        let shared = &self.shared;
        shared.generation.fetch_add(1, Ordering::SeqCst);
        shared.found.clear();
        shared.missing.clear();
        shared.failed.clear();
        shared.lock_domains().clear();
    }
}

impl<S: TenantStore + 'static> TenantStore for CachedStore<S> {
    type Tenant = S::Tenant;

    async fn find_by_id(&self, id: &TenantId) -> Result<Option<S::Tenant>, TenancyError> {
        self.shared.lookup(&TenantKey::Id(id.clone())).await
    }

    async fn find_by_domain(&self, domain: &DomainName) -> Result<Option<S::Tenant>, TenancyError> {
        self.shared.lookup(&TenantKey::Domain(domain.clone())).await
    }

    async fn find(&self, key: &TenantKey) -> Result<Option<S::Tenant>, TenancyError> {
        self.shared.lookup(key).await
    }

    fn find_cached(&self, key: &TenantKey) -> Option<Option<S::Tenant>> {
        self.shared.find_cached(key)
    }
}

impl<S: TenantStore> Invalidate for CachedStore<S> {
    fn invalidate<'a>(&'a self, event: &'a Invalidation) -> BoxFuture<'a, ()> {
        match event {
            Invalidation::Tenant(id) => self.invalidate_tenant(id),
            Invalidation::Domain(domain) => self.invalidate_domain(domain),
            Invalidation::All => self.invalidate_all(),
        }
        Box::pin(std::future::ready(()))
    }
}

impl<S: TenantStore + fmt::Debug> fmt::Debug for CachedStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.shared;
        f.debug_struct("CachedStore")
            .field("inner", &shared.inner)
            .field("settings", &shared.settings)
            .field("found", &shared.found.len())
            .field("missing", &shared.missing.len())
            .field("stats", &shared.counters.snapshot())
            .finish()
    }
}
