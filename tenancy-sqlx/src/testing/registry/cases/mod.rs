//! The cases of the registry suite, one function each: what a registry
//! stores and refuses, and how its changes reach caches and event
//! receivers.

mod propagation;
mod records;

pub use propagation::*;
pub use records::*;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tenancy_core::{CacheBuilder, DomainName, TenancyError, TenantEvent, TenantId, TenantStore};

use super::RegistryHarness;
use crate::registry::TenantRegistry;
use crate::schema::SchemaName;
use crate::storage::{DatabaseLocation, SharedKey, Storage};
use crate::tenant::{NewTenant, RegistryTenant};

fn id(value: &str) -> TenantId {
    TenantId::new(value).unwrap()
}

fn domain(value: &str) -> DomainName {
    DomainName::new(value).unwrap()
}

/// A storage location of its own for `tenant`.
fn storage(tenant: &str) -> Storage {
    Storage::Database(
        format!("main/tenant_{tenant}")
            .parse::<DatabaseLocation>()
            .unwrap(),
    )
}

/// Creates `new` in the storage named after its id.
async fn create<R: TenantRegistry>(
    registry: &R,
    new: NewTenant,
) -> Result<RegistryTenant, TenancyError> {
    let location = storage(new.id().as_str());
    registry.create_with_storage(new, location).await
}

async fn find<R: TenantRegistry>(registry: &R, value: &str) -> Option<RegistryTenant> {
    registry.find_by_id(&id(value)).await.unwrap()
}

async fn owner<R: TenantRegistry>(registry: &R, value: &str) -> Option<TenantId> {
    registry
        .find_by_domain(&domain(value))
        .await
        .unwrap()
        .map(|tenant| tenant.id().clone())
}

fn ids(tenants: &[RegistryTenant]) -> Vec<String> {
    tenants.iter().map(|t| t.id().to_string()).collect()
}

fn domain_names(tenant: &RegistryTenant) -> Vec<String> {
    let mut names: Vec<String> = tenant
        .domains()
        .iter()
        .map(|d| d.name.to_string())
        .collect();
    names.sort();
    names
}

/// How far apart two instants are, either way round.
fn apart(a: SystemTime, b: SystemTime) -> Duration {
    a.duration_since(b)
        .unwrap_or_else(|earlier| earlier.duration())
}

/// The registry's lookups as a [`TenantStore`], for a
/// [`CachedStore`](tenancy_core::CachedStore) in front of it.
struct Lookups<R>(R);

impl<R: TenantRegistry> TenantStore for Lookups<R> {
    type Tenant = RegistryTenant;

    async fn find_by_id(&self, id: &TenantId) -> Result<Option<RegistryTenant>, TenancyError> {
        TenantRegistry::find_by_id(&self.0, id).await
    }

    async fn find_by_domain(
        &self,
        domain: &DomainName,
    ) -> Result<Option<RegistryTenant>, TenancyError> {
        TenantRegistry::find_by_domain(&self.0, domain).await
    }
}
