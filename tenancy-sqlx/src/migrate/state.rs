//! [`MigrationState`]: where one tenant's storage stands against a
//! migration set, read from its history table without changing anything.

use std::collections::BTreeMap;

use super::TenantMigrations;

/// One row of a migration history table (sqlx's `_sqlx_migrations` layout).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistoryEntry {
    /// The migration's version.
    pub version: i64,
    /// The checksum of the SQL that was applied.
    pub checksum: Vec<u8>,
    /// `false` when the migration failed half-way (the history is "dirty").
    pub success: bool,
}

impl HistoryEntry {
    /// An entry of a history table.
    pub fn new(version: i64, checksum: Vec<u8>, success: bool) -> Self {
        Self {
            version,
            checksum,
            success,
        }
    }
}

/// Where a tenant's storage stands against a migration set: what is
/// applied, what is pending, and any drift (history the set does not
/// explain). Versions ascend in every list.
///
/// ```
/// use tenancy_sqlx::TenantMigrations;
/// use tenancy_sqlx::migrate::{HistoryEntry, MigrationState};
///
/// let migrations = TenantMigrations::from_sql([(1, "items", "SELECT 1"), (2, "prices", "SELECT 2")])?;
/// let first = migrations.iter().next().expect("version 1");
/// let history = [HistoryEntry::new(1, first.checksum.to_vec(), true)];
/// let state = MigrationState::compare(&migrations, &history);
/// assert_eq!((state.applied.as_slice(), state.pending.as_slice()), (&[1][..], &[2][..]));
/// assert!(!state.is_current() && !state.has_drift());
/// # Ok::<(), tenancy_core::TenancyError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MigrationState {
    /// Versions of the set that are applied, as the set has them.
    pub applied: Vec<i64>,
    /// Versions of the set not applied yet.
    pub pending: Vec<i64>,
    /// Applied versions the set does not have (applied by another release).
    pub unknown: Vec<i64>,
    /// Applied versions whose SQL differs from the set's (checksum).
    pub changed: Vec<i64>,
    /// Versions that failed half-way (a dirty history; migrate refuses to
    /// go on until it is repaired).
    pub failed: Vec<i64>,
}

impl MigrationState {
    /// Compares a history with a migration set.
    pub fn compare(migrations: &TenantMigrations, history: &[HistoryEntry]) -> Self {
        let recorded: BTreeMap<i64, &HistoryEntry> =
            history.iter().map(|entry| (entry.version, entry)).collect();
        let mut state = Self::default();
        for migration in migrations.iter() {
            match recorded.get(&migration.version) {
                None => state.pending.push(migration.version),
                Some(entry) if !entry.success => state.failed.push(migration.version),
                Some(entry) if *entry.checksum != *migration.checksum => {
                    state.changed.push(migration.version);
                }
                Some(_) => state.applied.push(migration.version),
            }
        }
        for (version, entry) in recorded {
            if migrations.get(version).is_none() {
                if entry.success {
                    state.unknown.push(version);
                } else {
                    state.failed.push(version);
                }
            }
        }
        state.failed.sort_unstable();
        state
    }

    /// The newest version applied, if any.
    pub fn latest(&self) -> Option<i64> {
        self.applied.last().copied()
    }

    /// Whether everything in the set is applied and nothing else is there.
    pub fn is_current(&self) -> bool {
        self.pending.is_empty() && !self.has_drift()
    }

    /// Whether the history holds what the set does not explain: unknown or
    /// changed versions, or a failed one.
    pub fn has_drift(&self) -> bool {
        !(self.unknown.is_empty() && self.changed.is_empty() && self.failed.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_drift_is_told_apart() {
        let migrations = TenantMigrations::from_sql([
            (1, "a", "SELECT 1"),
            (2, "b", "SELECT 2"),
            (3, "c", "SELECT 3"),
        ])
        .unwrap();
        let checksum = |version: i64| migrations.get(version).unwrap().checksum.to_vec();
        let history = [
            HistoryEntry::new(1, checksum(1), true),
            HistoryEntry::new(2, vec![0; 48], true),
            HistoryEntry::new(3, checksum(3), false),
            HistoryEntry::new(9, vec![1; 48], true),
        ];
        let state = MigrationState::compare(&migrations, &history);
        assert_eq!(state.applied, [1]);
        assert_eq!(state.changed, [2]);
        assert_eq!(state.failed, [3]);
        assert_eq!(state.unknown, [9]);
        assert!(state.pending.is_empty() && state.has_drift() && !state.is_current());
        let fresh = MigrationState::compare(&migrations, &[]);
        assert_eq!(fresh.pending, [1, 2, 3]);
        assert_eq!(fresh.latest(), None);
        assert!(!fresh.has_drift());
    }
}
