//! [`Clock`]: where the cache reads the time, and [`ManualClock`] for tests.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A monotonic clock for [`CachedStore`](super::CachedStore) TTLs.
///
/// `now` is the time elapsed since an arbitrary, fixed origin; it must never
/// go backwards. The default clock is a coarse monotonic clock (a few
/// milliseconds of resolution, cheap to read); give the cache a
/// [`ManualClock`] through [`CacheBuilder::clock`](super::CacheBuilder::clock)
/// to step time by hand in tests.
pub trait Clock: fmt::Debug + Send + Sync + 'static {
    /// The time elapsed since this clock's origin.
    fn now(&self) -> Duration;
}

/// A clock that only moves when told to: deterministic cache tests without
/// sleeping.
///
/// Clones share the same time, so keep one to advance the cache's clock.
///
/// ```
/// use std::time::Duration;
/// use tenancy_core::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let handle = clock.clone();
/// handle.advance(Duration::from_secs(3));
/// assert_eq!(clock.now(), Duration::from_secs(3));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by` (saturating after about 584 years).
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // `fetch_update` with a closure that always succeeds cannot fail.
        let _ = self
            .nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(by))
            });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

/// The cache's time source: the coarse clock unless a [`Clock`] was given.
#[derive(Clone)]
pub(super) enum TimeSource {
    Coarse(coarsetime::Instant),
    Custom(Arc<dyn Clock>),
}

impl TimeSource {
    pub(super) fn coarse() -> Self {
        Self::Coarse(coarsetime::Instant::now_without_cache_update())
    }

    /// Now, as time since the source's origin.
    #[inline]
    pub(super) fn now(&self) -> Duration {
        match self {
            // CLOCK_MONOTONIC_COARSE: several times cheaper than `std::time::Instant`.
            Self::Coarse(origin) => coarsetime::Instant::now_without_cache_update()
                .duration_since(*origin)
                .into(),
            Self::Custom(clock) => clock.now(),
        }
    }
}

impl fmt::Debug for TimeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Coarse(_) => f.write_str("CoarseClock"),
            Self::Custom(clock) => fmt::Debug::fmt(clock, f),
        }
    }
}
