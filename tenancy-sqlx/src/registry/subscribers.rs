//! [`Subscribers`]: whom a registry tells about changes — the caches it
//! invalidates, and the receivers of its [`TenantEvent`]s.

use std::sync::{Arc, PoisonError, RwLock};

use tenancy_core::{Invalidate, TenantEvent};
use tokio::sync::broadcast;

/// How many events a receiver may fall behind before it misses some (and
/// gets `RecvError::Lagged`).
const EVENT_BACKLOG: usize = 1024;

/// The caches and event receivers of one registry instance.
pub(crate) struct Subscribers {
    caches: RwLock<Vec<Arc<dyn Invalidate>>>,
    events: broadcast::Sender<TenantEvent>,
}

impl Default for Subscribers {
    fn default() -> Self {
        Self {
            caches: RwLock::default(),
            events: broadcast::channel(EVENT_BACKLOG).0,
        }
    }
}

impl Subscribers {
    /// Adds a cache to invalidate.
    pub(crate) fn push(&self, cache: Arc<dyn Invalidate>) {
        self.caches
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(cache);
    }

    /// A receiver of the events published from now on.
    pub(crate) fn events(&self) -> broadcast::Receiver<TenantEvent> {
        self.events.subscribe()
    }

    /// Invalidates the caches for `events`, then sends them to the
    /// receivers (who, looking a tenant up, then see the change).
    pub(crate) async fn publish(&self, events: &[TenantEvent]) {
        let caches: Vec<Arc<dyn Invalidate>> = self
            .caches
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for event in events {
            for invalidation in event.invalidations() {
                for cache in &caches {
                    cache.invalidate(&invalidation).await;
                }
            }
            // No receiver is not an error.
            let _receivers = self.events.send(event.clone());
        }
    }
}
