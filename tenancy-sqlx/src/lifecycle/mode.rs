//! [`StorageMode`]: one isolation mode's side of the tenant lifecycle.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use tenancy_core::{BoxError, Invalidate, TenancyError, TenantId};

use crate::migrate::{HistoryEntry, MigrateOptions, MigrationReport, TenantMigrations};
use crate::storage::Storage;
use crate::tenant::{NewTenant, RegistryTenant};

/// A seed: runs when a tenant is created, after its migrations, in `T` (the
/// mode's tenant-scoped transaction or connection), e.g. to insert initial
/// rows. A failing seed fails the creation with [`TenancyError::TableCreation`].
pub type Seed<T> = Arc<
    dyn for<'a> Fn(&'a mut T, &'a RegistryTenant) -> BoxFuture<'a, Result<(), BoxError>>
        + Send
        + Sync,
>;

/// Where one isolation mode keeps a tenant's data, and how that storage is
/// made, renamed, migrated and removed.
///
/// [`TenantManager`](super::TenantManager) runs the lifecycle over it — the
/// registry row first, then the storage, undoing the row when the storage
/// fails — with any [`TenantRegistry`](crate::registry::TenantRegistry).
/// Each mode's access type implements it: [`SchemaPool`](crate::schema::SchemaPool)
/// (a schema per tenant), [`TenantPools`](crate::database::TenantPools) (a
/// database per tenant), [`RlsPool`](crate::shared::rls::RlsPool) and
/// [`SharedPool`](crate::shared::keyed::SharedPool) (shared tables). A mode of
/// your own implements it too, and gets the manager, its guarantees and the
/// lifecycle conformance suite for free.
///
/// Every method must leave the storage as it was when it fails.
pub trait StorageMode: Clone + Send + Sync + 'static {
    /// What a [`Seed`] runs in: the mode's tenant-scoped transaction.
    type Seeding: Send + 'static;

    /// The storage a new tenant gets (a schema name, a database location, a
    /// fresh key). Nothing is made yet.
    fn allocate<'a>(&'a self, new: &'a NewTenant) -> BoxFuture<'a, Result<Storage, TenancyError>>;

    /// Makes the storage `tenant`'s row records and applies `migrations`, then
    /// `seed`; on failure nothing is left. The tenant is registered, inactive.
    fn provision<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
        migrations: &'a TenantMigrations,
        seed: Option<&'a Seed<Self::Seeding>>,
    ) -> BoxFuture<'a, Result<(), TenancyError>>;

    /// The storage for `new`, a copy of `source` (schema mode: a schema of
    /// its own; database mode: on the source's server). By default, what
    /// [`allocate`](Self::allocate) gives.
    fn allocate_copy<'a>(
        &'a self,
        source: &'a RegistryTenant,
        new: &'a NewTenant,
    ) -> BoxFuture<'a, Result<Storage, TenancyError>> {
        let _ = source;
        self.allocate(new)
    }

    /// Copies `from`'s data into `to`'s storage, which
    /// [`provision`](Self::provision) has just made with the same
    /// migrations: every table's rows (the history table's excepted; rows
    /// the migrations wrote are replaced) and the identity and sequence
    /// values, from one consistent snapshot of `from` (shared modes give
    /// the copies' generated keys new values instead). On failure `to`'s storage may hold part of the data: the
    /// manager removes it. By default the mode cannot copy
    /// (`Configuration`).
    fn copy_data<'a>(
        &'a self,
        from: &'a RegistryTenant,
        to: &'a RegistryTenant,
        migrations: &'a TenantMigrations,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        let _ = (from, to, migrations);
        Box::pin(async {
            Err(TenancyError::Configuration {
                message: "this isolation mode cannot copy a tenant's data".to_owned(),
            })
        })
    }

    /// Moves `tenant`'s storage for its new id `to`; returns the new storage,
    /// or `None` when it stays where it is. `SchemaRename` when it cannot
    /// move. By default storage is not named after the id (a shared key) and
    /// stays.
    fn rename<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
        to: &'a TenantId,
    ) -> BoxFuture<'a, Result<Option<Storage>, TenancyError>> {
        let _ = (tenant, to);
        Box::pin(async { Ok(None) })
    }

    /// Moves the storage back after the registry refused a rename: from
    /// `moved` (what [`rename`](Self::rename) returned) to `tenant`'s storage.
    /// Only called when `rename` moved it; nothing by default.
    fn undo_rename<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
        moved: &'a Storage,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        let _ = (tenant, moved);
        Box::pin(async { Ok(()) })
    }

    /// Lets go of what serves `tenant` (its pool), after it was deactivated
    /// or before it is removed. Nothing by default.
    fn release<'a>(&'a self, tenant: &'a RegistryTenant) -> BoxFuture<'a, ()> {
        let _ = tenant;
        Box::pin(async {})
    }

    /// What this mode derives from tenants and must forget when they change
    /// (in any process: the registry passes on other processes' changes
    /// too); [`TenantManager::gate`](super::TenantManager::gate) subscribes
    /// it to the registry. Schema mode forgets a schema's migration version
    /// when its tenant is migrated, renamed or deleted elsewhere. `None` by
    /// default.
    fn invalidator(&self) -> Option<Arc<dyn Invalidate>> {
        None
    }

    /// The mode's own safety checks of the storage as it is now (shared
    /// tables: row-level security, tenant columns): the warnings of a setup
    /// that is safe but probably wrong, or `Configuration` when tenant data
    /// could leak. No checks by default.
    fn audit(&self) -> BoxFuture<'_, Result<Vec<String>, TenancyError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// Removes `tenant`'s storage and data; succeeds when there is none.
    /// `SchemaDrop` on failure.
    fn remove<'a>(&'a self, tenant: &'a RegistryTenant) -> BoxFuture<'a, Result<(), TenancyError>>;

    /// The rows of `tenant`'s migration history table
    /// ([`TenantMigrations::history`]), read without applying anything, for
    /// [`TenantManager::migration_states`](super::TenantManager::migration_states);
    /// empty when nothing was recorded yet. Shared modes read the shared
    /// tables' one history.
    fn history<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
        migrations: &'a TenantMigrations,
    ) -> BoxFuture<'a, Result<Vec<HistoryEntry>, TenancyError>>;

    /// Applies pending `migrations` for the selected ones of `tenants` (every
    /// tenant of the registry) and reports each; continues past failures.
    fn migrate_all<'a>(
        &'a self,
        tenants: Vec<RegistryTenant>,
        migrations: &'a TenantMigrations,
        options: MigrateOptions,
    ) -> BoxFuture<'a, Result<MigrationReport, TenancyError>>;
}
