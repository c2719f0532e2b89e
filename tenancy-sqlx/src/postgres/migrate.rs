//! Applying [`TenantMigrations`] to one schema, inside the caller's transaction.
//!
//! The caller has set the transaction's `search_path` to the schema (and, for
//! existing schemas, taken the per-schema advisory lock). The history table has
//! the layout of sqlx's `_sqlx_migrations`; each migration's SQL and its
//! history row are sent together as one simple query, so a tenant costs one
//! round trip per pending migration, and a brand-new schema receives every
//! migration in a single round trip.

use std::collections::HashSet;
use std::fmt::Write as _;

use sqlx::migrate::Migration;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, Row, SqlSafeStr};

use crate::error::MigrationError;
use crate::ident::quote_literal;
use crate::migrate::{HistoryEntry, TenantMigrations};
use crate::postgres::tx::PgTx;

/// Creates the history table and applies every migration, in one round trip.
pub(crate) async fn apply_fresh(
    conn: &mut PgConnection,
    migrations: &TenantMigrations,
) -> Result<Vec<i64>, MigrationError> {
    let history = migrations.history().quoted();
    let mut batch = format!(
        "CREATE TABLE {history} (\
           version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
           installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL, \
           checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL);\n"
    );
    for migration in migrations.iter() {
        push_migration(&mut batch, &history, migration);
    }
    let versions: Vec<i64> = migrations.iter().map(|m| m.version).collect();
    sqlx::raw_sql(AssertSqlSafe(batch))
        .execute(&mut *conn)
        .await
        .map_err(|source| MigrationError::Apply {
            first: versions.first().copied().unwrap_or_default(),
            last: versions.last().copied().unwrap_or_default(),
            source,
        })?;
    Ok(versions)
}

/// The statement reading a schema's history (unqualified: the caller has set
/// the search path).
pub(crate) fn history_query(migrations: &TenantMigrations) -> String {
    format!(
        "SELECT version, checksum, success FROM {} ORDER BY version",
        migrations.history().quoted()
    )
}

/// Validates the history and applies what is pending, one migration per round trip.
/// The rows of the history table `qualified` (`"schema"."table"`, quoted),
/// read in a read-only transaction (unnamed statements stay on one server
/// connection behind a transaction pooler); empty when the table does not
/// exist.
pub(crate) async fn read_history(
    pool: &sqlx::PgPool,
    qualified: &str,
) -> Result<Vec<HistoryEntry>, sqlx::Error> {
    let begin = AssertSqlSafe("BEGIN READ ONLY").into_sql_str();
    let mut tx = PgTx::begin(pool, Some(begin)).await?;
    let exists: bool = sqlx::query_scalar("SELECT pg_catalog.to_regclass($1) IS NOT NULL")
        .persistent(false)
        .bind(qualified)
        .fetch_one(&mut *tx)
        .await?;
    let rows = if exists {
        sqlx::query(AssertSqlSafe(format!(
            "SELECT version, checksum, success FROM {qualified} ORDER BY version"
        )))
        .persistent(false)
        .fetch_all(&mut *tx)
        .await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    rows.iter()
        .map(|row| {
            Ok(HistoryEntry::new(
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
            ))
        })
        .collect()
}

pub(crate) async fn apply_pending(
    conn: &mut PgConnection,
    migrations: &TenantMigrations,
) -> Result<Vec<i64>, MigrationError> {
    let rows = sqlx::query(AssertSqlSafe(history_query(migrations)))
        .persistent(false)
        .fetch_all(&mut *conn)
        .await?;
    apply_missing(conn, migrations, &rows).await
}

/// Validates `history` (rows of [`history_query`]) and applies what is missing.
pub(crate) async fn apply_missing(
    conn: &mut PgConnection,
    migrations: &TenantMigrations,
    history: &[PgRow],
) -> Result<Vec<i64>, MigrationError> {
    let mut applied = HashSet::with_capacity(history.len());
    for row in history {
        let version: i64 = row.try_get(0)?;
        let checksum: Vec<u8> = row.try_get(1)?;
        let success: bool = row.try_get(2)?;
        if !success {
            return Err(MigrationError::Dirty { version });
        }
        match migrations.get(version) {
            Some(migration) if *migration.checksum != *checksum => {
                return Err(MigrationError::VersionMismatch { version });
            }
            Some(_) => {}
            None => return Err(MigrationError::VersionMissing { version }),
        }
        applied.insert(version);
    }
    let history_table = migrations.history().quoted();
    let mut done = Vec::new();
    for migration in migrations.iter() {
        if applied.contains(&migration.version) {
            continue;
        }
        let mut batch = String::with_capacity(migration.sql.as_str().len() + 200);
        push_migration(&mut batch, &history_table, migration);
        sqlx::raw_sql(AssertSqlSafe(batch))
            .execute(&mut *conn)
            .await
            .map_err(|source| MigrationError::Apply {
                first: migration.version,
                last: migration.version,
                source,
            })?;
        done.push(migration.version);
    }
    Ok(done)
}

/// Appends a migration's SQL and its history row to a simple-query batch.
fn push_migration(batch: &mut String, history: &str, migration: &Migration) {
    batch.push_str(migration.sql.as_str());
    // A newline first, so that a trailing `--` comment cannot swallow the `;`.
    batch.push_str("\n;\n");
    let mut checksum = String::with_capacity(migration.checksum.len() * 2 + 2);
    checksum.push_str("\\x");
    for byte in migration.checksum.iter() {
        let _infallible = write!(checksum, "{byte:02x}");
    }
    let _infallible = writeln!(
        batch,
        "INSERT INTO {history} (version, description, success, checksum, execution_time) \
         VALUES ({}, {}, TRUE, {}::bytea, -1);",
        migration.version,
        quote_literal(&migration.description),
        quote_literal(&checksum),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_quote_descriptions_and_hex_checksums() {
        let migrations =
            TenantMigrations::from_sql([(7, "it's -- tricky", "SELECT 1 -- trailing")]).unwrap();
        let mut batch = String::new();
        let migration = migrations.iter().next().unwrap();
        push_migration(&mut batch, "\"_sqlx_migrations\"", migration);
        assert!(batch.starts_with("SELECT 1 -- trailing\n;\nINSERT INTO \"_sqlx_migrations\""));
        assert!(batch.contains("VALUES (7, 'it''s -- tricky', TRUE, '\\x"));
        assert!(batch.trim_end().ends_with("::bytea, -1);"));
    }
}
