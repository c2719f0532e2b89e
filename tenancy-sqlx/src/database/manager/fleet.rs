//! Database mode across servers: placing a new tenant on the server with
//! the fewest tenants, and moving a tenant's database to another server.

use std::collections::BTreeMap;
use std::time::Duration;

use tenancy_core::{TenancyError, TenantId};

use crate::database::backend::DatabaseBackend;
use crate::database::pools::TenantPools;
use crate::error::step_error;
use crate::ident::Ident;
use crate::lifecycle::{StorageMode, TenantManager};
use crate::registry::{TenantRegistry, require};
use crate::storage::{DatabaseLocation, Storage};
use crate::tenant::{NewTenant, RegistryTenant};

impl<B: DatabaseBackend, R: TenantRegistry> TenantManager<TenantPools<B>, R> {
    /// How many tenants each configured server holds (servers without any
    /// included), from the registry.
    pub async fn tenants_per_server(&self) -> Result<BTreeMap<Ident, usize>, TenancyError> {
        let mut counts: BTreeMap<Ident, usize> = self
            .backend()
            .servers()
            .into_iter()
            .map(|server| (server, 0))
            .collect();
        for tenant in self.registry().list().await? {
            if let Some(count) = tenant
                .storage()
                .database()
                .and_then(|location| counts.get_mut(location.server()))
            {
                *count += 1;
            }
        }
        Ok(counts)
    }

    /// Creates a tenant on the configured server that holds the fewest
    /// tenants (ties: the first by name); see
    /// [`create`](TenantManager::create). Placing by a rule of your own:
    /// [`TenantPools::with_placement`], or [`create_on`](Self::create_on).
    pub async fn create_on_least_used(
        &self,
        new: NewTenant,
    ) -> Result<RegistryTenant, TenancyError> {
        let counts = self.tenants_per_server().await?;
        let server = counts
            .iter()
            .min_by_key(|(_, count)| **count)
            .map(|(server, _)| server.clone())
            .unwrap_or_else(|| self.backend().default_server().clone());
        self.create_on(new, &server).await
    }

    /// Moves tenant `id`'s database to `server`, in steps that each fail
    /// safely:
    ///
    /// 1. **stop writes**: the tenant is deactivated (every process stops
    ///    serving it as the change reaches it), then `drain` lets requests
    ///    already under way elsewhere finish;
    /// 2. **copy**: a database is made on `server` by the migrations (the
    ///    tenant must be migrated to them) and filled from the source;
    /// 3. **verify**: every table's row count must match the source's;
    /// 4. **switch**: the registry records the new location, which every
    ///    process's cache and pools follow;
    /// 5. **reactivate** (when it was active);
    /// 6. **drop the source**: a failure here is logged and the copy
    ///    serves on (the source is left to drop by hand).
    ///
    /// A failure in steps 2–4 drops the copy and reactivates the tenant on
    /// its source, complete. Postgres and SQLite (directories) move between
    /// servers; MySQL / MariaDB cannot (`Configuration`, nothing changed:
    /// dump and restore instead).
    ///
    /// Writes stop when the deactivation reaches each process (at once on
    /// Postgres, within the change log's poll interval elsewhere) and the
    /// requests already under way there finish: choose `drain` longer than
    /// the registry's propagation delay plus your longest request. A write
    /// that still reaches the source after the copy is lost when the source
    /// is dropped, unless it changes a row count (the move then fails and
    /// nothing changes).
    ///
    /// Errors: `TenantNotFound`; `Configuration` (no such server, already
    /// there, not migrated); `SchemaCreation` (the copy failed or does not
    /// match); `TableCreation`; `StoreUnavailable`.
    pub async fn move_tenant(
        &self,
        id: &TenantId,
        server: &Ident,
        drain: Duration,
    ) -> Result<RegistryTenant, TenancyError> {
        let tenant = require(self.registry(), id).await?;
        let source = match tenant.storage().database() {
            Some(location) => location.clone(),
            None => {
                return Err(configuration(format!(
                    "tenant `{id}` has no database of its own"
                )));
            }
        };
        if source.server() == server {
            return Err(configuration(format!(
                "tenant `{id}` is on `{server}` already"
            )));
        }
        if !self.backend().copies_between_servers() {
            return Err(configuration(format!(
                "{} tenant databases cannot be copied between servers: dump and restore \
                 `{source}` instead",
                self.backend().name()
            )));
        }
        let target = self.pools().location_on(server, id).await?;
        self.require_current(&tenant, "moving").await?;
        let was_active = tenant.is_active();
        if was_active {
            self.deactivate(id).await?;
            tokio::time::sleep(drain).await;
        }
        if let Err(error) = self.copy_and_switch(&tenant, &source, &target).await {
            if was_active && let Err(reactivated) = self.activate(id).await {
                tracing::error!(tenant = %id, error = %reactivated, "could not reactivate a tenant after a failed move");
            }
            return Err(error);
        }
        self.pools().close(&source).await;
        if was_active {
            self.activate(id).await?;
        }
        if let Err(error) = self.backend().drop_database(id, &source).await {
            tracing::error!(tenant = %id, database = %source, %error, "moved, but the source database could not be dropped");
        }
        tracing::info!(tenant = %id, from = %source, to = %target, "tenant moved");
        require(self.registry(), id).await
    }

    /// Steps 2–4 of a move: on failure, the copy is dropped.
    async fn copy_and_switch(
        &self,
        tenant: &RegistryTenant,
        source: &DatabaseLocation,
        target: &DatabaseLocation,
    ) -> Result<(), TenancyError> {
        let id = tenant.id();
        let backend = self.backend();
        let history = self.migrations().history().as_str();
        // The tenant as it will be: its database made (and migrated) where
        // a new tenant's would be, on the target server.
        let moved =
            RegistryTenant::builder(id.clone(), tenant.name(), Storage::Database(target.clone()))
                .build();
        self.storage()
            .provision(&moved, self.migrations(), None)
            .await?;
        let failed = |error: sqlx::Error| {
            step_error(error, |source| TenancyError::SchemaCreation {
                tenant: id.clone(),
                schema: target.to_string(),
                source,
            })
        };
        let copied = async {
            backend
                .copy_database(source, target, history)
                .await
                .map_err(failed)?;
            let expected = backend.row_counts(source, history).await.map_err(failed)?;
            let copied = backend.row_counts(target, history).await.map_err(failed)?;
            if copied != expected {
                return Err(TenancyError::SchemaCreation {
                    tenant: id.clone(),
                    schema: target.to_string(),
                    source: format!(
                        "the copy's row counts {copied:?} differ from the source's {expected:?}"
                    )
                    .into(),
                });
            }
            self.registry()
                .rename_with_storage(id, id, Some(&Storage::Database(target.clone())))
                .await
        }
        .await;
        if copied.is_err() && self.records(id, target).await {
            // The switch committed though its answer was lost: the copy is
            // the tenant's database now.
            return Ok(());
        }
        if copied.is_err() {
            self.pools().close(target).await;
            if let Err(error) = backend.drop_database(id, target).await {
                tracing::error!(tenant = %id, database = %target, %error, "could not drop the copy of a failed move");
            }
        }
        copied
    }
}

impl<B: DatabaseBackend, R: TenantRegistry> TenantManager<TenantPools<B>, R> {
    /// Whether the registry records `location` as tenant `id`'s database.
    async fn records(&self, id: &TenantId, location: &DatabaseLocation) -> bool {
        match self.registry().find_by_id(id).await {
            Ok(Some(tenant)) => tenant.storage().database() == Some(location),
            _ => false,
        }
    }
}

fn configuration(message: String) -> TenancyError {
    TenancyError::Configuration { message }
}
