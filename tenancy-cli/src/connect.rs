//! The standalone `tenancy`'s connection options: a registry URL, an
//! isolation mode and a migrations folder make the [`Admin`].

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use sqlx::migrate::Migrator;
use sqlx::mysql::MySqlConnectOptions;
use sqlx::postgres::PgConnectOptions;
use tenancy_core::TenancyError;
use tenancy_sqlx::database::{
    DatabaseBackend, DatabaseUrlTemplate, MySqlDatabases, PgDatabases, PoolConfig, SqliteDatabases,
    UrlBackend,
};
use tenancy_sqlx::shared::keyed::{
    MySqlSharedManager, MySqlSharedPool, SqliteSharedManager, SqliteSharedPool,
};
use tenancy_sqlx::shared::rls::RlsManager;
use tenancy_sqlx::{
    AnyRegistry, DatabaseManager, Ident, RlsPool, SchemaManager, SchemaPool, TenantLifecycle,
    TenantMigrations, TenantPools,
};

use crate::Admin;

/// Where tenants live and how they are made: the standalone `tenancy`'s
/// options, read from the environment variables the items example app
/// reads too (`TENANCY_DATABASE_URL`, `TENANCY_ISOLATION`, …).
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Registry database: postgres://…, mysql://…, mariadb://… or sqlite://….
    #[arg(long, env = "TENANCY_DATABASE_URL", hide_env_values = true)]
    pub database_url: String,

    /// Behind a transaction pooler (PgBouncer): the direct Postgres URL,
    /// used instead of --database-url (administration needs a session).
    #[arg(long, env = "TENANCY_DIRECT_DATABASE_URL", hide_env_values = true)]
    pub direct_database_url: Option<String>,

    /// Isolation mode: a schema, a database, or shared tables per tenant
    /// [default: schema on Postgres, database otherwise].
    #[arg(long, env = "TENANCY_ISOLATION", value_enum)]
    pub isolation: Option<Isolation>,

    /// The tenant migrations: a folder of sqlx migrations
    /// (`<version>_<description>.sql`).
    #[arg(long, env = "TENANCY_MIGRATIONS", value_name = "DIR")]
    pub migrations: PathBuf,

    /// Database mode: where tenant databases live, `{tenant}` standing for
    /// the name made from the id (`postgres://db1/app_{tenant}`,
    /// `sqlite://./data/tenants/{tenant}.db`) [default: beside the registry].
    #[arg(long, env = "TENANCY_TENANT_DATABASE_URL", hide_env_values = true)]
    pub tenant_database_url: Option<String>,

    /// Database mode: another server for tenant databases, `NAME=URL` with
    /// the same `{tenant}` name as the main URL (`second=postgres://db2/app_{tenant}`,
    /// a directory on SQLite); the main one is `default` (`local` on
    /// SQLite). Repeatable.
    #[arg(long = "server", value_name = "NAME=URL")]
    pub servers: Vec<String>,

    /// Shared mode: the shared tables holding tenant rows (a tenant's rows
    /// go with it on delete). Repeatable, or comma-separated.
    #[arg(long = "table", env = "TENANCY_SHARED_TABLES", value_delimiter = ',')]
    pub tables: Vec<String>,
}

/// An isolation mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[non_exhaustive]
pub enum Isolation {
    /// A Postgres schema per tenant.
    Schema,
    /// A database per tenant (a file on SQLite).
    Database,
    /// Shared tables with a tenant column (row-level security on Postgres).
    Shared,
}

/// Registry connections: enough for a default migrate run's concurrency.
const REGISTRY_CONNECTIONS: u32 = 10;

impl ConnectArgs {
    /// Connects the registry, reads the migrations and builds the mode's
    /// manager. `Configuration` errors name what is missing or wrong.
    pub async fn connect(&self) -> Result<Admin, TenancyError> {
        let migrations = self.read_migrations().await?;
        let registry = AnyRegistry::connect_with(self.registry_url(), REGISTRY_CONNECTIONS).await?;
        let isolation = self.isolation.unwrap_or(match &registry {
            AnyRegistry::Postgres(_) => Isolation::Schema,
            _ => Isolation::Database,
        });
        let lifecycle: Arc<dyn TenantLifecycle> = match (&registry, isolation) {
            (AnyRegistry::Postgres(pg), Isolation::Schema) => {
                let schemas = SchemaPool::for_registry(pg);
                let manager = Arc::new(SchemaManager::new(registry.clone(), schemas, migrations));
                return Ok(Admin::new(manager.clone()).with_spares(manager));
            }
            (_, Isolation::Schema) => {
                return Err(configuration(
                    "schema isolation needs a PostgreSQL registry",
                ));
            }
            (_, Isolation::Database) => return self.database_mode(&registry, migrations),
            (AnyRegistry::Postgres(pg), Isolation::Shared) => {
                let rls = RlsPool::new(pg.connections().clone()).tables(self.shared_tables()?);
                // The role tenant queries run as; `migrate` protects the tables for it.
                rls.setup_role().await?;
                Arc::new(RlsManager::new(registry.clone(), rls, migrations))
            }
            (AnyRegistry::MySql(mysql), Isolation::Shared) => {
                let shared =
                    MySqlSharedPool::new(mysql.pool().clone()).tables(self.shared_tables()?);
                Arc::new(MySqlSharedManager::new(
                    registry.clone(),
                    shared,
                    migrations,
                ))
            }
            (AnyRegistry::Sqlite(sqlite), Isolation::Shared) => {
                let shared =
                    SqliteSharedPool::new(sqlite.pool().clone()).tables(self.shared_tables()?);
                Arc::new(SqliteSharedManager::new(
                    registry.clone(),
                    shared,
                    migrations,
                ))
            }
            _ => {
                return Err(configuration(
                    "this build does not support the registry's backend",
                ));
            }
        };
        Ok(Admin::new(lifecycle))
    }

    /// The registry URL administration uses: the direct one when set.
    fn registry_url(&self) -> &str {
        self.direct_database_url
            .as_deref()
            .filter(|url| !url.is_empty())
            .unwrap_or(&self.database_url)
    }

    /// The migrations folder, read and checked.
    async fn read_migrations(&self) -> Result<TenantMigrations, TenancyError> {
        let folder = &self.migrations;
        if !folder.is_dir() {
            return Err(configuration(format!(
                "--migrations {}: no such folder",
                folder.display()
            )));
        }
        let migrator = Migrator::new(folder.as_path()).await.map_err(|error| {
            configuration(format!("--migrations {}: {error}", folder.display()))
        })?;
        TenantMigrations::new(&migrator)
    }

    /// Database mode: tenant databases where the templates say, on the
    /// server `default` and the `--server`s.
    fn database_mode(
        &self,
        registry: &AnyRegistry,
        migrations: TenantMigrations,
    ) -> Result<Admin, TenancyError> {
        let template = DatabaseUrlTemplate::explicit_or_beside(
            self.tenant_database_url.as_deref(),
            self.registry_url(),
        )
        .map_err(|error| configuration(format!("--tenant-database-url: {error}")))?;
        let servers = self.servers(&template)?;
        let naming = template.naming()?;
        let pools = PoolConfig::new();
        let default = Ident::new("default")?;
        let registry = registry.clone();
        Ok(match template.backend() {
            UrlBackend::Postgres => {
                let mut databases = PgDatabases::new(default, pg_server(&template)?);
                for (name, server) in &servers {
                    untaken(&databases, name)?;
                    databases = databases.server(name.clone(), pg_server(server)?);
                }
                fleet(DatabaseManager::new(
                    registry,
                    TenantPools::new(databases.naming(naming), pools),
                    migrations,
                ))
            }
            UrlBackend::MySql => {
                let mut databases = MySqlDatabases::new(default, mysql_server(&template)?);
                for (name, server) in &servers {
                    untaken(&databases, name)?;
                    databases = databases.server(name.clone(), mysql_server(server)?);
                }
                fleet(DatabaseManager::new(
                    registry,
                    TenantPools::new(databases.naming(naming), pools),
                    migrations,
                ))
            }
            UrlBackend::Sqlite => {
                let mut databases = SqliteDatabases::new(template.directory()?)?;
                for (name, server) in &servers {
                    untaken(&databases, name)?;
                    databases = databases.directory(name.clone(), server.directory()?)?;
                }
                fleet(DatabaseManager::new(
                    registry,
                    TenantPools::new(databases.naming(naming), pools),
                    migrations,
                ))
            }
            _ => return Err(configuration("unsupported tenant database URL")),
        })
    }

    /// The `--server NAME=URL`s: same backend and database naming as the
    /// main template, names unique and not `default`.
    fn servers(
        &self,
        main: &DatabaseUrlTemplate,
    ) -> Result<Vec<(Ident, DatabaseUrlTemplate)>, TenancyError> {
        let mut servers: Vec<(Ident, DatabaseUrlTemplate)> = Vec::new();
        for entry in &self.servers {
            let (name, url) = entry.split_once('=').ok_or_else(|| {
                // The value is not echoed: it may hold a password.
                configuration(
                    "--server: expected NAME=URL (e.g. second=postgres://db2/app_{tenant})",
                )
            })?;
            let name = Ident::new(name.trim())?;
            let template = DatabaseUrlTemplate::parse(url.trim())
                .map_err(|error| configuration(format!("--server {name}: {error}")))?;
            if template.backend() != main.backend()
                || template.naming()?.prefix() != main.naming()?.prefix()
            {
                return Err(configuration(format!(
                    "--server {name}: its URL must name the same backend and the same \
                     database name before {{tenant}} as the main one ({main})"
                )));
            }
            if servers.iter().any(|(known, _)| *known == name) {
                return Err(configuration(format!("--server {name}: the name is taken")));
            }
            servers.push((name, template));
        }
        Ok(servers)
    }

    /// `--table`s as identifiers; shared mode needs at least one.
    fn shared_tables(&self) -> Result<Vec<Ident>, TenancyError> {
        if self.tables.is_empty() {
            return Err(configuration(
                "shared isolation needs its tables: --table NAME (or TENANCY_SHARED_TABLES)",
            ));
        }
        self.tables
            .iter()
            .map(|table| Ident::new(table.trim()).map_err(TenancyError::from))
            .collect()
    }
}

/// The admin of a database-mode manager: its lifecycle and its servers.
fn fleet<B: DatabaseBackend>(manager: DatabaseManager<B>) -> Admin {
    let manager = Arc::new(manager);
    Admin::new(manager.clone()).with_fleet(manager)
}

/// `Configuration` when `name` is the main server's name.
fn untaken(databases: &impl DatabaseBackend, name: &Ident) -> Result<(), TenancyError> {
    if databases.has_server(name) {
        return Err(configuration(format!(
            "--server {name}: the name is the main server's ({})",
            databases.default_server()
        )));
    }
    Ok(())
}

/// The maintenance server of a Postgres template.
fn pg_server(template: &DatabaseUrlTemplate) -> Result<PgConnectOptions, TenancyError> {
    template.server_url()?.parse().map_err(configuration_error)
}

/// The server of a MySQL / MariaDB template.
fn mysql_server(template: &DatabaseUrlTemplate) -> Result<MySqlConnectOptions, TenancyError> {
    template
        .server_url()?
        .replacen("mariadb:", "mysql:", 1)
        .parse()
        .map_err(configuration_error)
}

fn configuration(message: impl Into<String>) -> TenancyError {
    TenancyError::Configuration {
        message: message.into(),
    }
}

fn configuration_error(error: impl std::fmt::Display) -> TenancyError {
    configuration(error.to_string())
}
