//! The conformance kit (feature `testing`): the suites every registry and
//! every isolation mode of this crate runs, public so that a registry or mode
//! of your own runs them too, with one macro call each.
//!
//! | suite | over | you provide | macro |
//! |---|---|---|---|
//! | registry | any [`TenantRegistry`](crate::TenantRegistry) | a [`RegistryHarness`]: a fresh registry, and a second instance on the same storage | [`registry_suite!`](crate::registry_suite) |
//! | lifecycle | any [`TenantManager`](crate::TenantManager) (any registry × any [`StorageMode`](crate::lifecycle::StorageMode)) | a [`LifecycleHarness`]: a fresh manager, and how to write a row through the mode's access | [`lifecycle_suite!`](crate::lifecycle_suite) |
//! | isolation | any [`TenantAccess`](crate::TenantAccess) over registry tenants | an [`IsolationHarness`]: two tenants, and how to write and read rows through a handle | [`isolation_suite!`](crate::isolation_suite) |
//!
//! The HTTP suite every framework adapter runs is tenancy-core's
//! (`tenancy_core::testing`). [`MemoryRegistry`] is a registry in memory: the
//! reference implementation of [`TenantRegistry`](crate::TenantRegistry)'s
//! contract, handy as the registry of a lifecycle test.
//!
//! Each macro expands into one async test per case, carrying the test
//! attribute you give (`#[tokio::test]`); a case that finds a broken
//! promise panics with what it expected. Every case makes its own registry,
//! storage and tenants through the harness, so cases run in parallel.
//!
//! A registry of your own runs the registry suite like this (here the
//! in-memory one stands in for it), in a test file:
//!
//! ```
//! use tenancy_sqlx::testing::{Guard, MemoryRegistry, RegistryHarness};
//!
//! /// Makes the registry under test: a fresh one per case.
//! struct Memory;
//!
//! impl RegistryHarness for Memory {
//!     type Registry = MemoryRegistry;
//!
//!     async fn registry() -> (MemoryRegistry, Guard) {
//!         // A registry on a database would hand back its temporary database here.
//!         (MemoryRegistry::default(), Box::new(()))
//!     }
//!
//!     fn second_instance(registry: &MemoryRegistry) -> MemoryRegistry {
//!         registry.clone()
//!     }
//! }
//!
//! // One `#[tokio::test]` per case of the suite.
//! tenancy_sqlx::registry_suite!(#[tokio::test] Memory);
//! # fn main() {}
//! ```
//!
//! A mode of your own runs the lifecycle and isolation suites the same way,
//! with a [`LifecycleHarness`] and an [`IsolationHarness`]; this crate's
//! `tests/conformance.rs` has one of each for every mode and backend.

// A failing check of a test kit panics, as any test does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod isolation;
pub mod lifecycle;
mod memory;
pub mod registry;

pub use isolation::IsolationHarness;
pub use lifecycle::LifecycleHarness;
pub use memory::MemoryRegistry;
pub use registry::RegistryHarness;

/// What a harness hands back beside the thing under test, dropped when the
/// case ends: a temporary database that removes itself, a directory, …
pub type Guard = Box<dyn std::any::Any + Send>;
