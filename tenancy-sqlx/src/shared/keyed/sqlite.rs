//! Shared-schema mode on SQLite: `{tenant}` rewriting with SQLite syntax,
//! sqlx's migrator, and the table check on `sqlite_schema`.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{Row, Sqlite, SqliteConnection};

use super::backend::{CopyShape, SharedBackend, TableFact, migrations, sealed};
use super::template::Syntax;
use crate::error::MigrationError;
use crate::ident::Ident;
use crate::migrate::TenantMigrations;

impl SharedBackend for Sqlite {}

// The trait is sealed, so its items may use crate-private types.
#[allow(private_interfaces)]
impl sealed::Backend for Sqlite {
    const SYNTAX: Syntax = Syntax::Sqlite;

    migrations!(Sqlite);

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

    fn copy_shape<'c>(
        conn: &'c mut SqliteConnection,
        table: &'c Ident,
        column: &'c Ident,
    ) -> BoxFuture<'c, Result<CopyShape, sqlx::Error>> {
        async move {
            let columns: Vec<(String, i64, i64, String)> = sqlx::query_as(
                "SELECT name, hidden, pk, upper(type) FROM pragma_table_xinfo(?1) ORDER BY cid",
            )
            .bind(table.as_str())
            .fetch_all(&mut *conn)
            .await?;
            let key_columns = columns.iter().filter(|(_, _, pk, _)| *pk > 0).count();
            let mut shape = CopyShape::default();
            for (name, hidden, pk, kind) in columns {
                // A lone INTEGER PRIMARY KEY is the rowid: new rows get new values.
                if pk > 0 && key_columns == 1 && kind == "INTEGER" {
                    shape.generated_key = Some(name);
                } else if hidden == 0 && name != column.as_str() {
                    shape.columns.push(crate::ident::quote_ident(&name));
                }
            }
            if let Some(key) = &shape.generated_key {
                shape.referenced_by = sqlx::query_scalar(
                    "SELECT DISTINCT m.name FROM sqlite_schema m, pragma_foreign_key_list(m.name) f \
                      WHERE m.type = 'table' AND f.\"table\" = ?1 AND (f.\"to\" = ?2 OR f.\"to\" IS NULL)",
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
