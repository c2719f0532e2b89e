//! [`PgDatabases`]: one Postgres database per tenant, copied from a migrated
//! template database, on named servers.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Postgres};
use tenancy_core::{TenancyError, TenantId};

use crate::database::backend::{DatabaseBackend, sealed::Provision};
use crate::database::name::{DatabaseNaming, naming_error};
use crate::database::servers::Servers;
use crate::error::{MigrationError, sqlstate, step_error};
use crate::ident::Ident;
use crate::migrate::HistoryEntry;
use crate::migrate::TenantMigrations;
use crate::migrate::apply::{apply_pending, read_history};
use crate::postgres::Pooler;
use crate::storage::{DatabaseLocation, DatabaseName};

/// How long a creation retries while the template is briefly in use.
const TEMPLATE_BUSY_RETRIES: u32 = 100;
const TEMPLATE_BUSY_PAUSE: Duration = Duration::from_millis(20);

/// Database-per-tenant storage on Postgres, on one or more named servers.
///
/// A new tenant database is `CREATE DATABASE … TEMPLATE` a copy of the
/// server's template database (`{prefix}_template`, e.g.
/// `tenant__template`), which this crate creates and keeps migrated: a file
/// copy on the server instead of replaying every migration. Tenant databases
/// are named one-to-one from ids by a [`DatabaseNaming`] (default
/// `tenant_<id>`), always quoted; renaming a tenant renames its database.
/// Each server is given by admin connect options (a superuser or a role with
/// `CREATEDB`, connected to a maintenance database such as `postgres`);
/// tenant connections use the same options with the tenant's database.
///
/// ```no_run
/// use std::str::FromStr;
/// use sqlx::postgres::PgConnectOptions;
/// use tenancy_sqlx::Ident;
/// use tenancy_sqlx::database::PgDatabases;
///
/// let databases = PgDatabases::new(
///     Ident::new("main")?,
///     PgConnectOptions::from_str("postgres://app@db1.internal/postgres")?,
/// )
/// .server(Ident::new("eu2")?, PgConnectOptions::from_str("postgres://app@db2.internal/postgres")?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PgDatabases {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    servers: Servers<PgConnectOptions>,
    naming: DatabaseNaming,
    /// Small pools for DDL, one per server, created on first use.
    admin: Arc<Mutex<BTreeMap<Ident, PgPool>>>,
    /// Servers whose tenant traffic goes through a transaction pooler: the
    /// pooler's connect options (any database name; replaced per tenant).
    pooled: BTreeMap<Ident, PgConnectOptions>,
    /// Servers whose template is known to be migrated.
    prepared: Arc<Mutex<BTreeSet<Ident>>>,
    /// Serialises template preparation within this process.
    preparing: Arc<tokio::sync::Mutex<()>>,
}

impl PgDatabases {
    /// Tenant databases on the server of `admin` (connected to a maintenance
    /// database such as `postgres`), under the name `default`.
    pub fn new(default: Ident, admin: PgConnectOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                servers: Servers::new(default, admin),
                naming: DatabaseNaming::default(),
                pooled: BTreeMap::new(),
                admin: Arc::default(),
                prepared: Arc::default(),
                preparing: Arc::default(),
            }),
        }
    }

    /// Adds the server of `admin` under the name `name`.
    #[must_use]
    pub fn server(mut self, name: Ident, admin: PgConnectOptions) -> Self {
        Arc::make_mut(&mut self.inner).servers.insert(name, admin);
        self
    }

    /// Sends the tenant traffic of server `name` through a transaction pooler
    /// (PgBouncer with `pool_mode = transaction`) reached with `pooler`; the
    /// database name in `pooler` is replaced by each tenant's. The options
    /// given to [`new`](Self::new) or [`server`](Self::server) stay the direct
    /// connection for creating, migrating, renaming and dropping databases
    /// (a pooler keeps server connections open, which would block copying the
    /// template, renaming and dropping).
    ///
    /// Tenant connections then have sqlx's statement cache off; run tenant
    /// queries inside a transaction (`conn.begin()`) with
    /// `.persistent(false)`, as everywhere behind a transaction pooler.
    #[must_use]
    pub fn through_pooler(mut self, name: Ident, pooler: PgConnectOptions) -> Self {
        Arc::make_mut(&mut self.inner)
            .pooled
            .insert(name, Pooler::Transaction.adjust(pooler));
        self
    }

    /// Names tenant databases (and the template) with `naming`.
    #[must_use]
    pub fn naming(mut self, naming: DatabaseNaming) -> Self {
        Arc::make_mut(&mut self.inner).naming = naming;
        self
    }

    /// The template database new tenant databases are copied from.
    pub fn template(&self) -> Result<DatabaseName, TenancyError> {
        Ok(self.inner.naming.template()?)
    }

    /// Drops the template database of every server (it is recreated and
    /// migrated on the next creation); returns how many existed.
    pub async fn drop_templates(&self) -> Result<usize, TenancyError> {
        let template = self.template()?;
        let mut dropped = 0;
        for server in self.inner.servers.names() {
            let admin = self.admin(server)?;
            let existed = exists(&admin, &template)
                .await
                .map_err(crate::error::store_error)?;
            sqlx::raw_sql(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                template.quoted()
            )))
            .execute(&admin)
            .await
            .map_err(crate::error::store_error)?;
            dropped += usize::from(existed);
        }
        self.inner
            .prepared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        Ok(dropped)
    }

    fn admin(&self, server: &Ident) -> Result<PgPool, TenancyError> {
        let mut pools = self
            .inner
            .admin
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(pool) = pools.get(server) {
            return Ok(pool.clone());
        }
        let options = self.inner.servers.get(server)?.clone();
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .min_connections(0)
            .idle_timeout(Duration::from_secs(30))
            .acquire_timeout(Duration::from_secs(30))
            .connect_lazy_with(options);
        pools.insert(server.clone(), pool.clone());
        Ok(pool)
    }

    fn is_prepared(&self, server: &Ident) -> bool {
        self.inner
            .prepared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(server)
    }

    /// A connection of its own to the database `name` of `server`, always
    /// direct: a pooler would keep the template open.
    async fn connect_direct(
        &self,
        server: &Ident,
        name: &DatabaseName,
    ) -> Result<PgConnection, MigrationError> {
        let options = self
            .inner
            .servers
            .get(server)
            .map_err(|error| MigrationError::Database(sqlx::Error::Configuration(Box::new(error))))?
            .clone()
            .database(name.as_str());
        Ok(options.connect().await?)
    }

    /// Migrates the database `name` of `server` on a connection of its own.
    async fn migrate_database(
        &self,
        server: &Ident,
        name: &DatabaseName,
        migrations: &TenantMigrations,
    ) -> Result<Vec<i64>, MigrationError> {
        let mut conn = self.connect_direct(server, name).await?;
        let applied = apply_pending(&mut conn, migrations).await;
        let _closed = conn.close().await;
        applied
    }

    /// The migration history of the database at `location`.
    async fn database_history(
        &self,
        location: &DatabaseLocation,
        migrations: &TenantMigrations,
    ) -> Result<Vec<HistoryEntry>, MigrationError> {
        let mut conn = self
            .connect_direct(location.server(), location.database())
            .await?;
        let history = read_history(&mut conn, migrations).await;
        let _closed = conn.close().await;
        history
    }
}

/// The database error of a failed direct connection.
fn direct_error(error: MigrationError) -> sqlx::Error {
    match error {
        MigrationError::Database(error) => error,
        other => sqlx::Error::Configuration(Box::new(other)),
    }
}

async fn exists(admin: &PgPool, name: &DatabaseName) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = $1)")
        .persistent(false)
        .bind(name.as_str())
        .fetch_one(admin)
        .await
}

impl DatabaseBackend for PgDatabases {
    type Database = Postgres;

    fn name(&self) -> &'static str {
        "postgres"
    }

    fn default_server(&self) -> &Ident {
        self.inner.servers.default_name()
    }

    fn has_server(&self, server: &Ident) -> bool {
        self.inner.servers.contains(server)
    }

    fn servers(&self) -> Vec<Ident> {
        let mut names: Vec<Ident> = self.inner.servers.names().cloned().collect();
        names.sort();
        names
    }

    fn connect_options(
        &self,
        location: &DatabaseLocation,
    ) -> Result<PgConnectOptions, TenancyError> {
        let server = match self.inner.pooled.get(location.server()) {
            Some(pooler) => pooler,
            None => self.inner.servers.get(location.server())?,
        };
        Ok(server.clone().database(location.database().as_str()))
    }
}

impl Provision for PgDatabases {
    fn location_for<'a>(
        &'a self,
        server: &'a Ident,
        id: &'a TenantId,
    ) -> BoxFuture<'a, Result<DatabaseLocation, TenancyError>> {
        let location = self
            .inner
            .naming
            .database_for(id)
            .map(|name| DatabaseLocation::new(server.clone(), name))
            .map_err(|error| {
                naming_error(id, &format!("{}{id}", self.inner.naming.prefix()), error)
            });
        futures_util::future::ready(location).boxed()
    }

    fn prepare<'a>(
        &'a self,
        server: &'a Ident,
        migrations: &'a TenantMigrations,
    ) -> BoxFuture<'a, Result<(), MigrationError>> {
        async move {
            if self.is_prepared(server) {
                return Ok(());
            }
            let _preparing = self.inner.preparing.lock().await;
            if self.is_prepared(server) {
                return Ok(());
            }
            let configuration = |error: TenancyError| {
                MigrationError::Database(sqlx::Error::Configuration(Box::new(error)))
            };
            let template = self.template().map_err(configuration)?;
            let admin = self.admin(server).map_err(configuration)?;
            if !exists(&admin, &template).await? {
                let created = sqlx::raw_sql(AssertSqlSafe(format!(
                    "CREATE DATABASE {}",
                    template.quoted()
                )))
                .execute(&admin)
                .await;
                match created {
                    // 42P04: another process created it meanwhile.
                    Err(error) if sqlstate(&error).as_deref() != Some("42P04") => {
                        return Err(error.into());
                    }
                    _ => {}
                }
            }
            // The connection is closed afterwards: a template in use cannot be copied.
            self.migrate_database(server, &template, migrations).await?;
            self.inner
                .prepared
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(server.clone());
            Ok(())
        }
        .boxed()
    }

    fn forget_prepared(&self) {
        self.inner
            .prepared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn create<'a>(
        &'a self,
        tenant: &'a TenantId,
        location: &'a DatabaseLocation,
        _migrations: &'a TenantMigrations,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        async move {
            let admin = self.admin(location.server())?;
            let template = self.template()?;
            let statement = format!(
                "CREATE DATABASE {} TEMPLATE {}",
                location.database().quoted(),
                template.quoted()
            );
            let mut attempts = 0;
            loop {
                let created = sqlx::raw_sql(AssertSqlSafe(statement.clone()))
                    .execute(&admin)
                    .await;
                match created {
                    Ok(_) => return Ok(()),
                    // 55006: the template is briefly in use (e.g. another
                    // process is checking its migrations); try again.
                    Err(error)
                        if sqlstate(&error).as_deref() == Some("55006")
                            && attempts < TEMPLATE_BUSY_RETRIES =>
                    {
                        attempts += 1;
                        tokio::time::sleep(TEMPLATE_BUSY_PAUSE).await;
                    }
                    Err(error) => {
                        return Err(step_error(error, |source| TenancyError::SchemaCreation {
                            tenant: tenant.clone(),
                            schema: location.to_string(),
                            source,
                        }));
                    }
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
            let admin = self.admin(location.server())?;
            sqlx::raw_sql(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                location.database().quoted()
            )))
            .execute(&admin)
            .await
            .map_err(|error| {
                step_error(error, |source| TenancyError::SchemaDrop {
                    tenant: tenant.clone(),
                    schema: location.to_string(),
                    source,
                })
            })?;
            Ok(())
        }
        .boxed()
    }

    fn rename_target(
        &self,
        from: &DatabaseLocation,
        to: &TenantId,
    ) -> Result<Option<DatabaseLocation>, TenancyError> {
        let name = self.inner.naming.database_for(to)?;
        Ok(Some(DatabaseLocation::new(from.server().clone(), name)))
    }

    fn rename_database<'a>(
        &'a self,
        from: &'a DatabaseLocation,
        to: &'a DatabaseLocation,
    ) -> BoxFuture<'a, Result<(), sqlx::Error>> {
        async move {
            let admin = self
                .admin(from.server())
                .map_err(|error| sqlx::Error::Configuration(Box::new(error)))?;
            let rename = format!(
                "ALTER DATABASE {} RENAME TO {}",
                from.database().quoted(),
                to.database().quoted()
            );
            if !self.inner.pooled.contains_key(from.server()) {
                // Straight to the server, other sessions on the database are
                // another process's: the rename fails (55006) and ends none.
                sqlx::raw_sql(AssertSqlSafe(rename)).execute(&admin).await?;
                return Ok(());
            }
            let mut attempts = 0;
            loop {
                // Other sessions on the database block a rename; a pooler
                // keeps idle server connections open, so end them first.
                sqlx::query(
                    "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity \
                     WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid()",
                )
                .persistent(false)
                .bind(from.database().as_str())
                .execute(&admin)
                .await?;
                match sqlx::raw_sql(AssertSqlSafe(rename.clone()))
                    .execute(&admin)
                    .await
                {
                    Ok(_) => return Ok(()),
                    // 55006: a session reconnected meanwhile; try again.
                    Err(error)
                        if sqlstate(&error).as_deref() == Some("55006")
                            && attempts < TEMPLATE_BUSY_RETRIES =>
                    {
                        attempts += 1;
                        tokio::time::sleep(TEMPLATE_BUSY_PAUSE).await;
                    }
                    Err(error) => return Err(error),
                }
            }
        }
        .boxed()
    }

    fn migrate<'a>(
        &'a self,
        location: &'a DatabaseLocation,
        migrations: &'a TenantMigrations,
    ) -> BoxFuture<'a, Result<Vec<i64>, MigrationError>> {
        self.migrate_database(location.server(), location.database(), migrations)
            .boxed()
    }

    fn row_counts<'a>(
        &'a self,
        location: &'a DatabaseLocation,
        history: &'a str,
    ) -> BoxFuture<'a, Result<BTreeMap<String, i64>, sqlx::Error>> {
        async move {
            let mut conn = self
                .connect_direct(location.server(), location.database())
                .await
                .map_err(direct_error)?;
            let counts = super::copy::row_counts_postgres(&mut conn, history).await;
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
            let mut source = self
                .connect_direct(from.server(), from.database())
                .await
                .map_err(direct_error)?;
            let mut target = self
                .connect_direct(to.server(), to.database())
                .await
                .map_err(direct_error)?;
            let copied = super::copy::copy_postgres(&mut source, &mut target, history).await;
            let _closed = (source.close().await, target.close().await);
            copied
        }
        .boxed()
    }

    fn history<'a>(
        &'a self,
        location: &'a DatabaseLocation,
        migrations: &'a TenantMigrations,
    ) -> BoxFuture<'a, Result<Vec<HistoryEntry>, MigrationError>> {
        self.database_history(location, migrations).boxed()
    }
}

impl fmt::Debug for PgDatabases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let servers: Vec<&Ident> = self.inner.servers.names().collect();
        f.debug_struct("PgDatabases")
            .field("servers", &servers)
            .field("default", self.inner.servers.default_name())
            .field("naming", &self.inner.naming)
            .field("pooled", &self.inner.pooled.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
