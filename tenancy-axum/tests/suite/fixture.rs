//! The tenants, store and pipeline every conformance case starts from.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tenancy_core::{
    CachedStore, ChainResolver, DomainName, HeaderResolver, InMemoryStore, Invalidate,
    Invalidation, PathPrefixResolver, SubdomainResolver, Tenancy, TenancyError, TenantId,
    TenantRecord, TenantStore,
};

/// The store the adapters run against: a cache in front of a controllable backend.
pub(crate) type Store = Arc<CachedStore<Arc<Backend>>>;

/// An in-memory registry that can be made slow or unavailable, and counts lookups.
#[derive(Debug, Default)]
pub(crate) struct Backend {
    pub(crate) tenants: InMemoryStore,
    failing: AtomicBool,
    delay_ms: AtomicUsize,
    lookups: AtomicUsize,
}

#[derive(Debug)]
struct Down;

impl std::fmt::Display for Down {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("secret-connection-string: connection refused")
    }
}

impl std::error::Error for Down {}

impl Backend {
    pub(crate) fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    pub(crate) fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis().try_into().unwrap(), Ordering::SeqCst);
    }

    pub(crate) fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }

    async fn before_lookup(&self) -> Result<(), TenancyError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let delay = self.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay as u64)).await;
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

/// How errors are rendered in a test app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Renderer {
    /// The adapter's default, `JsonErrors`.
    Json,
    /// A custom renderer: the error's status, `text/plain`, body `"{kind}: {message}"`.
    Text,
}

/// What a harness builds its test app from.
///
/// Every harness serves the same app (see `Harness`), wrapped in its adapter
/// configured with `tenancy`, `central_route("/health")`,
/// `optional_route("/")`, `optional_route("/maybe")`,
/// `optional_route("/strict")`, `.optional()` when `optional` is set, and
/// the renderer.
#[derive(Clone)]
pub(crate) struct Setup {
    pub(crate) tenancy: Arc<Tenancy<Store>>,
    pub(crate) optional: bool,
    pub(crate) renderer: Renderer,
}

/// The tenants and pipeline of one test: acme (custom domain `acme.test`),
/// globex, and the deactivated initech, resolved by subdomain of `localhost`
/// or `example.com` (else custom domain), path prefix `/t` and header
/// `X-Tenant-ID`.
pub(crate) struct Fixture {
    pub(crate) backend: Arc<Backend>,
    pub(crate) cache: Store,
    pub(crate) tenancy: Arc<Tenancy<Store>>,
}

pub(crate) fn id(id: &str) -> TenantId {
    TenantId::new(id).unwrap()
}

impl Fixture {
    pub(crate) fn new() -> Self {
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

    pub(crate) fn setup(&self) -> Setup {
        Setup {
            tenancy: Arc::clone(&self.tenancy),
            optional: false,
            renderer: Renderer::Json,
        }
    }

    /// Forgets a tenant in the cache, as a registry does after a change.
    pub(crate) async fn invalidate(&self, tenant: &str) {
        self.cache
            .invalidate(&Invalidation::Tenant(id(tenant)))
            .await;
    }

    /// Forgets a custom domain in the cache.
    pub(crate) async fn invalidate_domain(&self, domain: DomainName) {
        self.cache.invalidate(&Invalidation::Domain(domain)).await;
    }

    /// Forgets everything in the cache.
    pub(crate) async fn invalidate_all(&self) {
        self.cache.invalidate(&Invalidation::All).await;
    }
}
