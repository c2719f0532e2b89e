//! Create, rename, (de)activate and drop for database-per-tenant storage.

use tenancy_core::{TenancyError, TenantId};

use super::DatabaseManager;
use crate::database::backend::DatabaseBackend;
use crate::ident::Ident;
use crate::storage::DatabaseLocation;
use crate::storage::Storage;
use crate::tenant::{NewTenant, RegistryTenant};

impl<B: DatabaseBackend> DatabaseManager<B> {
    /// Creates a tenant on the server its placement picks (see
    /// [`create_on`](Self::create_on)).
    pub async fn create(&self, new: NewTenant) -> Result<RegistryTenant, TenancyError> {
        let server = self.server_for(&new);
        self.create_on(new, &server).await
    }

    /// Creates a tenant whose database lives on `server`: registry row,
    /// database and migrations, as one unit.
    ///
    /// 1. The registry row is written first, *inactive*: it claims the id,
    ///    the domains and the database location (of two concurrent creations
    ///    of one id, the loser fails with `TenantExists` before touching any
    ///    database), and nobody is served from a database that is not ready.
    /// 2. The database is created and migrated (Postgres: copied from the
    ///    server's migrated template database). A database that already
    ///    exists is never adopted (`SchemaCreation`).
    /// 3. The tenant is activated (unless it was asked for inactive).
    ///
    /// A failure at any step removes what the earlier steps made: neither a
    /// registry row nor a database is left. (A process killed between the
    /// steps can leave an inactive row; [`delete`](Self::delete)
    /// removes it.)
    ///
    /// Errors: `TenantExists`, `DomainTaken`, `SchemaCreation`,
    /// `TableCreation`, `Configuration` (unknown server), `StoreUnavailable`.
    pub async fn create_on(
        &self,
        new: NewTenant,
        server: &Ident,
    ) -> Result<RegistryTenant, TenancyError> {
        let backend = self.backend();
        if !backend.has_server(server) {
            return Err(TenancyError::Configuration {
                message: format!("no database server named `{server}` is configured"),
            });
        }
        let registry = &self.inner.registry;
        let migrations = &self.inner.migrations;
        let location = backend.location_for(server, &new.id).await?;
        // Connections this process may still hold to an earlier database of
        // that name (a dropped tenant's) must never serve the new one.
        self.pools().close(&location).await;
        backend.prepare(server, migrations).await.map_err(|error| {
            crate::error::step_error(error, |source| TenancyError::TableCreation {
                tenant: new.id.clone(),
                source,
            })
        })?;

        let active = new.active;
        let id = new.id.clone();
        let mut pending = new;
        pending.active = false;
        registry
            .create_with_storage(pending, Storage::Database(location.clone()))
            .await?;

        if let Err(error) = backend.create(&id, &location, migrations).await {
            self.forget(&id).await;
            return Err(error);
        }
        if active && let Err(error) = registry.activate(&id).await {
            self.undo(&id, &location).await;
            return Err(error);
        }
        tracing::info!(tenant = %id, database = %location, "tenant created");
        registry.require(&id).await
    }

    /// Removes the registry row of a creation that failed.
    async fn forget(&self, id: &TenantId) {
        if let Err(error) = self.inner.registry.delete(id).await {
            tracing::error!(tenant = %id, %error, "could not remove the registry row of a failed creation");
        }
    }

    /// Removes the database and registry row of a creation that failed late.
    async fn undo(&self, id: &TenantId, location: &DatabaseLocation) {
        self.inner.pools.close(location).await;
        if let Err(error) = self.backend().drop_database(id, location).await {
            tracing::error!(tenant = %id, %error, "could not drop the database of a failed creation");
        }
        self.forget(id).await;
    }

    /// Renames a tenant, keeping its data and domains.
    ///
    /// Postgres renames the database (`ALTER DATABASE … RENAME`) so its name
    /// keeps following the id; the tenant's pool is closed first, and the
    /// rename is undone if the registry update fails. Postgres refuses while
    /// other sessions (e.g. other processes) are connected to the database:
    /// that is a `SchemaRename` error, retry later. MySQL cannot rename a
    /// database, and SQLite cannot move a live file safely, so there only the
    /// registry changes and the database keeps its name (the registry records
    /// it; a later tenant with the old id gets a different name).
    ///
    /// Errors: `TenantNotFound`, `TenantExists`, `SchemaRename`.
    pub async fn rename(
        &self,
        from: &TenantId,
        to: &TenantId,
    ) -> Result<RegistryTenant, TenancyError> {
        let registry = &self.inner.registry;
        let current = registry.require(from).await?;
        if registry.find_by_id(to).await?.is_some() {
            return Err(TenancyError::TenantExists { id: to.clone() });
        }
        let Some(location) = current.storage().database().cloned() else {
            return Err(rename_error(
                from,
                to,
                "the tenant has no database of its own",
            ));
        };
        match self.backend().rename_target(&location, to)? {
            None => registry.rename(from, to).await?,
            Some(target) => {
                self.inner.pools.close(&location).await;
                self.backend()
                    .rename_database(&location, &target)
                    .await
                    .map_err(|error| {
                        crate::error::step_error(error, |source| TenancyError::SchemaRename {
                            from: from.clone(),
                            to: to.clone(),
                            source,
                        })
                    })?;
                let renamed = registry
                    .rename_with_storage(from, to, &Storage::Database(target.clone()))
                    .await;
                if let Err(error) = renamed {
                    if let Err(undo) = self.backend().rename_database(&target, &location).await {
                        tracing::error!(tenant = %from, error = %undo, "could not undo a database rename");
                    }
                    return Err(error);
                }
            }
        }
        tracing::info!(%from, %to, "tenant renamed");
        registry.require(to).await
    }

    /// Stops serving a tenant: deactivates it in the registry and closes its
    /// pool (its data is kept).
    pub async fn deactivate(&self, id: &TenantId) -> Result<(), TenancyError> {
        let tenant = self.inner.registry.require(id).await?;
        self.inner.registry.deactivate(id).await?;
        if let Some(location) = tenant.storage().database() {
            self.inner.pools.close(location).await;
        }
        Ok(())
    }

    /// Serves a deactivated tenant again.
    pub async fn activate(&self, id: &TenantId) -> Result<(), TenancyError> {
        self.inner.registry.activate(id).await
    }

    /// Deletes a tenant: deactivates it, closes its pool, drops its database
    /// (Postgres `WITH (FORCE)`, disconnecting other sessions), then removes
    /// its registry row. Idempotent: `false` when the registry has no such
    /// tenant (then no database is touched: only the registry knows which
    /// database is whose). A failed drop leaves the tenant deactivated and
    /// can be retried.
    ///
    /// Errors: `SchemaDrop`, `StoreUnavailable`.
    pub async fn delete(&self, id: &TenantId) -> Result<bool, TenancyError> {
        let registry = &self.inner.registry;
        let Some(tenant) = registry.find_by_id(id).await? else {
            return Ok(false);
        };
        if let Some(location) = tenant.storage().database() {
            if tenant.is_active() {
                registry.deactivate(id).await?;
            }
            self.inner.pools.close(location).await;
            self.backend().drop_database(id, location).await?;
        }
        let existed = registry.delete(id).await?;
        tracing::info!(tenant = %id, "tenant dropped");
        Ok(existed)
    }
}

fn rename_error(from: &TenantId, to: &TenantId, message: &'static str) -> TenancyError {
    TenancyError::SchemaRename {
        from: from.clone(),
        to: to.clone(),
        source: message.into(),
    }
}
