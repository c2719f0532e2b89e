//! Mapping sqlx errors into [`TenancyError`](tenancy_core::TenancyError), and the
//! migration error type.

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
use tenancy_core::{BoxError, TenancyError};

/// Whether `error` means the database cannot be reached or the connection is gone.
///
/// Pool time-outs, I/O and TLS failures, protocol desyncs, and the server-side
/// SQLSTATEs of class 08 (connection exception), 53300 (too many connections),
/// 57P01–57P03 (shutdown, cannot connect now) count as unavailability.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "53300" | "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// The SQLSTATE of a database error, if `error` is one.
pub(crate) fn sqlstate(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(db) => db.code().map(|code| code.into_owned()),
        _ => None,
    }
}

/// The constraint a database error names, if any.
#[cfg(feature = "postgres")]
pub(crate) fn constraint(error: &sqlx::Error) -> Option<&str> {
    match error {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}

/// Whether `error` is a unique violation (SQLSTATE 23505, MySQL 1062, SQLite 2067/1555).
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Maps a registry error: unavailability → `StoreUnavailable`, anything else → `Storage`.
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub(crate) fn store_error(error: sqlx::Error) -> TenancyError {
    if is_unavailable(&error) {
        TenancyError::unavailable(error)
    } else {
        TenancyError::storage(error)
    }
}

/// Maps a lifecycle step's error: unavailability wins over the step's own variant.
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub(crate) fn step_error(
    error: impl Into<StepError>,
    step: impl FnOnce(BoxError) -> TenancyError,
) -> TenancyError {
    match error.into() {
        StepError::Sqlx(error) if is_unavailable(&error) => TenancyError::unavailable(error),
        StepError::Migration(MigrationError::Database(error)) if is_unavailable(&error) => {
            TenancyError::unavailable(error)
        }
        StepError::Sqlx(error) => step(Box::new(error)),
        StepError::Migration(error) => step(Box::new(error)),
    }
}

/// An error of one lifecycle step: a plain sqlx error or a migration error.
#[derive(Debug)]
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub(crate) enum StepError {
    Sqlx(sqlx::Error),
    Migration(MigrationError),
}

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
impl From<sqlx::Error> for StepError {
    fn from(error: sqlx::Error) -> Self {
        Self::Sqlx(error)
    }
}

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
impl From<MigrationError> for StepError {
    fn from(error: MigrationError) -> Self {
        Self::Migration(error)
    }
}

/// Why a tenant's migrations could not be applied.
///
/// It is the source of [`TenancyError::Migration`](tenancy_core::TenancyError::Migration)
/// (and of [`TenancyError::TableCreation`](tenancy_core::TenancyError::TableCreation)
/// when a tenant is created) and is kept per
/// tenant in a [`MigrationReport`](crate::migrate::MigrationReport).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrationError {
    /// A migration failed half-way in an earlier run (recorded with `success = false`).
    #[error("migration {version} is recorded as failed (dirty); fix it by hand")]
    Dirty {
        /// The dirty version.
        version: i64,
    },
    /// An applied migration's checksum differs from the migration source.
    #[error("migration {version} was changed after it was applied (checksum mismatch)")]
    VersionMismatch {
        /// The changed version.
        version: i64,
    },
    /// The schema has a migration applied that the migration source lacks.
    #[error("migration {version} is applied but missing from the migration source")]
    VersionMissing {
        /// The unknown version.
        version: i64,
    },
    /// Executing migrations failed (the tenant's transaction was rolled back).
    #[error("applying migration {first}..={last} failed")]
    Apply {
        /// The first version of the failed batch.
        first: i64,
        /// The last version of the failed batch (equal to `first` for one migration).
        last: i64,
        /// The database error.
        #[source]
        source: sqlx::Error,
    },
    /// Reading or writing the migration history failed.
    #[error("reading or writing the migration history failed")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for MigrationError {
    fn from(error: sqlx::Error) -> Self {
        Self::Database(error)
    }
}

impl MigrationError {
    /// The SQLSTATE of the underlying database error, if there is one.
    pub fn sqlstate(&self) -> Option<String> {
        match self {
            Self::Apply { source, .. } | Self::Database(source) => sqlstate(source),
            _ => None,
        }
    }
}

#[cfg(all(test, feature = "postgres"))]
mod tests {
    use super::*;

    #[test]
    fn pool_errors_are_unavailability() {
        assert!(is_unavailable(&sqlx::Error::PoolTimedOut));
        assert!(is_unavailable(&sqlx::Error::PoolClosed));
        assert!(!is_unavailable(&sqlx::Error::RowNotFound));
        let error = store_error(sqlx::Error::PoolTimedOut);
        assert!(matches!(error, TenancyError::StoreUnavailable { .. }));
        assert_eq!(error.status(), 503);
        assert!(matches!(
            store_error(sqlx::Error::RowNotFound),
            TenancyError::Storage { .. }
        ));
    }

    #[test]
    fn steps_keep_their_variant_and_source() {
        let error = step_error(MigrationError::VersionMismatch { version: 3 }, |source| {
            TenancyError::Configuration {
                message: source.to_string(),
            }
        });
        assert!(error.to_string().contains("migration 3 was changed"));
        let error = step_error(sqlx::Error::PoolTimedOut, |_| TenancyError::TenantRequired);
        assert!(matches!(error, TenancyError::StoreUnavailable { .. }));
    }
}
