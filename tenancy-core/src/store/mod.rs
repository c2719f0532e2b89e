//! Tenant stores: where resolved keys are looked up.
//!
//! [`TenantStore`] is the trait; [`InMemoryStore`] keeps tenants in memory;
//! [`CachedStore`] puts a bounded, TTL-based, single-flight cache in front of
//! any store. Registries backed by a database live in `tenancy-sqlx`.

mod cached;
mod event;
mod invalidate;
mod memory;

pub use cached::{CacheBuilder, CacheStats, CachedStore, Clock, ManualClock};
pub use event::TenantEvent;
pub use invalidate::{BoxFuture, Invalidate, Invalidation};
pub use memory::InMemoryStore;

use std::future::Future;
use std::sync::Arc;

use crate::domain::DomainName;
use crate::error::TenancyError;
use crate::id::TenantId;
use crate::key::TenantKey;
use crate::tenant::Tenant;

/// Looks tenants up by id or by custom domain.
///
/// Implement it to keep tenants anywhere; wrap it in a [`CachedStore`] to
/// take it off the hot path. Errors are [`TenancyError`]s, usually
/// [`TenancyError::StoreUnavailable`] with the backend error as source.
///
/// ```
/// use tenancy_core::{DomainName, TenancyError, TenantId, TenantRecord, TenantStore};
///
/// /// Every id exists; no custom domains.
/// struct Everyone;
///
/// impl TenantStore for Everyone {
///     type Tenant = TenantRecord;
///
///     async fn find_by_id(&self, id: &TenantId) -> Result<Option<TenantRecord>, TenancyError> {
///         Ok(Some(TenantRecord::new(id.clone(), id.as_str())))
///     }
///
///     async fn find_by_domain(&self, _: &DomainName) -> Result<Option<TenantRecord>, TenancyError> {
///         Ok(None)
///     }
/// }
/// ```
pub trait TenantStore: Send + Sync {
    /// The tenant type this store returns; cheap to clone.
    type Tenant: Tenant + Clone + 'static;

    /// Finds a tenant by id; `Ok(None)` when there is none.
    fn find_by_id(
        &self,
        id: &TenantId,
    ) -> impl Future<Output = Result<Option<Self::Tenant>, TenancyError>> + Send;

    /// Finds the tenant that owns `domain`; `Ok(None)` when there is none.
    fn find_by_domain(
        &self,
        domain: &DomainName,
    ) -> impl Future<Output = Result<Option<Self::Tenant>, TenancyError>> + Send;

    /// Answers from memory without waiting, if this store can (caches do).
    ///
    /// `Some(answer)` is a definitive answer (`Some(None)`: known not to
    /// exist); `None` means "ask [`find`](Self::find)". [`Tenancy`](crate::Tenancy)
    /// tries it first so that cache hits skip the asynchronous machinery.
    /// The default answers `None`.
    fn find_cached(&self, key: &TenantKey) -> Option<Option<Self::Tenant>> {
        let _ = key;
        None
    }

    /// Finds a tenant by either kind of key.
    fn find(
        &self,
        key: &TenantKey,
    ) -> impl Future<Output = Result<Option<Self::Tenant>, TenancyError>> + Send {
        async move {
            match key {
                TenantKey::Id(id) => self.find_by_id(id).await,
                TenantKey::Domain(domain) => self.find_by_domain(domain).await,
            }
        }
    }
}

macro_rules! forward_store {
    ($($pointer:ty),*) => {$(
        impl<S: TenantStore + ?Sized> TenantStore for $pointer {
            type Tenant = S::Tenant;

            fn find_by_id(
                &self,
                id: &TenantId,
            ) -> impl Future<Output = Result<Option<Self::Tenant>, TenancyError>> + Send {
                (**self).find_by_id(id)
            }

            fn find_by_domain(
                &self,
                domain: &DomainName,
            ) -> impl Future<Output = Result<Option<Self::Tenant>, TenancyError>> + Send {
                (**self).find_by_domain(domain)
            }

            fn find(&self, key: &TenantKey) -> impl Future<Output = Result<Option<Self::Tenant>, TenancyError>> + Send {
                (**self).find(key)
            }

            fn find_cached(&self, key: &TenantKey) -> Option<Option<Self::Tenant>> {
                (**self).find_cached(key)
            }
        }
    )*};
}

forward_store!(Arc<S>, Box<S>, &S);
