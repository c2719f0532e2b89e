//! Shared-schema mode on MySQL / MariaDB: `{tenant}` rewriting with MySQL
//! syntax, sqlx's migrator, and the table check on `information_schema`.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{MySql, MySqlConnection, Row};

use super::backend::{CopyShape, SharedBackend, TableFact, migrations, sealed};
use super::template::Syntax;
use crate::error::MigrationError;
use crate::ident::Ident;
use crate::migrate::TenantMigrations;

impl SharedBackend for MySql {}

// The trait is sealed, so its items may use crate-private types.
#[allow(private_interfaces)]
impl sealed::Backend for MySql {
    const SYNTAX: Syntax = Syntax::MySql;

    migrations!(MySql);

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

    fn copy_shape<'c>(
        conn: &'c mut MySqlConnection,
        table: &'c Ident,
        column: &'c Ident,
    ) -> BoxFuture<'c, Result<CopyShape, sqlx::Error>> {
        async move {
            let columns: Vec<(String, String)> = sqlx::query_as(
                "SELECT CAST(COLUMN_NAME AS CHAR), CAST(EXTRA AS CHAR) FROM information_schema.COLUMNS \
                  WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            )
            .bind(table.as_str())
            .fetch_all(&mut *conn)
            .await?;
            let mut shape = CopyShape::default();
            for (name, extra) in columns {
                let extra = extra.to_ascii_lowercase();
                if extra.contains("auto_increment") {
                    shape.generated_key = Some(name);
                } else if !extra.contains("virtual generated")
                    && !extra.contains("stored generated")
                    && name != column.as_str()
                {
                    shape.columns.push(crate::ident::quote_with(&name, '`'));
                }
            }
            if let Some(key) = &shape.generated_key {
                shape.referenced_by = sqlx::query_scalar(
                    "SELECT DISTINCT CAST(TABLE_NAME AS CHAR) FROM information_schema.KEY_COLUMN_USAGE \
                      WHERE REFERENCED_TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME = ? \
                        AND REFERENCED_COLUMN_NAME = ?",
                )
                .bind(table.as_str())
                .bind(key)
                .fetch_all(&mut *conn)
                .await?;
            }
            Ok(shape)
        }
        .boxed()
    }
}
