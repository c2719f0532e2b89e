//! [`CachedStore`]: a bounded, TTL-based, single-flight cache over a store.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use moka::future::Cache;

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
///   the inner store.
/// - **Invalidation**: by tenant (which also drops the custom domains cached
///   for it), by domain, or everything; through the methods below or the
///   [`Invalidate`] trait. A lookup that races an invalidation is not cached.
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
/// store.invalidate_tenant(&acme).await;
/// assert!(store.find_by_id(&acme).await?.is_none());
/// # Ok(()) }
/// ```
pub struct CachedStore<S: TenantStore> {
    inner: S,
    found: Cache<TenantKey, S::Tenant>,
    missing: Cache<TenantKey, ()>,
    /// Custom domains cached per tenant, to drop them with the tenant.
    domains: Mutex<HashMap<TenantId, Vec<DomainName>>>,
    /// Bumped by every invalidation; a lookup that sees it move is not cached.
    generation: AtomicU64,
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
    capacity: u64,
    negative_capacity: u64,
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

    /// How long a found tenant stays cached (default 5 s).
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
    pub fn capacity(mut self, capacity: u64) -> Self {
        self.capacity = capacity;
        self
    }

    /// How many unknown keys are kept (default 10,000).
    #[must_use]
    pub fn negative_capacity(mut self, capacity: u64) -> Self {
        self.negative_capacity = capacity;
        self
    }

    /// Builds the cache in front of `inner`.
    pub fn build<S: TenantStore>(self, inner: S) -> CachedStore<S> {
        let negative_capacity = if self.negative_ttl.is_zero() {
            0
        } else {
            self.negative_capacity
        };
        CachedStore {
            inner,
            found: Cache::builder()
                .max_capacity(self.capacity)
                .time_to_live(self.ttl)
                .build(),
            missing: Cache::builder()
                .max_capacity(negative_capacity)
                .time_to_live(self.negative_ttl.max(Duration::from_millis(1)))
                .build(),
            domains: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }
}

/// Why a single-flight load produced no tenant.
#[derive(Debug)]
enum Miss {
    NotFound,
    Store(TenancyError),
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

    /// Forgets a tenant: its id, and every custom domain cached for it.
    pub async fn invalidate_tenant(&self, id: &TenantId) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let key = TenantKey::Id(id.clone());
        self.found.invalidate(&key).await;
        self.missing.invalidate(&key).await;
        let domains = self
            .domains
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
        for domain in domains.unwrap_or_default() {
            self.found.invalidate(&TenantKey::Domain(domain)).await;
        }
    }

    /// Forgets a custom domain (found or unknown).
    pub async fn invalidate_domain(&self, domain: &DomainName) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let key = TenantKey::Domain(domain.clone());
        self.found.invalidate(&key).await;
        self.missing.invalidate(&key).await;
    }

    /// Forgets everything.
    pub fn invalidate_all(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.found.invalidate_all();
        self.missing.invalidate_all();
        self.domains
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    async fn lookup(&self, key: &TenantKey) -> Result<Option<S::Tenant>, TenancyError> {
        if let Some(tenant) = self.found.get(key).await {
            return Ok(Some(tenant));
        }
        if self.missing.contains_key(key) {
            return Ok(None);
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let loaded = self
            .found
            .try_get_with_by_ref(key, async {
                match self.inner.find(key).await {
                    Ok(Some(tenant)) => Ok(tenant),
                    Ok(None) => Err(Miss::NotFound),
                    Err(error) => Err(Miss::Store(error)),
                }
            })
            .await;
        let raced = self.generation.load(Ordering::SeqCst) != generation;
        match loaded {
            Ok(tenant) => {
                if raced {
                    self.found.invalidate(key).await;
                } else if let TenantKey::Domain(domain) = key {
                    self.remember_domain(tenant.id(), domain);
                }
                Ok(Some(tenant))
            }
            Err(miss) => match &*miss {
                Miss::NotFound => {
                    if !raced {
                        self.missing.insert(key.clone(), ()).await;
                    }
                    Ok(None)
                }
                Miss::Store(_) => Err(TenancyError::unavailable(SharedMiss(miss))),
            },
        }
    }

    fn remember_domain(&self, id: &TenantId, domain: &DomainName) {
        let mut domains = self.domains.lock().unwrap_or_else(PoisonError::into_inner);
        let cached = domains.entry(id.clone()).or_default();
        if !cached.contains(domain) {
            cached.push(domain.clone());
        }
    }
}

/// A store error shared between the waiters of one load.
struct SharedMiss(Arc<Miss>);

impl fmt::Debug for SharedMiss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for SharedMiss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the tenant lookup failed")
    }
}

impl std::error::Error for SharedMiss {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.0 {
            Miss::NotFound => None,
            Miss::Store(error) => Some(error),
        }
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
}

impl<S: TenantStore> Invalidate for CachedStore<S> {
    fn invalidate<'a>(&'a self, event: &'a Invalidation) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            match event {
                Invalidation::Tenant(id) => self.invalidate_tenant(id).await,
                Invalidation::Domain(domain) => self.invalidate_domain(domain).await,
                Invalidation::All => self.invalidate_all(),
            }
        })
    }
}

impl<S: TenantStore + fmt::Debug> fmt::Debug for CachedStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedStore")
            .field("inner", &self.inner)
            .field("found", &self.found.entry_count())
            .field("missing", &self.missing.entry_count())
            .finish()
    }
}
