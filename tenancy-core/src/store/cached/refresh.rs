//! Refreshing found tenants in the background, at most one task per key.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use quick_cache::sync::EntryAction;

use super::Shared;
use super::entry::Entry;
use super::stats::Count;
use crate::key::TenantKey;
use crate::store::TenantStore;
use crate::tenant::Tenant;

impl<S: TenantStore + 'static> Shared<S> {
    /// Starts refreshing `key` on the current Tokio runtime unless a refresh
    /// is already in flight. Whether a refresh is now in flight: `false`
    /// only outside a runtime.
    pub(super) fn refresh_in_background(self: &Arc<Self>, key: &TenantKey) -> bool {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        if !self.lock_refreshing().insert(key.clone()) {
            return true;
        }
        let refresh = Refresh {
            shared: Arc::clone(self),
            key: key.clone(),
        };
        // Detached: the task ends on its own, and clears its flag however it ends.
        drop(runtime.spawn(refresh.run()));
        true
    }

    pub(super) fn is_refreshing(&self, key: &TenantKey) -> bool {
        self.lock_refreshing().contains(key)
    }
}

/// A refresh in flight; dropping it (done or cancelled) clears the key's flag.
struct Refresh<S: TenantStore> {
    shared: Arc<Shared<S>>,
    key: TenantKey,
}

impl<S: TenantStore + 'static> Refresh<S> {
    async fn run(self) {
        let shared = &*self.shared;
        let key = &self.key;
        let generation = shared.generation.load(Ordering::SeqCst);
        shared.counters.add(Count::Refresh);
        let result = shared.inner.find(key).await;
        let now = shared.now();
        if shared.generation.load(Ordering::SeqCst) != generation {
            // Invalidated meanwhile: the answer may predate the change.
            return;
        }
        match result {
            Ok(Some(tenant)) => {
                let entry = Entry::new(tenant.clone(), now, shared.lifetimes);
                // Replaces a cached entry only: never one that was evicted
                // or is being reloaded by a lookup.
                if shared.found.replace(key.clone(), entry, true).is_ok() {
                    shared.remember_domain(key, tenant.id());
                }
            }
            Ok(None) => {
                shared.found.remove_if(key, |_| true);
                shared.remember_missing(key, now);
            }
            Err(error) => {
                tracing::warn!(
                    tenant.key = %key,
                    error = &error as &(dyn std::error::Error + 'static),
                    "refreshing a cached tenant failed; serving the cached tenant meanwhile"
                );
                let failure = shared.record_failure(&Arc::new(error), now, false);
                // Marks the entry in place; a placeholder (a lookup reloading
                // the key) or a missing entry is left alone.
                let _ = shared.found.entry(key, Some(Duration::ZERO), |_, entry| {
                    entry.failure = Some(failure);
                    EntryAction::Retain(())
                });
            }
        }
    }
}

impl<S: TenantStore> Drop for Refresh<S> {
    fn drop(&mut self) {
        self.shared.lock_refreshing().remove(&self.key);
    }
}
