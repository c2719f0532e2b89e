//! [`TenantMigrations`]: the migrations every tenant schema receives.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AssertSqlSafe, SqlSafeStr};
use tenancy_core::TenancyError;

use crate::ident::Ident;

/// The ordered set of up-migrations applied to every tenant.
///
/// Build it from a sqlx [`Migrator`] (e.g. `sqlx::migrate!("./tenant_migrations")`)
/// or from SQL strings. Each tenant keeps its own history in a table of its
/// schema with the layout of sqlx's `_sqlx_migrations` (same name by default),
/// so the sqlx CLI can read it. Down migrations are ignored; migrations marked
/// `no_tx` are refused, because every tenant is migrated in one transaction.
///
/// ```
/// use tenancy_sqlx::TenantMigrations;
///
/// let migrations = TenantMigrations::from_sql([
///     (1, "items", "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL)"),
///     (2, "price", "ALTER TABLE items ADD COLUMN price numeric"),
/// ])?;
/// assert_eq!(migrations.latest(), Some(2));
/// # Ok::<(), tenancy_core::TenancyError>(())
/// ```
#[derive(Clone)]
pub struct TenantMigrations {
    migrations: Arc<[Migration]>,
    history_table: Ident,
}

impl TenantMigrations {
    /// The up-migrations of `migrator`.
    pub fn new(migrator: &Migrator) -> Result<Self, TenancyError> {
        Self::from_migrations(migrator.iter().cloned())
    }

    /// These migrations (down migrations are dropped; they are sorted by version).
    pub fn from_migrations(
        migrations: impl IntoIterator<Item = Migration>,
    ) -> Result<Self, TenancyError> {
        let mut list: Vec<Migration> = migrations
            .into_iter()
            .filter(|migration| !migration.migration_type.is_down_migration())
            .collect();
        list.sort_by_key(|migration| migration.version);
        let mut seen = BTreeSet::new();
        for migration in &list {
            if !seen.insert(migration.version) {
                return Err(configuration(format!(
                    "tenant migration {} is listed twice",
                    migration.version
                )));
            }
            if migration.no_tx {
                return Err(configuration(format!(
                    "tenant migration {} is marked no_tx; tenant schemas are migrated in one \
                     transaction each, so non-transactional migrations are not supported",
                    migration.version
                )));
            }
        }
        Ok(Self {
            migrations: Arc::from(list),
            history_table: default_history_table(),
        })
    }

    /// Migrations from `(version, description, sql)` triples.
    pub fn from_sql<D, S>(
        migrations: impl IntoIterator<Item = (i64, D, S)>,
    ) -> Result<Self, TenancyError>
    where
        D: Into<Cow<'static, str>>,
        S: Into<String>,
    {
        Self::from_migrations(migrations.into_iter().map(|(version, description, sql)| {
            Migration::new(
                version,
                description.into(),
                MigrationType::Simple,
                AssertSqlSafe(sql.into()).into_sql_str(),
                false,
            )
        }))
    }

    /// No migrations: tenant schemas start empty.
    pub fn empty() -> Self {
        Self {
            migrations: Arc::from(Vec::new()),
            history_table: default_history_table(),
        }
    }

    /// Keeps each schema's history in `table` instead of `_sqlx_migrations`.
    #[must_use]
    pub fn history_table(mut self, table: Ident) -> Self {
        self.history_table = table;
        self
    }

    /// The history table.
    pub fn history(&self) -> &Ident {
        &self.history_table
    }

    /// The migrations, by ascending version.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Migration> {
        self.migrations.iter()
    }

    /// The highest version, if there is any migration.
    pub fn latest(&self) -> Option<i64> {
        self.migrations.last().map(|migration| migration.version)
    }

    /// The number of migrations.
    pub fn len(&self) -> usize {
        self.migrations.len()
    }

    /// Whether there are no migrations.
    pub fn is_empty(&self) -> bool {
        self.migrations.is_empty()
    }

    /// The migration with `version`.
    pub fn get(&self, version: i64) -> Option<&Migration> {
        self.migrations
            .binary_search_by_key(&version, |migration| migration.version)
            .ok()
            .and_then(|index| self.migrations.get(index))
    }
}

impl TryFrom<&Migrator> for TenantMigrations {
    type Error = TenancyError;

    fn try_from(migrator: &Migrator) -> Result<Self, Self::Error> {
        Self::new(migrator)
    }
}

impl fmt::Debug for TenantMigrations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantMigrations")
            .field(
                "versions",
                &self
                    .migrations
                    .iter()
                    .map(|m| m.version)
                    .collect::<Vec<_>>(),
            )
            .field("history_table", &self.history_table)
            .finish()
    }
}

/// sqlx's history table name, `_sqlx_migrations`.
pub(crate) fn default_history_table() -> Ident {
    Ident::from_static("_sqlx_migrations")
}

fn configuration(message: String) -> TenancyError {
    TenancyError::Configuration { message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_validated() {
        let migrations =
            TenantMigrations::from_sql([(2, "b", "SELECT 2"), (1, "a", "SELECT 1")]).unwrap();
        let versions: Vec<i64> = migrations.iter().map(|m| m.version).collect();
        assert_eq!(versions, [1, 2]);
        assert_eq!(migrations.get(2).unwrap().description, "b");
        assert!(TenantMigrations::from_sql([(1, "a", "SELECT 1"), (1, "b", "SELECT 2")]).is_err());
        assert_eq!(migrations.history().as_str(), "_sqlx_migrations");
    }

    #[test]
    fn no_tx_is_refused() {
        let migration = Migration::new(
            1,
            "concurrently".into(),
            MigrationType::Simple,
            AssertSqlSafe("CREATE INDEX CONCURRENTLY x ON y (z)").into_sql_str(),
            true,
        );
        assert!(TenantMigrations::from_migrations([migration]).is_err());
    }
}
