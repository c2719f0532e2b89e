//! [`TenantEvent`]: what happened to a tenant, as registries report it to
//! subscribers, in this process and across processes.

use crate::domain::DomainName;
use crate::id::TenantId;

use super::invalidate::Invalidation;

/// A change to a tenant, reported by a registry to its event subscribers:
/// changes made in this process at once, other processes' changes as the
/// registry learns of them (`LISTEN/NOTIFY`, a polled change log).
///
/// Use it to react to tenants coming and going (warm a pool, stop a tenant's
/// background jobs, write an audit log). Caches need not subscribe to events:
/// registries invalidate them directly, with [`invalidations`](Self::invalidations).
///
/// ```
/// use tenancy_core::{Invalidation, TenantEvent, TenantId};
///
/// let acme = TenantId::new("acme")?;
/// let event = TenantEvent::Deactivated(acme.clone());
/// assert_eq!(event.tenant(), Some(&acme));
/// assert_eq!(event.invalidations(), vec![Invalidation::Tenant(acme)]);
/// # Ok::<(), tenancy_core::InvalidTenantId>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TenantEvent {
    /// A tenant was registered (registries create tenants inactive first
    /// when their storage is still being made: an `Activated` follows).
    Created(TenantId),
    /// A tenant's name changed.
    Updated(TenantId),
    /// A tenant's id changed; its domains and data followed.
    Renamed {
        /// The old id.
        from: TenantId,
        /// The new id.
        to: TenantId,
    },
    /// A tenant is served again.
    Activated(TenantId),
    /// A tenant is no longer served.
    Deactivated(TenantId),
    /// A tenant was removed from the registry.
    Deleted(TenantId),
    /// A tenant's storage was migrated (its schema may have changed).
    Migrated(TenantId),
    /// A domain was given to a tenant.
    DomainAdded {
        /// The tenant.
        tenant: TenantId,
        /// The domain.
        domain: DomainName,
    },
    /// A domain was taken from a tenant.
    DomainRemoved {
        /// The tenant.
        tenant: TenantId,
        /// The domain.
        domain: DomainName,
    },
    /// Changes may have been missed (a notification channel was lost, or a
    /// change could not be read): reload whatever you derived from tenants.
    Unknown,
}

impl TenantEvent {
    /// The tenant concerned (the new id of a rename), if any.
    pub fn tenant(&self) -> Option<&TenantId> {
        match self {
            Self::Created(id)
            | Self::Updated(id)
            | Self::Activated(id)
            | Self::Deactivated(id)
            | Self::Deleted(id)
            | Self::Migrated(id) => Some(id),
            Self::Renamed { to, .. } => Some(to),
            Self::DomainAdded { tenant, .. } | Self::DomainRemoved { tenant, .. } => Some(tenant),
            Self::Unknown => None,
        }
    }

    /// What a tenant cache must forget after this event. A migration
    /// changes no registry row, but what a process derived from the
    /// tenant's storage (a schema's migration version) is stale: the tenant.
    pub fn invalidations(&self) -> Vec<Invalidation> {
        match self {
            Self::Created(id)
            | Self::Updated(id)
            | Self::Activated(id)
            | Self::Deactivated(id)
            | Self::Deleted(id)
            | Self::Migrated(id) => vec![Invalidation::Tenant(id.clone())],
            Self::Renamed { from, to } => vec![
                Invalidation::Tenant(from.clone()),
                Invalidation::Tenant(to.clone()),
            ],
            Self::DomainAdded { tenant, domain } | Self::DomainRemoved { tenant, domain } => vec![
                Invalidation::Tenant(tenant.clone()),
                Invalidation::Domain(domain.clone()),
            ],
            Self::Unknown => vec![Invalidation::All],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(value: &str) -> TenantId {
        TenantId::new(value).unwrap()
    }

    #[test]
    fn every_event_names_what_caches_forget() {
        let domain = DomainName::new("shop.acme.test").unwrap();
        let renamed = TenantEvent::Renamed {
            from: id("a"),
            to: id("b"),
        };
        assert_eq!(renamed.tenant(), Some(&id("b")));
        assert_eq!(
            renamed.invalidations(),
            vec![Invalidation::Tenant(id("a")), Invalidation::Tenant(id("b"))]
        );
        let added = TenantEvent::DomainAdded {
            tenant: id("a"),
            domain: domain.clone(),
        };
        assert_eq!(
            added.invalidations(),
            vec![Invalidation::Tenant(id("a")), Invalidation::Domain(domain)]
        );
        assert_eq!(
            TenantEvent::Migrated(id("a")).invalidations(),
            vec![Invalidation::Tenant(id("a"))]
        );
        assert_eq!(
            TenantEvent::Unknown.invalidations(),
            vec![Invalidation::All]
        );
        assert_eq!(TenantEvent::Unknown.tenant(), None);
    }
}
