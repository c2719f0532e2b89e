//! sqlx integration for tenancy-rs: registries, isolation strategies, tenant lifecycle.
//!
//! This crate is a placeholder in the workspace layout; its features are not
//! built yet (see the repository README for the status of each feature).
