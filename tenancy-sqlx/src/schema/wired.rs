//! [`SchemaTenancy`]: schema mode wired in one call — registry, cache,
//! invalidation, listener, gate, access and manager.

use std::fmt;
use std::sync::Arc;

use tenancy_core::{CacheBuilder, CachedStore, Gate, Resolver, Tenancy, TenancyError};

use super::{SchemaManager, SchemaPool};
use crate::lifecycle::StorageMode;
use crate::migrate::TenantMigrations;
use crate::postgres::PgConnections;
use crate::registry::{NotifyListener, PgRegistry, RegistryConfig};

/// The store of a [`SchemaTenancy`]'s pipeline: the registry behind its cache.
pub type SchemaStore = Arc<CachedStore<PgRegistry>>;

/// Schema mode, wired: what an app needs from it, with nothing left to
/// connect by hand.
///
/// [`builder`](Self::builder) connects the [`PgRegistry`], puts a
/// [`CachedStore`] in front of it and subscribes it to the registry's
/// changes (this process's at once, other processes' through the
/// `LISTEN/NOTIFY` listener it starts), builds the [`SchemaManager`], and
/// hands back a [`Gate`] that resolves with your resolver, carries the
/// [`SchemaPool`] to every request it admits (so `TenantDb<SchemaPool>`
/// needs no extension or app data) and keeps the listener running for as
/// long as any middleware made from it serves.
///
/// ```no_run
/// # #[cfg(feature = "postgres")] mod example {
/// use sqlx::postgres::PgPoolOptions;
/// use tenancy_core::{SubdomainResolver, TenantId};
/// use tenancy_sqlx::schema::SchemaTenancy;
/// use tenancy_sqlx::{NewTenant, TenantLifecycle, TenantMigrations};
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = PgPoolOptions::new().connect("postgres://localhost/app").await?;
/// let migrations = TenantMigrations::from_sql([(1, "notes", "CREATE TABLE notes (body text NOT NULL)")])?;
/// let schema = SchemaTenancy::builder(pool, SubdomainResolver::new(["example.com"])?)
///     .migrations(migrations)
///     .build()
///     .await?;
/// schema.manager().create_if_missing(NewTenant::new(TenantId::new("acme")?, "Acme")).await?;
/// let gate = schema.gate().central_route("/health"); // then `TenancyLayer::new(gate)`
/// # let _ = gate; Ok(()) }
/// # }
/// # fn main() {}
/// ```
#[must_use = "the gate and the manager are what the app uses"]
pub struct SchemaTenancy {
    gate: Gate<SchemaStore>,
    manager: SchemaManager,
    listener: Arc<NotifyListener>,
}

impl SchemaTenancy {
    /// Schema mode on `connections` (a pool, or [`PgConnections`] behind a
    /// transaction pooler), resolving requests with `resolver`.
    pub fn builder(
        connections: impl Into<PgConnections>,
        resolver: impl Resolver + 'static,
    ) -> SchemaTenancyBuilder {
        SchemaTenancyBuilder {
            connections: connections.into(),
            resolver: Arc::new(resolver),
            migrations: TenantMigrations::empty(),
            config: RegistryConfig::default(),
            cache: CacheBuilder::new(),
        }
    }

    /// The gate for the app's middleware (`TenancyLayer::new`,
    /// `TenancyMiddleware::new`); add route policies to it as usual.
    pub fn gate(&self) -> Gate<SchemaStore> {
        self.gate.clone()
    }

    /// The tenant lifecycle: create, rename, activate, deactivate, delete,
    /// migrate-all.
    pub fn manager(&self) -> &SchemaManager {
        &self.manager
    }

    /// Scoped access to tenant schemas, for work outside a request (e.g.
    /// [`open_current`](tenancy_core::TenantAccess::open_current) in a job).
    pub fn schemas(&self) -> &SchemaPool {
        self.manager.schemas()
    }

    /// Waits until the listener follows other processes' changes (its first
    /// `LISTEN` is established): a change made elsewhere before that is
    /// seen only when its cache entry expires.
    pub async fn listening(&self) {
        self.listener.wait_listening(1).await;
    }

    /// The resolving pipeline (its store is the cached registry).
    pub fn tenancy(&self) -> &Arc<Tenancy<SchemaStore>> {
        self.gate.tenancy()
    }
}

impl fmt::Debug for SchemaTenancy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaTenancy")
            .field("gate", &self.gate)
            .finish_non_exhaustive()
    }
}

/// Configures a [`SchemaTenancy`]; see [`SchemaTenancy::builder`].
#[must_use = "nothing is connected until `build` is awaited"]
pub struct SchemaTenancyBuilder {
    connections: PgConnections,
    resolver: Arc<dyn Resolver>,
    migrations: TenantMigrations,
    config: RegistryConfig,
    cache: CacheBuilder,
}

impl SchemaTenancyBuilder {
    /// The migrations every tenant schema gets (none by default).
    pub fn migrations(mut self, migrations: TenantMigrations) -> Self {
        self.migrations = migrations;
        self
    }

    /// The registry's tables and schema naming (default: [`RegistryConfig::default`]).
    pub fn registry_config(mut self, config: RegistryConfig) -> Self {
        self.config = config;
        self
    }

    /// The cache in front of the registry (default: [`CacheBuilder::new`]).
    pub fn cache(mut self, cache: CacheBuilder) -> Self {
        self.cache = cache;
        self
    }

    /// Connects and wires everything; must run inside a Tokio runtime (it
    /// starts the registry's listener).
    ///
    /// # Errors
    ///
    /// `StoreUnavailable` when Postgres cannot be reached; `Configuration`
    /// for an invalid registry configuration.
    pub async fn build(self) -> Result<SchemaTenancy, TenancyError> {
        let registry = PgRegistry::connect(self.connections, self.config).await?;
        let cache = Arc::new(self.cache.build(registry.clone()));
        registry.subscribe(cache.clone());
        let listener = Arc::new(registry.listen());
        let schemas =
            SchemaPool::for_registry(&registry).version_table(self.migrations.history().clone());
        // The schemas' migration versions follow every process's migrations.
        if let Some(invalidator) = schemas.invalidator() {
            registry.subscribe(invalidator);
        }
        let manager = SchemaManager::new(registry, schemas, self.migrations);
        let gate = Gate::new(Tenancy::new(self.resolver, cache))
            .with_access(manager.schemas().clone())
            .keep_alive(listener.clone());
        Ok(SchemaTenancy {
            gate,
            manager,
            listener,
        })
    }
}

impl fmt::Debug for SchemaTenancyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaTenancyBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
