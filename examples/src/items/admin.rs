//! [`LifecycleAdmin`]: the admin API over any isolation mode's lifecycle.

use std::sync::Arc;

use futures_util::FutureExt;
use serde_json::{Value, json};
use tenancy_core::{BoxFuture, TenancyError, TenantId};
use tenancy_sqlx::migrate::MigrationStatus;
use tenancy_sqlx::{MigrateOptions, MigrationReport, NewTenant, RegistryTenant, TenantLifecycle};

use super::storage::TenantAdmin;

/// [`TenantAdmin`] for every mode × backend, through [`TenantLifecycle`].
pub struct LifecycleAdmin {
    lifecycle: Arc<dyn TenantLifecycle>,
}

impl LifecycleAdmin {
    /// Administers the tenants of `lifecycle`.
    pub fn new(lifecycle: Arc<dyn TenantLifecycle>) -> Self {
        Self { lifecycle }
    }
}

impl std::fmt::Debug for LifecycleAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LifecycleAdmin").finish_non_exhaustive()
    }
}

impl TenantAdmin for LifecycleAdmin {
    fn create(&self, tenant: NewTenant) -> BoxFuture<'_, Result<RegistryTenant, TenancyError>> {
        self.lifecycle.create(tenant)
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<RegistryTenant>, TenancyError>> {
        self.lifecycle.registry().list()
    }

    fn get<'a>(
        &'a self,
        id: &'a TenantId,
    ) -> BoxFuture<'a, Result<Option<RegistryTenant>, TenancyError>> {
        self.lifecycle.registry().find_by_id(id)
    }

    fn set_active<'a>(
        &'a self,
        id: &'a TenantId,
        active: bool,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        if active {
            self.lifecycle.activate(id)
        } else {
            self.lifecycle.deactivate(id)
        }
    }

    fn rename<'a>(
        &'a self,
        from: &'a TenantId,
        to: &'a TenantId,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        self.lifecycle
            .rename(from, to)
            .map(|renamed| renamed.map(drop))
            .boxed()
    }

    fn clone_tenant<'a>(
        &'a self,
        from: &'a TenantId,
        tenant: NewTenant,
    ) -> BoxFuture<'a, Result<RegistryTenant, TenancyError>> {
        self.lifecycle.clone_tenant(from, tenant)
    }

    fn delete<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        async move {
            if self.lifecycle.delete(id).await? {
                Ok(())
            } else {
                Err(TenancyError::TenantNotFound {
                    key: id.clone().into(),
                })
            }
        }
        .boxed()
    }

    fn migrate_all(&self) -> BoxFuture<'_, Result<Value, TenancyError>> {
        async move {
            Ok(report_json(
                &self.lifecycle.migrate_all(MigrateOptions::new()).await?,
            ))
        }
        .boxed()
    }
}

/// The migration report as JSON: one entry per tenant.
fn report_json(report: &MigrationReport) -> Value {
    let tenants: Vec<Value> = report
        .tenants
        .iter()
        .map(|tenant| {
            let (status, detail) = match &tenant.status {
                MigrationStatus::UpToDate => ("up_to_date", json!(null)),
                MigrationStatus::Migrated { versions } => ("migrated", json!(versions)),
                MigrationStatus::Failed(error) => ("failed", json!(error.to_string())),
                MigrationStatus::Stopped => ("stopped", json!(null)),
                _ => ("unknown", json!(null)),
            };
            json!({
                "id": tenant.id.as_str(),
                "status": status,
                "detail": detail,
                "elapsed_ms": tenant.elapsed.as_millis(),
            })
        })
        .collect();
    json!({
        "tenants": tenants,
        "failed": report.tenants.iter().filter(|tenant| tenant.is_failed()).count(),
        "elapsed_ms": report.elapsed.as_millis(),
    })
}
