//! [`CacheStats`]: what the cache did, for tests and operators.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Counters of a [`CachedStore`](super::CachedStore), from
/// [`stats`](super::CachedStore::stats).
///
/// Every counter only grows; compare two snapshots to get rates.
///
/// ```
/// use tenancy_core::{CachedStore, InMemoryStore, TenantId, TenantRecord, TenantStore};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let acme = TenantId::new("acme")?;
/// let store = CachedStore::new(InMemoryStore::from_iter([TenantRecord::new(acme.clone(), "Acme")]));
/// store.find_by_id(&acme).await?;
/// store.find_by_id(&acme).await?;
/// let stats = store.stats();
/// assert_eq!((stats.misses, stats.hits), (1, 1));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Lookups answered from the cache with an unexpired answer (a tenant,
    /// or "unknown" from the negative cache).
    pub hits: u64,
    /// Calls to the inner store for keys that were not cached (one per
    /// single flight, however many lookups waited on it).
    pub misses: u64,
    /// Lookups answered with an expired tenant because the store was failing
    /// (or a refresh of it was in flight).
    pub stale_served: u64,
    /// Calls to the inner store for tenants already cached: refreshes ahead
    /// of expiry, reloads of expired entries and retries during an outage.
    pub refreshes: u64,
    /// Lookups of uncached keys refused because too many were already in
    /// flight ([`max_concurrent_misses`](super::CacheBuilder::max_concurrent_misses)).
    pub rejected_misses: u64,
}

/// The live counters behind [`CacheStats`].
#[derive(Debug, Default)]
pub(super) struct Counters {
    /// Bumped on every cache hit, from every thread: striped so that threads
    /// do not fight over one cache line.
    hits: [Stripe; STRIPES],
    misses: AtomicU64,
    stale_served: AtomicU64,
    refreshes: AtomicU64,
    rejected_misses: AtomicU64,
}

/// Which counter to bump.
#[derive(Debug, Clone, Copy)]
pub(super) enum Count {
    Hit,
    Miss,
    Stale,
    Refresh,
    Rejected,
}

impl Counters {
    #[inline]
    pub(super) fn add(&self, count: Count) {
        let [first, ..] = &self.hits;
        let counter = match count {
            // `stripe()` is always in range; `first` only satisfies the types.
            Count::Hit => &self.hits.get(stripe()).unwrap_or(first).0,
            Count::Miss => &self.misses,
            Count::Stale => &self.stale_served,
            Count::Refresh => &self.refreshes,
            Count::Rejected => &self.rejected_misses,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn snapshot(&self) -> CacheStats {
        CacheStats {
            hits: self
                .hits
                .iter()
                .map(|stripe| stripe.0.load(Ordering::Relaxed))
                .fold(0, u64::wrapping_add),
            misses: self.misses.load(Ordering::Relaxed),
            stale_served: self.stale_served.load(Ordering::Relaxed),
            refreshes: self.refreshes.load(Ordering::Relaxed),
            rejected_misses: self.rejected_misses.load(Ordering::Relaxed),
        }
    }
}

const STRIPES: usize = 8;

/// One counter on its own cache line.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

/// This thread's stripe: threads take stripes in turn.
fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<Option<usize>> = const { Cell::new(None) };
    }
    STRIPE.with(|stripe| {
        stripe.get().unwrap_or_else(|| {
            let chosen = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
            stripe.set(Some(chosen));
            chosen
        })
    })
}
