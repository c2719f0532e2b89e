//! Cache entries and their states over time.
//!
//! A found tenant is *fresh* until `refresh_at`, *due for a refresh* until
//! `expires`, then *expired*: servable (stale) until `stale_until` only while
//! the store is failing, reloaded otherwise. An unknown key is cached until
//! its negative TTL and is never served stale.

use std::sync::Arc;
use std::time::Duration;

use crate::error::TenancyError;

/// A found tenant and its deadlines (times since the cache clock's origin).
#[derive(Clone)]
pub(super) struct Entry<T> {
    pub(super) tenant: T,
    pub(super) refresh_at: Duration,
    pub(super) expires: Duration,
    pub(super) stale_until: Duration,
    /// The last failed attempt to reload this entry, if the store has not
    /// answered since.
    pub(super) failure: Option<Arc<Failure>>,
}

/// A failed store call.
#[derive(Debug)]
pub(super) struct Failure {
    /// When it failed.
    pub(super) at: Duration,
    /// The value of the cache's failure counter when it was recorded.
    pub(super) seq: u64,
    pub(super) error: Arc<TenancyError>,
    /// Refused for lack of a miss slot rather than failed in the store:
    /// shared only with the lookups that waited on it, never retried later.
    pub(super) rejected: bool,
}

impl Failure {
    /// Whether a lookup that started when the failure counter was
    /// `failures_seen` should get this failure rather than ask the store
    /// again: it waited on the failing call, or the failure is recent.
    pub(super) fn applies(&self, now: Duration, failures_seen: u64, retry_after: Duration) -> bool {
        self.seq >= failures_seen || (!self.rejected && now < self.at.saturating_add(retry_after))
    }
}

/// The deadlines of a tenant loaded at `now`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Lifetimes {
    /// Time after loading when lookups start refreshing.
    pub(super) refresh_after: Duration,
    pub(super) ttl: Duration,
    pub(super) stale_for: Duration,
}

impl<T> Entry<T> {
    pub(super) fn new(tenant: T, now: Duration, lifetimes: Lifetimes) -> Self {
        let expires = now.saturating_add(lifetimes.ttl);
        Self {
            tenant,
            refresh_at: now.saturating_add(lifetimes.refresh_after),
            expires,
            stale_until: expires.saturating_add(lifetimes.stale_for),
            failure: None,
        }
    }

    /// The same entry, marked with a failed reload.
    pub(super) fn failed(mut self, failure: Arc<Failure>) -> Self {
        self.failure = Some(failure);
        self
    }

    /// What a lookup at `now` should do with this entry.
    pub(super) fn state(&self, now: Duration, failures_seen: u64, retry_after: Duration) -> State {
        if now < self.refresh_at {
            return State::Fresh;
        }
        let failing = self.failure.as_deref();
        let recent_failure =
            failing.is_some_and(|failure| failure.applies(now, failures_seen, retry_after));
        if now < self.expires {
            return if recent_failure {
                State::Fresh
            } else {
                State::RefreshDue
            };
        }
        let stale_allowed = now < self.stale_until;
        match (failing, recent_failure, stale_allowed) {
            (Some(_), true, true) => State::Stale,
            (Some(failure), true, false) => State::Failed(Arc::clone(&failure.error)),
            // The store failed before but may be back: retry in the
            // background, serving stale meanwhile (or inline if that fails).
            (Some(_), false, true) => State::StaleRetry,
            _ => State::Expired { stale_allowed },
        }
    }
}

/// The state of a found tenant at one moment, as seen by one lookup.
#[derive(Debug)]
pub(super) enum State {
    /// Serve it.
    Fresh,
    /// Serve it and refresh it in the background.
    RefreshDue,
    /// Expired, the store is failing: serve it without asking the store.
    Stale,
    /// Expired, the store failed a while ago: serve it and retry in the
    /// background (or reload it inline if no background task can run).
    StaleRetry,
    /// Expired: reload it; on failure serve it if `stale_allowed`.
    Expired { stale_allowed: bool },
    /// Expired beyond the stale bound, and the store just failed: return the error.
    Failed(Arc<TenancyError>),
}
