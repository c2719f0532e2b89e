//! Cloning in shared mode on MySQL / SQLite: the source tenant's rows of
//! every declared table, inserted again under the new tenant's key.

use sqlx::{AssertSqlSafe, SqlSafeStr};
use tenancy_core::TenancyError;

use super::backend::SharedBackend;
use super::pool::SharedPool;
use crate::error::{step_error, store_error};
use crate::registry::sql::dialect::{Value, arguments};
use crate::tenant::RegistryTenant;

impl<DB: SharedBackend> SharedPool<DB> {
    /// Copies `from`'s rows of every declared table under `to`'s key, in
    /// one transaction (tables in declaration order). Generated keys get new
    /// values; a table whose generated key another declared table references
    /// cannot be copied that way (`Configuration`: the copies would point
    /// at the source's rows).
    pub(super) async fn copy_rows(
        &self,
        from: &RegistryTenant,
        to: &RegistryTenant,
    ) -> Result<(), TenancyError> {
        let failed = |error: sqlx::Error| {
            step_error(error, |source| TenancyError::SchemaCreation {
                tenant: to.id().clone(),
                schema: to.storage().location().to_owned(),
                source,
            })
        };
        let source = crate::shared::key_of(from)?;
        let target = crate::shared::key_of(to)?;
        let tables = self.table_names();
        let mut shapes = Vec::with_capacity(tables.len());
        {
            let mut conn = self.pool().acquire().await.map_err(store_error)?;
            for table in tables {
                let shape = DB::copy_shape(&mut conn, table, self.column_name())
                    .await
                    .map_err(failed)?;
                crate::shared::refuse_renumbered_references(table, &shape.referenced_by, tables)?;
                shapes.push((table, shape));
            }
        }
        let mut tx = DB::begin(self.pool(), true).await.map_err(store_error)?;
        let column = DB::quote(self.column_name());
        for (table, shape) in &shapes {
            let mut columns = shape.columns.clone();
            let copied = columns.join(", ");
            columns.push(column.clone());
            let statement = format!(
                "INSERT INTO {table} ({}) SELECT {copied}{comma}? FROM {table} WHERE {column} = ?",
                columns.join(", "),
                table = DB::quote(table),
                comma = if copied.is_empty() { "" } else { ", " },
            );
            let args = arguments::<DB>(&[Value::Str(target.as_str()), Value::Str(source.as_str())])
                .map_err(failed)?;
            DB::execute(&mut tx, AssertSqlSafe(statement).into_sql_str(), args)
                .await
                .map_err(failed)?;
        }
        tx.commit().await.map_err(failed)
    }
}
