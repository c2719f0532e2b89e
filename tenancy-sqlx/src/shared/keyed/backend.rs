//! [`SharedBackend`]: the databases whose shared-schema mode binds the tenant
//! key in every query (MySQL / MariaDB and SQLite).

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::{Arguments, Pool, SqlStr, Transaction};
use tenancy_core::{Invalidation, TenancyError, TenantId};

use super::template::Dialect;
use crate::error::MigrationError;
use crate::ident::Ident;
use crate::migrate::TenantMigrations;
use crate::registry::sql::Sql;

/// A database with shared-schema helpers: [`MySql`](sqlx::MySql) (also for
/// MariaDB) and [`Sqlite`](sqlx::Sqlite), with features `mysql` / `sqlite`.
///
/// It cannot be implemented outside this crate; Postgres has its own,
/// row-level-security based types ([`RlsPool`](crate::RlsPool)).
pub trait SharedBackend: sealed::Backend {}

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

    /// The backend operations the generic helpers and managers use.
    pub trait Backend: sqlx::Database {
        /// The backend's registry (it must share the database with the tenant tables).
        type Registry: crate::TenantRegistry
            + tenancy_core::TenantStore<Tenant = crate::RegistryTenant>
            + Clone
            + std::fmt::Debug
            + Send
            + Sync
            + 'static;

        /// The SQL dialect, for rewriting `{tenant}`.
        const DIALECT: Dialect;

        /// Quotes a validated identifier.
        fn quote(name: &Ident) -> String;

        /// Begins a transaction (`immediate`: take the write lock at once, SQLite only).
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

        /// Applies pending migrations to the connection's database.
        fn migrate<'c>(
            conn: &'c mut Self::Connection,
            migrations: &'c TenantMigrations,
        ) -> BoxFuture<'c, Result<Vec<i64>, MigrationError>>;

        /// The versions recorded in the migration history (creating it if missing).
        fn applied<'c>(
            conn: &'c mut Self::Connection,
            migrations: &'c TenantMigrations,
        ) -> BoxFuture<'c, Result<Vec<i64>, MigrationError>>;

        /// Inspects a declared table and its tenant column.
        fn table_fact<'c>(
            conn: &'c mut Self::Connection,
            table: &'c Ident,
            column: &'c Ident,
        ) -> BoxFuture<'c, Result<TableFact, sqlx::Error>>;

        /// The registry's pool.
        fn registry_pool(registry: &Self::Registry) -> &Pool<Self>;

        /// The registry's statements.
        fn registry_sql(registry: &Self::Registry) -> Sql;

        /// Invalidates the registry's subscribers.
        fn publish<'a>(
            registry: &'a Self::Registry,
            events: &'a [Invalidation],
        ) -> BoxFuture<'a, ()>;

        /// Renames in the registry only.
        fn rename<'a>(
            registry: &'a Self::Registry,
            from: &'a TenantId,
            to: &'a TenantId,
        ) -> BoxFuture<'a, Result<(), TenancyError>>;

        /// Sets the active flag.
        fn set_active<'a>(
            registry: &'a Self::Registry,
            id: &'a TenantId,
            active: bool,
        ) -> BoxFuture<'a, Result<(), TenancyError>>;
    }
}

/// The statement plumbing both drivers share (both use `?` placeholders).
macro_rules! plumbing {
    ($db:ty, $conn:ty) => {
        fn add_str(
            args: &mut <$db as sqlx::Database>::Arguments,
            value: &str,
        ) -> Result<(), BoxDynError> {
            args.add(value)
        }

        fn add_bool(
            args: &mut <$db as sqlx::Database>::Arguments,
            value: bool,
        ) -> Result<(), BoxDynError> {
            args.add(value)
        }

        fn add_i64(
            args: &mut <$db as sqlx::Database>::Arguments,
            value: i64,
        ) -> Result<(), BoxDynError> {
            args.add(value)
        }

        fn fetch_all(
            conn: &mut $conn,
            sql: SqlStr,
            args: <$db as sqlx::Database>::Arguments,
        ) -> BoxFuture<'_, Result<Vec<<$db as sqlx::Database>::Row>, sqlx::Error>> {
            sqlx::query_with(sql, args).fetch_all(conn).boxed()
        }

        fn fetch_optional(
            conn: &mut $conn,
            sql: SqlStr,
            args: <$db as sqlx::Database>::Arguments,
        ) -> BoxFuture<'_, Result<Option<<$db as sqlx::Database>::Row>, sqlx::Error>> {
            sqlx::query_with(sql, args).fetch_optional(conn).boxed()
        }

        fn execute(
            conn: &mut $conn,
            sql: SqlStr,
            args: <$db as sqlx::Database>::Arguments,
        ) -> BoxFuture<'_, Result<<$db as sqlx::Database>::QueryResult, sqlx::Error>> {
            sqlx::query_with(sql, args).execute(conn).boxed()
        }

        fn rows_affected(result: &<$db as sqlx::Database>::QueryResult) -> u64 {
            result.rows_affected()
        }

        fn migrate<'c>(
            conn: &'c mut $conn,
            migrations: &'c TenantMigrations,
        ) -> BoxFuture<'c, Result<Vec<i64>, MigrationError>> {
            crate::migrate::apply::apply_pending(conn, migrations).boxed()
        }

        fn applied<'c>(
            conn: &'c mut $conn,
            migrations: &'c TenantMigrations,
        ) -> BoxFuture<'c, Result<Vec<i64>, MigrationError>> {
            async move {
                use sqlx::migrate::Migrate;
                let table = migrations.history().as_str();
                let wrap = |error| MigrationError::Database(sqlx::Error::Migrate(Box::new(error)));
                conn.ensure_migrations_table(table).await.map_err(wrap)?;
                let history = conn.list_applied_migrations(table).await.map_err(wrap)?;
                Ok(history
                    .into_iter()
                    .map(|migration| migration.version)
                    .collect())
            }
            .boxed()
        }

        fn publish<'a>(
            registry: &'a Self::Registry,
            events: &'a [Invalidation],
        ) -> BoxFuture<'a, ()> {
            registry.publish(events).boxed()
        }

        fn rename<'a>(
            registry: &'a Self::Registry,
            from: &'a TenantId,
            to: &'a TenantId,
        ) -> BoxFuture<'a, Result<(), TenancyError>> {
            registry.rename(from, to).boxed()
        }

        fn set_active<'a>(
            registry: &'a Self::Registry,
            id: &'a TenantId,
            active: bool,
        ) -> BoxFuture<'a, Result<(), TenancyError>> {
            if active {
                registry.activate(id).boxed()
            } else {
                registry.deactivate(id).boxed()
            }
        }

        fn registry_pool(registry: &Self::Registry) -> &Pool<Self> {
            registry.pool()
        }
    };
}

#[cfg(feature = "mysql")]
#[allow(private_interfaces)]
mod mysql {
    use sqlx::{MySql, MySqlConnection, Row};

    use super::*;
    use crate::ident::backquote;

    impl SharedBackend for MySql {}

    impl sealed::Backend for MySql {
        type Registry = crate::registry::MySqlRegistry;

        const DIALECT: Dialect = Dialect::MySql;

        fn quote(name: &Ident) -> String {
            backquote(name.as_str())
        }

        fn begin(
            pool: &Pool<Self>,
            _immediate: bool,
        ) -> BoxFuture<'_, Result<Transaction<'static, Self>, sqlx::Error>> {
            pool.begin().boxed()
        }

        plumbing!(MySql, MySqlConnection);

        fn table_fact<'c>(
            conn: &'c mut MySqlConnection,
            table: &'c Ident,
            column: &'c Ident,
        ) -> BoxFuture<'c, Result<TableFact, sqlx::Error>> {
            async move {
                let row = sqlx::query(
                    "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
                       WHERE table_schema = DATABASE() AND table_name = ?) AS present, \
                     (SELECT is_nullable FROM information_schema.columns \
                       WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?) AS nullable",
                )
                .bind(table.as_str())
                .bind(table.as_str())
                .bind(column.as_str())
                .fetch_one(conn)
                .await?;
                let present: i64 = row.try_get("present")?;
                let nullable: Option<String> = row.try_get("nullable")?;
                Ok(match (present != 0, nullable.as_deref()) {
                    (false, _) => TableFact::Missing,
                    (true, None) => TableFact::NoColumn,
                    (true, Some("NO")) => TableFact::Ready,
                    (true, Some(_)) => TableFact::Nullable,
                })
            }
            .boxed()
        }

        fn registry_sql(registry: &Self::Registry) -> Sql {
            Sql::new(registry.tables(), backquote, " FOR UPDATE")
        }
    }
}

#[cfg(feature = "sqlite")]
#[allow(private_interfaces)]
mod sqlite {
    use sqlx::{Row, Sqlite, SqliteConnection};

    use super::*;
    use crate::ident::quote_ident;

    impl SharedBackend for Sqlite {}

    impl sealed::Backend for Sqlite {
        type Registry = crate::registry::SqliteRegistry;

        const DIALECT: Dialect = Dialect::Sqlite;

        fn quote(name: &Ident) -> String {
            quote_ident(name.as_str())
        }

        fn begin(
            pool: &Pool<Self>,
            immediate: bool,
        ) -> BoxFuture<'_, Result<Transaction<'static, Self>, sqlx::Error>> {
            if immediate {
                pool.begin_with("BEGIN IMMEDIATE").boxed()
            } else {
                pool.begin().boxed()
            }
        }

        plumbing!(Sqlite, SqliteConnection);

        fn table_fact<'c>(
            conn: &'c mut SqliteConnection,
            table: &'c Ident,
            column: &'c Ident,
        ) -> BoxFuture<'c, Result<TableFact, sqlx::Error>> {
            async move {
                let row = sqlx::query(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1) \
                       AS present, \
                     (SELECT \"notnull\" FROM pragma_table_info(?1) WHERE name = ?2) AS not_null",
                )
                .bind(table.as_str())
                .bind(column.as_str())
                .fetch_one(conn)
                .await?;
                let present: bool = row.try_get("present")?;
                let not_null: Option<bool> = row.try_get("not_null")?;
                Ok(match (present, not_null) {
                    (false, _) => TableFact::Missing,
                    (true, None) => TableFact::NoColumn,
                    (true, Some(true)) => TableFact::Ready,
                    (true, Some(false)) => TableFact::Nullable,
                })
            }
            .boxed()
        }

        fn registry_sql(registry: &Self::Registry) -> Sql {
            Sql::new(registry.tables(), quote_ident, "")
        }
    }
}
