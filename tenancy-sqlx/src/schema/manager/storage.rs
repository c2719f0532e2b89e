//! [`SchemaPool`] as the [`StorageMode`] of schema-per-tenant storage.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use std::sync::Arc;

use tenancy_core::{Invalidate, Invalidation, TenancyError, TenantId};

use crate::error::store_error;
use crate::lifecycle::{Seed, StorageMode};
use crate::migrate::{HistoryEntry, MigrateOptions, MigrationReport, TenantMigrations};
use crate::postgres::migrate::read_history;
use crate::schema::pool::SchemaPool;
use crate::schema::transaction::TenantTransaction;
use crate::storage::Storage;
use crate::tenant::{NewTenant, RegistryTenant};

impl StorageMode for SchemaPool {
    type Seeding = TenantTransaction<'static>;

    /// Forgets a schema's migration version when its tenant changes in any
    /// process (migrated, renamed, deleted), so that another process's
    /// migration costs no refused statement here.
    fn invalidator(&self) -> Option<Arc<dyn Invalidate>> {
        Some(Arc::new(KnownVersions(self.clone())))
    }

    fn allocate<'a>(&'a self, new: &'a NewTenant) -> BoxFuture<'a, Result<Storage, TenancyError>> {
        let storage = self.allocate_schema(new);
        Box::pin(async move { storage })
    }

    fn provision<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
        migrations: &'a TenantMigrations,
        seed: Option<&'a Seed<Self::Seeding>>,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        self.provision_schema(tenant, migrations, seed).boxed()
    }

    fn rename<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
        to: &'a TenantId,
    ) -> BoxFuture<'a, Result<Option<Storage>, TenancyError>> {
        self.rename_schema(tenant, to).boxed()
    }

    fn undo_rename<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
        moved: &'a Storage,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        self.rename_back(tenant, moved).boxed()
    }

    fn remove<'a>(&'a self, tenant: &'a RegistryTenant) -> BoxFuture<'a, Result<(), TenancyError>> {
        self.drop_schema(tenant).boxed()
    }

    fn copy_data<'a>(
        &'a self,
        from: &'a RegistryTenant,
        to: &'a RegistryTenant,
        migrations: &'a TenantMigrations,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        self.copy_schema(from, to, migrations).boxed()
    }

    fn history<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
        migrations: &'a TenantMigrations,
    ) -> BoxFuture<'a, Result<Vec<HistoryEntry>, TenancyError>> {
        async move {
            let schema = self.schema_of(tenant)?;
            let qualified = format!("{}.{}", schema.quoted(), migrations.history().quoted());
            read_history(self.pool_for(&schema), &qualified)
                .await
                .map_err(store_error)
        }
        .boxed()
    }

    fn migrate_all<'a>(
        &'a self,
        tenants: Vec<RegistryTenant>,
        migrations: &'a TenantMigrations,
        options: MigrateOptions,
    ) -> BoxFuture<'a, Result<MigrationReport, TenancyError>> {
        async move { Ok(self.migrate_schemas(tenants, migrations, options).await) }.boxed()
    }
}

/// The migration versions a [`SchemaPool`] knows, as a registry subscriber.
struct KnownVersions(SchemaPool);

impl Invalidate for KnownVersions {
    fn invalidate<'a>(&'a self, event: &'a Invalidation) -> BoxFuture<'a, ()> {
        match event {
            Invalidation::Tenant(id) => {
                if let Ok(schema) = self.0.schema_naming().schema_for(id) {
                    self.0.forget_version(&schema);
                }
            }
            Invalidation::Domain(_) => {}
            _ => self.0.forget_all_versions(),
        }
        Box::pin(async {})
    }
}
