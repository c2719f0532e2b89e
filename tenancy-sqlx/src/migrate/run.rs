//! The backend-neutral part of a migrate-all run: bounded concurrency, the
//! progress callback, per-tenant outcomes and the report.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use tenancy_core::TenancyError;

use super::options::{MigrateOptions, MigrationProgress};
use super::report::{MigrationReport, MigrationStatus, TenantOutcome};
use crate::tenant::RegistryTenant;

/// Migrates the `listed` tenants that `applies` accepts and the run's filter
/// selects, at most `options.concurrency` (else `default_concurrency`) at
/// once. A failing tenant is logged and reported; it does not stop the run.
/// The report lists tenants by id; the rest of `listed` counts as skipped.
pub(crate) async fn migrate_each<F, Fut>(
    listed: Vec<RegistryTenant>,
    applies: impl Fn(&RegistryTenant) -> bool,
    options: &MigrateOptions,
    default_concurrency: usize,
    migrate: F,
) -> MigrationReport
where
    F: Fn(RegistryTenant) -> Fut,
    Fut: Future<Output = Result<Vec<i64>, TenancyError>>,
{
    let started = Instant::now();
    let listed_count = listed.len();
    let selected: Vec<RegistryTenant> = listed
        .into_iter()
        .filter(|tenant| applies(tenant) && options.filter.matches(tenant))
        .collect();
    let total = selected.len();
    let concurrency = options.concurrency.unwrap_or(default_concurrency).max(1);
    let done = &AtomicUsize::new(0);
    let progress = options.progress.as_ref();
    let migrate = &migrate;
    let mut results: Vec<TenantOutcome> = stream::iter(selected)
        .map(|tenant| async move {
            let began = Instant::now();
            let id = tenant.id().clone();
            let status = if options.is_stopped() {
                MigrationStatus::Stopped
            } else {
                match migrate(tenant).await {
                    Ok(versions) if versions.is_empty() => MigrationStatus::UpToDate,
                    Ok(versions) => MigrationStatus::Migrated { versions },
                    Err(error) => {
                        tracing::warn!(tenant = %id, %error, "tenant migration failed");
                        MigrationStatus::Failed(error)
                    }
                }
            };
            let result = TenantOutcome {
                id,
                status,
                elapsed: began.elapsed(),
            };
            let finished = done.fetch_add(1, Ordering::SeqCst) + 1;
            if let Some(progress) = progress {
                progress(&MigrationProgress {
                    done: finished,
                    total,
                    tenant: &result,
                });
            }
            result
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    results.sort_by(|a, b| a.id.cmp(&b.id));
    let report = MigrationReport {
        tenants: results,
        skipped: listed_count - total,
        elapsed: started.elapsed(),
    };
    tracing::info!(%report, "tenant migrations finished");
    report
}
