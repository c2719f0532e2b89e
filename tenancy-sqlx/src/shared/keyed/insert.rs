//! [`SharedInsert`]: `INSERT` with the tenant column filled by the helper.

use std::fmt;

use sqlx::{Arguments, AssertSqlSafe, Encode, SqlSafeStr, Type};

use super::backend::SharedBackend;
use super::template::SharedQueryError;
use crate::ident::Ident;
use crate::storage::SharedKey;

/// An `INSERT` of one row into a tenant table, built from column–value
/// pairs; the helper adds the tenant column with the transaction's key.
///
/// ```no_run
/// # #[cfg(feature = "mysql")] mod example {
/// # async fn example(mut tx: tenancy_sqlx::shared::keyed::MySqlSharedTransaction) -> Result<(), sqlx::Error> {
/// let done = tx
///     .insert("items")
///     .value("name", "pen")
///     .value("capacity", 10.0_f64)
///     .execute()
///     .await?;
/// let id = done.last_insert_id(); // MySQL; on SQLite: last_insert_rowid()
/// # let _ = id; Ok(()) }
/// # }
/// # fn main() {}
/// ```
#[must_use = "an insert does nothing until it is executed"]
pub struct SharedInsert<'t, DB: SharedBackend> {
    conn: &'t mut DB::Connection,
    key: &'t SharedKey,
    tenant_column: &'t Ident,
    table: Result<Ident, SharedQueryError>,
    columns: Vec<Ident>,
    args: DB::Arguments,
    error: Option<sqlx::Error>,
}

impl<'t, DB: SharedBackend> SharedInsert<'t, DB> {
    pub(crate) fn new(
        conn: &'t mut DB::Connection,
        key: &'t SharedKey,
        tenant_column: &'t Ident,
        table: &str,
    ) -> Self {
        Self {
            conn,
            key,
            tenant_column,
            table: Ident::new(table).map_err(SharedQueryError::from),
            columns: Vec::new(),
            args: DB::Arguments::default(),
            error: None,
        }
    }

    /// Sets `column` (a plain lower-case identifier) to `value`.
    pub fn value<'q, T: Encode<'q, DB> + Type<DB>>(mut self, column: &str, value: T) -> Self {
        if self.error.is_some() {
            return self;
        }
        let column = match Ident::new(column) {
            Ok(column) if column == *self.tenant_column => {
                self.error = Some(
                    SharedQueryError::TenantColumn {
                        column: column.to_string(),
                    }
                    .into(),
                );
                return self;
            }
            Ok(column) => column,
            Err(error) => {
                self.error = Some(SharedQueryError::from(error).into());
                return self;
            }
        };
        self.columns.push(column);
        if let Err(error) = self.args.add(value) {
            self.error = Some(sqlx::Error::Encode(error));
        }
        self
    }

    /// Runs the `INSERT`; returns the driver's result (its last insert id).
    pub async fn execute(self) -> Result<DB::QueryResult, sqlx::Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let table = self.table?;
        let mut args = self.args;
        // The caller's values, then the key for the tenant column (last).
        DB::add_str(&mut args, self.key.as_str()).map_err(sqlx::Error::Encode)?;
        let mut columns: Vec<String> = self.columns.iter().map(DB::quote).collect();
        columns.push(DB::quote(self.tenant_column));
        let placeholders = vec!["?"; columns.len()].join(", ");
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({placeholders})",
            DB::quote(&table),
            columns.join(", ")
        );
        DB::execute(self.conn, AssertSqlSafe(sql).into_sql_str(), args).await
    }
}

impl<DB: SharedBackend> fmt::Debug for SharedInsert<'_, DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedInsert")
            .field("key", &self.key)
            .field("table", &self.table)
            .field("columns", &self.columns)
            .finish_non_exhaustive()
    }
}
