//! Cloning in shared mode under row-level security: the source tenant's
//! rows of every protected table, read under its key into a temporary
//! table and inserted again under the new tenant's key, as the login role
//! (which the policies bind like any other role).

use sqlx::{AssertSqlSafe, Row, SqlSafeStr};
use tenancy_core::TenancyError;

use super::super::{RlsPool, sql};
use crate::error::{step_error, store_error};
use crate::ident::{Ident, quote_ident};
use crate::postgres::tx::PgTx;
use crate::tenant::RegistryTenant;

/// One table's columns to copy (quoted), and the tables that reference its
/// generated key.
struct Shape {
    columns: Vec<String>,
    referenced_by: Vec<String>,
}

impl RlsPool {
    /// Copies `from`'s rows of every protected table under `to`'s key, in
    /// one transaction. Generated keys (identity or serial primary keys)
    /// get new values; a table whose generated key another protected table
    /// references cannot be copied that way (`Configuration`).
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
        let begin = AssertSqlSafe(sql::begin_as_login(source)).into_sql_str();
        let mut tx = PgTx::begin(self.pool(), Some(begin))
            .await
            .map_err(store_error)?;
        let tables = self.table_names();
        let mut shapes = Vec::with_capacity(tables.len());
        for table in tables {
            let shape = self.shape(&mut tx, table).await.map_err(failed)?;
            crate::shared::refuse_renumbered_references(table, &shape.referenced_by, tables)?;
            shapes.push((table, shape));
        }
        let column = self.column_name().quoted();
        for (n, (table, shape)) in shapes.iter().enumerate() {
            let qualified = sql::qualified(self.schema_name(), table);
            let copied = shape.columns.join(", ");
            let select = if copied.is_empty() { "" } else { ", " };
            let statement = format!(
                "{read}; CREATE TEMPORARY TABLE tenancy_clone_{n} ON COMMIT DROP AS \
                   SELECT {copied} FROM {qualified} WHERE {column} = {source_key}; \
                 {write}; INSERT INTO {qualified} ({copied}{select}{column}) \
                   SELECT {copied}{select}{key} FROM tenancy_clone_{n}",
                read = sql::set_key(source),
                write = sql::set_key(target),
                key = crate::ident::quote_literal(target.as_str()),
                // Explicit as well as by policy: a login role that bypasses
                // row-level security (a superuser) sees every tenant's rows.
                source_key = crate::ident::quote_literal(source.as_str()),
            );
            sqlx::raw_sql(AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
        }
        tx.commit().await.map_err(failed)
    }

    /// The columns of `table` a copy writes: not generated, not the tenant
    /// column, not a generated primary key.
    async fn shape(
        &self,
        conn: &mut sqlx::PgConnection,
        table: &Ident,
    ) -> Result<Shape, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT a.attname::text, \
                    COALESCE(a.attidentity <> '' \
                             OR pg_catalog.pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%', false) \
                    AND EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid \
                                  AND i.indisprimary AND i.indnatts = 1 AND i.indkey[0] = a.attnum), \
                    COALESCE((SELECT array_agg(DISTINCT r.relname::text) \
                                FROM pg_catalog.pg_constraint f \
                                JOIN pg_catalog.pg_class r ON r.oid = f.conrelid \
                               WHERE f.contype = 'f' AND f.confrelid = c.oid \
                                 AND a.attnum = ANY (f.confkey)), '{}') \
               FROM pg_catalog.pg_attribute a \
               JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
               LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
              WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped \
                AND a.attgenerated = '' \
              ORDER BY a.attnum",
        )
        .persistent(false)
        .bind(self.schema_name().as_str())
        .bind(table.as_str())
        .fetch_all(conn)
        .await?;
        let mut shape = Shape {
            columns: Vec::new(),
            referenced_by: Vec::new(),
        };
        for row in rows {
            let name: String = row.try_get(0)?;
            let generated_key: bool = row.try_get(1)?;
            let referenced_by: Vec<String> = row.try_get(2)?;
            if generated_key {
                shape.referenced_by.extend(referenced_by);
            } else if name != self.column_name().as_str() {
                shape.columns.push(quote_ident(&name));
            }
        }
        Ok(shape)
    }
}
