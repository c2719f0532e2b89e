//! [`MemoryRegistry`]: a [`TenantRegistry`] in memory.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use futures_util::future::BoxFuture;
use tenancy_core::{
    DomainName, DomainRecord, Invalidate, Invalidation, TenancyError, TenantId, TenantKey,
    TenantStore,
};

use crate::registry::TenantRegistry;
use crate::storage::Storage;
use crate::tenant::{NewTenant, RegistryTenant};

/// A [`TenantRegistry`] in memory: the trait's contract in a hundred lines,
/// for tests and as a model for a registry of your own (an API, a
/// configuration service).
///
/// Tenants live in this value and its clones only; [subscribed](TenantRegistry::subscribe)
/// caches are invalidated after every change. It passes the
/// [registry suite](crate::registry_suite) and works with every mode's
/// [`TenantManager`](crate::TenantManager).
///
/// ```
/// use tenancy_sqlx::schema::SchemaName;
/// use tenancy_sqlx::testing::MemoryRegistry;
/// use tenancy_sqlx::{NewTenant, Storage, TenantRegistry};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let registry = MemoryRegistry::default();
/// let id = tenancy_core::TenantId::new("acme")?;
/// let storage = Storage::Schema(SchemaName::new("tenant_acme")?);
/// registry.create_with_storage(NewTenant::new(id.clone(), "Acme"), storage).await?;
/// assert!(registry.find_by_id(&id).await?.is_some());
/// # Ok(()) })
/// # }
/// ```
#[derive(Clone, Default)]
pub struct MemoryRegistry {
    tenants: Arc<Mutex<BTreeMap<TenantId, RegistryTenant>>>,
    caches: Arc<Mutex<Vec<Arc<dyn Invalidate>>>>,
}

impl MemoryRegistry {
    fn tenants(&self) -> MutexGuard<'_, BTreeMap<TenantId, RegistryTenant>> {
        self.tenants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Invalidates the subscribed caches' entries of `ids` and `domains`.
    async fn notify(&self, ids: &[&TenantId], domains: &[DomainName]) {
        let caches = self
            .caches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let events = ids
            .iter()
            .map(|id| Invalidation::Tenant((*id).clone()))
            .chain(domains.iter().cloned().map(Invalidation::Domain));
        for event in events {
            for cache in &caches {
                cache.invalidate(&event).await;
            }
        }
    }

    /// Changes one tenant with `change`, then tells the caches.
    async fn update(
        &self,
        id: &TenantId,
        change: impl FnOnce(&RegistryTenant) -> Result<RegistryTenant, TenancyError>,
    ) -> Result<(), TenancyError> {
        let domains = {
            let mut tenants = self.tenants();
            let current = tenants.get(id).ok_or_else(|| not_found(id))?;
            let changed = change(current)?;
            let domains = domain_names(current);
            tenants.insert(id.clone(), changed);
            domains
        };
        self.notify(&[id], &domains).await;
        Ok(())
    }

    /// The tenant owning `domain`, if another than `except`.
    fn owner(
        tenants: &BTreeMap<TenantId, RegistryTenant>,
        domain: &DomainName,
    ) -> Option<TenantId> {
        tenants
            .values()
            .find(|tenant| tenant.domains().iter().any(|d| &d.name == domain))
            .map(|tenant| tenant.id().clone())
    }
}

/// `tenant` rebuilt with another id, storage, active flag or domains.
fn rebuilt(
    tenant: &RegistryTenant,
    id: &TenantId,
    storage: Storage,
    active: bool,
    domains: Vec<DomainRecord>,
) -> RegistryTenant {
    let domains = domains
        .into_iter()
        .map(|record| record_of(record.name, id, record.primary))
        .collect();
    RegistryTenant::builder(id.clone(), tenant.name(), storage)
        .active(active)
        .domains(domains)
        .timestamps(tenant.created_at(), SystemTime::now())
        .build()
}

fn record_of(name: DomainName, id: &TenantId, primary: bool) -> DomainRecord {
    let record = DomainRecord::new(name, id.clone());
    if primary { record.primary() } else { record }
}

fn domain_names(tenant: &RegistryTenant) -> Vec<DomainName> {
    tenant.domains().iter().map(|d| d.name.clone()).collect()
}

fn not_found(id: &TenantId) -> TenancyError {
    TenancyError::TenantNotFound {
        key: TenantKey::Id(id.clone()),
    }
}

impl TenantStore for MemoryRegistry {
    type Tenant = RegistryTenant;

    async fn find_by_id(&self, id: &TenantId) -> Result<Option<RegistryTenant>, TenancyError> {
        Ok(self.tenants().get(id).cloned())
    }

    async fn find_by_domain(
        &self,
        domain: &DomainName,
    ) -> Result<Option<RegistryTenant>, TenancyError> {
        let tenants = self.tenants();
        Ok(Self::owner(&tenants, domain).and_then(|id| tenants.get(&id).cloned()))
    }
}

impl TenantRegistry for MemoryRegistry {
    fn list(&self) -> BoxFuture<'_, Result<Vec<RegistryTenant>, TenancyError>> {
        let tenants: Vec<RegistryTenant> = self.tenants().values().cloned().collect();
        Box::pin(async move { Ok(tenants) })
    }

    fn find_by_id<'a>(
        &'a self,
        id: &'a TenantId,
    ) -> BoxFuture<'a, Result<Option<RegistryTenant>, TenancyError>> {
        Box::pin(TenantStore::find_by_id(self, id))
    }

    fn find_by_domain<'a>(
        &'a self,
        domain: &'a DomainName,
    ) -> BoxFuture<'a, Result<Option<RegistryTenant>, TenancyError>> {
        Box::pin(TenantStore::find_by_domain(self, domain))
    }

    fn set_name<'a>(
        &'a self,
        id: &'a TenantId,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(self.update(id, move |tenant| {
            Ok(
                RegistryTenant::builder(id.clone(), name, tenant.storage().clone())
                    .active(tenant.is_active())
                    .domains(tenant.domains().to_vec())
                    .timestamps(tenant.created_at(), SystemTime::now())
                    .build(),
            )
        }))
    }

    fn add_domain<'a>(
        &'a self,
        id: &'a TenantId,
        domain: &'a DomainName,
        primary: bool,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(async move {
            if let Some(owner) = Self::owner(&self.tenants(), domain)
                && &owner != id
            {
                return Err(TenancyError::DomainTaken {
                    domain: domain.clone(),
                });
            }
            self.update(id, |tenant| {
                let mut domains: Vec<DomainRecord> = tenant
                    .domains()
                    .iter()
                    .filter(|d| &d.name != domain)
                    .cloned()
                    .map(|d| record_of(d.name, id, d.primary && !primary))
                    .collect();
                domains.push(record_of(domain.clone(), id, primary));
                let storage = tenant.storage().clone();
                Ok(rebuilt(tenant, id, storage, tenant.is_active(), domains))
            })
            .await?;
            self.notify(&[], std::slice::from_ref(domain)).await;
            Ok(())
        })
    }

    fn remove_domain<'a>(
        &'a self,
        domain: &'a DomainName,
    ) -> BoxFuture<'a, Result<bool, TenancyError>> {
        Box::pin(async move {
            let Some(owner) = Self::owner(&self.tenants(), domain) else {
                return Ok(false);
            };
            self.update(&owner, |tenant| {
                let domains = tenant
                    .domains()
                    .iter()
                    .filter(|d| &d.name != domain)
                    .cloned()
                    .collect();
                let storage = tenant.storage().clone();
                Ok(rebuilt(
                    tenant,
                    &owner,
                    storage,
                    tenant.is_active(),
                    domains,
                ))
            })
            .await?;
            Ok(true)
        })
    }

    fn create_with_storage(
        &self,
        new: NewTenant,
        storage: Storage,
    ) -> BoxFuture<'_, Result<RegistryTenant, TenancyError>> {
        Box::pin(async move {
            if new.domains().iter().filter(|d| d.primary).count() > 1 {
                return Err(TenancyError::Configuration {
                    message: format!(
                        "tenant `{}` is given more than one primary domain",
                        new.id()
                    ),
                });
            }
            let tenant = {
                let mut tenants = self.tenants();
                if tenants.contains_key(new.id()) {
                    return Err(TenancyError::TenantExists {
                        id: new.id().clone(),
                    });
                }
                if let Some(taken) = new
                    .domains()
                    .iter()
                    .find(|d| Self::owner(&tenants, &d.name).is_some())
                {
                    return Err(TenancyError::DomainTaken {
                        domain: taken.name.clone(),
                    });
                }
                if tenants.values().any(|t| t.storage() == &storage) {
                    return Err(TenancyError::SchemaCreation {
                        tenant: new.id().clone(),
                        schema: storage.location().to_owned(),
                        source: "another tenant's registry row already uses this storage".into(),
                    });
                }
                let now = SystemTime::now();
                let tenant = RegistryTenant::builder(new.id().clone(), new.name(), storage)
                    .active(new.is_active())
                    .domains(new.domains().to_vec())
                    .timestamps(now, now)
                    .build();
                tenants.insert(new.id().clone(), tenant.clone());
                tenant
            };
            self.notify(&[new.id()], &domain_names(&tenant)).await;
            Ok(tenant)
        })
    }

    fn rename_with_storage<'a>(
        &'a self,
        from: &'a TenantId,
        to: &'a TenantId,
        storage: Option<&'a Storage>,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(async move {
            let domains = {
                let mut tenants = self.tenants();
                if !tenants.contains_key(from) {
                    return Err(not_found(from));
                }
                if tenants.contains_key(to) {
                    return Err(TenancyError::TenantExists { id: to.clone() });
                }
                let current = tenants.remove(from).ok_or_else(|| not_found(from))?;
                let storage = storage
                    .cloned()
                    .unwrap_or_else(|| current.storage().clone());
                let domains = current.domains().to_vec();
                let renamed = rebuilt(&current, to, storage, current.is_active(), domains);
                let names = domain_names(&renamed);
                tenants.insert(to.clone(), renamed);
                names
            };
            self.notify(&[from, to], &domains).await;
            Ok(())
        })
    }

    fn activate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(self.set_active(id, true))
    }

    fn deactivate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(self.set_active(id, false))
    }

    fn delete<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<bool, TenancyError>> {
        Box::pin(async move {
            let removed = self.tenants().remove(id);
            let existed = removed.is_some();
            let domains = removed.as_ref().map(domain_names).unwrap_or_default();
            self.notify(&[id], &domains).await;
            Ok(existed)
        })
    }

    fn subscribe(&self, cache: Arc<dyn Invalidate>) {
        self.caches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(cache);
    }
}

impl MemoryRegistry {
    async fn set_active(&self, id: &TenantId, active: bool) -> Result<(), TenancyError> {
        self.update(id, |tenant| {
            let storage = tenant.storage().clone();
            let domains = tenant.domains().to_vec();
            Ok(rebuilt(tenant, id, storage, active, domains))
        })
        .await
    }
}

impl fmt::Debug for MemoryRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRegistry")
            .field("tenants", &self.tenants().len())
            .finish_non_exhaustive()
    }
}
