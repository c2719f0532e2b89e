//! Tenant-scoped database access in handlers (feature `sqlx`).

mod extract;
mod rejection;

pub use extract::{TenantDb, TenantDbAccess};
pub use rejection::{DbRejectionReason, TenantDbRejection};
