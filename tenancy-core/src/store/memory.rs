//! [`InMemoryStore`]: tenants and domains kept in process memory.

use std::collections::HashMap;
use std::fmt;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::TenantStore;
use crate::domain::DomainName;
use crate::error::TenancyError;
use crate::id::TenantId;
use crate::key::TenantKey;
use crate::tenant::{Tenant, TenantRecord};

/// A [`TenantStore`] held in memory: for tests, fixed tenant lists, and as the
/// fast path behind your own loader.
///
/// ```
/// use tenancy_core::{DomainName, InMemoryStore, TenantId, TenantRecord, TenantStore};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = InMemoryStore::new();
/// let acme = TenantId::new("acme")?;
/// store.insert(TenantRecord::new(acme.clone(), "Acme Corp"));
/// store.add_domain(DomainName::new("acme.test")?, &acme)?;
///
/// let found = store.find_by_domain(&DomainName::new("ACME.test")?).await?;
/// assert_eq!(found.map(|tenant| tenant.id), Some(acme));
/// # Ok(()) }
/// ```
pub struct InMemoryStore<T = TenantRecord> {
    maps: RwLock<Maps<T>>,
}

struct Maps<T> {
    tenants: HashMap<TenantId, T>,
    domains: HashMap<DomainName, TenantId>,
}

impl<T> Default for InMemoryStore<T> {
    fn default() -> Self {
        Self {
            maps: RwLock::new(Maps {
                tenants: HashMap::new(),
                domains: HashMap::new(),
            }),
        }
    }
}

impl InMemoryStore<TenantRecord> {
    /// An empty store of [`TenantRecord`]s; use `InMemoryStore::<T>::default()`
    /// (or `from_iter`) for your own tenant type.
    pub fn new() -> Self {
        Self::default()
    }
}

impl<T: Tenant + Clone + 'static> InMemoryStore<T> {
    fn read(&self) -> RwLockReadGuard<'_, Maps<T>> {
        self.maps.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Maps<T>> {
        self.maps.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Inserts or replaces a tenant; returns the tenant it replaced.
    pub fn insert(&self, tenant: T) -> Option<T> {
        self.write().tenants.insert(tenant.id().clone(), tenant)
    }

    /// Removes a tenant and its domains; returns the removed tenant.
    pub fn remove(&self, id: &TenantId) -> Option<T> {
        let mut maps = self.write();
        maps.domains.retain(|_, owner| owner != id);
        maps.tenants.remove(id)
    }

    /// Registers `domain` for the tenant `id`.
    ///
    /// Fails with [`TenancyError::TenantNotFound`] for an unknown tenant and
    /// [`TenancyError::DomainTaken`] when another tenant owns the domain.
    pub fn add_domain(&self, domain: DomainName, id: &TenantId) -> Result<(), TenancyError> {
        let mut maps = self.write();
        if !maps.tenants.contains_key(id) {
            return Err(TenancyError::TenantNotFound {
                key: id.clone().into(),
            });
        }
        match maps.domains.get(&domain) {
            Some(owner) if owner != id => Err(TenancyError::DomainTaken { domain }),
            _ => {
                maps.domains.insert(domain, id.clone());
                Ok(())
            }
        }
    }

    /// Removes a domain; returns the tenant that owned it.
    pub fn remove_domain(&self, domain: &DomainName) -> Option<TenantId> {
        self.write().domains.remove(domain)
    }

    /// A tenant by id, synchronously.
    pub fn get(&self, id: &TenantId) -> Option<T> {
        self.read().tenants.get(id).cloned()
    }

    /// All tenants, in no particular order.
    pub fn tenants(&self) -> Vec<T> {
        self.read().tenants.values().cloned().collect()
    }

    /// The number of tenants.
    pub fn len(&self) -> usize {
        self.read().tenants.len()
    }

    /// Whether the store has no tenants.
    pub fn is_empty(&self) -> bool {
        self.read().tenants.is_empty()
    }
}

impl<T: Tenant + Clone + 'static> FromIterator<T> for InMemoryStore<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let store = Self::default();
        for tenant in iter {
            store.insert(tenant);
        }
        store
    }
}

impl<T: Tenant + Clone + 'static> TenantStore for InMemoryStore<T> {
    type Tenant = T;

    async fn find_by_id(&self, id: &TenantId) -> Result<Option<T>, TenancyError> {
        Ok(self.get(id))
    }

    async fn find_by_domain(&self, domain: &DomainName) -> Result<Option<T>, TenancyError> {
        let maps = self.read();
        Ok(maps
            .domains
            .get(domain)
            .and_then(|id| maps.tenants.get(id))
            .cloned())
    }

    /// Always answers: the tenants are in memory.
    fn find_cached(&self, key: &TenantKey) -> Option<Option<T>> {
        let maps = self.read();
        let id = match key {
            TenantKey::Id(id) => Some(id),
            TenantKey::Domain(domain) => maps.domains.get(domain),
        };
        Some(id.and_then(|id| maps.tenants.get(id)).cloned())
    }
}

impl<T> fmt::Debug for InMemoryStore<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let maps = self.maps.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("InMemoryStore")
            .field("tenants", &maps.tenants.len())
            .field("domains", &maps.domains.len())
            .finish()
    }
}
