//! [`PoolConfig`] and [`PoolStats`] of [`TenantPools`](crate::database::TenantPools).

use std::time::Duration;

/// The longest acquire time-out [`PoolConfig::acquire_timeout`] accepts.
const MAX_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest idle time-out [`PoolConfig::pool_idle_timeout`] accepts (the
/// cache underneath refuses durations of centuries).
const MAX_POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Limits of the per-tenant pools.
///
/// Defaults: a budget of 20 connections across all tenant pools, at most 5
/// per tenant, at most 1,000 open pools (least recently used closed first),
/// pools idle for 5 minutes closed, a 30 s acquire time-out, a ping before
/// reusing a connection idle for over 30 s, and a 20 ms
/// [close grace](Self::close_grace).
///
/// ```
/// use std::time::Duration;
/// use tenancy_sqlx::database::PoolConfig;
///
/// let config = PoolConfig::new()
///     .max_connections(50)
///     .max_connections_per_tenant(4)
///     .max_pools(500)
///     .pool_idle_timeout(Duration::from_secs(60));
/// assert_eq!(config.get_max_connections(), 50);
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct PoolConfig {
    pub(crate) max_connections: u32,
    pub(crate) per_tenant: u32,
    pub(crate) max_pools: u64,
    pub(crate) pool_idle_timeout: Duration,
    pub(crate) acquire_timeout: Duration,
    pub(crate) test_after_idle: Duration,
    pub(crate) close_grace: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_connections: 20,
            per_tenant: 5,
            max_pools: 1000,
            pool_idle_timeout: Duration::from_secs(300),
            acquire_timeout: Duration::from_secs(30),
            test_after_idle: Duration::from_secs(30),
            close_grace: Duration::from_millis(20),
        }
    }
}

impl PoolConfig {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The global budget: open connections across all tenant pools (at least 1).
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// Open connections per tenant (at least 1; capped by the budget).
    pub fn max_connections_per_tenant(mut self, max: u32) -> Self {
        self.per_tenant = max.max(1);
        self
    }

    /// How many tenant pools stay open; beyond it the least recently used
    /// pool is closed (at least 1).
    pub fn max_pools(mut self, max: u64) -> Self {
        self.max_pools = max.max(1);
        self
    }

    /// Closes a tenant pool (and its connections) unused for this long.
    /// At most one year (longer values are clamped).
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool_idle_timeout = timeout.min(MAX_POOL_IDLE_TIMEOUT);
        self
    }

    /// How long [`acquire`](crate::database::TenantPools::acquire) may wait for a
    /// connection before failing with `StoreUnavailable`.
    ///
    /// At most one day: longer values are clamped (an unbounded wait is a
    /// hung request, and the deadline must stay representable).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout.min(MAX_ACQUIRE_TIMEOUT);
        self
    }

    /// Pings a pooled connection before reuse when it has been idle this long.
    pub fn test_after_idle(mut self, idle: Duration) -> Self {
        self.test_after_idle = idle;
        self
    }

    /// How long a closed connection still counts against the budget
    /// (default 20 ms; not applied to SQLite, which has no server).
    ///
    /// A database server ends a session a little after the client has closed
    /// it: MariaDB lists the connection until its thread has cleaned up,
    /// Postgres until the backend process has exited. Reusing the permit at
    /// once would let the server briefly see one connection more than the
    /// budget, and fail a connection attempt if its own limit is that tight.
    /// On a saturated machine the server's lag can exceed 20 ms; raise the
    /// grace where the server's own connection limit equals the budget.
    pub fn close_grace(mut self, grace: Duration) -> Self {
        self.close_grace = grace;
        self
    }

    /// The global connection budget.
    pub fn get_max_connections(&self) -> u32 {
        self.max_connections
    }

    /// The per-tenant limit (never above the budget).
    pub fn get_max_connections_per_tenant(&self) -> u32 {
        self.per_tenant.min(self.max_connections)
    }

    /// The maximum number of open pools.
    pub fn get_max_pools(&self) -> u64 {
        self.max_pools
    }
}

/// Counters of a [`TenantPools`](crate::database::TenantPools), for tests and metrics.
///
/// ```no_run
/// # #[cfg(feature = "sqlite")] mod example {
/// # fn example(pools: tenancy_sqlx::TenantPools<tenancy_sqlx::database::SqliteDatabases>) {
/// let stats = pools.stats();
/// assert!(stats.open_connections <= 20);
/// println!("{} pools opened, {} connections opened", stats.pools_opened, stats.connections_opened);
/// # }
/// # }
/// # fn main() {}
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PoolStats {
    /// Pools created so far (a pool is created on a tenant's first request
    /// and again after it was closed).
    pub pools_opened: u64,
    /// Pools closed so far (evicted, idle, or closed explicitly).
    pub pools_closed: u64,
    /// Connections opened so far.
    pub connections_opened: u64,
    /// Connections closed so far.
    pub connections_closed: u64,
    /// Idle connections of one tenant closed to make room for another.
    pub connections_reassigned: u64,
    /// Connections open now (checked out or idle); never above the budget.
    pub open_connections: u32,
}
