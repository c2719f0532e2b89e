//! Applying [`TenantMigrations`] to one tenant database through sqlx's
//! [`Migrate`] trait (each tenant has its own database, so sqlx's
//! per-database migration lock is exactly the per-tenant lock we want).

use std::collections::HashSet;

use sqlx::migrate::{Migrate, MigrateError};

use crate::error::MigrationError;
use crate::migrate::{HistoryEntry, TenantMigrations};

/// Validates the history and applies what is pending, under the database's
/// migration lock; returns the applied versions.
pub(crate) async fn apply_pending<C: Migrate + Send>(
    conn: &mut C,
    migrations: &TenantMigrations,
) -> Result<Vec<i64>, MigrationError> {
    conn.lock().await.map_err(from_migrate)?;
    let applied = apply_locked(conn, migrations).await;
    let unlocked = conn.unlock().await.map_err(from_migrate);
    let applied = applied?;
    unlocked?;
    Ok(applied)
}

async fn apply_locked<C: Migrate + Send>(
    conn: &mut C,
    migrations: &TenantMigrations,
) -> Result<Vec<i64>, MigrationError> {
    let table = migrations.history().as_str();
    conn.ensure_migrations_table(table)
        .await
        .map_err(from_migrate)?;
    if let Some(version) = conn.dirty_version(table).await.map_err(from_migrate)? {
        return Err(MigrationError::Dirty { version });
    }
    let history = conn
        .list_applied_migrations(table)
        .await
        .map_err(from_migrate)?;
    let mut applied = HashSet::with_capacity(history.len());
    for migration in &history {
        match migrations.get(migration.version) {
            Some(known) if *known.checksum != *migration.checksum => {
                return Err(MigrationError::VersionMismatch {
                    version: migration.version,
                });
            }
            Some(_) => {}
            None => {
                return Err(MigrationError::VersionMissing {
                    version: migration.version,
                });
            }
        }
        applied.insert(migration.version);
    }
    let mut done = Vec::new();
    for migration in migrations.iter() {
        if applied.contains(&migration.version) {
            continue;
        }
        conn.apply(table, migration).await.map_err(from_migrate)?;
        done.push(migration.version);
    }
    Ok(done)
}

/// Maps sqlx's migration error onto ours, keeping the database error.
/// The history of the database `conn` is on, through sqlx's migrator (which
/// creates the empty history table when there is none, as a migration run
/// would).
pub(crate) async fn read_history<C: Migrate + Send>(
    conn: &mut C,
    migrations: &TenantMigrations,
) -> Result<Vec<HistoryEntry>, MigrationError> {
    let table = migrations.history().as_str();
    conn.ensure_migrations_table(table)
        .await
        .map_err(from_migrate)?;
    let dirty = conn.dirty_version(table).await.map_err(from_migrate)?;
    let applied = conn
        .list_applied_migrations(table)
        .await
        .map_err(from_migrate)?;
    Ok(applied
        .into_iter()
        .map(|migration| {
            let success = Some(migration.version) != dirty;
            HistoryEntry::new(migration.version, migration.checksum.into_owned(), success)
        })
        .collect())
}

fn from_migrate(error: MigrateError) -> MigrationError {
    match error {
        MigrateError::Execute(source) => MigrationError::Database(source),
        MigrateError::ExecuteMigration(source, version) => MigrationError::Apply {
            first: version,
            last: version,
            source,
        },
        MigrateError::Dirty(version) => MigrationError::Dirty { version },
        MigrateError::VersionMismatch(version) => MigrationError::VersionMismatch { version },
        MigrateError::VersionMissing(version) => MigrationError::VersionMissing { version },
        other => MigrationError::Database(sqlx::Error::Migrate(Box::new(other))),
    }
}
