//! [`MemoryRegistry`]: a [`TenantRegistry`] in memory.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use futures_util::future::BoxFuture;
use tenancy_core::{
    DomainName, DomainRecord, Invalidate, TenancyError, TenantEvent, TenantId, TenantKey,
    TenantStore,
};
use tokio::sync::broadcast;

use crate::registry::TenantRegistry;
use crate::registry::subscribers::Subscribers;
use crate::storage::Storage;
use crate::tenant::{NewTenant, RegistryTenant, created_events};

/// A [`TenantRegistry`] in memory: the trait's contract in a hundred lines,
/// for tests and as a model for a registry of your own (an API, a
/// configuration service).
///
/// Tenants live in this value and its clones only, and clones share the
/// [subscribed](TenantRegistry::subscribe) caches and [event](TenantRegistry::events)
/// receivers too: every change, through any clone, reaches them all at once. Each change checks and writes
/// under one lock, so concurrent changes are atomic. It passes the
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
    subscribers: Arc<Subscribers>,
}

/// The tenants, by id.
type Tenants = BTreeMap<TenantId, RegistryTenant>;

impl MemoryRegistry {
    fn tenants(&self) -> MutexGuard<'_, Tenants> {
        self.tenants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies `change` to the tenants under one lock (so that its checks
    /// and its writes are atomic), then publishes the events it returns.
    async fn mutate<T>(
        &self,
        change: impl FnOnce(&mut Tenants) -> Result<(T, Vec<TenantEvent>), TenancyError>,
    ) -> Result<T, TenancyError> {
        let (value, events) = change(&mut self.tenants())?;
        self.subscribers.publish(&events).await;
        Ok(value)
    }
}

/// Replaces tenant `id` with what `change` makes of it (`TenantNotFound` if
/// there is none).
fn change(
    tenants: &mut Tenants,
    id: &TenantId,
    change: impl FnOnce(&RegistryTenant) -> RegistryTenant,
) -> Result<(), TenancyError> {
    let current = tenants.get(id).ok_or_else(|| not_found(id))?;
    let changed = change(current);
    tenants.insert(id.clone(), changed);
    Ok(())
}

/// The tenant owning `domain`.
fn owner(tenants: &Tenants, domain: &DomainName) -> Option<TenantId> {
    tenants
        .values()
        .find(|tenant| tenant.domains().iter().any(|d| &d.name == domain))
        .map(|tenant| tenant.id().clone())
}

/// `tenant` rebuilt with another id, name, storage, active flag or domains.
fn rebuilt(
    tenant: &RegistryTenant,
    id: &TenantId,
    name: &str,
    storage: Storage,
    active: bool,
    domains: Vec<DomainRecord>,
) -> RegistryTenant {
    let domains = domains
        .into_iter()
        .map(|record| record_of(record.name, id, record.primary))
        .collect();
    RegistryTenant::builder(id.clone(), name, storage)
        .active(active)
        .domains(domains)
        .timestamps(tenant.created_at(), SystemTime::now())
        .build()
}

/// `tenant` rebuilt with other domains.
fn with_domains(tenant: &RegistryTenant, domains: Vec<DomainRecord>) -> RegistryTenant {
    rebuilt(
        tenant,
        tenant.id(),
        tenant.name(),
        tenant.storage().clone(),
        tenant.is_active(),
        domains,
    )
}

fn record_of(name: DomainName, id: &TenantId, primary: bool) -> DomainRecord {
    let record = DomainRecord::new(name, id.clone());
    if primary { record.primary() } else { record }
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
        Ok(owner(&tenants, domain).and_then(|id| tenants.get(&id).cloned()))
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
        Box::pin(self.mutate(move |tenants| {
            change(tenants, id, |tenant| {
                let domains = tenant.domains().to_vec();
                let storage = tenant.storage().clone();
                rebuilt(tenant, id, name, storage, tenant.is_active(), domains)
            })?;
            Ok(((), vec![TenantEvent::Updated(id.clone())]))
        }))
    }

    fn add_domain<'a>(
        &'a self,
        id: &'a TenantId,
        domain: &'a DomainName,
        primary: bool,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(self.mutate(move |tenants| {
            if let Some(owner) = owner(tenants, domain)
                && &owner != id
            {
                return Err(TenancyError::DomainTaken {
                    domain: domain.clone(),
                });
            }
            change(tenants, id, |tenant| {
                let mut domains: Vec<DomainRecord> = tenant
                    .domains()
                    .iter()
                    .filter(|d| &d.name != domain)
                    .cloned()
                    .map(|d| record_of(d.name, id, d.primary && !primary))
                    .collect();
                domains.push(record_of(domain.clone(), id, primary));
                with_domains(tenant, domains)
            })?;
            let added = TenantEvent::DomainAdded {
                tenant: id.clone(),
                domain: domain.clone(),
            };
            Ok(((), vec![added]))
        }))
    }

    fn remove_domain<'a>(
        &'a self,
        domain: &'a DomainName,
    ) -> BoxFuture<'a, Result<bool, TenancyError>> {
        Box::pin(self.mutate(move |tenants| {
            let Some(owner) = owner(tenants, domain) else {
                return Ok((false, Vec::new()));
            };
            change(tenants, &owner, |tenant| {
                let domains = tenant
                    .domains()
                    .iter()
                    .filter(|d| &d.name != domain)
                    .cloned()
                    .collect();
                with_domains(tenant, domains)
            })?;
            let removed = TenantEvent::DomainRemoved {
                tenant: owner,
                domain: domain.clone(),
            };
            Ok((true, vec![removed]))
        }))
    }

    fn create_with_storage(
        &self,
        new: NewTenant,
        storage: Storage,
    ) -> BoxFuture<'_, Result<RegistryTenant, TenancyError>> {
        Box::pin(self.mutate(move |tenants| {
            if new.domains().iter().filter(|d| d.primary).count() > 1 {
                return Err(TenancyError::Configuration {
                    message: format!(
                        "tenant `{}` is given more than one primary domain",
                        new.id()
                    ),
                });
            }
            if tenants.contains_key(new.id()) {
                return Err(TenancyError::TenantExists {
                    id: new.id().clone(),
                });
            }
            if let Some(taken) = new
                .domains()
                .iter()
                .find(|d| owner(tenants, &d.name).is_some())
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
            Ok((tenant, created_events(new.id(), new.domains())))
        }))
    }

    fn rename_with_storage<'a>(
        &'a self,
        from: &'a TenantId,
        to: &'a TenantId,
        storage: Option<&'a Storage>,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(self.mutate(move |tenants| {
            if !tenants.contains_key(from) {
                return Err(not_found(from));
            }
            if from != to && tenants.contains_key(to) {
                return Err(TenancyError::TenantExists { id: to.clone() });
            }
            let current = tenants.remove(from).ok_or_else(|| not_found(from))?;
            let storage = storage
                .cloned()
                .unwrap_or_else(|| current.storage().clone());
            let domains = current.domains().to_vec();
            let renamed = rebuilt(
                &current,
                to,
                current.name(),
                storage,
                current.is_active(),
                domains,
            );
            tenants.insert(to.clone(), renamed);
            let renamed = TenantEvent::Renamed {
                from: from.clone(),
                to: to.clone(),
            };
            Ok(((), vec![renamed]))
        }))
    }

    fn activate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(self.set_active(id, true))
    }

    fn deactivate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(self.set_active(id, false))
    }

    fn delete<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<bool, TenancyError>> {
        Box::pin(self.mutate(move |tenants| {
            Ok(match tenants.remove(id) {
                Some(_removed) => (true, vec![TenantEvent::Deleted(id.clone())]),
                None => (false, Vec::new()),
            })
        }))
    }

    fn subscribe(&self, cache: Arc<dyn Invalidate>) {
        self.subscribers.push(cache);
    }

    fn events(&self) -> broadcast::Receiver<TenantEvent> {
        self.subscribers.events()
    }

    fn record<'a>(&'a self, events: &'a [TenantEvent]) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(async move {
            self.subscribers.publish(events).await;
            Ok(())
        })
    }
}

impl MemoryRegistry {
    async fn set_active(&self, id: &TenantId, active: bool) -> Result<(), TenancyError> {
        self.mutate(|tenants| {
            change(tenants, id, |tenant| {
                let storage = tenant.storage().clone();
                let domains = tenant.domains().to_vec();
                rebuilt(tenant, id, tenant.name(), storage, active, domains)
            })?;
            let event = if active {
                TenantEvent::Activated(id.clone())
            } else {
                TenantEvent::Deactivated(id.clone())
            };
            Ok(((), vec![event]))
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
