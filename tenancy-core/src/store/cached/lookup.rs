//! Looking a key up: the hot path from memory, and the slow paths that reach
//! the inner store (single flight, miss slots, stale on error).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use quick_cache::sync::{EntryAction, EntryResult, PlaceholderGuard};
use quick_cache::{DefaultHashBuilder, UnitWeighter};
use tokio::sync::SemaphorePermit;

use super::Shared;
use super::entry::{Entry, Failure, State};
use super::error::{shared, too_many_misses};
use super::stats::Count;
use crate::domain::DomainName;
use crate::error::TenancyError;
use crate::id::TenantId;
use crate::key::TenantKey;
use crate::store::TenantStore;
use crate::tenant::Tenant;

/// The right to fill (or restore) one key of the found cache.
type Guard<'a, T> = PlaceholderGuard<
    'a,
    TenantKey,
    Entry<T>,
    UnitWeighter,
    DefaultHashBuilder,
    quick_cache::sync::DefaultLifecycle<TenantKey, Entry<T>>,
>;

/// What the hot path found.
enum Probe<T> {
    Found(T),
    Missing,
    /// Ask the store (or wait for the lookup that does).
    Load,
}

/// What a lookup on the slow path got from an entry without calling the store.
enum Served<T> {
    Hit(T),
    Stale(T),
    Failed(Arc<TenancyError>),
}

impl<S: TenantStore + 'static> Shared<S> {
    pub(super) fn find_cached(self: &Arc<Self>, key: &TenantKey) -> Option<Option<S::Tenant>> {
        if self.settings.ttl.is_zero() {
            return None;
        }
        match self.probe(key, self.now()) {
            Probe::Found(tenant) => Some(Some(tenant)),
            Probe::Missing => Some(None),
            Probe::Load => None,
        }
    }

    pub(super) async fn lookup(
        self: &Arc<Self>,
        key: &TenantKey,
    ) -> Result<Option<S::Tenant>, TenancyError> {
        if self.settings.ttl.is_zero() {
            return self.inner.find(key).await;
        }
        let started = self.now();
        match self.probe(key, started) {
            Probe::Found(tenant) => Ok(Some(tenant)),
            Probe::Missing => Ok(None),
            // Boxed so that the hot path's future stays small.
            Probe::Load => Box::pin(self.load(key, started)).await,
        }
    }

    /// The hot path: answers from memory, starting a background refresh if due.
    fn probe(self: &Arc<Self>, key: &TenantKey, now: Duration) -> Probe<S::Tenant> {
        if let Some(entry) = self.found.get(key) {
            let count = match entry.state(now, u64::MAX, self.settings.retry_after) {
                State::Fresh => Count::Hit,
                State::RefreshDue => {
                    self.refresh_in_background(key);
                    Count::Hit
                }
                State::Stale => Count::Stale,
                State::StaleRetry if self.refresh_in_background(key) => Count::Stale,
                State::Expired {
                    stale_allowed: true,
                } if self.is_refreshing(key) => Count::Stale,
                State::StaleRetry | State::Expired { .. } | State::Failed(_) => {
                    return Probe::Load;
                }
            };
            self.counters.add(count);
            return Probe::Found(entry.tenant);
        }
        if self.is_known_missing(key, now) {
            self.counters.add(Count::Hit);
            return Probe::Missing;
        }
        Probe::Load
    }

    /// The slow path: one lookup per key reaches the inner store (single flight).
    async fn load(
        self: &Arc<Self>,
        key: &TenantKey,
        started: Duration,
    ) -> Result<Option<S::Tenant>, TenancyError> {
        let generation = self.generation.load(Ordering::SeqCst);
        let failures_seen = self.failures.load(Ordering::SeqCst);
        let retry_after = self.settings.retry_after;
        let entry = self
            .found
            .entry_async(key, |_, entry| {
                match entry.state(started, failures_seen, retry_after) {
                    State::Fresh | State::RefreshDue => {
                        EntryAction::Retain(Served::Hit(entry.tenant.clone()))
                    }
                    State::Stale => EntryAction::Retain(Served::Stale(entry.tenant.clone())),
                    State::Failed(error) => EntryAction::Retain(Served::Failed(error)),
                    // Take the entry out while reloading it: concurrent
                    // lookups wait for this one.
                    State::StaleRetry | State::Expired { .. } => EntryAction::ReplaceWithGuard,
                }
            })
            .await;
        match entry {
            EntryResult::Retained(Served::Hit(tenant)) => {
                self.counters.add(Count::Hit);
                Ok(Some(tenant))
            }
            EntryResult::Retained(Served::Stale(tenant)) => {
                self.counters.add(Count::Stale);
                Ok(Some(tenant))
            }
            EntryResult::Retained(Served::Failed(error)) => Err(shared(error)),
            EntryResult::Replaced(guard, old) => self.reload(key, guard, old, generation).await,
            EntryResult::Vacant(guard) => {
                self.load_unknown(key, guard, generation, failures_seen, started)
                    .await
            }
            // Never asked for: `Remove` is not used and only `entry` times out.
            EntryResult::Removed(..) | EntryResult::Timeout => self.inner.find(key).await,
        }
    }

    /// Reloads an expired tenant; serves it stale if the store fails.
    async fn reload(
        &self,
        key: &TenantKey,
        guard: Guard<'_, S::Tenant>,
        old: Entry<S::Tenant>,
        generation: u64,
    ) -> Result<Option<S::Tenant>, TenancyError> {
        self.counters.add(Count::Refresh);
        // Puts the old entry back if this lookup is cancelled mid-call.
        let mut restore = Restore {
            guard: Some(guard),
            old: Some(old),
        };
        let result = self.inner.find(key).await;
        let now = self.now();
        let raced = self.generation.load(Ordering::SeqCst) != generation;
        let Some(old) = restore.old.take() else {
            return result;
        };
        match result {
            Ok(Some(tenant)) => {
                if !raced {
                    restore.fill(Entry::new(tenant.clone(), now, self.lifetimes));
                    self.remember_domain(key, tenant.id());
                }
                Ok(Some(tenant))
            }
            Ok(None) => {
                drop(restore);
                if !raced {
                    self.remember_missing(key, now);
                }
                Ok(None)
            }
            // An invalidated tenant is never served stale.
            Err(error) if raced => Err(error),
            Err(error) => {
                let error = Arc::new(error);
                let failure = self.record_failure(&error, now, false);
                let stale_allowed = now < old.stale_until;
                let tenant = old.tenant.clone();
                // Kept, marked: waiters and the next lookups share the outcome.
                restore.fill(old.failed(failure));
                if stale_allowed {
                    tracing::warn!(
                        tenant.key = %key,
                        error = &*error as &(dyn std::error::Error + 'static),
                        "the tenant store failed; serving the expired cached tenant"
                    );
                    self.counters.add(Count::Stale);
                    Ok(Some(tenant))
                } else {
                    tracing::warn!(
                        tenant.key = %key,
                        error = &*error as &(dyn std::error::Error + 'static),
                        "the tenant store failed and the cached tenant is too old to serve"
                    );
                    Err(shared(error))
                }
            }
        }
    }

    /// Looks up a key the cache does not know, within the miss budget.
    async fn load_unknown(
        &self,
        key: &TenantKey,
        guard: Guard<'_, S::Tenant>,
        generation: u64,
        failures_seen: u64,
        started: Duration,
    ) -> Result<Option<S::Tenant>, TenancyError> {
        // A concurrent lookup we waited for may have found nothing or failed.
        if self.is_known_missing(key, started) {
            self.counters.add(Count::Hit);
            return Ok(None);
        }
        let retry_after = self.settings.retry_after;
        if let Some(failure) = self
            .failed
            .get(key)
            .filter(|failure| failure.applies(started, failures_seen, retry_after))
        {
            if failure.rejected {
                self.counters.add(Count::Rejected);
                return Err(too_many_misses());
            }
            return Err(shared(Arc::clone(&failure.error)));
        }
        let Some(permit) = self.miss_slot().await else {
            self.counters.add(Count::Rejected);
            tracing::debug!(tenant.key = %key, "too many concurrent lookups of uncached tenants");
            let error = Arc::new(too_many_misses());
            let failure = self.record_failure(&error, self.now(), true);
            self.failed.insert(key.clone(), failure);
            drop(guard);
            return Err(too_many_misses());
        };
        self.counters.add(Count::Miss);
        let result = self.inner.find(key).await;
        drop(permit);
        let now = self.now();
        let raced = self.generation.load(Ordering::SeqCst) != generation;
        match result {
            Ok(Some(tenant)) => {
                self.failed.remove(key);
                if !raced {
                    // Refused only if another value won the slot, which is fine.
                    let _ = guard.insert(Entry::new(tenant.clone(), now, self.lifetimes));
                    self.remember_domain(key, tenant.id());
                }
                Ok(Some(tenant))
            }
            Ok(None) => {
                self.failed.remove(key);
                if !raced {
                    self.remember_missing(key, now);
                }
                drop(guard);
                Ok(None)
            }
            Err(error) => {
                tracing::debug!(
                    tenant.key = %key,
                    error = &error as &(dyn std::error::Error + 'static),
                    "the tenant store failed"
                );
                let error = Arc::new(error);
                let failure = self.record_failure(&error, now, false);
                self.failed.insert(key.clone(), failure);
                drop(guard);
                Err(shared(error))
            }
        }
    }

    /// A slot for a lookup of an uncached key, waiting up to `miss_wait`.
    async fn miss_slot(&self) -> Option<SemaphorePermit<'_>> {
        if let Ok(permit) = self.miss_slots.try_acquire() {
            return Some(permit);
        }
        let wait = self.settings.miss_wait;
        // Waiting needs Tokio's timer; outside a runtime, fail at once.
        if wait.is_zero() || tokio::runtime::Handle::try_current().is_err() {
            return None;
        }
        tokio::time::timeout(wait, self.miss_slots.acquire())
            .await
            .ok()?
            .ok()
    }
}

impl<S: TenantStore> Shared<S> {
    pub(super) fn record_failure(
        &self,
        error: &Arc<TenancyError>,
        now: Duration,
        rejected: bool,
    ) -> Arc<Failure> {
        Arc::new(Failure {
            at: now,
            seq: self.failures.fetch_add(1, Ordering::SeqCst),
            error: Arc::clone(error),
            rejected,
        })
    }

    pub(super) fn is_known_missing(&self, key: &TenantKey, now: Duration) -> bool {
        match self.missing.get(key) {
            Some(expires) if expires > now => true,
            Some(_) => {
                self.missing.remove_if(key, |expires| *expires <= now);
                false
            }
            None => false,
        }
    }

    pub(super) fn remember_missing(&self, key: &TenantKey, now: Duration) {
        let ttl = self.settings.negative_ttl;
        if !ttl.is_zero() {
            self.missing.insert(key.clone(), now.saturating_add(ttl));
        }
    }

    /// Remembers a custom domain under its tenant, to drop it with the tenant.
    pub(super) fn remember_domain(&self, key: &TenantKey, id: &TenantId) {
        let TenantKey::Domain(domain) = key else {
            return;
        };
        let mut domains = self.lock_domains();
        let cached: &mut Vec<DomainName> = domains.entry(id.clone()).or_default();
        if !cached.contains(domain) {
            cached.push(domain.clone());
        }
    }
}

/// A reload's hold on its key: puts the old entry back unless filled.
struct Restore<'a, T: Clone> {
    guard: Option<Guard<'a, T>>,
    old: Option<Entry<T>>,
}

impl<T: Clone> Restore<'_, T> {
    fn fill(&mut self, entry: Entry<T>) {
        self.old = None;
        if let Some(guard) = self.guard.take() {
            // Refused only if another value won the slot, which is fine.
            let _ = guard.insert(entry);
        }
    }
}

impl<T: Clone> Drop for Restore<'_, T> {
    fn drop(&mut self) {
        if let (Some(guard), Some(old)) = (self.guard.take(), self.old.take()) {
            let _ = guard.insert(old);
        }
    }
}
