//! [`TenantFilter`]: which tenants a migration run touches.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use tenancy_core::TenantId;

use crate::tenant::RegistryTenant;

type Predicate = Arc<dyn Fn(&RegistryTenant) -> bool + Send + Sync>;

/// Selects a subset of tenants, e.g. to migrate a canary group first or to
/// resume after a given id. All conditions must hold; the default selects all.
///
/// ```
/// use tenancy_core::TenantId;
/// use tenancy_sqlx::migrate::TenantFilter;
///
/// let canaries = TenantFilter::all()
///     .only([TenantId::new("acme")?, TenantId::new("globex")?])
///     .active_only();
/// # let _ = canaries;
/// let resume = TenantFilter::all().after(TenantId::new("m")?);
/// # let _ = resume;
/// # Ok::<(), tenancy_core::InvalidTenantId>(())
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct TenantFilter {
    ids: Option<BTreeSet<TenantId>>,
    active: Option<bool>,
    after: Option<TenantId>,
    predicate: Option<Predicate>,
}

impl TenantFilter {
    /// Every tenant.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only these tenants.
    pub fn only(mut self, ids: impl IntoIterator<Item = TenantId>) -> Self {
        self.ids = Some(ids.into_iter().collect());
        self
    }

    /// Only active tenants.
    pub fn active_only(mut self) -> Self {
        self.active = Some(true);
        self
    }

    /// Only inactive tenants.
    pub fn inactive_only(mut self) -> Self {
        self.active = Some(false);
        self
    }

    /// Only tenants whose id sorts after `id` (tenants are visited in id order,
    /// so this resumes an interrupted run from a checkpoint).
    pub fn after(mut self, id: TenantId) -> Self {
        self.after = Some(id);
        self
    }

    /// Only tenants for which `predicate` holds.
    pub fn matching(
        mut self,
        predicate: impl Fn(&RegistryTenant) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.predicate = Some(Arc::new(predicate));
        self
    }

    /// Whether `tenant` is selected.
    pub fn matches(&self, tenant: &RegistryTenant) -> bool {
        self.ids
            .as_ref()
            .is_none_or(|ids| ids.contains(tenant.id()))
            && self
                .active
                .is_none_or(|active| tenant.is_active() == active)
            && self.after.as_ref().is_none_or(|after| tenant.id() > after)
            && self
                .predicate
                .as_ref()
                .is_none_or(|predicate| predicate(tenant))
    }
}

impl fmt::Debug for TenantFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantFilter")
            .field("ids", &self.ids)
            .field("active", &self.active)
            .field("after", &self.after)
            .field("predicate", &self.predicate.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{SchemaName, Storage};

    fn tenant(id: &str, active: bool) -> RegistryTenant {
        let schema = Storage::Schema(SchemaName::new(format!("tenant_{id}")).unwrap());
        RegistryTenant::builder(TenantId::new(id).unwrap(), id, schema)
            .active(active)
            .build()
    }

    #[test]
    fn conditions_combine() {
        let filter = TenantFilter::all()
            .only([TenantId::new("a").unwrap(), TenantId::new("c").unwrap()])
            .active_only()
            .after(TenantId::new("a").unwrap());
        assert!(!filter.matches(&tenant("a", true)), "not after a");
        assert!(!filter.matches(&tenant("b", true)), "not listed");
        assert!(filter.matches(&tenant("c", true)));
        assert!(!filter.matches(&tenant("c", false)), "inactive");
        let named = TenantFilter::all().matching(|t| t.name().starts_with('x'));
        assert!(named.matches(&tenant("xy", false)));
        assert!(!named.matches(&tenant("yx", true)));
        assert!(TenantFilter::all().matches(&tenant("z", false)));
    }
}
