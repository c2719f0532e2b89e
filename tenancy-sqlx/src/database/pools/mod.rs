//! [`TenantPools`]: one lazily created pool per tenant database, LRU-evicted,
//! under one global connection budget.

mod config;
mod connection;

pub use config::{PoolConfig, PoolStats};
pub use connection::TenantConnection;

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use moka::future::Cache;
use moka::policy::EvictionPolicy;
use sqlx::{ConnectOptions, Connection};
use tenancy_core::TenancyError;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::backend::{BackendConnectOptions, BackendConnection, DatabaseBackend};
use crate::error::store_error;
use crate::storage::DatabaseLocation;
use crate::tenant::RegistryTenant;
use tenancy_core::TenantAccess;

/// How often the background task runs the pool cache's maintenance (idle
/// and over-capacity pools are closed by it when no request does).
const MAINTENANCE: Duration = Duration::from_secs(1);
/// How often a request waiting for the budget looks for idle connections
/// (ones that went idle before it queued; later releases hand it permits).
const RECHECK: Duration = Duration::from_millis(50);

/// One pool per tenant database, under one global connection budget.
///
/// - **Lazy, single flight**: a tenant's pool is created on its first
///   request; concurrent first requests share one creation (a
///   [`moka`](https://docs.rs/moka) `get_with`, which coalesces per key — no
///   global lock).
/// - **Global budget**: every open connection, checked out or idle, holds one
///   permit of a semaphore of [`max_connections`](PoolConfig::max_connections)
///   permits, taken *before* the connection is opened and returned only after
///   it is closed (plus a short [grace](PoolConfig::close_grace) for the
///   server to end the session), so the server never sees more connections
///   than the budget.
///   When the budget is spent, an idle connection of another tenant (the
///   least recently idled one) is closed and its permit reused; when none is
///   idle, the request queues (up to the acquire time-out): while requests
///   queue, a released connection goes to a waiting request of the same
///   tenant if there is one, and is otherwise closed and its permit handed to
///   the queue in arrival order, so a busy caller cannot starve the others.
/// - **Per-tenant limit**: at most
///   [`max_connections_per_tenant`](PoolConfig::max_connections_per_tenant)
///   connections per tenant, so one busy tenant cannot take the whole budget.
/// - **LRU and idle eviction**: beyond [`max_pools`](PoolConfig::max_pools)
///   open pools the least recently used one is closed; a pool unused for
///   [`pool_idle_timeout`](PoolConfig::pool_idle_timeout) is closed.
/// - **No global lock around I/O**: connections are opened and closed outside
///   any lock, so a slow tenant server stalls only that tenant's requests.
///
/// A connection only ever serves one tenant database, so nothing can leak
/// between tenants through it. Lifecycle operations (create, migrate, drop)
/// use their own short-lived connections, outside the budget.
///
/// ```no_run
/// # #[cfg(feature = "sqlite")] mod example {
/// use tenancy_sqlx::{DatabaseManager, TenantAccess};
/// use tenancy_sqlx::database::SqliteDatabases;
///
/// # async fn example(manager: DatabaseManager<SqliteDatabases>, registry: tenancy_sqlx::AnyRegistry) -> Result<(), Box<dyn std::error::Error>> {
/// let tenant = registry.find_by_id(&tenancy_core::TenantId::new("acme")?).await?.expect("acme");
/// let mut conn = manager.pools().open(&tenant).await?;
/// let names: Vec<String> = sqlx::query_scalar("SELECT name FROM items").fetch_all(&mut *conn).await?;
/// # let _ = names; Ok(()) }
/// # }
/// # fn main() {}
/// ```
pub struct TenantPools<B: DatabaseBackend> {
    shared: Arc<Shared<B>>,
    placement: Option<Placement>,
}

/// Chooses the server of a new tenant.
type Placement = Arc<dyn Fn(&crate::tenant::NewTenant) -> crate::ident::Ident + Send + Sync>;

impl<B: DatabaseBackend> Clone for TenantPools<B> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            placement: self.placement.clone(),
        }
    }
}

pub(crate) struct Shared<B: DatabaseBackend> {
    backend: B,
    config: PoolConfig,
    budget: Arc<Semaphore>,
    /// Requests waiting for a budget permit.
    waiting: AtomicUsize,
    /// Pools that may hold idle connections, least recently idled first.
    idle_queue: Mutex<VecDeque<Weak<TenantPool<B>>>>,
    pools: Cache<DatabaseLocation, Arc<TenantPool<B>>>,
    stats: Counters,
}

#[derive(Default)]
struct Counters {
    pools_opened: AtomicU64,
    pools_closed: AtomicU64,
    connections_opened: AtomicU64,
    connections_closed: AtomicU64,
    connections_reassigned: AtomicU64,
}

/// The pool of one tenant database.
pub(crate) struct TenantPool<B: DatabaseBackend> {
    location: DatabaseLocation,
    options: BackendConnectOptions<B>,
    slots: Arc<Semaphore>,
    idle: Mutex<VecDeque<Idle<B>>>,
    closed: AtomicBool,
    /// Requests of this tenant being served (waiting for a slot or the budget).
    waiting: AtomicUsize,
    /// Signalled when a connection is kept idle for such a request.
    idle_ready: Notify,
}

/// An open connection and the budget permit it holds.
pub(crate) struct Live<B: DatabaseBackend> {
    pub(crate) conn: BackendConnection<B>,
    pub(crate) permit: OwnedSemaphorePermit,
    /// The storage's identity when the connection was opened (SQLite: the
    /// file's inode), see `Provision::identity`.
    pub(crate) identity: Option<u64>,
}

struct Idle<B: DatabaseBackend> {
    live: Live<B>,
    since: Instant,
}

impl<B: DatabaseBackend> TenantPools<B> {
    /// Pools for the tenant databases of `backend`.
    ///
    /// Call it inside a Tokio runtime, so that idle pools are closed in the
    /// background too (without one, only requests run the maintenance).
    pub fn new(backend: B, config: PoolConfig) -> Self {
        let shared = Arc::new_cyclic(|weak: &Weak<Shared<B>>| {
            let listener = weak.clone();
            let pools = Cache::builder()
                .max_capacity(config.max_pools)
                .time_to_idle(config.pool_idle_timeout)
                .eviction_policy(EvictionPolicy::lru())
                .eviction_listener(move |_location, pool: Arc<TenantPool<B>>, _cause| {
                    if let Some(shared) = listener.upgrade() {
                        shared.close_pool(&pool);
                    }
                })
                .build();
            Shared {
                budget: Arc::new(Semaphore::new(config.max_connections as usize)),
                backend,
                config,
                waiting: AtomicUsize::new(0),
                idle_queue: Mutex::new(VecDeque::new()),
                pools,
                stats: Counters::default(),
            }
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(maintain(Arc::downgrade(&shared)));
        }
        Self {
            shared,
            placement: None,
        }
    }

    /// Chooses the server of each new tenant (default: the backend's default
    /// server); the server must be configured on the backend.
    #[must_use]
    pub fn with_placement(
        mut self,
        placement: impl Fn(&crate::tenant::NewTenant) -> crate::ident::Ident + Send + Sync + 'static,
    ) -> Self {
        self.placement = Some(Arc::new(placement));
        self
    }

    /// The server a new tenant's database goes to.
    pub(crate) fn server_for(&self, new: &crate::tenant::NewTenant) -> crate::ident::Ident {
        match &self.placement {
            Some(placement) => placement(new),
            None => self.backend().default_server().clone(),
        }
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.shared.backend
    }

    /// The limits.
    pub fn config(&self) -> &PoolConfig {
        &self.shared.config
    }

    /// Counters: pools and connections opened and closed, connections open now.
    pub fn stats(&self) -> PoolStats {
        let stats = &self.shared.stats;
        let budget = self.shared.config.max_connections as usize;
        PoolStats {
            pools_opened: stats.pools_opened.load(Ordering::SeqCst),
            pools_closed: stats.pools_closed.load(Ordering::SeqCst),
            connections_opened: stats.connections_opened.load(Ordering::SeqCst),
            connections_closed: stats.connections_closed.load(Ordering::SeqCst),
            connections_reassigned: stats.connections_reassigned.load(Ordering::SeqCst),
            open_connections: u32::try_from(
                budget.saturating_sub(self.shared.budget.available_permits()),
            )
            .unwrap_or(u32::MAX),
        }
    }

    /// The number of open pools (after running pending evictions).
    pub async fn open_pools(&self) -> u64 {
        self.shared.pools.run_pending_tasks().await;
        self.shared.pools.entry_count()
    }

    /// A connection to the tenant database at `location`: an idle one of its
    /// pool, or a new one within the budget.
    ///
    /// Fails with `StoreUnavailable` when the database cannot be reached or
    /// no connection frees up within the acquire time-out, and with
    /// `Configuration` for a server the backend does not know.
    pub async fn acquire(
        &self,
        location: &DatabaseLocation,
    ) -> Result<TenantConnection<B>, TenancyError> {
        let shared = &self.shared;
        let deadline = Instant::now() + shared.config.acquire_timeout;
        let pool = shared.pool(location).await?;
        // Counted until we return: a release of this tenant's connection
        // then keeps it for us instead of closing it.
        pool.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&pool.waiting);
        let slot = tokio::time::timeout_at(deadline, pool.slots.clone().acquire_owned())
            .await
            .map_err(|_| TenancyError::unavailable(sqlx::Error::PoolTimedOut))?
            .map_err(|_| TenancyError::unavailable(sqlx::Error::PoolClosed))?;
        loop {
            if let Some(idle) = pool.pop_idle() {
                let mut live = idle.live;
                // The database was replaced since (e.g. a SQLite file dropped
                // and re-created by another process): never reuse.
                if live.identity.is_some()
                    && shared.backend.identity(&pool.location) != live.identity
                {
                    shared.close_later(live);
                    continue;
                }
                if idle.since.elapsed() >= shared.config.test_after_idle
                    && live.conn.ping().await.is_err()
                {
                    shared.close_later(live);
                    continue;
                }
                return Ok(TenantConnection::new(
                    live,
                    pool.clone(),
                    shared.clone(),
                    slot,
                ));
            }
            let Some(permit) = shared.budget_permit(deadline, &pool).await? else {
                continue; // a connection of this tenant went idle for us
            };
            // No lock is held while connecting: a slow server stalls only this tenant.
            let conn = match tokio::time::timeout_at(deadline, pool.options.connect()).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(error)) => return Err(store_error(error)),
                Err(_) => return Err(TenancyError::unavailable(sqlx::Error::PoolTimedOut)),
            };
            shared
                .stats
                .connections_opened
                .fetch_add(1, Ordering::SeqCst);
            let identity = shared.backend.identity(&pool.location);
            let live = Live {
                conn,
                permit,
                identity,
            };
            return Ok(TenantConnection::new(
                live,
                pool.clone(),
                shared.clone(),
                slot,
            ));
        }
    }

    /// Closes every pool and waits for their idle connections to close
    /// (e.g. at shutdown; connections checked out now are closed when
    /// released). Pools are created again on the next request.
    pub async fn close_all(&self) {
        let locations: Vec<DatabaseLocation> = self
            .shared
            .pools
            .iter()
            .map(|(location, _)| (*location).clone())
            .collect();
        for location in locations {
            self.close(&location).await;
        }
    }

    /// Closes the pool of `location` and waits for its idle connections to
    /// close (connections checked out now are closed when released).
    pub async fn close(&self, location: &DatabaseLocation) {
        if let Some(pool) = self.shared.pools.get(location).await {
            // Closed here, awaited, before the cache drops the pool (its
            // eviction listener would close them in the background).
            pool.closed.store(true, Ordering::SeqCst);
            let idle: Vec<Idle<B>> = pool.lock_idle().drain(..).collect();
            for idle in idle {
                self.shared.close_now(idle.live).await;
            }
            self.shared.pools.invalidate(location).await;
        }
    }
}

impl<B: DatabaseBackend> Shared<B> {
    /// The pool of `location`, created on first use (single flight per key).
    async fn pool(
        self: &Arc<Self>,
        location: &DatabaseLocation,
    ) -> Result<Arc<TenantPool<B>>, TenancyError> {
        if let Some(pool) = self.pools.get(location).await {
            if !pool.closed.load(Ordering::SeqCst) {
                return Ok(pool);
            }
            // Closed but not yet dropped from the cache: replace it.
            self.pools.invalidate(location).await;
        }
        let options = self.backend.connect_options(location)?;
        let per_tenant = self.config.per_tenant.min(self.config.max_connections) as usize;
        let pool = self
            .pools
            .get_with(location.clone(), async {
                self.stats.pools_opened.fetch_add(1, Ordering::SeqCst);
                Arc::new(TenantPool {
                    location: location.clone(),
                    options,
                    slots: Arc::new(Semaphore::new(per_tenant)),
                    idle: Mutex::new(VecDeque::new()),
                    closed: AtomicBool::new(false),
                    waiting: AtomicUsize::new(0),
                    idle_ready: Notify::new(),
                })
            })
            .await;
        Ok(pool)
    }

    /// A budget permit: a free one, or the permit of another tenant's idle
    /// connection (closed first), or, when requests are already waiting, the
    /// next permit released in first-come, first-served order. `None` when a
    /// connection of `pool` went idle meanwhile (the caller takes that one).
    async fn budget_permit(
        &self,
        deadline: Instant,
        pool: &TenantPool<B>,
    ) -> Result<Option<OwnedSemaphorePermit>, TenancyError> {
        // Nobody waiting: take a free permit or reassign an idle connection.
        // Otherwise queue behind the waiters (no barging: a busy caller that
        // releases and asks again could starve them).
        if self.waiting.load(Ordering::SeqCst) == 0 {
            if let Ok(permit) = self.budget.clone().try_acquire_owned() {
                return Ok(Some(permit));
            }
            if let Some(permit) = self.reassign_idle().await {
                return Ok(Some(permit));
            }
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        let acquire = self.budget.clone().acquire_owned();
        tokio::pin!(acquire);
        loop {
            // While anyone waits, a release hands its connection to a waiter
            // of the same tenant, or else closes it so that its permit goes to
            // the (fair) semaphore; connections that went idle before we
            // queued are reassigned on the periodic re-check.
            let wake = Instant::now() + RECHECK;
            tokio::select! {
                permit = &mut acquire => {
                    return permit
                        .map(Some)
                        .map_err(|_| TenancyError::unavailable(sqlx::Error::PoolClosed));
                }
                () = pool.idle_ready.notified() => return Ok(None),
                () = tokio::time::sleep_until(wake.min(deadline)) => {
                    if let Some(permit) = self.reassign_idle().await {
                        return Ok(Some(permit));
                    }
                    if Instant::now() >= deadline {
                        return Err(TenancyError::unavailable(sqlx::Error::PoolTimedOut));
                    }
                }
            }
        }
    }

    /// Closes the least recently idled connection of any pool and returns
    /// its permit.
    async fn reassign_idle(&self) -> Option<OwnedSemaphorePermit> {
        let live = self.take_any_idle()?;
        let Live { conn, permit, .. } = live;
        // Closed (and the server given its grace to end the session) before
        // the permit is reused, so the budget is never exceeded.
        let _closed = conn.close().await;
        self.grace().await;
        self.stats.connections_closed.fetch_add(1, Ordering::SeqCst);
        self.stats
            .connections_reassigned
            .fetch_add(1, Ordering::SeqCst);
        Some(permit)
    }

    fn take_any_idle(&self) -> Option<Live<B>> {
        let mut queue = self
            .idle_queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while let Some(weak) = queue.pop_front() {
            let Some(pool) = weak.upgrade() else { continue };
            let mut idle = pool.lock_idle();
            if let Some(oldest) = idle.pop_front() {
                if !idle.is_empty() {
                    queue.push_front(weak);
                }
                return Some(oldest.live);
            }
        }
        None
    }

    /// Returns a released connection: kept for a waiting request of the
    /// same tenant; closed (its permit going to the budget's queue, first come
    /// first served) when requests of other tenants wait or the pool is
    /// closed; otherwise idled in its pool.
    pub(crate) fn release(&self, pool: &Arc<TenantPool<B>>, live: Live<B>) {
        if pool.closed.load(Ordering::SeqCst) {
            self.close_later(live);
            return;
        }
        let same_tenant_waits = pool.waiting.load(Ordering::SeqCst) > 0;
        if !same_tenant_waits && self.waiting.load(Ordering::SeqCst) > 0 {
            self.close_later(live);
            return;
        }
        let was_empty = {
            let mut idle = pool.lock_idle();
            let was_empty = idle.is_empty();
            idle.push_back(Idle {
                live,
                since: Instant::now(),
            });
            was_empty
        };
        if was_empty {
            self.note_idle(pool);
        }
        if same_tenant_waits {
            pool.idle_ready.notify_one();
        }
    }

    fn note_idle(&self, pool: &Arc<TenantPool<B>>) {
        let mut queue = self
            .idle_queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        queue.push_back(Arc::downgrade(pool));
        // Entries of pools whose connections were reused since go stale;
        // compact now and then so the queue stays proportional to the pools.
        let limit = usize::try_from(self.config.max_pools)
            .unwrap_or(usize::MAX)
            .saturating_mul(2)
            .saturating_add(64);
        if queue.len() > limit {
            let mut seen = std::collections::HashSet::new();
            queue.retain(|weak| {
                weak.upgrade().is_some_and(|pool| {
                    !pool.lock_idle().is_empty() && seen.insert(Arc::as_ptr(&pool) as usize)
                })
            });
        }
    }

    /// Marks an evicted pool closed and closes its idle connections.
    fn close_pool(&self, pool: &TenantPool<B>) {
        pool.closed.store(true, Ordering::SeqCst);
        self.stats.pools_closed.fetch_add(1, Ordering::SeqCst);
        let idle: Vec<Idle<B>> = pool.lock_idle().drain(..).collect();
        for idle in idle {
            self.close_later(idle.live);
        }
        tracing::debug!(database = %pool.location, "tenant pool closed");
    }

    /// Closes a connection in the background; its permit is released after.
    pub(crate) fn close_later(&self, live: Live<B>) {
        self.stats.connections_closed.fetch_add(1, Ordering::SeqCst);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let grace = self.grace_period();
                runtime.spawn(async move {
                    let Live { conn, permit, .. } = live;
                    let _closed = conn.close().await;
                    if !grace.is_zero() {
                        tokio::time::sleep(grace).await;
                    }
                    drop(permit);
                });
            }
            Err(_) => drop(live),
        }
    }

    async fn close_now(&self, live: Live<B>) {
        self.stats.connections_closed.fetch_add(1, Ordering::SeqCst);
        let Live { conn, permit, .. } = live;
        let _closed = conn.close().await;
        self.grace().await;
        drop(permit);
    }

    /// How long a closed connection keeps its permit.
    fn grace_period(&self) -> Duration {
        if self.backend.has_server_sessions() {
            self.config.close_grace
        } else {
            Duration::ZERO
        }
    }

    async fn grace(&self) {
        let grace = self.grace_period();
        if !grace.is_zero() {
            tokio::time::sleep(grace).await;
        }
    }
}

impl<B: DatabaseBackend> TenantPool<B> {
    fn lock_idle(&self) -> std::sync::MutexGuard<'_, VecDeque<Idle<B>>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most recently idled connection (warmest).
    fn pop_idle(&self) -> Option<Idle<B>> {
        self.lock_idle().pop_back()
    }
}

/// Decrements the waiter count when a waiting request stops waiting.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs the pool cache's maintenance until the pools are dropped.
async fn maintain<B: DatabaseBackend>(shared: Weak<Shared<B>>) {
    let mut tick = tokio::time::interval(MAINTENANCE);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.pools.run_pending_tasks().await;
    }
}

impl<B: DatabaseBackend> TenantAccess for TenantPools<B> {
    type Tenant = RegistryTenant;
    type Handle = TenantConnection<B>;

    fn open<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
    ) -> BoxFuture<'a, Result<Self::Handle, TenancyError>> {
        async move {
            let location =
                tenant
                    .storage()
                    .database()
                    .ok_or_else(|| TenancyError::Configuration {
                        message: format!(
                            "tenant `{}` has no database of its own (its storage is {})",
                            tenant.id(),
                            tenant.storage()
                        ),
                    })?;
            self.acquire(location).await
        }
        .boxed()
    }
}

impl<B: DatabaseBackend> fmt::Debug for TenantPools<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantPools")
            .field("backend", &self.shared.backend)
            .field("config", &self.shared.config)
            .field("stats", &self.stats())
            .finish()
    }
}
