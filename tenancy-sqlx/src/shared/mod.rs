//! Shared-schema mode: every tenant's rows in the same tables, told apart by
//! a tenant column holding the tenant's [`SharedKey`].
//!
//! - [`rls`] (Postgres, feature `postgres`): row-level security enforces
//!   isolation, even for a superuser login ([`RlsPool`](rls::RlsPool),
//!   [`RlsAudit`](rls::RlsAudit), and the lifecycle in
//!   [`RlsManager`](rls::RlsManager)).
//! - [`keyed`] (MySQL / MariaDB and SQLite, features `mysql`, `sqlite`):
//!   there is no row-level security, so **isolation rests entirely on using
//!   the scoped helpers** ([`SharedPool`](keyed::SharedPool) and
//!   [`SharedTransaction`](keyed::SharedTransaction)), which bind the tenant
//!   key into every query they run; the lifecycle is
//!   [`SharedManager`](keyed::SharedManager).
//!
//! A tenant's [`SharedKey`] is random and stable: a rename changes the
//! registry only, never a data row.

// The module docs link to every backend's items; without its feature they are absent.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(rustdoc::broken_intra_doc_links)
)]

#[cfg(any(feature = "mysql", feature = "sqlite"))]
pub mod keyed;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod report;
#[cfg(feature = "postgres")]
pub mod rls;

pub use crate::storage::SharedKey;

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
use tenancy_core::TenancyError;

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
use crate::storage::Storage;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
use crate::tenant::RegistryTenant;

/// A clone gives `table`'s generated key new values: `Configuration` when
/// one of the declared `tables` references that key (the copies would point
/// at the source's rows).
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub(crate) fn refuse_renumbered_references(
    table: &crate::ident::Ident,
    referrers: &[String],
    tables: &[crate::ident::Ident],
) -> Result<(), TenancyError> {
    match referrers
        .iter()
        .find(|referrer| tables.iter().any(|t| t.as_str() == referrer.as_str()))
    {
        Some(referrer) => Err(TenancyError::Configuration {
            message: format!(
                "cannot clone in shared mode: {referrer} references the generated key of \
                 {table}, which the copies would get anew; make the tenant column part of \
                 those keys"
            ),
        }),
        None => Ok(()),
    }
}

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
