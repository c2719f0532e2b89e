//! [`DatabaseBackend`]: what database-per-tenant needs from a backend
//! ([`PgDatabases`](crate::database::PgDatabases), [`MySqlDatabases`](crate::database::MySqlDatabases),
//! [`SqliteDatabases`](crate::database::SqliteDatabases)).

use std::collections::BTreeMap;

use futures_util::future::BoxFuture;
use sqlx::{Connection, Database};
use tenancy_core::{TenancyError, TenantId};

use crate::error::MigrationError;
use crate::ident::Ident;
use crate::migrate::{HistoryEntry, TenantMigrations};
use crate::storage::DatabaseLocation;

/// The connection type of a backend (e.g. `PgConnection` for
/// [`PgDatabases`](crate::database::PgDatabases)); what a
/// [`TenantConnection`](crate::database::TenantConnection) dereferences to.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use tenancy_sqlx::database::{BackendConnection, SqliteDatabases};
///
/// fn takes(_: &mut BackendConnection<SqliteDatabases>) {}
/// let _: fn(&mut sqlx::SqliteConnection) = takes;
/// # }
/// ```
pub type BackendConnection<B> = <<B as DatabaseBackend>::Database as Database>::Connection;

/// The connect options of a backend's connections (e.g. `PgConnectOptions`).
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use tenancy_sqlx::database::{BackendConnectOptions, SqliteDatabases};
///
/// let _: fn() -> BackendConnectOptions<SqliteDatabases> = sqlx::sqlite::SqliteConnectOptions::new;
/// # }
/// ```
pub type BackendConnectOptions<B> = <BackendConnection<B> as Connection>::Options;

/// A backend for database-per-tenant storage: it knows the configured
/// servers, derives each tenant database's connect options, and (through
/// sealed methods) provisions, renames, drops and migrates tenant databases.
///
/// Implemented by [`PgDatabases`](crate::database::PgDatabases),
/// [`MySqlDatabases`](crate::database::MySqlDatabases) and
/// [`SqliteDatabases`](crate::database::SqliteDatabases); it cannot be implemented
/// outside this crate.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use tenancy_sqlx::Ident;
/// use tenancy_sqlx::database::{DatabaseBackend, DatabaseLocation, SqliteDatabases};
///
/// let dir = std::env::temp_dir().join("tenancy-doc-backend");
/// let sqlite = SqliteDatabases::new(&dir)?;
/// assert_eq!(sqlite.name(), "sqlite");
/// assert_eq!(sqlite.default_server().as_str(), "local");
/// let location: DatabaseLocation = "local/tenant_acme".parse()?;
/// let options = sqlite.connect_options(&location)?;
/// assert_eq!(options.get_filename(), dir.join("tenant_acme.db"));
/// assert!(!sqlite.has_server(&Ident::new("elsewhere")?));
/// # std::fs::remove_dir_all(&dir)?;
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait DatabaseBackend:
    sealed::Provision + Clone + std::fmt::Debug + Send + Sync + 'static
{
    /// The sqlx database type.
    type Database: Database;

    /// The backend's name: `"postgres"`, `"mysql"` or `"sqlite"`.
    fn name(&self) -> &'static str;

    /// The server new tenants are placed on unless told otherwise.
    fn default_server(&self) -> &Ident;

    /// Whether `server` is configured.
    fn has_server(&self, server: &Ident) -> bool;

    /// The names of the configured servers, by name.
    fn servers(&self) -> Vec<Ident>;

    /// The connect options of the tenant database at `location`
    /// (`Configuration` error for an unknown server).
    fn connect_options(
        &self,
        location: &DatabaseLocation,
    ) -> Result<BackendConnectOptions<Self>, TenancyError>;
}

pub(crate) mod sealed {
    #![allow(unreachable_pub)]

    use super::*;

    /// Provisioning steps, private to this crate. Errors are typed
    /// [`TenancyError`] lifecycle variants.
    pub trait Provision {
        /// The location a new tenant `id` gets on `server` (MySQL avoids
        /// names still held by renamed tenants).
        fn location_for<'a>(
            &'a self,
            server: &'a Ident,
            id: &'a TenantId,
        ) -> BoxFuture<'a, Result<DatabaseLocation, TenancyError>>;

        /// Gets `server` ready to provision (Postgres: its template database
        /// exists and is migrated).
        fn prepare<'a>(
            &'a self,
            server: &'a Ident,
            migrations: &'a TenantMigrations,
        ) -> BoxFuture<'a, Result<(), MigrationError>>;

        /// Whether connections are server sessions that outlive their close
        /// for a moment (false for SQLite files).
        fn has_server_sessions(&self) -> bool {
            true
        }

        /// The identity of the storage at `location` as it is now, recorded
        /// when a connection opens and compared before an idle connection is
        /// reused, so a connection to a database that was since replaced is
        /// closed instead. `None` (the default): no check (servers refuse to
        /// drop a database under live sessions, or end them).
        fn identity(&self, _location: &DatabaseLocation) -> Option<u64> {
            None
        }

        /// Forgets that servers were prepared (migrations may have changed
        /// elsewhere); the next [`prepare`](Self::prepare) checks again.
        fn forget_prepared(&self) {}

        /// Creates and migrates the database of a new tenant
        /// (`SchemaCreation` / `TableCreation`); on failure nothing is left.
        fn create<'a>(
            &'a self,
            tenant: &'a TenantId,
            location: &'a DatabaseLocation,
            migrations: &'a TenantMigrations,
        ) -> BoxFuture<'a, Result<(), TenancyError>>;

        /// Drops a tenant database if it exists (`SchemaDrop`).
        fn drop_database<'a>(
            &'a self,
            tenant: &'a TenantId,
            location: &'a DatabaseLocation,
        ) -> BoxFuture<'a, Result<(), TenancyError>>;

        /// Where tenant `to`'s database should live after a rename of the
        /// tenant at `from`; `None` (the default) when the backend keeps the
        /// name and only the registry changes.
        fn rename_target(
            &self,
            _from: &DatabaseLocation,
            _to: &TenantId,
        ) -> Result<Option<DatabaseLocation>, TenancyError> {
            Ok(None)
        }

        /// Renames a database (`from` and `to` are on the same server); only
        /// called for a target from [`rename_target`](Self::rename_target).
        fn rename_database<'a>(
            &'a self,
            _from: &'a DatabaseLocation,
            _to: &'a DatabaseLocation,
        ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
            Box::pin(std::future::ready(Err(sqlx::Error::Configuration(
                "this backend keeps database names on rename".into(),
            ))))
        }

        /// Applies pending migrations; returns the applied versions.
        fn migrate<'a>(
            &'a self,
            location: &'a DatabaseLocation,
            migrations: &'a TenantMigrations,
        ) -> BoxFuture<'a, Result<Vec<i64>, MigrationError>>;

        /// Copies the rows and counters of the database at `from` into the
        /// freshly migrated one at `to` (same server), the history table
        /// `history` excepted.
        fn copy_database<'a>(
            &'a self,
            from: &'a DatabaseLocation,
            to: &'a DatabaseLocation,
            history: &'a str,
        ) -> BoxFuture<'a, Result<(), sqlx::Error>>;

        /// The number of rows of each table of the database at `location`
        /// (the history table `history` left out), by table name: what a
        /// move compares between the source and its copy.
        fn row_counts<'a>(
            &'a self,
            location: &'a DatabaseLocation,
            history: &'a str,
        ) -> BoxFuture<'a, Result<BTreeMap<String, i64>, sqlx::Error>>;

        /// Whether [`copy_database`](Self::copy_database) copies between
        /// two servers (what a move needs); true by default.
        fn copies_between_servers(&self) -> bool {
            true
        }

        /// Reads the migration history of the database at `location`.
        fn history<'a>(
            &'a self,
            location: &'a DatabaseLocation,
            migrations: &'a TenantMigrations,
        ) -> BoxFuture<'a, Result<Vec<HistoryEntry>, MigrationError>>;
    }
}
