//! [`Tenancy`]: the pipeline adapters run for every request.

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::error::TenancyError;
use crate::id::TenantId;
use crate::key::Strategy;
use crate::key::TenantKey;
use crate::request::{RequestInfo, RequestView};
use crate::resolver::{AsyncResolver, DynAsyncResolver, Resolution, Resolver, Resolving};
use crate::store::{BoxFuture, TenantStore};
use crate::tenant::Tenant;

/// Resolve → look up → refuse inactive → tenant, in one call.
///
/// This is the framework-agnostic heart that the axum and actix-web adapters
/// call once per request. `Ok(None)` means the request names no tenant (a
/// central host); every failure is a typed [`TenancyError`] with its HTTP status.
///
/// ```
/// use tenancy_core::{CachedStore, InMemoryStore, SubdomainResolver, Tenancy, TenantId, TenantRecord};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = InMemoryStore::from_iter([TenantRecord::new(TenantId::new("acme")?, "Acme Corp")]);
/// let tenancy = Tenancy::new(SubdomainResolver::new(["localhost"])?, CachedStore::new(store));
///
/// let request = http::Request::builder().header("host", "acme.localhost:8080").body(())?;
/// let resolved = tenancy.resolve(&request).await?.expect("a tenant");
/// assert_eq!(resolved.tenant().name.as_ref(), "Acme Corp");
///
/// let unknown = http::Request::builder().header("host", "nope.localhost").body(())?;
/// assert_eq!(tenancy.resolve(&unknown).await.unwrap_err().status(), 404);
/// # Ok(()) }
/// ```
pub struct Tenancy<S> {
    resolver: Resolvers,
    store: S,
}

/// The resolver of a pipeline: synchronous, or needing I/O.
#[derive(Clone)]
enum Resolvers {
    Sync(Arc<dyn Resolver>),
    Async(Arc<dyn DynAsyncResolver>),
}

impl<S: TenantStore> Tenancy<S> {
    /// A pipeline that resolves with `resolver` and looks up in `store`.
    pub fn new(resolver: impl Resolver + 'static, store: S) -> Self {
        Self {
            resolver: Resolvers::Sync(Arc::new(resolver)),
            store,
        }
    }

    /// A pipeline whose resolver needs I/O (see [`AsyncResolver`]): the
    /// request is resolved, then looked up in `store`, in one future.
    pub fn with_async_resolver(resolver: impl AsyncResolver, store: S) -> Self {
        Self {
            resolver: Resolvers::Async(Arc::new(resolver)),
            store,
        }
    }

    /// The resolver, if it is synchronous.
    pub fn resolver(&self) -> Option<&dyn Resolver> {
        match &self.resolver {
            Resolvers::Sync(resolver) => Some(&**resolver),
            Resolvers::Async(_) => None,
        }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Resolves, looks up and checks the tenant of `request`.
    ///
    /// The request is only read before the returned future is first polled,
    /// so the future does not borrow it and is `Send` whatever the request
    /// type. A cache hit ([`TenantStore::find_cached`]) yields a future that
    /// is already complete; only a cache miss allocates.
    pub fn resolve<'a>(&'a self, request: &dyn RequestInfo) -> Resolve<'a, S::Tenant> {
        self.resolve_with(request, || self)
    }

    /// [`resolve`](Self::resolve) for a shared pipeline: the future owns a
    /// clone of the `Arc`, so it is `'static` (what a middleware keeps).
    pub fn resolve_shared(
        self: &Arc<Self>,
        request: &dyn RequestInfo,
    ) -> Resolve<'static, S::Tenant>
    where
        S: 'static,
    {
        self.resolve_with(request, || Arc::clone(self))
    }

    /// [`resolve`](Self::resolve), with the pending future owning what
    /// `owner` gives (taken only when the store must be asked).
    fn resolve_with<'a, O>(
        &self,
        request: &dyn RequestInfo,
        owner: impl FnOnce() -> O,
    ) -> Resolve<'a, S::Tenant>
    where
        O: Deref<Target = Self> + Send + 'a,
    {
        match self.resolve_now(request) {
            Now::Done(ready) => Resolve::ready(ready),
            Now::Lookup(resolution) => {
                let tenancy = owner();
                Resolve::pending(Box::pin(async move { tenancy.lookup(&resolution).await }))
            }
            Now::Resolving(resolving) => {
                let tenancy = owner();
                Resolve::pending(Box::pin(async move { tenancy.finish(resolving).await }))
            }
        }
    }

    /// How far resolving `request` gets without waiting.
    fn resolve_now(&self, request: &dyn RequestInfo) -> Now<S::Tenant> {
        let started = RequestView::new(request).and_then(|view| match &self.resolver {
            Resolvers::Sync(resolver) => resolver.resolve(&view).map(Started::Key),
            Resolvers::Async(resolver) => Arc::clone(resolver).start(&view).map(Started::Future),
        });
        match started {
            Err(error) => Now::Done(Err(error)),
            Ok(Started::Key(None) | Started::Future(None)) => Now::Done(Ok(None)),
            Ok(Started::Future(Some(resolving))) => Now::Resolving(resolving),
            Ok(Started::Key(Some(resolution))) => match self.lookup_cached(&resolution) {
                Some(ready) => Now::Done(ready),
                None => Now::Lookup(resolution),
            },
        }
    }

    /// The rest of an asynchronous resolution: the key, then its look-up.
    async fn finish(&self, resolving: Resolving) -> ResolveResult<S::Tenant> {
        match resolving.await? {
            Some(resolution) => self.lookup(&resolution).await,
            None => Ok(None),
        }
    }

    /// Only the synchronous half: which tenant key `request` names, if any.
    ///
    /// # Errors
    ///
    /// The request names a tenant badly; `Configuration` for a pipeline
    /// with an [`AsyncResolver`], which has no synchronous half.
    pub fn resolve_key(
        &self,
        request: &dyn RequestInfo,
    ) -> Result<Option<Resolution>, TenancyError> {
        let view = RequestView::new(request)?;
        match &self.resolver {
            Resolvers::Sync(resolver) => resolver.resolve(&view),
            Resolvers::Async(_) => Err(TenancyError::Configuration {
                message: "an asynchronous resolver has no synchronous half".to_owned(),
            }),
        }
    }

    /// Only the asynchronous half: looks `resolution` up and checks the
    /// tenant. `Ok(None)` when the request names no tenant after all: its key
    /// is [optional](Resolution::optional) (an unregistered custom domain)
    /// and nothing else named one.
    async fn lookup(
        &self,
        resolution: &Resolution,
    ) -> Result<Option<Resolved<S::Tenant>>, TenancyError> {
        let found = match self.store.find_cached(resolution.key()) {
            Some(found) => found,
            None => self.store.find(resolution.key()).await?,
        };
        match self.fall_through(resolution, &found) {
            Fallthrough::Check => self.check(resolution, found).map(Some),
            Fallthrough::NoTenant => Ok(None),
            Fallthrough::To(fallback) => {
                let found = match self.store.find_cached(fallback.key()) {
                    Some(found) => found,
                    None => self.store.find(fallback.key()).await?,
                };
                self.check(&fallback, found).map(Some)
            }
        }
    }

    /// What an optional key the store does not know leads to.
    fn fall_through(&self, resolution: &Resolution, found: &Option<S::Tenant>) -> Fallthrough {
        if found.is_some() || !resolution.is_optional() {
            return Fallthrough::Check;
        }
        match resolution.fallback() {
            Some(fallback) => Fallthrough::To(fallback),
            None => Fallthrough::NoTenant,
        }
    }

    /// The asynchronous half without waiting: `Some` when the store can answer
    /// from memory ([`TenantStore::find_cached`]), `None` when
    /// [`lookup`](Self::lookup) must ask it.
    fn lookup_cached(
        &self,
        resolution: &Resolution,
    ) -> Option<Result<Option<Resolved<S::Tenant>>, TenancyError>> {
        let found = self.store.find_cached(resolution.key())?;
        match self.fall_through(resolution, &found) {
            Fallthrough::Check => Some(self.check(resolution, found).map(Some)),
            Fallthrough::NoTenant => Some(Ok(None)),
            Fallthrough::To(fallback) => {
                let found = self.store.find_cached(fallback.key())?;
                Some(self.check(&fallback, found).map(Some))
            }
        }
    }

    /// Refuses a missing, inactive or conflicting tenant.
    fn check(
        &self,
        resolution: &Resolution,
        found: Option<S::Tenant>,
    ) -> Result<Resolved<S::Tenant>, TenancyError> {
        let tenant = found.ok_or_else(|| TenancyError::TenantNotFound {
            key: resolution.key().clone(),
        })?;
        if !tenant.is_active() {
            return Err(TenancyError::TenantInactive {
                id: tenant.id().clone(),
            });
        }
        if let Some((expected, by)) = resolution.expected_id()
            && tenant.id() != expected
        {
            return Err(TenancyError::TenantConflict {
                first: resolution.key().clone(),
                first_by: resolution.strategy(),
                second: TenantKey::Id(expected.clone()),
                second_by: by,
            });
        }
        Ok(Resolved {
            tenant,
            strategy: resolution.strategy(),
            path_prefix_len: resolution.path_prefix_len(),
        })
    }

    /// Loads an active tenant by id, e.g. for a background job.
    pub async fn load(&self, id: &TenantId) -> Result<S::Tenant, TenancyError> {
        self.find_active(&TenantKey::Id(id.clone())).await
    }

    async fn find_active(&self, key: &TenantKey) -> Result<S::Tenant, TenancyError> {
        let found = match self.store.find_cached(key) {
            Some(found) => found,
            None => self.store.find(key).await?,
        };
        let tenant = found.ok_or_else(|| TenancyError::TenantNotFound { key: key.clone() })?;
        if !tenant.is_active() {
            return Err(TenancyError::TenantInactive {
                id: tenant.id().clone(),
            });
        }
        Ok(tenant)
    }
}

/// What a resolver gave without waiting.
enum Started {
    Key(Option<Resolution>),
    Future(Option<Resolving>),
}

/// How far a request's resolution got without waiting.
enum Now<T> {
    Done(ResolveResult<T>),
    Lookup(Resolution),
    Resolving(Resolving),
}

/// Where the lookup of a resolution goes once its key was looked up.
enum Fallthrough {
    /// Check what was found (or report it not found).
    Check,
    /// An unregistered optional key and nothing else: no tenant.
    NoTenant,
    /// An unregistered optional key: the expected id decides.
    To(Resolution),
}

impl<S: fmt::Debug> fmt::Debug for Tenancy<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tenancy")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// What resolving a request gives: its tenant, none (it names none), or the error.
type ResolveResult<T> = Result<Option<Resolved<T>>, TenancyError>;

/// A request's tenant, with how it was found.
#[derive(Debug, Clone)]
pub struct Resolved<T> {
    tenant: T,
    strategy: Strategy,
    path_prefix_len: usize,
}

impl<T> Resolved<T> {
    /// The tenant.
    pub fn tenant(&self) -> &T {
        &self.tenant
    }

    /// The tenant, by value.
    pub fn into_tenant(self) -> T {
        self.tenant
    }

    /// The strategy that supplied the looked-up key.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The number of leading path bytes to strip before routing (0: none).
    pub fn path_prefix_len(&self) -> usize {
        self.path_prefix_len
    }

    /// The path the application should route: `path` without the tenant prefix.
    pub fn routed_path<'p>(&self, path: &'p str) -> &'p str {
        crate::resolver::routed_path(path, self.path_prefix_len)
    }
}

/// The future returned by [`Tenancy::resolve`].
///
/// Already complete on a cache hit (no allocation); a boxed store lookup on
/// a miss. `Send`, and independent of the request it was made from.
#[must_use = "futures do nothing unless polled"]
pub struct Resolve<'a, T> {
    state: ResolveState<'a, T>,
}

enum ResolveState<'a, T> {
    Ready(Option<Result<Option<Resolved<T>>, TenancyError>>),
    Pending(BoxFuture<'a, Result<Option<Resolved<T>>, TenancyError>>),
}

impl<'a, T> Resolve<'a, T> {
    fn ready(result: Result<Option<Resolved<T>>, TenancyError>) -> Self {
        Self {
            state: ResolveState::Ready(Some(result)),
        }
    }

    fn pending(future: BoxFuture<'a, Result<Option<Resolved<T>>, TenancyError>>) -> Self {
        Self {
            state: ResolveState::Pending(future),
        }
    }
}

impl<T> Resolve<'_, T> {
    /// The result, if it is already known (a cache hit, or a request that
    /// names no tenant or is refused before any look-up); else the future.
    ///
    /// # Errors
    ///
    /// Gives the future back when the store must be asked.
    pub fn into_ready(self) -> Result<ResolveResult<T>, Self> {
        match self.state {
            ResolveState::Ready(Some(result)) => Ok(result),
            state => Err(Self { state }),
        }
    }
}

// The result is never pinned (it is moved out when ready), and the pending
// future is boxed: pinning `Resolve` pins nothing inside it.
impl<T> Unpin for Resolve<'_, T> {}

impl<T> Future for Resolve<'_, T> {
    type Output = Result<Option<Resolved<T>>, TenancyError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            ResolveState::Ready(result) => match result.take() {
                Some(result) => Poll::Ready(result),
                // Polled again after completion: a contract violation, answered without panicking.
                None => Poll::Ready(Err(TenancyError::Configuration {
                    message: "a tenancy future was polled after it completed".to_owned(),
                })),
            },
            ResolveState::Pending(future) => future.as_mut().poll(cx),
        }
    }
}

impl<T> fmt::Debug for Resolve<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            ResolveState::Ready(_) => "ready",
            ResolveState::Pending(_) => "pending",
        };
        f.debug_struct("Resolve").field("state", &state).finish()
    }
}
