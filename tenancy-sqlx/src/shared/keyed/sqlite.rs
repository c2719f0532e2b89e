//! Shared-schema mode on SQLite: `{tenant}` rewriting with SQLite syntax,
//! sqlx's migrator, and the table check on `sqlite_schema`.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{Row, Sqlite, SqliteConnection};

use super::backend::{SharedBackend, TableFact, migrations, sealed};
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
}
