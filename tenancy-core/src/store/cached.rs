//! [`CachedStore`]: a bounded, TTL-based, single-flight cache over a store.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

// A coarse monotonic clock (CLOCK_MONOTONIC_COARSE: a few ms of resolution,
// several times cheaper to read than `std::time::Instant`), for TTLs only.
use coarsetime::Instant;

use quick_cache::sync::Cache;

use super::TenantStore;
use super::invalidate::{BoxFuture, Invalidate, Invalidation};
use crate::domain::DomainName;
use crate::error::TenancyError;
use crate::id::TenantId;
use crate::key::TenantKey;
use crate::tenant::Tenant;

/// Caches the answers of another [`TenantStore`].
///
/// - **TTL**: found tenants expire after [`ttl`](CacheBuilder::ttl) (default
///   5 s), so changes made by other processes show up within it even without
///   change notifications.
/// - **Negative caching**: unknown keys are remembered for
///   [`negative_ttl`](CacheBuilder::negative_ttl) (default 5 s), so a flood of
///   requests for a missing tenant does not reach the store.
/// - **Bounded, and safe against key floods**: found tenants and unknown keys
///   live in two separate bounded caches. Attacker-chosen hosts can only ever
///   produce unknown keys, so they can evict each other but never a real tenant.
/// - **Single flight**: concurrent lookups of one key share a single call to
///   the inner store (and share its error, if it fails; errors are not cached).
/// - **Invalidation**: by tenant (which also drops the custom domains cached
///   for it), by domain, or everything; through the methods below or the
///   [`Invalidate`] trait. A lookup that races an invalidation is not cached.
///
/// The cache is [`quick_cache`](https://docs.rs/quick_cache)'s concurrent
/// S3-FIFO-style cache, which is also resistant to scans.
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
    inner: S,
    settings: CacheBuilder,
    found: Cache<TenantKey, Found<S::Tenant>>,
    missing: Cache<TenantKey, Instant>,
    /// Recent store failures, shared with lookups that waited on the failing one.
    failed: Cache<TenantKey, Failure>,
    /// Custom domains cached per tenant, to drop them with the tenant.
    domains: Mutex<HashMap<TenantId, Vec<DomainName>>>,
    /// Bumped by every invalidation; a lookup that sees it move is not cached.
    generation: AtomicU64,
    /// Bumped by every recorded failure; a lookup shares only failures
    /// recorded after it started.
    failures: AtomicU64,
}

#[derive(Clone)]
struct Found<T> {
    tenant: T,
    expires: Instant,
}

#[derive(Clone)]
struct Failure {
    /// The value of `CachedStore::failures` when it was recorded.
    seq: u64,
    error: Arc<TenancyError>,
}

/// Configures a [`CachedStore`].
///
/// ```
/// use std::time::Duration;
/// use tenancy_core::{CacheBuilder, InMemoryStore};
///
/// let store = CacheBuilder::new()
///     .ttl(Duration::from_secs(30))
///     .negative_ttl(Duration::from_secs(2))
///     .capacity(100_000)
///     .negative_capacity(10_000)
///     .build(InMemoryStore::new());
/// # let _ = store;
/// ```
#[derive(Debug, Clone)]
pub struct CacheBuilder {
    ttl: Duration,
    negative_ttl: Duration,
    capacity: usize,
    negative_capacity: usize,
}

impl Default for CacheBuilder {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(5),
            negative_ttl: Duration::from_secs(5),
            capacity: 10_000,
            negative_capacity: 10_000,
        }
    }
}

impl CacheBuilder {
    /// A builder with the default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long a found tenant stays cached (default 5 s; zero disables caching).
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long an unknown key stays cached (default 5 s; zero disables negative caching).
    #[must_use]
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// How many found tenants (by id or domain) are kept (default 10,000).
    #[must_use]
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// How many unknown keys are kept (default 10,000).
    #[must_use]
    pub fn negative_capacity(mut self, capacity: usize) -> Self {
        self.negative_capacity = capacity;
        self
    }

    /// Builds the cache in front of `inner`.
    pub fn build<S: TenantStore>(self, inner: S) -> CachedStore<S> {
        CachedStore {
            inner,
            found: Cache::new(self.capacity.max(1)),
            missing: Cache::new(self.negative_capacity.max(1)),
            failed: Cache::new(1_024),
            domains: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            settings: self,
        }
    }
}

impl<S: TenantStore> CachedStore<S> {
    /// A cache with default settings in front of `inner`.
    pub fn new(inner: S) -> Self {
        CacheBuilder::default().build(inner)
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The number of found tenants and of unknown keys currently cached.
    pub fn len(&self) -> (usize, usize) {
        (self.found.len(), self.missing.len())
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty() && self.missing.is_empty()
    }

    /// Forgets a tenant: its id, and every custom domain cached for it.
    pub fn invalidate_tenant(&self, id: &TenantId) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let key = TenantKey::Id(id.clone());
        self.forget(&key);
        let domains = self.lock_domains().remove(id);
        for domain in domains.unwrap_or_default() {
            self.forget(&TenantKey::Domain(domain));
        }
    }

    /// Forgets a custom domain (found or unknown).
    pub fn invalidate_domain(&self, domain: &DomainName) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.forget(&TenantKey::Domain(domain.clone()));
    }

    /// Forgets everything.
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.found.clear();
        self.missing.clear();
        self.failed.clear();
        self.lock_domains().clear();
    }

    fn forget(&self, key: &TenantKey) {
        self.found.remove(key);
        self.missing.remove(key);
        self.failed.remove(key);
    }

    fn lock_domains(&self) -> std::sync::MutexGuard<'_, HashMap<TenantId, Vec<DomainName>>> {
        self.domains.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The hot path: a fresh cached answer, without touching the inner store.
    fn cached(&self, key: &TenantKey, now: Instant) -> Option<Option<S::Tenant>> {
        match self.found.get(key) {
            Some(found) if found.expires > now => return Some(Some(found.tenant)),
            Some(_) => {
                self.found.remove_if(key, |found| found.expires <= now);
            }
            None => {}
        }
        self.is_known_missing(key, now).then_some(None)
    }

    async fn lookup(&self, key: &TenantKey) -> Result<Option<S::Tenant>, TenancyError> {
        if self.settings.ttl.is_zero() {
            return self.inner.find(key).await;
        }
        let started = Instant::now_without_cache_update();
        if let Some(answer) = self.cached(key, started) {
            return Ok(answer);
        }
        // Boxed so that the hot path's future stays small.
        Box::pin(self.load(key, started)).await
    }

    /// The slow path: one lookup per key reaches the inner store (single flight).
    async fn load(
        &self,
        key: &TenantKey,
        started: Instant,
    ) -> Result<Option<S::Tenant>, TenancyError> {
        let generation = self.generation.load(Ordering::SeqCst);
        let failures_seen = self.failures.load(Ordering::SeqCst);
        let guard = match self.found.get_value_or_guard_async(key).await {
            // Filled by the concurrent lookup we waited for.
            Ok(found) => return Ok(Some(found.tenant)),
            Err(guard) => guard,
        };
        // A concurrent lookup we waited for may have found nothing or failed.
        if self.is_known_missing(key, started) {
            return Ok(None);
        }
        if let Some(failure) = self
            .failed
            .get(key)
            .filter(|failure| failure.seq >= failures_seen)
        {
            return Err(shared(failure.error));
        }
        let result = self.inner.find(key).await;
        let raced = self.generation.load(Ordering::SeqCst) != generation;
        match result {
            Ok(Some(tenant)) => {
                if !raced {
                    let expires = Instant::now_without_cache_update() + self.settings.ttl.into();
                    // Refused only if another value won the slot, which is fine.
                    let _ = guard.insert(Found {
                        tenant: tenant.clone(),
                        expires,
                    });
                    if let TenantKey::Domain(domain) = key {
                        self.remember_domain(tenant.id(), domain);
                    }
                }
                Ok(Some(tenant))
            }
            Ok(None) => {
                if !raced && !self.settings.negative_ttl.is_zero() {
                    self.missing.insert(
                        key.clone(),
                        Instant::now_without_cache_update() + self.settings.negative_ttl.into(),
                    );
                }
                drop(guard);
                Ok(None)
            }
            Err(error) => {
                let error = Arc::new(error);
                self.failed.insert(
                    key.clone(),
                    Failure {
                        seq: self.failures.fetch_add(1, Ordering::SeqCst),
                        error: Arc::clone(&error),
                    },
                );
                drop(guard);
                Err(shared(error))
            }
        }
    }

    fn is_known_missing(&self, key: &TenantKey, now: Instant) -> bool {
        match self.missing.get(key) {
            Some(expires) if expires > now => true,
            Some(_) => {
                self.missing.remove_if(key, |expires| *expires <= now);
                false
            }
            None => false,
        }
    }

    fn remember_domain(&self, id: &TenantId, domain: &DomainName) {
        let mut domains = self.lock_domains();
        let cached = domains.entry(id.clone()).or_default();
        if !cached.contains(domain) {
            cached.push(domain.clone());
        }
    }
}

/// Wraps a store error that several lookups share.
fn shared(error: Arc<TenancyError>) -> TenancyError {
    TenancyError::unavailable(SharedError(error))
}

/// A store error shared between the lookups that waited for one load.
#[derive(Debug)]
struct SharedError(Arc<TenancyError>);

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the tenant lookup failed")
    }
}

impl std::error::Error for SharedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

impl<S: TenantStore> TenantStore for CachedStore<S> {
    type Tenant = S::Tenant;

    async fn find_by_id(&self, id: &TenantId) -> Result<Option<S::Tenant>, TenancyError> {
        self.lookup(&TenantKey::Id(id.clone())).await
    }

    async fn find_by_domain(&self, domain: &DomainName) -> Result<Option<S::Tenant>, TenancyError> {
        self.lookup(&TenantKey::Domain(domain.clone())).await
    }

    async fn find(&self, key: &TenantKey) -> Result<Option<S::Tenant>, TenancyError> {
        self.lookup(key).await
    }

    fn find_cached(&self, key: &TenantKey) -> Option<Option<S::Tenant>> {
        if self.settings.ttl.is_zero() {
            return None;
        }
        self.cached(key, Instant::now_without_cache_update())
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
        f.debug_struct("CachedStore")
            .field("inner", &self.inner)
            .field("settings", &self.settings)
            .field("found", &self.found.len())
            .field("missing", &self.missing.len())
            .finish()
    }
}
