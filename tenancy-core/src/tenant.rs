//! The [`Tenant`] trait and the plain [`TenantRecord`].

use std::sync::Arc;

use crate::id::TenantId;

/// A tenant as the pipeline needs it: an id, a display name, an active flag.
///
/// Stores return their own tenant types; anything that implements this trait
/// (and is cheap to clone, e.g. behind an [`Arc`]) can flow through
/// [`Tenancy`](crate::Tenancy) and the framework extractors.
///
/// ```
/// use tenancy_core::{Tenant, TenantId};
///
/// #[derive(Clone)]
/// struct Customer { id: TenantId, plan: &'static str }
///
/// impl Tenant for Customer {
///     fn id(&self) -> &TenantId { &self.id }
///     fn name(&self) -> &str { self.id.as_str() }
///     fn is_active(&self) -> bool { self.plan != "cancelled" }
/// }
/// ```
pub trait Tenant: Send + Sync {
    /// The tenant's id.
    fn id(&self) -> &TenantId;

    /// The human-readable name.
    fn name(&self) -> &str;

    /// Whether requests may be served for this tenant.
    fn is_active(&self) -> bool;
}

impl<T: Tenant + ?Sized> Tenant for Arc<T> {
    fn id(&self) -> &TenantId {
        (**self).id()
    }

    fn name(&self) -> &str {
        (**self).name()
    }

    fn is_active(&self) -> bool {
        (**self).is_active()
    }
}

impl<T: Tenant + ?Sized> Tenant for Box<T> {
    fn id(&self) -> &TenantId {
        (**self).id()
    }

    fn name(&self) -> &str {
        (**self).name()
    }

    fn is_active(&self) -> bool {
        (**self).is_active()
    }
}

impl<T: Tenant + ?Sized> Tenant for &T {
    fn id(&self) -> &TenantId {
        (**self).id()
    }

    fn name(&self) -> &str {
        (**self).name()
    }

    fn is_active(&self) -> bool {
        (**self).is_active()
    }
}

/// A plain tenant: id, display name and active flag. Cheap to clone.
///
/// ```
/// use tenancy_core::{Tenant, TenantId, TenantRecord};
///
/// let acme = TenantRecord::new(TenantId::new("acme")?, "Acme Corp");
/// assert!(acme.is_active());
/// assert!(!acme.clone().deactivated().is_active());
/// # Ok::<(), tenancy_core::InvalidTenantId>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct TenantRecord {
    /// The tenant's id.
    pub id: TenantId,
    /// The human-readable name.
    pub name: Arc<str>,
    /// Whether requests may be served for this tenant.
    pub active: bool,
}

impl TenantRecord {
    /// An active tenant.
    pub fn new(id: TenantId, name: impl Into<Arc<str>>) -> Self {
        Self {
            id,
            name: name.into(),
            active: true,
        }
    }

    /// The same tenant, deactivated.
    #[must_use]
    pub fn deactivated(self) -> Self {
        Self {
            active: false,
            ..self
        }
    }

    /// The same tenant with the given active flag.
    #[must_use]
    pub fn with_active(self, active: bool) -> Self {
        Self { active, ..self }
    }
}

impl Tenant for TenantRecord {
    fn id(&self) -> &TenantId {
        &self.id
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn is_active(&self) -> bool {
        self.active
    }
}
