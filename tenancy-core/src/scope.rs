//! A task-local tenant scope for background work.
//!
//! Request handlers get their tenant from an extractor; background jobs and
//! spawned tasks have no request. [`scope`] runs a future with a tenant set,
//! [`current`] reads it back anywhere inside. A task spawned with
//! `tokio::spawn` starts *without* a scope — tenants never leak into tasks by
//! accident — so pass it on explicitly with [`propagate`] or another [`scope`].
//!
//! ```
//! use tenancy_core::{TenantId, TenantRecord, scope};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let acme = TenantRecord::new(TenantId::new("acme")?, "Acme Corp");
//! let name = scope::scope(acme, async {
//!     scope::current::<TenantRecord>().map(|tenant| tenant.name.to_string())
//! })
//! .await;
//! assert_eq!(name.as_deref(), Some("Acme Corp"));
//! assert!(scope::current_id().is_none(), "outside the scope");
//! # Ok(()) }
//! ```

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use crate::id::TenantId;
use crate::tenant::Tenant;

#[derive(Clone)]
struct Scoped {
    id: TenantId,
    tenant: Arc<dyn Any + Send + Sync>,
}

tokio::task_local! {
    static CURRENT: Scoped;
}

/// Runs `future` with `tenant` as the current tenant.
pub async fn scope<T, F>(tenant: T, future: F) -> F::Output
where
    T: Tenant + Clone + 'static,
    F: Future,
{
    let scoped = Scoped {
        id: tenant.id().clone(),
        tenant: Arc::new(tenant),
    };
    CURRENT.scope(scoped, future).await
}

/// The current tenant, if a [`scope`] with a tenant of type `T` is active.
pub fn current<T: Clone + 'static>() -> Option<T> {
    CURRENT
        .try_with(|scoped| scoped.tenant.downcast_ref::<T>().cloned())
        .ok()
        .flatten()
}

/// The id of the current tenant, whatever its type.
pub fn current_id() -> Option<TenantId> {
    CURRENT.try_with(|scoped| scoped.id.clone()).ok()
}

/// Wraps `future` so that it runs in the current scope, if there is one.
///
/// Use it to carry the tenant into a spawned task:
///
/// ```
/// use tenancy_core::{TenantId, TenantRecord, scope};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let acme = TenantRecord::new(TenantId::new("acme")?, "Acme Corp");
/// let seen = scope::scope(acme, async {
///     tokio::spawn(scope::propagate(async { scope::current_id() })).await
/// })
/// .await?;
/// assert_eq!(seen.map(|id| id.to_string()).as_deref(), Some("acme"));
/// # Ok(()) }
/// ```
pub fn propagate<F: Future>(future: F) -> impl Future<Output = F::Output> {
    let scoped = CURRENT.try_with(Clone::clone).ok();
    async move {
        match scoped {
            Some(scoped) => CURRENT.scope(scoped, future).await,
            None => future.await,
        }
    }
}
