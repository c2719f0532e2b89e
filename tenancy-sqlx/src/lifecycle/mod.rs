//! The tenant lifecycle: create, rename, activate / deactivate, delete and
//! migrate tenants, written once over any registry and any isolation mode.
//!
//! - [`TenantManager`]: the lifecycle over a
//!   [`TenantRegistry`](crate::registry::TenantRegistry) and a [`StorageMode`].
//! - [`StorageMode`]: one mode's side of it (where a tenant's data lives and
//!   how it is made, moved, migrated and removed), with its [`Seed`].
//! - [`TenantManager::gate`]: any mode wired for requests in one call
//!   (resolver, cache over the registry, invalidation, listener, access).
//! - [`TenantLifecycle`]: the lifecycle as a trait object, for applications
//!   and the conformance suite.

mod manager;
mod mode;
mod operations;
mod wired;

pub use manager::TenantManager;
pub use mode::{Seed, StorageMode};
pub use operations::{TenantLifecycle, TenantResult};
pub use wired::ManagedStore;
