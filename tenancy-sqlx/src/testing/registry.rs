//! The registry suite: the contract of [`TenantRegistry`](crate::TenantRegistry),
//! for any registry (placeholder: being written).

/// How the registry under test is made.
pub trait RegistryHarness {}

/// Expands into the registry suite's tests (placeholder).
#[macro_export]
macro_rules! registry_suite {
    (#[$test:meta] $harness:ty) => {};
}
