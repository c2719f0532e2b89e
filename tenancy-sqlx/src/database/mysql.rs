//! [`MySqlDatabases`]: one MySQL / MariaDB database per tenant, on named servers.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, MySql};
use tenancy_core::{TenancyError, TenantId};

use crate::database::backend::{DatabaseBackend, sealed::Provision};
use crate::database::name::{DatabaseNaming, naming_error};
use crate::database::servers::Servers;
use crate::error::{MigrationError, step_error, store_error};
use crate::ident::Ident;
use crate::migrate::HistoryEntry;
use crate::migrate::TenantMigrations;
use crate::migrate::apply::{apply_pending, read_history};
use crate::storage::DatabaseLocation;

/// Database-per-tenant storage on MySQL / MariaDB: `CREATE DATABASE` and the
/// tenant migrations, on one or more named servers.
///
/// Each server is given by server-level connect options (user, host, port;
/// no database); tenant databases are named by a [`DatabaseNaming`] (default
/// `tenant_<id>`), always back-quoted. MySQL cannot rename a database, so a
/// renamed tenant keeps its database name (the registry records it), and a
/// new tenant whose natural name is still taken that way gets a
/// `tenant_<id>_<token>` name. MySQL commits DDL implicitly: a creation whose
/// migrations fail drops the database again, and a failed migration of an
/// existing tenant leaves it marked dirty, as sqlx's migrator does.
///
/// ```no_run
/// use std::str::FromStr;
/// use sqlx::mysql::MySqlConnectOptions;
/// use tenancy_sqlx::Ident;
/// use tenancy_sqlx::database::MySqlDatabases;
///
/// let databases = MySqlDatabases::new(
///     Ident::new("main")?,
///     MySqlConnectOptions::from_str("mysql://app@db1.internal")?,
/// )
/// .server(Ident::new("eu2")?, MySqlConnectOptions::from_str("mysql://app@db2.internal")?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct MySqlDatabases {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    servers: Servers<MySqlConnectOptions>,
    naming: DatabaseNaming,
    /// Small pools for DDL, one per server, created on first use.
    admin: Arc<Mutex<BTreeMap<Ident, MySqlPool>>>,
}

impl MySqlDatabases {
    /// Tenant databases on the server `options` (no database selected),
    /// under the name `default`.
    pub fn new(default: Ident, options: MySqlConnectOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                servers: Servers::new(default, options),
                naming: DatabaseNaming::default(),
                admin: Arc::default(),
            }),
        }
    }

    /// Adds the server `options` under the name `name`.
    #[must_use]
    pub fn server(mut self, name: Ident, options: MySqlConnectOptions) -> Self {
        Arc::make_mut(&mut self.inner).servers.insert(name, options);
        self
    }

    /// Names tenant databases with `naming` (default prefix `tenant_`).
    #[must_use]
    pub fn naming(mut self, naming: DatabaseNaming) -> Self {
        Arc::make_mut(&mut self.inner).naming = naming;
        self
    }

    fn admin(&self, server: &Ident) -> Result<MySqlPool, TenancyError> {
        let mut pools = self
            .inner
            .admin
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(pool) = pools.get(server) {
            return Ok(pool.clone());
        }
        let options = self.inner.servers.get(server)?.clone();
        let pool = MySqlPoolOptions::new()
            .max_connections(2)
            .min_connections(0)
            .idle_timeout(Duration::from_secs(30))
            .acquire_timeout(Duration::from_secs(30))
            .connect_lazy_with(options);
        pools.insert(server.clone(), pool.clone());
        Ok(pool)
    }

    async fn migrate_database(
        &self,
        location: &DatabaseLocation,
        migrations: &TenantMigrations,
    ) -> Result<Vec<i64>, MigrationError> {
        let options = self.connect_options(location).map_err(|error| {
            MigrationError::Database(sqlx::Error::Configuration(Box::new(error)))
        })?;
        let mut conn = options.connect().await?;
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
        let options = self.connect_options(location).map_err(|error| {
            MigrationError::Database(sqlx::Error::Configuration(Box::new(error)))
        })?;
        let mut conn = options.connect().await?;
        let history = read_history(&mut conn, migrations).await;
        let _closed = conn.close().await;
        history
    }
}

impl DatabaseBackend for MySqlDatabases {
    type Database = MySql;

    fn name(&self) -> &'static str {
        "mysql"
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
    ) -> Result<MySqlConnectOptions, TenancyError> {
        let server = self.inner.servers.get(location.server())?;
        Ok(server.clone().database(location.database().as_str()))
    }
}

impl Provision for MySqlDatabases {
    fn location_for<'a>(
        &'a self,
        server: &'a Ident,
        id: &'a TenantId,
    ) -> BoxFuture<'a, Result<DatabaseLocation, TenancyError>> {
        async move {
            let naming = &self.inner.naming;
            let natural = format!("{}{id}", naming.prefix());
            let name = match naming.database_for(id) {
                Ok(name) => name,
                // Too long for the prefix: MySQL names are decoupled from ids anyway.
                Err(_) => naming
                    .unique_for(id, &crate::database::name::token())
                    .map_err(|error| naming_error(id, &natural, error))?,
            };
            let taken: Option<String> = sqlx::query_scalar(
                "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            )
            .bind(name.as_str())
            .fetch_optional(&self.admin(server)?)
            .await
            .map_err(store_error)?;
            let name = if taken.is_some() {
                // Still held by a renamed tenant (or by something else): never adopt it.
                naming
                    .unique_for(id, &crate::database::name::token())
                    .map_err(|error| naming_error(id, &natural, error))?
            } else {
                name
            };
            Ok(DatabaseLocation::new(server.clone(), name))
        }
        .boxed()
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
            let admin = self.admin(location.server())?;
            let database = location.database();
            sqlx::raw_sql(AssertSqlSafe(format!(
                "CREATE DATABASE {} CHARACTER SET utf8mb4",
                database.backquoted()
            )))
            .execute(&admin)
            .await
            .map_err(|error| {
                step_error(error, |source| TenancyError::SchemaCreation {
                    tenant: tenant.clone(),
                    schema: location.to_string(),
                    source,
                })
            })?;
            if let Err(error) = self.migrate_database(location, migrations).await {
                let dropped = sqlx::raw_sql(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {}",
                    database.backquoted()
                )))
                .execute(&admin)
                .await;
                if let Err(dropped) = dropped {
                    tracing::error!(database = %location, error = %dropped, "could not drop a half-created tenant database");
                }
                return Err(step_error(error, |source| TenancyError::TableCreation {
                    tenant: tenant.clone(),
                    source,
                }));
            }
            Ok(())
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
                "DROP DATABASE IF EXISTS {}",
                location.database().backquoted()
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

    fn migrate<'a>(
        &'a self,
        location: &'a DatabaseLocation,
        migrations: &'a TenantMigrations,
    ) -> BoxFuture<'a, Result<Vec<i64>, MigrationError>> {
        self.migrate_database(location, migrations).boxed()
    }

    /// `INSERT … SELECT` across databases works within one server only.
    fn copies_between_servers(&self) -> bool {
        false
    }

    fn row_counts<'a>(
        &'a self,
        location: &'a DatabaseLocation,
        history: &'a str,
    ) -> BoxFuture<'a, Result<BTreeMap<String, i64>, sqlx::Error>> {
        async move {
            let options = self
                .connect_options(location)
                .map_err(|error| sqlx::Error::Configuration(Box::new(error)))?;
            let mut conn = options.connect().await?;
            let counts =
                super::copy::row_counts_mysql(&mut conn, location.database().as_str(), history)
                    .await;
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
            if from.server() != to.server() {
                return Err(sqlx::Error::Configuration(
                    "copying a tenant database between MySQL servers is not supported \
                     (dump and restore it, then record its new location)"
                        .into(),
                ));
            }
            let options = self
                .inner
                .servers
                .get(to.server())
                .map_err(|error| sqlx::Error::Configuration(Box::new(error)))?
                .clone();
            let mut conn = options.connect().await?;
            let copied = super::copy::copy_mysql(
                &mut conn,
                from.database().as_str(),
                to.database().as_str(),
                history,
            )
            .await;
            let _closed = conn.close().await;
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

impl fmt::Debug for MySqlDatabases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let servers: Vec<&Ident> = self.inner.servers.names().collect();
        f.debug_struct("MySqlDatabases")
            .field("servers", &servers)
            .field("default", self.inner.servers.default_name())
            .field("naming", &self.inner.naming)
            .finish_non_exhaustive()
    }
}
