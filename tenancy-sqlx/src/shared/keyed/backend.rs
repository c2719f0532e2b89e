//! [`SharedBackend`]: the databases whose shared-schema mode binds the tenant
//! key in every query (MySQL / MariaDB and SQLite). The statement plumbing is
//! the registry's [`Dialect`]; the specifics of each backend are in
//! `mysql.rs` and `sqlite.rs`.

use futures_util::future::BoxFuture;

use super::template::Syntax;
use crate::error::MigrationError;
use crate::ident::Ident;
use crate::migrate::{HistoryEntry, TenantMigrations};
use crate::registry::Dialect;

/// A database with shared-schema helpers: [`MySql`](sqlx::MySql) (also for
/// MariaDB) and [`Sqlite`](sqlx::Sqlite), with features `mysql` / `sqlite`.
///
/// It cannot be implemented outside this crate; Postgres has its own,
/// row-level-security based types ([`RlsPool`](crate::shared::rls::RlsPool)).
pub trait SharedBackend: sealed::Backend {}

/// What a clone copies of one shared table: its columns (quoted; generated
/// ones, the tenant column and the generated key left out), its generated
/// key (an auto-increment or rowid primary key: new rows get new values),
/// and the tables whose foreign keys reference that key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CopyShape {
    pub(crate) columns: Vec<String>,
    pub(crate) generated_key: Option<String>,
    pub(crate) referenced_by: Vec<String>,
}

/// What a declared tenant table looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableFact {
    Missing,
    NoColumn,
    Nullable,
    Ready,
}

// The trait is sealed (unnameable outside the crate), so its methods may use
// crate-private types.
#[allow(private_interfaces, unreachable_pub)]
pub(crate) mod sealed {

    use super::*;

    /// The backend operations the generic helpers and managers use, beyond
    /// the registry's [`Dialect`].
    pub trait Backend: Dialect {
        /// The SQL syntax, for rewriting `{tenant}`.
        const SYNTAX: Syntax;

        /// Applies pending migrations to the connection's database.
        fn migrate<'c>(
            conn: &'c mut Self::Connection,
            migrations: &'c TenantMigrations,
        ) -> BoxFuture<'c, Result<Vec<i64>, MigrationError>>;

        /// The versions recorded in the migration history (creating it if missing).
        fn history<'c>(
            conn: &'c mut Self::Connection,
            migrations: &'c TenantMigrations,
        ) -> BoxFuture<'c, Result<Vec<HistoryEntry>, MigrationError>>;

        /// Inspects a declared table and its tenant column.
        fn table_fact<'c>(
            conn: &'c mut Self::Connection,
            table: &'c Ident,
            column: &'c Ident,
        ) -> BoxFuture<'c, Result<TableFact, sqlx::Error>>;

        /// What a clone copies of `table`, whose tenant column is `column`.
        fn copy_shape<'c>(
            conn: &'c mut Self::Connection,
            table: &'c Ident,
            column: &'c Ident,
        ) -> BoxFuture<'c, Result<CopyShape, sqlx::Error>>;
    }
}

/// The migration plumbing both drivers share (sqlx's migrator).
macro_rules! migrations {
    ($db:ty) => {
        fn migrate<'c>(
            conn: &'c mut <$db as sqlx::Database>::Connection,
            migrations: &'c TenantMigrations,
        ) -> BoxFuture<'c, Result<Vec<i64>, MigrationError>> {
            crate::migrate::apply::apply_pending(conn, migrations).boxed()
        }

        fn history<'c>(
            conn: &'c mut <$db as sqlx::Database>::Connection,
            migrations: &'c TenantMigrations,
        ) -> BoxFuture<'c, Result<Vec<crate::migrate::HistoryEntry>, MigrationError>> {
            crate::migrate::apply::read_history(conn, migrations).boxed()
        }
    };
}

pub(crate) use migrations;
