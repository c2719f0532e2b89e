//! [`MigrationReport`]: what a migration run did to each tenant.

use std::fmt;
use std::time::Duration;

use tenancy_core::{TenancyError, TenantId};

/// The outcome for one tenant.
#[derive(Debug)]
#[non_exhaustive]
pub enum MigrationStatus {
    /// Nothing to apply.
    UpToDate,
    /// These versions were applied (in one transaction).
    Migrated {
        /// The applied versions, ascending.
        versions: Vec<i64>,
    },
    /// The tenant could not be migrated; its schema is unchanged.
    Failed(TenancyError),
    /// The run was stopped ([`MigrateOptions::stop_when`](super::MigrateOptions::stop_when))
    /// before this tenant's turn; it was not touched.
    Stopped,
}

/// One tenant's entry in a [`MigrationReport`].
#[derive(Debug)]
#[non_exhaustive]
pub struct TenantOutcome {
    /// The tenant.
    pub id: TenantId,
    /// What happened.
    pub status: MigrationStatus,
    /// How long it took.
    pub elapsed: Duration,
}

impl TenantOutcome {
    /// Whether the tenant failed.
    pub fn is_failed(&self) -> bool {
        matches!(self.status, MigrationStatus::Failed(_))
    }
}

/// The per-tenant result of migrating many tenants, in tenant id order.
///
/// A failing tenant does not stop the run; [`failed`](Self::failed) lists them
/// so they can be fixed and retried (each tenant is migrated in its own
/// transaction, so a failed tenant is left exactly as it was).
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct MigrationReport {
    /// One entry per selected tenant, by id.
    pub tenants: Vec<TenantOutcome>,
    /// Tenants the filter left out.
    pub skipped: usize,
    /// Wall-clock time of the whole run.
    pub elapsed: Duration,
}

impl MigrationReport {
    /// Tenants that received migrations.
    pub fn migrated(&self) -> impl Iterator<Item = &TenantOutcome> {
        self.tenants
            .iter()
            .filter(|tenant| matches!(tenant.status, MigrationStatus::Migrated { .. }))
    }

    /// Tenants that were already up to date.
    pub fn up_to_date(&self) -> impl Iterator<Item = &TenantOutcome> {
        self.tenants
            .iter()
            .filter(|tenant| matches!(tenant.status, MigrationStatus::UpToDate))
    }

    /// Tenants that failed.
    pub fn failed(&self) -> impl Iterator<Item = &TenantOutcome> {
        self.tenants.iter().filter(|tenant| tenant.is_failed())
    }

    /// Tenants the run stopped before reaching.
    pub fn stopped(&self) -> impl Iterator<Item = &TenantOutcome> {
        self.tenants
            .iter()
            .filter(|tenant| matches!(tenant.status, MigrationStatus::Stopped))
    }

    /// Whether every selected tenant is migrated or up to date: none
    /// failed, none was left by a stopped run.
    pub fn is_success(&self) -> bool {
        self.failed().next().is_none() && self.stopped().next().is_none()
    }

    /// The entry of tenant `id`.
    pub fn get(&self, id: &TenantId) -> Option<&TenantOutcome> {
        self.tenants
            .binary_search_by(|tenant| tenant.id.cmp(id))
            .ok()
            .and_then(|index| self.tenants.get(index))
    }
}

impl fmt::Display for MigrationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} tenants: {} migrated, {} up to date, {} failed, {} skipped, in {:.3} s",
            self.tenants.len(),
            self.migrated().count(),
            self.up_to_date().count(),
            self.failed().count(),
            self.skipped,
            self.elapsed.as_secs_f64()
        )?;
        match self.stopped().count() {
            0 => Ok(()),
            stopped => write!(f, " (stopped: {stopped} not started)"),
        }
    }
}
