//! [`TenantLifecycle`]: create, rename, activate / deactivate, delete and
//! migrate tenants,
//! whatever the isolation mode.

use std::future::Future;

use futures_util::future::BoxFuture;
use futures_util::{StreamExt, stream};
use tenancy_core::{TenancyError, TenantId, TenantKey, scope};

use crate::migrate::{MigrateOptions, MigrationReport, MigrationState, TenantFilter};
use crate::registry::TenantRegistry;
use crate::tenant::{NewTenant, RegistryTenant};

/// One tenant's result of [`TenantLifecycle::for_each_tenant`]: its id and what its job returned.
pub type TenantResult<T> = (TenantId, Result<T, TenancyError>);

/// The tenant lifecycle of one isolation mode on one backend, as a trait object.
///
/// Each mode's manager implements it, keeping the registry and the tenants'
/// storage in step; every operation returns the typed lifecycle errors of
/// [`TenancyError`]. Applications (and the conformance suite) drive any
/// mode × backend pair through it.
pub trait TenantLifecycle: Send + Sync {
    /// The registry the tenants are listed in.
    fn registry(&self) -> &dyn TenantRegistry;

    /// Creates a tenant: registry row, storage and migrations, as one unit
    /// (a failure leaves neither). `TenantExists` / `DomainTaken` on conflicts.
    fn create(&self, tenant: NewTenant) -> BoxFuture<'_, Result<RegistryTenant, TenancyError>>;

    /// Creates tenant `tenant` with a copy of tenant `from`'s data, as one
    /// unit (see [`TenantManager::clone_tenant`](super::TenantManager::clone_tenant)).
    fn clone_tenant<'a>(
        &'a self,
        from: &'a TenantId,
        tenant: NewTenant,
    ) -> BoxFuture<'a, Result<RegistryTenant, TenancyError>>;

    /// Renames a tenant, keeping its data and domains; `TenantNotFound`,
    /// `TenantExists`, or `SchemaRename` when the storage cannot follow.
    fn rename<'a>(
        &'a self,
        from: &'a TenantId,
        to: &'a TenantId,
    ) -> BoxFuture<'a, Result<RegistryTenant, TenancyError>>;

    /// Stops serving a tenant (its data is kept); `TenantNotFound` if unknown.
    fn deactivate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>>;

    /// Serves a deactivated tenant again; `TenantNotFound` if unknown.
    fn activate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>>;

    /// Deletes a tenant: its storage and its registry row; idempotent (`false` when
    /// there was no such tenant).
    fn delete<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<bool, TenancyError>>;

    /// Migrates every selected tenant, continuing past failures, with a
    /// per-tenant report.
    fn migrate_all(
        &self,
        options: MigrateOptions,
    ) -> BoxFuture<'_, Result<MigrationReport, TenancyError>>;

    /// Where each selected tenant stands against the migrations (applied,
    /// pending, drift), read without applying anything; by id, a tenant
    /// whose history cannot be read with its error.
    fn migration_states(
        &self,
        filter: TenantFilter,
    ) -> BoxFuture<'_, Result<Vec<TenantResult<MigrationState>>, TenancyError>>;

    /// The isolation mode's safety checks (row-level security, tenant
    /// columns): warnings, or `Configuration` when tenant data could leak.
    fn audit(&self) -> BoxFuture<'_, Result<Vec<String>, TenancyError>>;

    /// Creates the tenant unless one with its id exists: idempotent
    /// provisioning (a deploy script run twice, a sign-up retried). Returns
    /// the tenant and whether this call created it; an existing tenant is
    /// returned as it is (its name, domains and active flag are not
    /// compared or changed). Two concurrent calls for one id create it once;
    /// the one that did not create it gets the row as the creating call left
    /// it at that moment: inactive while that creation is still under way
    /// (a [`TenantManager`](super::TenantManager) registers a tenant inactive
    /// until its storage is ready), and `TenantNotFound` if that creation
    /// failed and was undone in between. Look the tenant up again when you
    /// need it served.
    fn create_if_missing(
        &self,
        tenant: NewTenant,
    ) -> BoxFuture<'_, Result<(RegistryTenant, bool), TenancyError>> {
        Box::pin(async move {
            let id = tenant.id().clone();
            if let Some(existing) = self.registry().find_by_id(&id).await? {
                return Ok((existing, false));
            }
            match self.create(tenant).await {
                Ok(created) => Ok((created, true)),
                // Created by someone else since the look-up.
                Err(TenancyError::TenantExists { .. }) => {
                    let existing = self.registry().find_by_id(&id).await?;
                    existing.map(|tenant| (tenant, false)).ok_or_else(|| {
                        TenancyError::TenantNotFound {
                            key: TenantKey::Id(id),
                        }
                    })
                }
                Err(error) => Err(error),
            }
        })
    }

    /// Runs `job` for tenant `id` as it is now: background work that
    /// recorded a tenant id when it was queued. The tenant is looked up in
    /// the registry (not in a cache): a tenant deleted since fails with
    /// `TenantNotFound`, a deactivated one with `TenantInactive`, and `job`
    /// does not run. Otherwise `job` runs inside a
    /// [`scope`](tenancy_core::scope::scope) of the tenant, so
    /// [`TenantAccess::open_current`](tenancy_core::TenantAccess::open_current)
    /// opens that tenant's data and nobody else's.
    ///
    /// ```no_run
    /// # #[cfg(feature = "sqlite")] mod example {
    /// use tenancy_core::{TenancyError, TenantId};
    /// use tenancy_sqlx::database::SqliteDatabases;
    /// use tenancy_sqlx::{DatabaseManager, TenantAccess, TenantLifecycle};
    ///
    /// /// A queued job: the tenant it was queued for, and what to do.
    /// struct Job {
    ///     tenant: TenantId,
    ///     note: String,
    /// }
    ///
    /// # async fn example(manager: DatabaseManager<SqliteDatabases>, job: Job) -> Result<(), TenancyError> {
    /// let pools = manager.pools().clone();
    /// let outcome = manager
    ///     .run_for(&job.tenant, move |_tenant| async move {
    ///         let mut conn = pools.open_current().await?;
    ///         sqlx::query("INSERT INTO notes (body) VALUES (?)")
    ///             .bind(job.note)
    ///             .execute(&mut *conn)
    ///             .await
    ///             .map_err(TenancyError::storage)?;
    ///         Ok(())
    ///     })
    ///     .await;
    /// match outcome {
    ///     Ok(()) => {}
    ///     // Gone or switched off since the job was queued: drop the job.
    ///     Err(TenancyError::TenantNotFound { .. } | TenancyError::TenantInactive { .. }) => {}
    ///     Err(error) => return Err(error),
    /// }
    /// # Ok(()) }
    /// # }
    /// # fn main() {}
    /// ```
    fn run_for<'a, F, Fut, T>(
        &'a self,
        id: &'a TenantId,
        job: F,
    ) -> BoxFuture<'a, Result<T, TenancyError>>
    where
        Self: Sized,
        F: FnOnce(RegistryTenant) -> Fut + Send + 'a,
        Fut: Future<Output = Result<T, TenancyError>> + Send + 'a,
        T: Send + 'a,
    {
        Box::pin(async move {
            let tenant = self.registry().find_by_id(id).await?.ok_or_else(|| {
                TenancyError::TenantNotFound {
                    key: TenantKey::Id(id.clone()),
                }
            })?;
            if !tenant.is_active() {
                return Err(TenancyError::TenantInactive { id: id.clone() });
            }
            // The whole job, its synchronous start included, runs in the scope.
            scope::scope(tenant.clone(), async move { job(tenant).await }).await
        })
    }

    /// Runs `job` for every active tenant, at most `concurrency` at a time,
    /// each inside a [`scope`](tenancy_core::scope::scope) of its tenant (so
    /// [`TenantAccess::open_current`](tenancy_core::TenantAccess::open_current)
    /// opens that tenant's data). Returns every tenant's result, ordered by
    /// id; a failing job does not stop the others.
    ///
    /// ```no_run
    /// # #[cfg(feature = "sqlite")] mod example {
    /// use tenancy_sqlx::database::SqliteDatabases;
    /// use tenancy_sqlx::{DatabaseManager, TenantAccess, TenantLifecycle};
    ///
    /// /// Counts each tenant's items: background work that never names a tenant twice.
    /// # async fn example(manager: DatabaseManager<SqliteDatabases>) -> Result<(), Box<dyn std::error::Error>> {
    /// let pools = manager.pools().clone();
    /// let counts = manager
    ///     .for_each_tenant(4, move |_tenant| {
    ///         let pools = pools.clone();
    ///         async move {
    ///             let mut conn = pools.open_current().await?;
    ///             let count: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
    ///                 .fetch_one(&mut *conn)
    ///                 .await
    ///                 .map_err(tenancy_core::TenancyError::storage)?;
    ///             Ok(count)
    ///         }
    ///     })
    ///     .await?;
    /// for (id, count) in counts {
    ///     println!("{id}: {count:?}");
    /// }
    /// # Ok(()) }
    /// # }
    /// # fn main() {}
    /// ```
    fn for_each_tenant<'a, F, Fut, T>(
        &'a self,
        concurrency: usize,
        job: F,
    ) -> BoxFuture<'a, Result<Vec<TenantResult<T>>, TenancyError>>
    where
        Self: Sized,
        F: Fn(RegistryTenant) -> Fut + Send + Sync + 'a,
        Fut: Future<Output = Result<T, TenancyError>> + Send + 'a,
        T: Send + 'a,
    {
        Box::pin(async move {
            let tenants = self.registry().list().await?;
            let active = tenants.into_iter().filter(RegistryTenant::is_active);
            let job = &job;
            let mut results: Vec<TenantResult<T>> = stream::iter(active)
                .map(|tenant| {
                    let id = tenant.id().clone();
                    // The whole job, its synchronous start included, runs in the scope.
                    let run = scope::scope(tenant.clone(), async move { job(tenant).await });
                    async move { (id, run.await) }
                })
                // Unordered: a slow tenant does not hold back the next ones.
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
            results.sort_by(|(a, _), (b, _)| a.cmp(b));
            Ok(results)
        })
    }
}
