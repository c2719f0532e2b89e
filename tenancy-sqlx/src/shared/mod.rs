//! Shared-schema mode: every tenant's rows in the same tables, told apart by
//! a tenant column holding the tenant's [`SharedKey`].
//!
//! - Postgres (feature `postgres`): row-level security enforces isolation
//!   ([`RlsPool`](crate::RlsPool), [`PgSharedManager`](crate::PgSharedManager)).
//! - MySQL / MariaDB and SQLite (features `mysql`, `sqlite`): there is no
//!   row-level security, so **isolation rests entirely on using the scoped
//!   helpers** ([`SharedPool`](crate::SharedPool) and
//!   [`SharedTransaction`](crate::SharedTransaction)), which bind the tenant key
//!   into every query they run.

mod key;
#[cfg(any(feature = "mysql", feature = "sqlite"))]
pub(crate) mod keyed;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub(crate) mod report;

pub use key::SharedKey;

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
use tenancy_core::TenancyError;

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
use crate::tenant::{RegistryTenant, Storage};

/// The key of a tenant with shared storage, or a configuration error.
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub(crate) fn key_of(tenant: &RegistryTenant) -> Result<&SharedKey, TenancyError> {
    match tenant.storage() {
        Storage::Shared(key) => Ok(key),
        other => Err(TenancyError::Configuration {
            message: format!(
                "tenant `{}` does not use shared-schema storage (its storage is {other})",
                tenant.id()
            ),
        }),
    }
}
