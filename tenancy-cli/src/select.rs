//! [`TenantSelection`] as a [`TenantFilter`], and the ids it names that do
//! not exist.

use std::collections::BTreeSet;

use tenancy_core::TenantId;
use tenancy_sqlx::migrate::TenantFilter;
use wildmatch::WildMatch;

use crate::admin::CommandError;
use crate::args::TenantSelection;
use crate::tenants::tenant_id;

impl TenantSelection {
    /// The tenants `--tenant` and `--pattern` select (every tenant by default).
    pub(crate) fn filter(&self) -> Result<TenantFilter, CommandError> {
        let mut filter = TenantFilter::all();
        if !self.tenants.is_empty() {
            let ids = self
                .tenants
                .iter()
                .map(|id| tenant_id(id))
                .collect::<Result<BTreeSet<_>, _>>()?;
            filter = filter.only(ids);
        }
        if let Some(pattern) = &self.pattern {
            let pattern = WildMatch::new(pattern);
            filter = filter.matching(move |tenant| pattern.matches(tenant.id().as_str()));
        }
        Ok(filter)
    }

    /// `NoSuchTenants` naming the `--tenant` ids that are not among `found`.
    pub(crate) fn require_found<'a>(
        &self,
        found: impl IntoIterator<Item = &'a TenantId>,
    ) -> Result<(), CommandError> {
        let found: BTreeSet<&str> = found.into_iter().map(TenantId::as_str).collect();
        let unknown: Vec<&str> = self
            .tenants
            .iter()
            .map(String::as_str)
            .filter(|id| !found.contains(id))
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(CommandError::NoSuchTenants(unknown.join(", ")))
        }
    }
}
