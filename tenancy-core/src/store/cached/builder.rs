//! [`CacheBuilder`]: the settings of a [`CachedStore`].

use std::sync::Arc;
use std::time::Duration;

use super::clock::{Clock, TimeSource};
use super::{CachedStore, Shared};
use crate::store::TenantStore;

/// Configures a [`CachedStore`].
///
/// | setting | default |
/// |---|---|
/// | [`ttl`](Self::ttl) | 5 s |
/// | [`negative_ttl`](Self::negative_ttl) | 5 s |
/// | [`capacity`](Self::capacity) / [`negative_capacity`](Self::negative_capacity) | 10,000 / 10,000 |
/// | [`refresh_ahead`](Self::refresh_ahead) | 0.25 (the last quarter of the TTL) |
/// | [`stale_for`](Self::stale_for) | 5 min |
/// | [`retry_after`](Self::retry_after) | 1 s |
/// | [`max_concurrent_misses`](Self::max_concurrent_misses) | 4 |
/// | [`miss_wait`](Self::miss_wait) | 250 ms |
///
/// ```
/// use std::time::Duration;
/// use tenancy_core::{CacheBuilder, InMemoryStore};
///
/// let store = CacheBuilder::new()
///     .ttl(Duration::from_secs(30))
///     .negative_ttl(Duration::from_secs(2))
///     .capacity(100_000)
///     .negative_capacity(10_000)
///     .refresh_ahead(0.2)
///     .stale_for(Duration::from_secs(600))
///     .retry_after(Duration::from_secs(2))
///     .max_concurrent_misses(8)
///     .miss_wait(Duration::from_millis(100))
///     .build(InMemoryStore::new());
/// # let _ = store;
/// ```
#[derive(Debug, Clone)]
pub struct CacheBuilder {
    pub(super) ttl: Duration,
    pub(super) negative_ttl: Duration,
    pub(super) capacity: usize,
    pub(super) negative_capacity: usize,
    pub(super) refresh_ahead: f64,
    pub(super) stale_for: Duration,
    pub(super) retry_after: Duration,
    pub(super) max_concurrent_misses: usize,
    pub(super) miss_wait: Duration,
    pub(super) clock: TimeSource,
}

impl Default for CacheBuilder {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(5),
            negative_ttl: Duration::from_secs(5),
            capacity: 10_000,
            negative_capacity: 10_000,
            refresh_ahead: 0.25,
            stale_for: Duration::from_secs(300),
            retry_after: Duration::from_secs(1),
            max_concurrent_misses: 4,
            miss_wait: Duration::from_millis(250),
            clock: TimeSource::coarse(),
        }
    }
}

impl CacheBuilder {
    /// A builder with the default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long a found tenant stays cached (default 5 s; zero disables
    /// caching, and with it every other setting: each lookup goes to the store).
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long an unknown key stays cached (default 5 s; zero disables
    /// negative caching). Unknown keys are never served past this TTL, not
    /// even while the store is failing: a tenant created during an outage
    /// appears as soon as the store is back.
    #[must_use]
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// How many found tenants (by id or domain) are kept (default 10,000).
    #[must_use]
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// How many unknown keys are kept (default 10,000).
    #[must_use]
    pub fn negative_capacity(mut self, capacity: usize) -> Self {
        self.negative_capacity = capacity;
        self
    }

    /// The last fraction of a found tenant's TTL in which a lookup also
    /// refreshes it in the background (default `0.25`: the last quarter).
    ///
    /// The lookup is answered at once with the cached tenant; a spawned task
    /// asks the store again (at most one per key at a time) and replaces the
    /// entry, so a tenant in steady use never waits on the store. `0.0`
    /// disables refreshing ahead, `1.0` refreshes on every lookup (at most one
    /// refresh in flight per key); values outside `0.0..=1.0` are clamped
    /// and NaN counts as `0.0`.
    ///
    /// Refreshing needs a Tokio runtime to spawn on; outside one (or for a
    /// lookup made outside one) the entry simply expires and is reloaded.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tenancy_core::{CacheBuilder, InMemoryStore};
    ///
    /// // Entries live 60 s; lookups in their last 15 s refresh them.
    /// let store = CacheBuilder::new()
    ///     .ttl(Duration::from_secs(60))
    ///     .refresh_ahead(0.25)
    ///     .build(InMemoryStore::new());
    /// # let _ = store;
    /// ```
    #[must_use]
    pub fn refresh_ahead(mut self, fraction: f64) -> Self {
        self.refresh_ahead = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self
    }

    /// How long after its expiry a found tenant may still be served while
    /// the store is failing (default 5 minutes; zero disables serving stale).
    ///
    /// When reloading an expired tenant fails, the lookup is answered with
    /// the expired tenant and the failure is logged (`tracing` warning);
    /// later lookups keep getting it, and the store is retried (every
    /// [`retry_after`](Self::retry_after), in the background) until it
    /// answers or the bound is reached. Beyond the bound the store's error is
    /// returned. Unknown keys are never served stale.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tenancy_core::{CacheBuilder, InMemoryStore};
    ///
    /// // Keep known tenants resolving through a database outage of up to 10 minutes.
    /// let store = CacheBuilder::new()
    ///     .stale_for(Duration::from_secs(600))
    ///     .build(InMemoryStore::new());
    /// # let _ = store;
    /// ```
    #[must_use]
    pub fn stale_for(mut self, bound: Duration) -> Self {
        self.stale_for = bound;
        self
    }

    /// After the store failed for a key, how long before it is asked about
    /// that key again (default 1 s).
    ///
    /// Meanwhile, lookups of the key get the stale tenant if there is one
    /// (see [`stale_for`](Self::stale_for)) and otherwise the error of the
    /// last attempt, without reaching the store. Zero retries at once (the
    /// lookups waiting on a failing call still share its error). Failures are
    /// remembered with each cached tenant, and for up to 1,024 unknown keys.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tenancy_core::{CacheBuilder, InMemoryStore};
    ///
    /// let store = CacheBuilder::new()
    ///     .retry_after(Duration::from_millis(500))
    ///     .build(InMemoryStore::new());
    /// # let _ = store;
    /// ```
    #[must_use]
    pub fn retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = delay;
        self
    }

    /// How many lookups of uncached keys may be in the store at once
    /// (default 4; values below 1 count as 1).
    ///
    /// Lookups of keys the cache has never found (new tenants, or a flood of
    /// made-up hosts) take a slot each; one that finds none free waits up to
    /// [`miss_wait`](Self::miss_wait) and then fails fast with
    /// [`TenancyError::StoreUnavailable`](crate::TenancyError::StoreUnavailable)
    /// ("too many concurrent lookups of uncached tenants"). Concurrent
    /// lookups of one key still make a single call and take a single slot.
    /// Tenants already cached, even expired, never take a slot: their
    /// refreshes and reloads are never queued behind unknown keys.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tenancy_core::{CacheBuilder, InMemoryStore};
    ///
    /// // At most 2 connections of the registry pool for lookups of new keys.
    /// let store = CacheBuilder::new()
    ///     .max_concurrent_misses(2)
    ///     .build(InMemoryStore::new());
    /// # let _ = store;
    /// ```
    #[must_use]
    pub fn max_concurrent_misses(mut self, limit: usize) -> Self {
        self.max_concurrent_misses = limit;
        self
    }

    /// How long a lookup of an uncached key waits for a free slot (see
    /// [`max_concurrent_misses`](Self::max_concurrent_misses)) before failing
    /// (default 250 ms; zero fails at once).
    ///
    /// Waiting uses Tokio's timer: inside a Tokio runtime built without
    /// timers, set it to zero. Outside any Tokio runtime a lookup never waits.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tenancy_core::{CacheBuilder, InMemoryStore};
    ///
    /// let store = CacheBuilder::new()
    ///     .miss_wait(Duration::from_millis(50))
    ///     .build(InMemoryStore::new());
    /// # let _ = store;
    /// ```
    #[must_use]
    pub fn miss_wait(mut self, wait: Duration) -> Self {
        self.miss_wait = wait;
        self
    }

    /// Reads the time from `clock` instead of the default coarse monotonic
    /// clock: give it a [`ManualClock`](super::ManualClock) to test expiry,
    /// refreshes and stale serving without sleeping.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tenancy_core::{CacheBuilder, InMemoryStore, ManualClock, TenantId, TenantRecord, TenantStore};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let acme = TenantId::new("acme")?;
    /// let clock = ManualClock::new();
    /// let store = CacheBuilder::new()
    ///     .ttl(Duration::from_secs(60))
    ///     .clock(clock.clone())
    ///     .build(InMemoryStore::from_iter([TenantRecord::new(acme.clone(), "Acme")]));
    /// store.find_by_id(&acme).await?;
    /// store.inner().remove(&acme);
    /// assert!(store.find_by_id(&acme).await?.is_some(), "cached");
    /// clock.advance(Duration::from_secs(61));
    /// assert!(store.find_by_id(&acme).await?.is_none(), "expired and reloaded");
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = TimeSource::Custom(Arc::new(clock));
        self
    }

    /// Builds the cache in front of `inner`.
    pub fn build<S: TenantStore + 'static>(self, inner: S) -> CachedStore<S> {
        CachedStore {
            shared: Arc::new(Shared::new(inner, self)),
        }
    }

    /// The part of the TTL before a lookup triggers a refresh.
    pub(super) fn refresh_after(&self) -> Duration {
        let window = Duration::try_from_secs_f64(self.ttl.as_secs_f64() * self.refresh_ahead)
            .unwrap_or(Duration::ZERO);
        self.ttl.saturating_sub(window)
    }
}
