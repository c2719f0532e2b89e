//! [`Fixture`], [`Backend`] and [`Store`]: the tenants, store and pipeline
//! every conformance case starts from.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crate::{
    CachedStore, ChainResolver, DomainName, HeaderResolver, InMemoryStore, Invalidate,
    Invalidation, PathPrefixResolver, SubdomainResolver, Tenancy, TenancyError, TenantId,
    TenantRecord, TenantStore,
};

/// The store the adapters run against: a cache in front of a controllable
/// [`Backend`].
pub type Store = Arc<CachedStore<Arc<Backend>>>;

/// An in-memory registry that can be made slow or unavailable, and counts
/// its lookups.
#[derive(Debug, Default)]
pub struct Backend {
    /// The registry's tenants and custom domains.
    pub tenants: InMemoryStore,
    failing: AtomicBool,
    delay_ms: AtomicU64,
    lookups: AtomicUsize,
}

/// The source of the backend's `StoreUnavailable` errors; its text must
/// never reach a client.
#[derive(Debug)]
struct Down;

impl std::fmt::Display for Down {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("secret-connection-string: connection refused")
    }
}

impl std::error::Error for Down {}

impl Backend {
    /// Makes every lookup fail with `StoreUnavailable` (or succeed again).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Makes every lookup wait `delay` first (whole milliseconds).
    pub fn set_delay(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.delay_ms.store(millis, Ordering::SeqCst);
    }

    /// How many lookups the backend was asked for so far.
    pub fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }

    async fn before_lookup(&self) -> Result<(), TenancyError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if self.failing.load(Ordering::SeqCst) {
            return Err(TenancyError::unavailable(Down));
        }
        Ok(())
    }
}

impl TenantStore for Backend {
    type Tenant = TenantRecord;

    async fn find_by_id(&self, id: &TenantId) -> Result<Option<TenantRecord>, TenancyError> {
        self.before_lookup().await?;
        self.tenants.find_by_id(id).await
    }

    async fn find_by_domain(
        &self,
        domain: &DomainName,
    ) -> Result<Option<TenantRecord>, TenancyError> {
        self.before_lookup().await?;
        self.tenants.find_by_domain(domain).await
    }
}

/// The tenants and pipeline of one test: `acme` ("Acme Corp", custom domain
/// `acme.test`), `globex` ("Globex") and the deactivated `initech`
/// ("Initech"), resolved by subdomain of `localhost` or `example.com` (any
/// other host as a custom domain), then path prefix `/t`, then header
/// `X-Tenant-ID`, through a [`CachedStore`] with default settings.
#[derive(Debug)]
pub struct Fixture {
    /// The registry behind the cache.
    pub backend: Arc<Backend>,
    /// The cache the pipeline looks tenants up in.
    pub cache: Store,
    /// The pipeline.
    pub tenancy: Arc<Tenancy<Store>>,
}

/// A tenant id the fixture knows is valid.
pub(crate) fn id(id: &str) -> TenantId {
    TenantId::new(id).unwrap()
}

impl Fixture {
    /// A fresh fixture: its own registry, cache and pipeline.
    pub fn new() -> Self {
        let backend = Arc::new(Backend::default());
        backend
            .tenants
            .insert(TenantRecord::new(id("acme"), "Acme Corp"));
        backend
            .tenants
            .insert(TenantRecord::new(id("globex"), "Globex"));
        backend
            .tenants
            .insert(TenantRecord::new(id("initech"), "Initech").deactivated());
        backend
            .tenants
            .add_domain(DomainName::new("acme.test").unwrap(), &id("acme"))
            .unwrap();
        let cache: Store = Arc::new(CachedStore::new(Arc::clone(&backend)));
        let resolver = ChainResolver::new()
            .with(
                SubdomainResolver::new(["localhost", "example.com"])
                    .unwrap()
                    .with_custom_domains(),
            )
            .with(PathPrefixResolver::new("/t").unwrap())
            .with(HeaderResolver::new("X-Tenant-ID").unwrap());
        let tenancy = Arc::new(Tenancy::new(resolver, Arc::clone(&cache)));
        Self {
            backend,
            cache,
            tenancy,
        }
    }

    /// Forgets a tenant in the cache, as a registry does after a change.
    pub async fn invalidate(&self, tenant: &str) {
        self.cache
            .invalidate(&Invalidation::Tenant(id(tenant)))
            .await;
    }

    /// Forgets a custom domain in the cache.
    pub async fn invalidate_domain(&self, domain: DomainName) {
        self.cache.invalidate(&Invalidation::Domain(domain)).await;
    }

    /// Forgets everything in the cache.
    pub async fn invalidate_all(&self) {
        self.cache.invalidate(&Invalidation::All).await;
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}
