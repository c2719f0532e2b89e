//! Configuration from environment variables (and matching flags), with `--help`.

use std::net::SocketAddr;

use clap::{Parser, ValueEnum};
use tenancy_sqlx::database::UrlBackend;

/// How tenants' data is kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Isolation {
    /// One Postgres schema per tenant (Postgres only).
    Schema,
    /// One database per tenant (a file per tenant on SQLite).
    Database,
    /// Shared tables with a `tenant_id` column (row-level security on Postgres).
    Shared,
}

/// The database backend, from the scheme of `TENANCY_DATABASE_URL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `mysql://` or `mariadb://`.
    MySql,
    /// `sqlite://` or `sqlite:`.
    Sqlite,
}

/// The `items` example app: a multi-tenant JSON service.
///
/// Every option can also be given by its environment variable.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "items",
    version,
    about,
    long_about = None,
    after_help = "Secrets come from the environment only:\n  \
                  TENANCY_ADMIN_TOKEN  bearer token for /admin [default: unset, admin API disabled]"
)]
pub struct Config {
    /// Address to bind (port 0 picks a free port; the address is printed).
    #[arg(long, env = "TENANCY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Registry database: postgres://…, mysql://… or sqlite://….
    #[arg(
        long,
        env = "TENANCY_DATABASE_URL",
        hide_env_values = true,
        default_value = "sqlite://./data/registry.db"
    )]
    pub database_url: String,

    /// Isolation mode [default: schema on Postgres, database otherwise].
    #[arg(long, env = "TENANCY_ISOLATION", value_enum)]
    pub isolation: Option<Isolation>,

    /// For database mode: URL template of tenant databases, `{tenant}` replaced
    /// by a name derived from the tenant id [default: derived from the registry URL].
    #[arg(long, env = "TENANCY_TENANT_DATABASE_URL", hide_env_values = true)]
    pub tenant_database_url: Option<String>,

    /// Direct Postgres URL, when TENANCY_DATABASE_URL (and TENANCY_TENANT_DATABASE_URL)
    /// go through a transaction pooler such as PgBouncer: it carries LISTEN/NOTIFY,
    /// migrations and database administration [default: unset, no pooler].
    #[arg(long, env = "TENANCY_DIRECT_DATABASE_URL", hide_env_values = true)]
    pub direct_database_url: Option<String>,

    /// Comma-separated base domains: `{id}.{base}` is tenant `id`; a base and
    /// `www.{base}` are central hosts.
    #[arg(
        long,
        env = "TENANCY_BASE_DOMAINS",
        default_value = "localhost",
        value_delimiter = ','
    )]
    pub base_domains: Vec<String>,

    /// Path prefix: `{prefix}/{id}/rest` is tenant `id`, routed as `/rest`; empty disables.
    #[arg(long, env = "TENANCY_PATH_PREFIX", default_value = "/t")]
    pub path_prefix: String,

    /// Header whose value is a tenant id (e.g. X-Tenant-ID) [default: disabled].
    #[arg(long, env = "TENANCY_HEADER")]
    pub header: Option<String>,

    /// Bearer token for the /admin API [default: admin API disabled].
    /// Read from the environment only: a command-line flag would show the
    /// token in every process list.
    #[arg(skip = std::env::var("TENANCY_ADMIN_TOKEN").ok())]
    pub admin_token: Option<String>,

    /// Schema mode: serve each tenant schema from one of N sub-pools of the
    /// app's connections (1 = off; the default, the pool size, gives each
    /// sub-pool one connection). Keeps Postgres' per-connection catalog
    /// memory to a share of the tenants; see `SchemaPool::affinity`.
    #[arg(
        long,
        env = "TENANCY_SCHEMA_AFFINITY",
        default_value_t = super::POOL_SIZE,
        value_parser = clap::value_parser!(u32).range(1..=1000)
    )]
    pub schema_affinity: u32,

    /// PostgreSQL: close each connection of the app's pool (the registry's,
    /// which schema and shared mode use too) after this many seconds, so a
    /// backend's catalog caches (which Postgres never shrinks) hold only the
    /// tenants it served lately; 0 keeps sqlx's 30 minutes.
    /// Shorter bounds Postgres memory, at the cost of reconnecting and
    /// reloading catalog entries.
    #[arg(
        long,
        env = "TENANCY_CONNECTION_LIFETIME",
        default_value_t = 0,
        value_parser = clap::value_parser!(u64).range(0..=86_400)
    )]
    pub connection_lifetime: u64,

    /// Seed tenants acme and globex with 3 items each (1 or 0) [default: 1 when the registry is empty].
    #[arg(long, env = "TENANCY_SEED")]
    pub seed: Option<Seed>,
}

/// Whether to seed the demo tenants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Seed {
    /// Seed (when the tenants do not exist yet).
    #[value(name = "1", alias = "true", alias = "yes")]
    Yes,
    /// Do not seed.
    #[value(name = "0", alias = "false", alias = "no")]
    No,
}

/// A configuration that does not make sense.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl Config {
    /// The backend named by the registry URL's scheme.
    pub fn backend(&self) -> Result<Backend, ConfigError> {
        backend_of(&self.database_url)
    }

    /// The isolation mode, with the backend's default, checked against the backend.
    pub fn isolation(&self) -> Result<Isolation, ConfigError> {
        let backend = self.backend()?;
        let isolation = self.isolation.unwrap_or(match backend {
            Backend::Postgres => Isolation::Schema,
            Backend::MySql | Backend::Sqlite => Isolation::Database,
        });
        if isolation == Isolation::Schema && backend != Backend::Postgres {
            return Err(ConfigError(
                "TENANCY_ISOLATION=schema needs PostgreSQL (a MySQL schema is a database: use `database`)".into(),
            ));
        }
        Ok(isolation)
    }

    /// The path prefix, or `None` when disabled.
    pub fn path_prefix(&self) -> Option<&str> {
        Some(self.path_prefix.trim()).filter(|prefix| !prefix.is_empty())
    }

    /// The tenant-header name, or `None` when disabled.
    pub fn header(&self) -> Option<&str> {
        self.header
            .as_deref()
            .map(str::trim)
            .filter(|header| !header.is_empty())
    }

    /// The admin token, or `None` when the admin API is disabled.
    pub fn admin_token(&self) -> Option<&str> {
        self.admin_token
            .as_deref()
            .filter(|token| !token.is_empty())
    }

    /// The lifetime of a Postgres connection, when one is set.
    pub fn connection_lifetime(&self) -> Option<std::time::Duration> {
        (self.connection_lifetime > 0)
            .then(|| std::time::Duration::from_secs(self.connection_lifetime))
    }

    /// The direct Postgres URL, when the other URLs go through a transaction
    /// pooler; refused on other backends.
    pub fn direct_url(&self) -> Result<Option<&str>, ConfigError> {
        let direct = self
            .direct_database_url
            .as_deref()
            .filter(|url| !url.is_empty());
        match direct {
            Some(url)
                if self.backend()? != Backend::Postgres
                    || backend_of(url)? != Backend::Postgres =>
            {
                Err(ConfigError::new(
                    "TENANCY_DIRECT_DATABASE_URL is for a Postgres registry behind a transaction pooler; both URLs must be postgres://",
                ))
            }
            other => Ok(other),
        }
    }
}

/// The backend named by a URL's scheme.
pub fn backend_of(url: &str) -> Result<Backend, ConfigError> {
    match UrlBackend::of(url) {
        Some(UrlBackend::Postgres) => Ok(Backend::Postgres),
        Some(UrlBackend::MySql) => Ok(Backend::MySql),
        Some(UrlBackend::Sqlite) => Ok(Backend::Sqlite),
        _ => Err(ConfigError(format!(
            "TENANCY_DATABASE_URL must start with postgres://, mysql:// or sqlite:// (got scheme {:?})",
            url.split(':').next().unwrap_or_default()
        ))),
    }
}
