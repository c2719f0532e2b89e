//! [`Storage`]: where a tenant's data lives, and its parts: a
//! [`SchemaName`] (schema mode), a [`DatabaseLocation`] (database mode) or a
//! [`SharedKey`] (shared mode), with the one-to-one mappings from tenant ids
//! to schema names ([`SchemaNaming`]).
//!
//! Backend-neutral: every registry stores a tenant's storage as a kind and a
//! location, whichever backend and isolation mode it serves.

mod database;
mod schema;
mod shared;

pub use database::{DatabaseLocation, DatabaseName};
pub use schema::{SchemaName, SchemaNaming, TenantSchema};
pub use shared::SharedKey;

use std::fmt;

#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
use tenancy_core::TenancyError;

/// Where a tenant's data lives.
///
/// One variant per isolation mode; every registry stores it as a kind and a
/// location ([`kind`](Self::kind), [`location`](Self::location)).
///
/// ```
/// use tenancy_sqlx::Storage;
///
/// let database = Storage::Database("eu2/tenant_acme".parse()?);
/// assert_eq!((database.kind(), database.location()), ("database", "eu2/tenant_acme"));
/// assert_eq!(database.database().map(|d| d.server().as_str()), Some("eu2"));
/// assert!(database.schema().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Storage {
    /// A Postgres schema of the registry's database.
    Schema(SchemaName),
    /// A database of its own (database per tenant): a named server and a
    /// database (or, on SQLite, file) name.
    Database(DatabaseLocation),
    /// Rows in tables shared by all tenants (shared-schema mode), marked with
    /// this stable key in the tenant column. The key, not the tenant id, is
    /// what rows carry, so a rename leaves them untouched.
    Shared(SharedKey),
}

impl Storage {
    /// The kind stored in the registry (`"schema"`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Schema(_) => "schema",
            Self::Database(_) => "database",
            Self::Shared(_) => "shared",
        }
    }

    /// The location stored in the registry (the schema name, or
    /// `server/database`).
    pub fn location(&self) -> &str {
        match self {
            Self::Schema(schema) => schema.as_str(),
            Self::Database(location) => location.as_str(),
            Self::Shared(key) => key.as_str(),
        }
    }

    /// The schema, if this is schema storage.
    pub fn schema(&self) -> Option<&SchemaName> {
        match self {
            Self::Schema(schema) => Some(schema),
            _ => None,
        }
    }

    /// The key of the tenant's rows, if this is shared-schema storage.
    pub fn shared_key(&self) -> Option<&SharedKey> {
        match self {
            Self::Shared(key) => Some(key),
            _ => None,
        }
    }

    /// The database, if this is database-per-tenant storage.
    pub fn database(&self) -> Option<&DatabaseLocation> {
        match self {
            Self::Database(location) => Some(location),
            _ => None,
        }
    }

    /// Rebuilds a storage location from its registry columns.
    #[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
    pub(crate) fn from_parts(kind: &str, location: &str) -> Result<Self, TenancyError> {
        match kind {
            "schema" => Ok(Self::Schema(SchemaName::new(location)?)),
            "database" => Ok(Self::Database(location.parse()?)),
            "shared" => Ok(Self::Shared(SharedKey::new(location)?)),
            other => Err(TenancyError::Configuration {
                message: format!("the registry names an unknown storage kind `{other}`"),
            }),
        }
    }
}

impl fmt::Display for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind(), self.location())
    }
}
