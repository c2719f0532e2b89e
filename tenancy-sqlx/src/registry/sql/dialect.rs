//! [`Dialect`]: what a [`SqlRegistry`](super::SqlRegistry) needs of its
//! driver — quoting, write transactions, binding and running statements, and
//! the registry tables' own migrations.

use futures_util::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::{Pool, SqlStr, Transaction};
use tenancy_core::TenancyError;

use super::rows::TenantRow;
use crate::ident::Ident;

/// A database a [`SqlRegistry`](super::SqlRegistry) runs on:
/// [`MySql`](sqlx::MySql) (also for MariaDB; feature `mysql`) and
/// [`Sqlite`](sqlx::Sqlite) (feature `sqlite`). Both use `?` placeholders.
///
/// It cannot be implemented outside this crate; Postgres has a registry of
/// its own ([`PgRegistry`](crate::registry::PgRegistry), with `LISTEN/NOTIFY`).
pub trait Dialect: sealed::Driver {}

// The trait is sealed (unnameable outside the crate), so its methods may use
// crate-private types.
#[allow(private_interfaces, unreachable_pub)]
pub(crate) mod sealed {
    use super::*;

    /// The driver specifics of a registry (and of the shared-mode helpers
    /// on the same databases).
    pub trait Driver: sqlx::Database {
        /// The registry's name in `Debug` output.
        const REGISTRY: &'static str;

        /// Appended to the row locks of a write transaction: ` FOR UPDATE` on
        /// MySQL; empty on SQLite, whose write transactions are
        /// `BEGIN IMMEDIATE`.
        const FOR_UPDATE: &'static str;

        /// Quotes a validated identifier.
        fn quote(name: &Ident) -> String;

        /// Begins a transaction (`immediate`: take the write lock at once;
        /// SQLite only, MySQL locks rows as it goes).
        fn begin(
            pool: &Pool<Self>,
            immediate: bool,
        ) -> BoxFuture<'_, Result<Transaction<'static, Self>, sqlx::Error>>;

        /// Appends a text value.
        fn add_str(args: &mut Self::Arguments, value: &str) -> Result<(), BoxDynError>;

        /// Appends a boolean.
        fn add_bool(args: &mut Self::Arguments, value: bool) -> Result<(), BoxDynError>;

        /// Appends an integer.
        fn add_i64(args: &mut Self::Arguments, value: i64) -> Result<(), BoxDynError>;

        /// Runs a prepared statement, returning every row.
        fn fetch_all(
            conn: &mut Self::Connection,
            sql: SqlStr,
            args: Self::Arguments,
        ) -> BoxFuture<'_, Result<Vec<Self::Row>, sqlx::Error>>;

        /// Runs a prepared statement, returning the first row if any.
        fn fetch_optional(
            conn: &mut Self::Connection,
            sql: SqlStr,
            args: Self::Arguments,
        ) -> BoxFuture<'_, Result<Option<Self::Row>, sqlx::Error>>;

        /// Runs a prepared statement.
        fn execute(
            conn: &mut Self::Connection,
            sql: SqlStr,
            args: Self::Arguments,
        ) -> BoxFuture<'_, Result<Self::QueryResult, sqlx::Error>>;

        /// Rows changed by a statement.
        fn rows_affected(result: &Self::QueryResult) -> u64;

        /// Decodes one row of the registry's `tenant LEFT JOIN domain` query.
        fn tenant_row(row: &Self::Row) -> Result<TenantRow, sqlx::Error>;

        /// Decodes the first column of a row as text.
        fn text(row: &Self::Row) -> Result<String, sqlx::Error>;

        /// Decodes the first column of a row as an integer.
        fn integer(row: &Self::Row) -> Result<i64, sqlx::Error>;

        /// Decodes one change log row: sequence number, registry, origin,
        /// payload.
        fn change_row(row: &Self::Row) -> Result<ChangeRow, sqlx::Error>;

        /// Creates or upgrades the registry tables (idempotent; concurrent
        /// runs wait for each other).
        fn migrate_registry<'a>(
            pool: &'a Pool<Self>,
            tables: &'a RegistryTables,
        ) -> BoxFuture<'a, Result<(), TenancyError>>;
    }
}

/// One change log row: sequence number, registry (its tenants table),
/// origin, payload.
pub(crate) type ChangeRow = (i64, String, String, String);

/// The tables of a registry, validated.
pub(crate) struct RegistryTables {
    pub(crate) tenants: Ident,
    pub(crate) domains: Ident,
    pub(crate) changes: Ident,
}

impl RegistryTables {
    /// Replaces `{T}`, `{D}`, `{C}` in `template` by the tables quoted with
    /// `quote`, and `{t}`, `{d}`, `{c}` by their bare names (for constraint
    /// and index names inside quotes).
    pub(crate) fn render(&self, template: &str, quote: impl Fn(&str) -> String) -> String {
        template
            .replace("{T}", &quote(self.tenants.as_str()))
            .replace("{D}", &quote(self.domains.as_str()))
            .replace("{C}", &quote(self.changes.as_str()))
            .replace("{t}", self.tenants.as_str())
            .replace("{d}", self.domains.as_str())
            .replace("{c}", self.changes.as_str())
    }
}

/// A value bound to a registry statement.
pub(crate) enum Value<'a> {
    Str(&'a str),
    Bool(bool),
    Int(i64),
}

/// The arguments of a statement, in order.
pub(crate) fn arguments<D: Dialect>(values: &[Value<'_>]) -> Result<D::Arguments, sqlx::Error> {
    let mut args = D::Arguments::default();
    for value in values {
        match value {
            Value::Str(text) => D::add_str(&mut args, text),
            Value::Bool(flag) => D::add_bool(&mut args, *flag),
            Value::Int(number) => D::add_i64(&mut args, *number),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}

/// The statement plumbing both drivers share (both use `?` placeholders).
macro_rules! plumbing {
    ($db:ty) => {
        fn add_str(
            args: &mut <$db as sqlx::Database>::Arguments,
            value: &str,
        ) -> Result<(), sqlx::error::BoxDynError> {
            sqlx::Arguments::add(args, value)
        }

        fn add_bool(
            args: &mut <$db as sqlx::Database>::Arguments,
            value: bool,
        ) -> Result<(), sqlx::error::BoxDynError> {
            sqlx::Arguments::add(args, value)
        }

        fn add_i64(
            args: &mut <$db as sqlx::Database>::Arguments,
            value: i64,
        ) -> Result<(), sqlx::error::BoxDynError> {
            sqlx::Arguments::add(args, value)
        }

        fn fetch_all(
            conn: &mut <$db as sqlx::Database>::Connection,
            sql: sqlx::SqlStr,
            args: <$db as sqlx::Database>::Arguments,
        ) -> futures_util::future::BoxFuture<
            '_,
            Result<Vec<<$db as sqlx::Database>::Row>, sqlx::Error>,
        > {
            futures_util::FutureExt::boxed(sqlx::query_with(sql, args).fetch_all(conn))
        }

        fn fetch_optional(
            conn: &mut <$db as sqlx::Database>::Connection,
            sql: sqlx::SqlStr,
            args: <$db as sqlx::Database>::Arguments,
        ) -> futures_util::future::BoxFuture<
            '_,
            Result<Option<<$db as sqlx::Database>::Row>, sqlx::Error>,
        > {
            futures_util::FutureExt::boxed(sqlx::query_with(sql, args).fetch_optional(conn))
        }

        fn execute(
            conn: &mut <$db as sqlx::Database>::Connection,
            sql: sqlx::SqlStr,
            args: <$db as sqlx::Database>::Arguments,
        ) -> futures_util::future::BoxFuture<
            '_,
            Result<<$db as sqlx::Database>::QueryResult, sqlx::Error>,
        > {
            futures_util::FutureExt::boxed(sqlx::query_with(sql, args).execute(conn))
        }

        fn rows_affected(result: &<$db as sqlx::Database>::QueryResult) -> u64 {
            result.rows_affected()
        }

        fn tenant_row(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<$crate::registry::sql::rows::TenantRow, sqlx::Error> {
            sqlx::FromRow::from_row(row)
        }

        fn text(row: &<$db as sqlx::Database>::Row) -> Result<String, sqlx::Error> {
            sqlx::Row::try_get(row, 0)
        }

        fn integer(row: &<$db as sqlx::Database>::Row) -> Result<i64, sqlx::Error> {
            sqlx::Row::try_get(row, 0)
        }

        fn change_row(
            row: &<$db as sqlx::Database>::Row,
        ) -> Result<$crate::registry::sql::dialect::ChangeRow, sqlx::Error> {
            sqlx::FromRow::from_row(row)
        }
    };
}

pub(crate) use plumbing;
