//! [`MigrateOptions`] and progress reporting for migration runs.

use std::fmt;
use std::sync::Arc;

use super::filter::TenantFilter;
use super::report::TenantOutcome;

type ProgressFn = Arc<dyn Fn(&MigrationProgress<'_>) + Send + Sync>;
type StopFn = Arc<dyn Fn() -> bool + Send + Sync>;

/// How to migrate many tenants.
///
/// ```
/// use tenancy_sqlx::MigrateOptions;
/// use tenancy_sqlx::migrate::TenantFilter;
///
/// let options = MigrateOptions::new()
///     .concurrency(8)
///     .filter(TenantFilter::all().active_only())
///     .on_progress(|progress| {
///         tracing::info!(done = progress.done, total = progress.total, "migrating tenants");
///     });
/// # let _ = options;
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct MigrateOptions {
    pub(crate) concurrency: Option<usize>,
    pub(crate) filter: TenantFilter,
    pub(crate) progress: Option<ProgressFn>,
    pub(crate) stop: Option<StopFn>,
}

impl MigrateOptions {
    /// Defaults: concurrency = the pool's maximum size, every tenant, no callback.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many tenants are migrated at once (at least 1).
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = Some(concurrency.max(1));
        self
    }

    /// Which tenants to migrate.
    pub fn filter(mut self, filter: TenantFilter) -> Self {
        self.filter = filter;
        self
    }

    /// Called after each tenant, from the task that migrated it.
    pub fn on_progress(
        mut self,
        callback: impl Fn(&MigrationProgress<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.progress = Some(Arc::new(callback));
        self
    }

    /// Stops the run between tenants once `stop` returns `true` (e.g. after
    /// Ctrl-C): tenants already under way finish (each in its own
    /// transaction), the ones not started are reported
    /// [`Stopped`](super::MigrationStatus::Stopped) and left untouched, so
    /// running again resumes where this run stopped. Shared mode migrates
    /// every tenant in one run: it stops only before that run starts.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use tenancy_sqlx::MigrateOptions;
    ///
    /// let interrupted = Arc::new(AtomicBool::new(false));
    /// let flag = Arc::clone(&interrupted);
    /// let options = MigrateOptions::new().stop_when(move || flag.load(Ordering::Relaxed));
    /// # let _ = options;
    /// // A signal handler sets `interrupted`.
    /// interrupted.store(true, Ordering::Relaxed);
    /// ```
    pub fn stop_when(mut self, stop: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        self.stop = Some(Arc::new(stop));
        self
    }

    /// Whether the run was asked to stop.
    #[cfg_attr(
        not(any(feature = "postgres", feature = "mysql", feature = "sqlite")),
        allow(dead_code)
    )]
    pub(crate) fn is_stopped(&self) -> bool {
        self.stop.as_ref().is_some_and(|stop| stop())
    }
}

impl fmt::Debug for MigrateOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MigrateOptions")
            .field("concurrency", &self.concurrency)
            .field("filter", &self.filter)
            .field("progress", &self.progress.is_some())
            .field("stop", &self.stop.is_some())
            .finish()
    }
}

/// One step of a migration run, passed to the progress callback.
#[derive(Debug)]
#[non_exhaustive]
pub struct MigrationProgress<'a> {
    /// Tenants finished so far, this one included.
    pub done: usize,
    /// Tenants selected for this run.
    pub total: usize,
    /// The tenant just finished.
    pub tenant: &'a TenantOutcome,
}
