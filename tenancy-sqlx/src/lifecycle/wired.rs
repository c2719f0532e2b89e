//! [`TenantManager::gate`]: any mode wired for requests in one call.

use std::sync::Arc;

use tenancy_core::{
    CacheBuilder, CachedStore, Gate, RequestAccess, Resolver, Tenancy, TenantStore,
};

use super::TenantManager;
use super::mode::StorageMode;
use crate::registry::TenantRegistry;
use crate::tenant::RegistryTenant;

/// The store behind a manager's [gate](TenantManager::gate): its registry
/// behind a cache.
pub type ManagedStore<R> = Arc<CachedStore<R>>;

impl<S, R> TenantManager<S, R>
where
    S: StorageMode + RequestAccess<Tenant = RegistryTenant>,
    R: TenantRegistry + TenantStore<Tenant = RegistryTenant> + Clone + 'static,
{
    /// The gate for the app's middleware (`TenancyLayer::new`,
    /// `TenancyMiddleware::new`), wired to this manager's tenants, with
    /// nothing left to connect by hand:
    ///
    /// - requests are resolved with `resolver`, and their tenants looked up
    ///   in a cache built by `cache` in front of the registry;
    /// - the registry invalidates that cache (and what the mode derived from
    ///   tenants, [`StorageMode::invalidator`]) on every change of this
    ///   process at once, and of other processes as far as it can
    ///   ([`watch`](TenantRegistry::watch): `LISTEN/NOTIFY` on Postgres,
    ///   the polled change log on MySQL / MariaDB and SQLite, kept running
    ///   for as long as any middleware made from the gate serves);
    /// - every admitted request carries the mode's access (the manager's
    ///   [storage](Self::storage)), so `TenantDb<SchemaPool>`,
    ///   `TenantDb<TenantPools<_>>`, … need no extension or app data.
    ///
    /// Add route policies to the gate as usual. Call it inside a Tokio
    /// runtime (the listener is a task).
    ///
    /// ```no_run
    /// # #[cfg(feature = "sqlite")] mod example {
    /// use tenancy_core::{CacheBuilder, SubdomainResolver};
    /// use tenancy_sqlx::database::{DatabaseManager, SqliteDatabases};
    ///
    /// # fn example(manager: DatabaseManager<SqliteDatabases>) -> Result<(), Box<dyn std::error::Error>> {
    /// let gate = manager
    ///     .gate(SubdomainResolver::new(["example.com"])?, CacheBuilder::new())
    ///     .central_route("/health");
    /// // axum: `.layer(TenancyLayer::new(gate))`; handlers take `TenantDb<TenantPools<SqliteDatabases>>`.
    /// # let _ = gate; Ok(()) }
    /// # }
    /// # fn main() {}
    /// ```
    pub fn gate(
        &self,
        resolver: impl Resolver + 'static,
        cache: CacheBuilder,
    ) -> Gate<ManagedStore<R>> {
        let registry = self.registry();
        let cache = Arc::new(cache.build(registry.clone()));
        registry.subscribe(cache.clone());
        if let Some(invalidator) = self.storage().invalidator() {
            registry.subscribe(invalidator);
        }
        let gate = Gate::new(Tenancy::new(resolver, cache)).with_access(self.storage().clone());
        match registry.watch() {
            Some(watcher) => gate.keep_alive(watcher),
            None => gate,
        }
    }
}
