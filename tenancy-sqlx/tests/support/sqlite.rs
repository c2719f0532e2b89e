//! SQLite: a directory per test, removed with its guard.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

use super::ids::test_name;
use super::runtime::small_pool;

/// A directory created for one test and removed with this value.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(test_name());
        std::fs::create_dir_all(&path).expect("create a temp dir");
        Self(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A pool on `name` in this directory (created, WAL mode).
    pub async fn sqlite_pool(&self, name: &str, max_connections: u32) -> SqlitePool {
        let options = SqliteConnectOptions::new()
            .filename(self.0.join(name))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
        SqlitePoolOptions::new()
            .max_connections(max_connections)
            .connect_with(options)
            .await
            .expect("open the SQLite test database")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let removed = std::fs::remove_dir_all(&self.0);
        if removed.is_err() && !std::thread::panicking() {
            panic!("could not remove {}: {removed:?}", self.0.display());
        }
    }
}

/// One SQLite database (`app.db`, WAL, foreign keys on) in a [`TempDir`].
pub struct SqliteDb {
    pub dir: TempDir,
    pub options: SqliteConnectOptions,
}

impl SqliteDb {
    pub fn new() -> Self {
        let dir = TempDir::new();
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("app.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        Self { dir, options }
    }

    /// A small pool on the test database.
    pub async fn pool(&self, max_connections: u32) -> SqlitePool {
        small_pool(self.options.clone(), max_connections).await
    }
}
