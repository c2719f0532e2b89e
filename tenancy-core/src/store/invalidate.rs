//! [`Invalidate`]: how registries tell caches that tenants changed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::domain::DomainName;
use crate::id::TenantId;

/// A boxed, sendable future, for traits used as `Arc<dyn …>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What changed in a tenant registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Invalidation {
    /// A tenant was created, changed or removed (also drops the custom
    /// domains cached for it).
    Tenant(TenantId),
    /// A custom domain was added, moved or removed.
    Domain(DomainName),
    /// Anything may have changed (e.g. after a lost notification channel).
    All,
}

/// Something that caches tenants and must forget changed ones.
///
/// [`CachedStore`](super::CachedStore) implements it; registries hold a list of
/// `Arc<dyn Invalidate>` and call it after every mutation (and, across
/// processes, when a change notification arrives).
///
/// ```
/// use std::sync::Arc;
/// use tenancy_core::{CachedStore, InMemoryStore, Invalidate, Invalidation, TenantId};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cache: Arc<dyn Invalidate> = Arc::new(CachedStore::new(InMemoryStore::new()));
/// cache.invalidate(&Invalidation::Tenant(TenantId::new("acme")?)).await;
/// # Ok(()) }
/// ```
pub trait Invalidate: Send + Sync {
    /// Forgets what `event` names.
    fn invalidate<'a>(&'a self, event: &'a Invalidation) -> BoxFuture<'a, ()>;
}

impl<I: Invalidate + ?Sized> Invalidate for Arc<I> {
    fn invalidate<'a>(&'a self, event: &'a Invalidation) -> BoxFuture<'a, ()> {
        (**self).invalidate(event)
    }
}

impl<I: Invalidate + ?Sized> Invalidate for Box<I> {
    fn invalidate<'a>(&'a self, event: &'a Invalidation) -> BoxFuture<'a, ()> {
        (**self).invalidate(event)
    }
}
