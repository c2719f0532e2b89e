//! Cloning in database mode: a tenant database's rows and counters, copied
//! into the new tenant's freshly migrated database on the same server (the
//! history table excepted: the migrations wrote it). One consistent snapshot
//! of the source each; a failure leaves the target to be dropped.

use sqlx::AssertSqlSafe;
#[cfg(feature = "sqlite")]
use sqlx::Row;

#[cfg(any(feature = "mysql", feature = "sqlite"))]
use crate::ident::quote_with as quoted;

/// Postgres: every table of the source's user schemas, streamed with `COPY`
/// (text format: type OIDs differ between databases) from a read-only
/// repeatable-read transaction on `source` into one transaction on
/// `target`, whose tables are emptied first (rows the migrations wrote give
/// way to the source's), parents first; then the used sequences' values.
#[cfg(feature = "postgres")]
pub(crate) async fn copy_postgres(
    source: &mut sqlx::PgConnection,
    target: &mut sqlx::PgConnection,
    history: &str,
) -> Result<(), sqlx::Error> {
    use futures_util::StreamExt;

    use crate::postgres::copy::{tables_in_order, used_sequences, user_schemas};

    sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *source)
        .await?;
    sqlx::raw_sql("BEGIN").execute(&mut *target).await?;
    let schemas = user_schemas(source).await?;
    let current: String = sqlx::query_scalar("SELECT pg_catalog.current_schema()::text")
        .persistent(false)
        .fetch_one(&mut *source)
        .await?;
    let tables = tables_in_order(source, &schemas, (&current, history)).await?;
    if !tables.is_empty() {
        let all: Vec<String> = tables.iter().map(|table| table.qualified()).collect();
        sqlx::raw_sql(AssertSqlSafe(format!("TRUNCATE {}", all.join(", "))))
            .execute(&mut *target)
            .await?;
    }
    for table in tables.iter().filter(|table| !table.typed.is_empty()) {
        let write = format!(
            "COPY {} ({}) FROM STDIN",
            table.qualified(),
            table.columns()
        );
        let read = format!(
            "COPY (SELECT {} FROM {}) TO STDOUT",
            table.columns(),
            table.rows()
        );
        let mut writer = target.copy_in_raw(&write).await?;
        let mut rows = source.copy_out_raw(&read).await?;
        while let Some(chunk) = rows.next().await {
            match chunk {
                Ok(chunk) => {
                    writer.send(chunk).await?;
                }
                Err(error) => {
                    drop(rows);
                    let _aborted = writer.abort(error.to_string()).await;
                    return Err(error);
                }
            }
        }
        drop(rows);
        writer.finish().await?;
    }
    for sequence in used_sequences(source, &schemas).await? {
        sqlx::query(AssertSqlSafe(sequence.setval_in(&sequence.schema)))
            .persistent(false)
            .execute(&mut *target)
            .await?;
    }
    sqlx::raw_sql("COMMIT").execute(&mut *target).await?;
    sqlx::raw_sql("COMMIT").execute(&mut *source).await?;
    Ok(())
}

/// MySQL / MariaDB: `INSERT INTO target.t SELECT … FROM source.t` for every
/// base table, emptied first, in one transaction with foreign-key checks
/// off (so any order is fine), generated columns left out; then each
/// table's `AUTO_INCREMENT` counter (DDL: after the commit).
#[cfg(feature = "mysql")]
pub(crate) async fn copy_mysql(
    conn: &mut sqlx::MySqlConnection,
    source: &str,
    target: &str,
    history: &str,
) -> Result<(), sqlx::Error> {
    // MySQL 8 caches the counters read below for a day by default; MariaDB
    // has no such setting (the error is ignored).
    let _fresh = sqlx::raw_sql("SET SESSION information_schema_stats_expiry = 0")
        .execute(&mut *conn)
        .await;
    let tables: Vec<(String, Option<u64>)> = sqlx::query_as(
        "SELECT CAST(TABLE_NAME AS CHAR), AUTO_INCREMENT FROM information_schema.TABLES \
          WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME <> ? \
          ORDER BY TABLE_NAME",
    )
    .bind(source)
    .bind(history)
    .fetch_all(&mut *conn)
    .await?;
    sqlx::raw_sql("SET SESSION foreign_key_checks = 0; START TRANSACTION")
        .execute(&mut *conn)
        .await?;
    for (table, _) in &tables {
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(COLUMN_NAME AS CHAR) FROM information_schema.COLUMNS \
              WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
                AND EXTRA NOT LIKE '%VIRTUAL GENERATED%' AND EXTRA NOT LIKE '%STORED GENERATED%' \
              ORDER BY ORDINAL_POSITION",
        )
        .bind(source)
        .bind(table)
        .fetch_all(&mut *conn)
        .await?;
        if columns.is_empty() {
            continue;
        }
        let columns: Vec<String> = columns.iter().map(|c| quoted(c, '`')).collect();
        let columns = columns.join(", ");
        let name = quoted(table, '`');
        let copy = format!(
            "DELETE FROM {target}.{name}; \
             INSERT INTO {target}.{name} ({columns}) SELECT {columns} FROM {}.{name}",
            quoted(source, '`'),
            target = quoted(target, '`'),
        );
        sqlx::raw_sql(AssertSqlSafe(copy))
            .execute(&mut *conn)
            .await?;
    }
    sqlx::raw_sql("COMMIT; SET SESSION foreign_key_checks = 1")
        .execute(&mut *conn)
        .await?;
    for (table, counter) in &tables {
        if let Some(counter) = counter {
            let carry = format!(
                "ALTER TABLE {}.{} AUTO_INCREMENT = {counter}",
                quoted(target, '`'),
                quoted(table, '`')
            );
            sqlx::raw_sql(AssertSqlSafe(carry))
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

/// SQLite: the source file attached to a connection on the target, every
/// table emptied and given the source's rows (generated columns left out),
/// and `sqlite_sequence` (the `AUTOINCREMENT` counters), in one transaction
/// that reads one snapshot of the source without locking it, with
/// foreign-key enforcement off for it.
#[cfg(feature = "sqlite")]
pub(crate) async fn copy_sqlite(
    target: &mut sqlx::SqliteConnection,
    source_path: &std::path::Path,
    history: &str,
) -> Result<(), sqlx::Error> {
    let path = source_path.to_str().ok_or_else(|| {
        sqlx::Error::Configuration("the source database's path is not UTF-8".into())
    })?;
    let attach = format!("ATTACH DATABASE {} AS source", quoted(path, '\''));
    sqlx::raw_sql(AssertSqlSafe(attach))
        .execute(&mut *target)
        .await?;
    let copied = copy_attached(target, history).await;
    let detached = sqlx::raw_sql("DETACH DATABASE source")
        .execute(&mut *target)
        .await;
    copied?;
    detached?;
    Ok(())
}

#[cfg(feature = "sqlite")]
async fn copy_attached(
    target: &mut sqlx::SqliteConnection,
    history: &str,
) -> Result<(), sqlx::Error> {
    sqlx::raw_sql("PRAGMA foreign_keys = OFF; BEGIN")
        .execute(&mut *target)
        .await?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM source.sqlite_master \
          WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> ? \
          ORDER BY name",
    )
    .bind(history)
    .fetch_all(&mut *target)
    .await?;
    for table in &tables {
        let info = format!(
            "SELECT name, hidden FROM pragma_table_xinfo({}, 'source')",
            quoted(table, '\'')
        );
        let rows = sqlx::query(AssertSqlSafe(info))
            .fetch_all(&mut *target)
            .await?;
        let mut columns = Vec::new();
        for row in rows {
            let (name, hidden): (String, i64) = (row.try_get(0)?, row.try_get(1)?);
            if hidden == 0 {
                columns.push(quoted(&name, '"'));
            }
        }
        if columns.is_empty() {
            continue;
        }
        let columns = columns.join(", ");
        let name = quoted(table, '"');
        let copy = format!(
            "DELETE FROM main.{name}; \
             INSERT INTO main.{name} ({columns}) SELECT {columns} FROM source.{name}"
        );
        sqlx::raw_sql(AssertSqlSafe(copy))
            .execute(&mut *target)
            .await?;
    }
    let counters: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM source.sqlite_master WHERE name = 'sqlite_sequence')",
    )
    .fetch_one(&mut *target)
    .await?;
    if counters {
        sqlx::raw_sql(
            "DELETE FROM main.sqlite_sequence; \
             INSERT INTO main.sqlite_sequence (name, seq) SELECT name, seq FROM source.sqlite_sequence",
        )
        .execute(&mut *target)
        .await?;
    }
    sqlx::raw_sql("COMMIT; PRAGMA foreign_keys = ON")
        .execute(&mut *target)
        .await?;
    Ok(())
}

/// Postgres: each table's row count (the user schemas' tables, the history
/// table of the current schema left out), keyed `schema.table`.
#[cfg(feature = "postgres")]
pub(crate) async fn row_counts_postgres(
    conn: &mut sqlx::PgConnection,
    history: &str,
) -> Result<std::collections::BTreeMap<String, i64>, sqlx::Error> {
    use crate::postgres::copy::{tables_in_order, user_schemas};

    let schemas = user_schemas(conn).await?;
    let current: String = sqlx::query_scalar("SELECT pg_catalog.current_schema()::text")
        .persistent(false)
        .fetch_one(&mut *conn)
        .await?;
    let mut counts = std::collections::BTreeMap::new();
    for table in tables_in_order(conn, &schemas, (&current, history)).await? {
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT count(*) FROM {}",
            table.qualified()
        )))
        .persistent(false)
        .fetch_one(&mut *conn)
        .await?;
        counts.insert(format!("{}.{}", table.schema, table.name), count);
    }
    Ok(counts)
}

/// MySQL / MariaDB: each base table's row count in `database`.
#[cfg(feature = "mysql")]
pub(crate) async fn row_counts_mysql(
    conn: &mut sqlx::MySqlConnection,
    database: &str,
    history: &str,
) -> Result<std::collections::BTreeMap<String, i64>, sqlx::Error> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES \
          WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME <> ?",
    )
    .bind(database)
    .bind(history)
    .fetch_all(&mut *conn)
    .await?;
    let mut counts = std::collections::BTreeMap::new();
    for table in tables {
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {}.{}",
            quoted(database, '`'),
            quoted(&table, '`')
        )))
        .fetch_one(&mut *conn)
        .await?;
        counts.insert(table, count);
    }
    Ok(counts)
}

/// SQLite: each table's row count (`sqlite_*` tables left out).
#[cfg(feature = "sqlite")]
pub(crate) async fn row_counts_sqlite(
    conn: &mut sqlx::SqliteConnection,
    history: &str,
) -> Result<std::collections::BTreeMap<String, i64>, sqlx::Error> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master \
          WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> ?",
    )
    .bind(history)
    .fetch_all(&mut *conn)
    .await?;
    let mut counts = std::collections::BTreeMap::new();
    for table in tables {
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT count(*) FROM {}",
            quoted(&table, '"')
        )))
        .fetch_one(&mut *conn)
        .await?;
        counts.insert(table, count);
    }
    Ok(counts)
}
