//! Migration reports in shared-schema mode: one run for all tenants, one
//! truthful entry per tenant.

use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use tenancy_core::TenancyError;

use crate::error::{MigrationError, is_unavailable};
use crate::migrate::{MigrationProgress, MigrationReport, MigrationStatus, TenantOutcome};
use crate::tenant::RegistryTenant;

type Progress = Arc<dyn Fn(&MigrationProgress<'_>) + Send + Sync>;

/// Builds the report of a shared-table migration run: every selected tenant
/// gets the run's outcome, since their rows live in the same tables.
pub(crate) fn fan_out(
    selected: &[RegistryTenant],
    outcome: Result<Vec<i64>, TenancyError>,
    skipped: usize,
    started: Instant,
    progress: Option<&Progress>,
) -> MigrationReport {
    let elapsed = started.elapsed();
    let shared_error = match outcome {
        Ok(versions) => Ok(versions),
        Err(error) => {
            tracing::warn!(%error, "shared-table migration failed");
            Err(Arc::new(error))
        }
    };
    let total = selected.len();
    let mut tenants = Vec::with_capacity(total);
    for (done, tenant) in selected.iter().enumerate() {
        let status = match &shared_error {
            Ok(versions) if versions.is_empty() => MigrationStatus::UpToDate,
            Ok(versions) => MigrationStatus::Migrated {
                versions: versions.clone(),
            },
            Err(error) => MigrationStatus::Failed(per_tenant(tenant, error)),
        };
        let entry = TenantOutcome {
            id: tenant.id().clone(),
            status,
            elapsed,
        };
        if let Some(progress) = progress {
            progress(&MigrationProgress {
                done: done + 1,
                total,
                tenant: &entry,
            });
        }
        tenants.push(entry);
    }
    tenants.sort_by(|a, b| a.id.cmp(&b.id));
    MigrationReport {
        tenants,
        skipped,
        elapsed: started.elapsed(),
    }
}

/// The report of a run stopped ([`MigrateOptions::stop_when`](crate::MigrateOptions::stop_when))
/// before its one migration started: every selected tenant `Stopped`.
pub(crate) fn stopped(
    selected: &[RegistryTenant],
    skipped: usize,
    started: Instant,
) -> MigrationReport {
    let tenants = selected
        .iter()
        .map(|tenant| TenantOutcome {
            id: tenant.id().clone(),
            status: MigrationStatus::Stopped,
            elapsed: started.elapsed(),
        })
        .collect();
    MigrationReport {
        tenants,
        skipped,
        elapsed: started.elapsed(),
    }
}

/// The tenant's copy of the shared failure (same source for every tenant).
fn per_tenant(tenant: &RegistryTenant, error: &Arc<TenancyError>) -> TenancyError {
    let shared = SharedMigrationFailed(Arc::clone(error));
    if matches!(**error, TenancyError::StoreUnavailable { .. }) {
        TenancyError::unavailable(shared)
    } else {
        TenancyError::Migration {
            tenant: tenant.id().clone(),
            source: Box::new(shared),
        }
    }
}

/// Migrating the shared tables failed; every tenant's report entry holds it.
#[derive(Debug, Clone)]
struct SharedMigrationFailed(Arc<TenancyError>);

impl fmt::Display for SharedMigrationFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "migrating the shared tables (all tenants at once) failed: {}",
            self.0
        )
    }
}

impl Error for SharedMigrationFailed {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source()
    }
}

/// A failed shared-table migration: unavailability, or `Storage` with the cause.
pub(crate) fn migration_failed(error: MigrationError) -> TenancyError {
    match error {
        MigrationError::Database(error) if is_unavailable(&error) => {
            TenancyError::unavailable(error)
        }
        MigrationError::Apply { source, .. } if is_unavailable(&source) => {
            TenancyError::unavailable(source)
        }
        error => TenancyError::storage(error),
    }
}

/// Pending migrations would change every tenant's rows, but the filter
/// selects only some tenants.
pub(crate) fn partial_run_refused(pending: usize, skipped: usize) -> TenancyError {
    TenancyError::Configuration {
        message: format!(
            "{pending} pending migration(s) would change the shared tables of every tenant, but \
             the filter leaves out {skipped} tenant(s); in shared-schema mode migrate with \
             TenantFilter::all()"
        ),
    }
}
