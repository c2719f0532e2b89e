//! [`TenantPools`] as the [`StorageMode`] of database-per-tenant storage:
//! create, rename, drop and migrate tenant databases.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tenancy_core::{TenancyError, TenantAccess, TenantId};

use crate::database::backend::DatabaseBackend;
use crate::database::pools::{TenantConnection, TenantPools};
use crate::error::{step_error, store_error};
use crate::ident::Ident;
use crate::lifecycle::{Seed, StorageMode};
use crate::migrate::{
    HistoryEntry, MigrateOptions, MigrationReport, TenantMigrations, migrate_each,
};
use crate::storage::{DatabaseLocation, Storage};
use crate::tenant::{NewTenant, RegistryTenant};

impl<B: DatabaseBackend> TenantPools<B> {
    /// The location of `id`'s database on `server`; `Configuration` when no
    /// such server is configured.
    pub(crate) async fn location_on(
        &self,
        server: &Ident,
        id: &TenantId,
    ) -> Result<DatabaseLocation, TenancyError> {
        if !self.backend().has_server(server) {
            return Err(TenancyError::Configuration {
                message: format!("no database server named `{server}` is configured"),
            });
        }
        self.backend().location_for(server, id).await
    }

    /// Applies pending migrations to `tenant`'s database.
    pub(crate) async fn migrate_tenant(
        &self,
        tenant: &RegistryTenant,
        migrations: &TenantMigrations,
    ) -> Result<Vec<i64>, TenancyError> {
        let id = tenant.id();
        let location = database_of(tenant).map_err(|message| TenancyError::Migration {
            tenant: id.clone(),
            source: message.into(),
        })?;
        let backend = self.backend();
        let migrated = match backend.prepare(location.server(), migrations).await {
            Ok(()) => backend.migrate(location, migrations).await,
            Err(error) => Err(error),
        };
        migrated.map_err(|error| {
            step_error(error, |source| TenancyError::Migration {
                tenant: id.clone(),
                source,
            })
        })
    }

    /// Creates and migrates the database, then runs the seed on it.
    async fn provision_database(
        &self,
        tenant: &RegistryTenant,
        migrations: &TenantMigrations,
        seed: Option<&Seed<TenantConnection<B>>>,
    ) -> Result<(), TenancyError> {
        let id = tenant.id();
        let location = database_of(tenant).map_err(|message| TenancyError::SchemaCreation {
            tenant: id.clone(),
            schema: tenant.storage().location().to_owned(),
            source: message.into(),
        })?;
        // Connections this process may still hold to an earlier database of
        // that name (a deleted tenant's) must never serve the new one.
        self.close(location).await;
        let backend = self.backend();
        backend
            .prepare(location.server(), migrations)
            .await
            .map_err(|error| {
                step_error(error, |source| TenancyError::TableCreation {
                    tenant: id.clone(),
                    source,
                })
            })?;
        backend.create(id, location, migrations).await?;
        let Some(seed) = seed else { return Ok(()) };
        let seeded = match self.open(tenant).await {
            Ok(mut conn) => {
                seed(&mut conn, tenant)
                    .await
                    .map_err(|source| TenancyError::TableCreation {
                        tenant: id.clone(),
                        source,
                    })
            }
            Err(error) => Err(error),
        };
        if let Err(error) = seeded {
            self.close(location).await;
            if let Err(undo) = backend.drop_database(id, location).await {
                tracing::error!(tenant = %id, error = %undo, "could not drop the database of a failed seed");
            }
            return Err(error);
        }
        Ok(())
    }

    /// Renames the database when the backend can; returns its new location.
    async fn rename_database(
        &self,
        tenant: &RegistryTenant,
        to: &TenantId,
    ) -> Result<Option<Storage>, TenancyError> {
        let from = tenant.id();
        let rename_error = |source: tenancy_core::BoxError| TenancyError::SchemaRename {
            from: from.clone(),
            to: to.clone(),
            source,
        };
        let location = database_of(tenant).map_err(|message| rename_error(message.into()))?;
        let Some(target) = self.backend().rename_target(location, to)? else {
            return Ok(None);
        };
        self.close(location).await;
        self.backend()
            .rename_database(location, &target)
            .await
            .map_err(|error| step_error(error, rename_error))?;
        Ok(Some(Storage::Database(target)))
    }
}

/// The tenant's database, or why it has none.
fn database_of(tenant: &RegistryTenant) -> Result<&DatabaseLocation, &'static str> {
    tenant
        .storage()
        .database()
        .ok_or("the tenant has no database of its own")
}

impl<B: DatabaseBackend> StorageMode for TenantPools<B> {
    type Seeding = TenantConnection<B>;

    fn allocate<'a>(&'a self, new: &'a NewTenant) -> BoxFuture<'a, Result<Storage, TenancyError>> {
        async move {
            let server = self.server_for(new);
            Ok(Storage::Database(self.location_on(&server, &new.id).await?))
        }
        .boxed()
    }

    /// On the source's server.
    fn allocate_copy<'a>(
        &'a self,
        source: &'a RegistryTenant,
        new: &'a NewTenant,
    ) -> BoxFuture<'a, Result<Storage, TenancyError>> {
        async move {
            let server = match source.storage().database() {
                Some(location) => location.server().clone(),
                None => self.server_for(new),
            };
            Ok(Storage::Database(self.location_on(&server, &new.id).await?))
        }
        .boxed()
    }

    fn copy_data<'a>(
        &'a self,
        from: &'a RegistryTenant,
        to: &'a RegistryTenant,
        migrations: &'a TenantMigrations,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        async move {
            let failed = |message: &str| TenancyError::SchemaCreation {
                tenant: to.id().clone(),
                schema: to.storage().location().to_owned(),
                source: message.to_owned().into(),
            };
            let source = database_of(from).map_err(failed)?;
            let target = database_of(to).map_err(failed)?;
            self.backend()
                .copy_database(source, target, migrations.history().as_str())
                .await
                .map_err(|error| {
                    step_error(error, |source| TenancyError::SchemaCreation {
                        tenant: to.id().clone(),
                        schema: target.to_string(),
                        source,
                    })
                })
        }
        .boxed()
    }

    fn provision<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
        migrations: &'a TenantMigrations,
        seed: Option<&'a Seed<Self::Seeding>>,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        self.provision_database(tenant, migrations, seed).boxed()
    }

    fn rename<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
        to: &'a TenantId,
    ) -> BoxFuture<'a, Result<Option<Storage>, TenancyError>> {
        self.rename_database(tenant, to).boxed()
    }

    fn undo_rename<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
        moved: &'a Storage,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        async move {
            let (Some(moved), Some(original)) = (moved.database(), tenant.storage().database())
            else {
                return Ok(());
            };
            self.backend()
                .rename_database(moved, original)
                .await
                .map_err(store_error)
        }
        .boxed()
    }

    fn release<'a>(&'a self, tenant: &'a RegistryTenant) -> BoxFuture<'a, ()> {
        async move {
            if let Some(location) = tenant.storage().database() {
                self.close(location).await;
            }
        }
        .boxed()
    }

    fn remove<'a>(&'a self, tenant: &'a RegistryTenant) -> BoxFuture<'a, Result<(), TenancyError>> {
        async move {
            match tenant.storage().database() {
                Some(location) => self.backend().drop_database(tenant.id(), location).await,
                None => Ok(()),
            }
        }
        .boxed()
    }

    fn history<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
        migrations: &'a TenantMigrations,
    ) -> BoxFuture<'a, Result<Vec<HistoryEntry>, TenancyError>> {
        async move {
            let id = tenant.id();
            let location = database_of(tenant).map_err(|message| TenancyError::Migration {
                tenant: id.clone(),
                source: message.into(),
            })?;
            self.backend()
                .history(location, migrations)
                .await
                .map_err(|error| {
                    step_error(error, |source| TenancyError::Migration {
                        tenant: id.clone(),
                        source,
                    })
                })
        }
        .boxed()
    }

    fn migrate_all<'a>(
        &'a self,
        tenants: Vec<RegistryTenant>,
        migrations: &'a TenantMigrations,
        options: MigrateOptions,
    ) -> BoxFuture<'a, Result<MigrationReport, TenancyError>> {
        async move {
            let backend = self.backend();
            backend.forget_prepared();
            let default_concurrency = self.config().get_max_connections_per_tenant() as usize;
            let on_this_backend = |tenant: &RegistryTenant| {
                tenant
                    .storage()
                    .database()
                    .is_some_and(|location| backend.has_server(location.server()))
            };
            Ok(migrate_each(
                tenants,
                on_this_backend,
                &options,
                default_concurrency,
                |tenant| async move { self.migrate_tenant(&tenant, migrations).await },
            )
            .await)
        }
        .boxed()
    }
}
