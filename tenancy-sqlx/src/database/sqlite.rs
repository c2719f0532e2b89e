//! [`SqliteDatabases`]: one SQLite file per tenant, in configured directories.

use std::collections::BTreeMap;
use std::fmt;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Sqlite};
use tenancy_core::{TenancyError, TenantId};

use crate::database::backend::{DatabaseBackend, sealed::Provision};
use crate::database::name::{DatabaseNaming, naming_error};
use crate::database::servers::Servers;
use crate::error::{MigrationError, step_error};
use crate::ident::Ident;
use crate::migrate::HistoryEntry;
use crate::migrate::TenantMigrations;
use crate::migrate::apply::{apply_pending, read_history};
use crate::storage::DatabaseLocation;

/// Database-per-tenant storage on SQLite: one file per tenant,
/// `<directory>/<name>.db`, opened in WAL mode.
///
/// File names come one-to-one from tenant ids through a [`DatabaseNaming`]
/// (default `tenant_<id>.db`); the name grammar (`a-z 0-9 _ -`) has no `.`,
/// `/` or `\`, so no id can reach outside the directory. A rename changes the
/// registry only: the file keeps its name (moving a live database and its
/// `-wal`/`-shm` files under other processes' connections is unsafe), and the
/// registry records it; a later tenant whose natural file name is taken gets
/// `tenant_<id>_<token>.db`. Dropping a tenant deletes its files; a pooled
/// connection (of this or another process) is checked against the file's
/// inode before reuse, so a tenant created again under a dropped id is never
/// served from the old, deleted file. A "server" is a
/// directory: the default one is named `local`, more can be added with
/// [`directory`](Self::directory). New files are created exclusively (an
/// existing file is never adopted) and migrated in one transaction; a failed
/// creation removes the file.
///
/// ```no_run
/// use tenancy_sqlx::Ident;
/// use tenancy_sqlx::database::SqliteDatabases;
///
/// let databases = SqliteDatabases::new("./data/tenants")?
///     .directory(Ident::new("archive")?, "/mnt/archive/tenants")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SqliteDatabases {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    directories: Servers<PathBuf>,
    naming: DatabaseNaming,
    busy_timeout: Duration,
}

impl SqliteDatabases {
    /// Tenant files in `directory` (created if missing), as server `local`.
    pub fn new(directory: impl Into<PathBuf>) -> Result<Self, TenancyError> {
        let directory = directory.into();
        create_dir(&directory)?;
        Ok(Self {
            inner: Arc::new(Inner {
                directories: Servers::new(Ident::from_static("local"), directory),
                naming: DatabaseNaming::default(),
                busy_timeout: Duration::from_secs(5),
            }),
        })
    }

    /// Adds another directory (created if missing) under the name `name`.
    pub fn directory(
        mut self,
        name: Ident,
        directory: impl Into<PathBuf>,
    ) -> Result<Self, TenancyError> {
        let directory = directory.into();
        create_dir(&directory)?;
        Arc::make_mut(&mut self.inner)
            .directories
            .insert(name, directory);
        Ok(self)
    }

    /// Names tenant files with `naming` (default prefix `tenant_`).
    #[must_use]
    pub fn naming(mut self, naming: DatabaseNaming) -> Self {
        Arc::make_mut(&mut self.inner).naming = naming;
        self
    }

    /// How long a connection waits for a locked file (default 5 s).
    #[must_use]
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.inner).busy_timeout = timeout;
        self
    }

    /// The file of the tenant database at `location`.
    pub fn path_of(&self, location: &DatabaseLocation) -> Result<PathBuf, TenancyError> {
        let directory = self.inner.directories.get(location.server())?;
        Ok(directory.join(format!("{}.db", location.database())))
    }

    fn options(&self, location: &DatabaseLocation) -> Result<SqliteConnectOptions, TenancyError> {
        Ok(SqliteConnectOptions::new()
            .filename(self.path_of(location)?)
            .create_if_missing(false)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(self.inner.busy_timeout))
    }

    async fn migrate_file(
        &self,
        location: &DatabaseLocation,
        migrations: &TenantMigrations,
    ) -> Result<Vec<i64>, MigrationError> {
        let options = self.options(location).map_err(|error| {
            MigrationError::Database(sqlx::Error::Configuration(Box::new(error)))
        })?;
        let mut conn = options.connect().await?;
        let applied = apply_pending(&mut conn, migrations).await;
        let _closed = conn.close().await;
        applied
    }

    /// The migration history of the file at `location` (which must exist).
    async fn file_history(
        &self,
        location: &DatabaseLocation,
        migrations: &TenantMigrations,
    ) -> Result<Vec<HistoryEntry>, MigrationError> {
        let options = self.options(location).map_err(|error| {
            MigrationError::Database(sqlx::Error::Configuration(Box::new(error)))
        })?;
        let mut conn = options.connect().await?;
        let history = read_history(&mut conn, migrations).await;
        let _closed = conn.close().await;
        history
    }
}

fn create_dir(directory: &Path) -> Result<(), TenancyError> {
    std::fs::create_dir_all(directory).map_err(|error| TenancyError::Configuration {
        message: format!(
            "cannot create the tenant directory {}: {error}",
            directory.display()
        ),
    })
}

/// The main file and SQLite's companions (`-wal`, `-shm`).
fn files(path: &Path) -> [PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    };
    [path.to_path_buf(), with("-wal"), with("-shm")]
}

fn remove_files(path: &Path) -> std::io::Result<()> {
    for file in files(path) {
        match std::fs::remove_file(&file) {
            Err(error) if error.kind() != ErrorKind::NotFound => return Err(error),
            _ => {}
        }
    }
    Ok(())
}

impl DatabaseBackend for SqliteDatabases {
    type Database = Sqlite;

    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn default_server(&self) -> &Ident {
        self.inner.directories.default_name()
    }

    fn has_server(&self, server: &Ident) -> bool {
        self.inner.directories.contains(server)
    }

    fn servers(&self) -> Vec<Ident> {
        let mut names: Vec<Ident> = self.inner.directories.names().cloned().collect();
        names.sort();
        names
    }

    fn connect_options(
        &self,
        location: &DatabaseLocation,
    ) -> Result<SqliteConnectOptions, TenancyError> {
        self.options(location)
    }
}

impl Provision for SqliteDatabases {
    fn has_server_sessions(&self) -> bool {
        false
    }

    /// The file's inode: a file dropped and created again (by this or
    /// another process) is a different file, and pooled connections to the
    /// old one are closed instead of reused. One `stat` per reuse.
    #[cfg(unix)]
    fn identity(&self, location: &DatabaseLocation) -> Option<u64> {
        use std::os::unix::fs::MetadataExt;
        let path = self.path_of(location).ok()?;
        std::fs::metadata(path).ok().map(|metadata| metadata.ino())
    }

    fn location_for<'a>(
        &'a self,
        server: &'a Ident,
        id: &'a TenantId,
    ) -> BoxFuture<'a, Result<DatabaseLocation, TenancyError>> {
        let naming = &self.inner.naming;
        let natural = || format!("{}{id}", naming.prefix());
        let location = naming
            .database_for(id)
            .map_err(|error| naming_error(id, &natural(), error))
            .and_then(|name| {
                let location = DatabaseLocation::new(server.clone(), name);
                let path = self.path_of(&location)?;
                if !files(&path).iter().any(|file| file.exists()) {
                    return Ok(location);
                }
                // Still held by a renamed tenant (renames keep the file) or
                // left behind: never adopt it, and never give a new tenant a
                // name whose old connections may live on in other processes.
                let name = naming
                    .unique_for(id, &crate::database::name::token())
                    .map_err(|error| naming_error(id, &natural(), error))?;
                Ok(DatabaseLocation::new(server.clone(), name))
            });
        futures_util::future::ready(location).boxed()
    }

    fn prepare<'a>(
        &'a self,
        _server: &'a Ident,
        _migrations: &'a TenantMigrations,
    ) -> BoxFuture<'a, Result<(), MigrationError>> {
        futures_util::future::ready(Ok(())).boxed()
    }

    fn create<'a>(
        &'a self,
        tenant: &'a TenantId,
        location: &'a DatabaseLocation,
        migrations: &'a TenantMigrations,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        async move {
            let path = self.path_of(location)?;
            let creation = |source: std::io::Error| TenancyError::SchemaCreation {
                tenant: tenant.clone(),
                schema: path.display().to_string(),
                source: Box::new(source),
            };
            // Claim the file exclusively: an existing file is never adopted.
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(creation)?;
            match self.migrate_file(location, migrations).await {
                Ok(_) => Ok(()),
                Err(error) => {
                    if let Err(removed) = remove_files(&path) {
                        tracing::error!(file = %path.display(), error = %removed, "could not remove a half-created tenant file");
                    }
                    Err(step_error(error, |source| TenancyError::TableCreation {
                        tenant: tenant.clone(),
                        source,
                    }))
                }
            }
        }
        .boxed()
    }

    fn drop_database<'a>(
        &'a self,
        tenant: &'a TenantId,
        location: &'a DatabaseLocation,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        async move {
            let path = self.path_of(location)?;
            remove_files(&path).map_err(|error| TenancyError::SchemaDrop {
                tenant: tenant.clone(),
                schema: path.display().to_string(),
                source: Box::new(error),
            })
        }
        .boxed()
    }

    fn migrate<'a>(
        &'a self,
        location: &'a DatabaseLocation,
        migrations: &'a TenantMigrations,
    ) -> BoxFuture<'a, Result<Vec<i64>, MigrationError>> {
        self.migrate_file(location, migrations).boxed()
    }

    fn row_counts<'a>(
        &'a self,
        location: &'a DatabaseLocation,
        history: &'a str,
    ) -> BoxFuture<'a, Result<BTreeMap<String, i64>, sqlx::Error>> {
        async move {
            let options = self
                .options(location)
                .map_err(|error| sqlx::Error::Configuration(Box::new(error)))?;
            let mut conn = options.connect().await?;
            let counts = super::copy::row_counts_sqlite(&mut conn, history).await;
            let _closed = conn.close().await;
            counts
        }
        .boxed()
    }

    fn copy_database<'a>(
        &'a self,
        from: &'a DatabaseLocation,
        to: &'a DatabaseLocation,
        history: &'a str,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        async move {
            let configuration = |error: TenancyError| sqlx::Error::Configuration(Box::new(error));
            let source = self.path_of(from).map_err(configuration)?;
            let mut target = self.options(to).map_err(configuration)?.connect().await?;
            let copied = super::copy::copy_sqlite(&mut target, &source, history).await;
            let _closed = target.close().await;
            copied
        }
        .boxed()
    }

    fn history<'a>(
        &'a self,
        location: &'a DatabaseLocation,
        migrations: &'a TenantMigrations,
    ) -> BoxFuture<'a, Result<Vec<HistoryEntry>, MigrationError>> {
        self.file_history(location, migrations).boxed()
    }
}

impl fmt::Debug for SqliteDatabases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteDatabases")
            .field("directories", &self.inner.directories)
            .field("naming", &self.inner.naming)
            .finish_non_exhaustive()
    }
}
