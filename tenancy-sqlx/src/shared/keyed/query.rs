//! [`SharedQuery`]: a query of a [`SharedTransaction`](crate::shared::keyed::SharedTransaction)
//! whose `{tenant}` placeholders are bound to the tenant key.

use std::fmt;
use std::marker::PhantomData;

use sqlx::{Arguments, AssertSqlSafe, Encode, FromRow, SqlSafeStr, SqlStr, Type};

use super::backend::SharedBackend;
use super::template::{SharedQueryError, Slot, Template, rewrite};
use crate::storage::SharedKey;

/// How a [`SharedQuery`] turns rows into results: [`RowsOutput`] (the rows),
/// [`AsOutput`] (`FromRow` types, like `sqlx::query_as`) or [`ScalarOutput`]
/// (the first column, like `sqlx::query_scalar`). Sealed.
pub trait QueryOutput<DB: SharedBackend>: sealed::Sealed {
    /// One result.
    type Item;

    /// Decodes one row.
    fn decode(row: DB::Row) -> Result<Self::Item, sqlx::Error>;
}

#[allow(unreachable_pub)]
mod sealed {
    pub trait Sealed {}
}

/// The rows themselves ([`SharedTransaction::query`](crate::shared::keyed::SharedTransaction::query)).
#[derive(Debug, Clone, Copy)]
pub struct RowsOutput;

/// Rows decoded with `FromRow` ([`SharedTransaction::query_as`](crate::shared::keyed::SharedTransaction::query_as)).
pub struct AsOutput<O>(PhantomData<fn() -> O>);

/// The first column of each row ([`SharedTransaction::query_scalar`](crate::shared::keyed::SharedTransaction::query_scalar)).
pub struct ScalarOutput<O>(PhantomData<fn() -> O>);

impl sealed::Sealed for RowsOutput {}
impl<O> sealed::Sealed for AsOutput<O> {}
impl<O> sealed::Sealed for ScalarOutput<O> {}

impl<O> fmt::Debug for AsOutput<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AsOutput")
    }
}

impl<O> fmt::Debug for ScalarOutput<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScalarOutput")
    }
}

impl<DB: SharedBackend> QueryOutput<DB> for RowsOutput {
    type Item = DB::Row;

    fn decode(row: DB::Row) -> Result<DB::Row, sqlx::Error> {
        Ok(row)
    }
}

impl<DB: SharedBackend, O> QueryOutput<DB> for AsOutput<O>
where
    O: for<'r> FromRow<'r, DB::Row>,
{
    type Item = O;

    fn decode(row: DB::Row) -> Result<O, sqlx::Error> {
        O::from_row(&row)
    }
}

impl<DB: SharedBackend, O> QueryOutput<DB> for ScalarOutput<O>
where
    (O,): for<'r> FromRow<'r, DB::Row>,
{
    type Item = O;

    fn decode(row: DB::Row) -> Result<O, sqlx::Error> {
        <(O,)>::from_row(&row).map(|(value,)| value)
    }
}

/// A tenant-scoped query: its SQL names the tenant key as `{tenant}` (each
/// occurrence is bound to the key of the transaction it came from), and `?`
/// for the values you [`bind`](Self::bind), in order.
///
/// It borrows its [`SharedTransaction`](crate::shared::keyed::SharedTransaction), so it can
/// only ever run in that tenant's transaction. SQL without `{tenant}` is
/// refused when executed ([`SharedQueryError::MissingTenant`], as
/// [`sqlx::Error::Configuration`]); so is a wrong number of bound values.
///
/// ```no_run
/// # #[cfg(feature = "sqlite")] mod example {
/// # async fn example(mut tx: tenancy_sqlx::shared::keyed::SqliteSharedTransaction) -> Result<(), sqlx::Error> {
/// #[derive(sqlx::FromRow)]
/// struct Item { id: i64, name: String }
///
/// let item: Option<Item> = tx
///     .query_as("SELECT id, name FROM items WHERE tenant_id = {tenant} AND id = ?")
///     .bind(7_i64)
///     .fetch_optional()
///     .await?;
/// # let _ = item; Ok(()) }
/// # }
/// # fn main() {}
/// ```
#[must_use = "a query does nothing until it is executed"]
pub struct SharedQuery<'t, DB: SharedBackend, O> {
    conn: &'t mut DB::Connection,
    key: &'t SharedKey,
    template: Result<Template, SharedQueryError>,
    args: DB::Arguments,
    next: usize,
    given: usize,
    error: Option<sqlx::Error>,
    output: PhantomData<fn() -> O>,
}

impl<'t, DB: SharedBackend, O> SharedQuery<'t, DB, O> {
    pub(crate) fn new(
        conn: &'t mut DB::Connection,
        key: &'t SharedKey,
        sql: impl SqlSafeStr,
    ) -> Self {
        let sql = sql.into_sql_str();
        Self {
            conn,
            key,
            template: rewrite(sql.as_str(), DB::SYNTAX),
            args: DB::Arguments::default(),
            next: 0,
            given: 0,
            error: None,
            output: PhantomData,
        }
    }

    /// Binds the value of the next `?` (values are encoded at once; an
    /// encoding error is reported when the query runs, as with sqlx).
    pub fn bind<'q, T: Encode<'q, DB> + Type<DB>>(mut self, value: T) -> Self {
        self.given += 1;
        if self.error.is_some() {
            return self;
        }
        if let Err(error) = self.push_keys() {
            self.error = Some(error);
            return self;
        }
        let Ok(template) = &self.template else {
            return self;
        };
        if template.slots.get(self.next) == Some(&Slot::Caller) {
            self.next += 1;
            if let Err(error) = self.args.add(value) {
                self.error = Some(sqlx::Error::Encode(error));
            }
        }
        self
    }

    /// Binds the tenant key to every tenant slot before the next caller slot.
    fn push_keys(&mut self) -> Result<(), sqlx::Error> {
        let Ok(template) = &self.template else {
            return Ok(());
        };
        while template.slots.get(self.next) == Some(&Slot::Tenant) {
            DB::add_str(&mut self.args, self.key.as_str()).map_err(sqlx::Error::Encode)?;
            self.next += 1;
        }
        Ok(())
    }

    /// The connection, the rewritten SQL and the complete arguments.
    fn finish(mut self) -> Result<(&'t mut DB::Connection, SqlStr, DB::Arguments), sqlx::Error> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        self.push_keys()?;
        let template = self.template.map_err(sqlx::Error::from)?;
        let expected = template.caller_values();
        if self.given != expected || self.next != template.slots.len() {
            return Err(SharedQueryError::Arguments {
                expected,
                given: self.given,
            }
            .into());
        }
        Ok((
            self.conn,
            AssertSqlSafe(template.sql).into_sql_str(),
            self.args,
        ))
    }

    /// Runs the statement; returns the driver's result (rows affected, last
    /// insert id).
    pub async fn execute(self) -> Result<DB::QueryResult, sqlx::Error> {
        let (conn, sql, args) = self.finish()?;
        DB::execute(conn, sql, args).await
    }
}

impl<DB: SharedBackend, O: QueryOutput<DB>> SharedQuery<'_, DB, O> {
    /// Every result.
    pub async fn fetch_all(self) -> Result<Vec<O::Item>, sqlx::Error> {
        let (conn, sql, args) = self.finish()?;
        DB::fetch_all(conn, sql, args)
            .await?
            .into_iter()
            .map(O::decode)
            .collect()
    }

    /// The first result; [`sqlx::Error::RowNotFound`] if there is none.
    pub async fn fetch_one(self) -> Result<O::Item, sqlx::Error> {
        self.fetch_optional().await?.ok_or(sqlx::Error::RowNotFound)
    }

    /// The first result, if any.
    pub async fn fetch_optional(self) -> Result<Option<O::Item>, sqlx::Error> {
        let (conn, sql, args) = self.finish()?;
        DB::fetch_optional(conn, sql, args)
            .await?
            .map(O::decode)
            .transpose()
    }
}

impl<DB: SharedBackend, O> fmt::Debug for SharedQuery<'_, DB, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedQuery")
            .field("key", &self.key)
            .field("sql", &self.template.as_ref().map(|t| t.sql.as_str()))
            .finish_non_exhaustive()
    }
}
