//! [`RegistryConfig`]: where a registry keeps its tables and how it notifies.

use std::time::Duration;

use tenancy_core::TenancyError;

use crate::ident::Ident;
use crate::storage::SchemaNaming;

/// The longest registry table name: constraint names append up to 13 bytes and
/// must stay within Postgres' 63-byte (MySQL's 64-byte) limit, so they are
/// never truncated.
const MAX_TABLE_LEN: usize = 50;

/// Names and settings of a registry, on every backend.
///
/// - Tables: on Postgres ([`PgRegistry`](crate::registry::PgRegistry)) `tenants`,
///   `domains` and `spare_schemas` in the schema `tenancy`; on MySQL /
///   MariaDB and SQLite ([`MySqlRegistry`](crate::registry::MySqlRegistry),
///   [`SqliteRegistry`](crate::registry::SqliteRegistry)) `tenancy_tenants`
///   and `tenancy_domains` in the pool's database — unless set here.
/// - Postgres only: the registry schema, the spare-schemas table, the
///   `LISTEN/NOTIFY` channel (`tenancy_registry`) and the naming of tenant
///   schemas ([`SchemaNaming::default`]: `tenant_<id>`); the other backends
///   ignore them.
/// - MySQL / MariaDB and SQLite only: the change log other processes poll
///   (table `tenancy_changes`, polled every 250 ms, rows kept 10 minutes);
///   Postgres ignores them, its changes travel by `NOTIFY`.
///
/// ```
/// use tenancy_sqlx::schema::SchemaNaming;
/// use tenancy_sqlx::{Ident, RegistryConfig};
///
/// let config = RegistryConfig::new()
///     .schema(Ident::new("control")?)
///     .tenants_table(Ident::new("customers")?)
///     .channel(Ident::new("customers_changed")?)
///     .naming(SchemaNaming::with_prefix("customer_")?);
/// assert_eq!(config.schema_name().as_str(), "control");
/// assert_eq!(config.tenants_table_name().map(Ident::as_str), Some("customers"));
/// assert_eq!(config.domains_table_name(), None, "the backend's default");
/// # Ok::<(), tenancy_sqlx::InvalidIdentifier>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct RegistryConfig {
    schema: Ident,
    tenants: Option<Ident>,
    domains: Option<Ident>,
    spares: Ident,
    changes: Ident,
    poll_interval: Duration,
    change_retention: Duration,
    pub(crate) channel: Ident,
    pub(crate) naming: SchemaNaming,
}

/// Whose default table names apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableDefaults {
    /// Postgres: `tenants` and `domains` (and `spare_schemas`), in the
    /// registry schema.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Postgres,
    /// MySQL / MariaDB and SQLite: `tenancy_tenants` and `tenancy_domains`,
    /// in the pool's database.
    #[cfg_attr(not(any(feature = "mysql", feature = "sqlite")), allow(dead_code))]
    Sql,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            schema: Ident::from_static("tenancy"),
            tenants: None,
            domains: None,
            spares: Ident::from_static("spare_schemas"),
            changes: Ident::from_static("tenancy_changes"),
            poll_interval: Duration::from_millis(250),
            change_retention: Duration::from_secs(10 * 60),
            channel: Ident::from_static("tenancy_registry"),
            naming: SchemaNaming::default(),
        }
    }
}

impl RegistryConfig {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The schema holding the registry tables (Postgres; created if missing;
    /// may be `public`).
    pub fn schema(mut self, schema: Ident) -> Self {
        self.schema = schema;
        self
    }

    /// The tenants table.
    pub fn tenants_table(mut self, table: Ident) -> Self {
        self.tenants = Some(table);
        self
    }

    /// The domains table.
    pub fn domains_table(mut self, table: Ident) -> Self {
        self.domains = Some(table);
        self
    }

    /// The table listing pre-provisioned spare schemas (Postgres).
    pub fn spares_table(mut self, table: Ident) -> Self {
        self.spares = table;
        self
    }

    /// The change log table (MySQL / MariaDB, SQLite): one row per change,
    /// which every process's [`ChangePoller`](crate::registry::ChangePoller)
    /// reads.
    pub fn changes_table(mut self, table: Ident) -> Self {
        self.changes = table;
        self
    }

    /// How often a [`ChangePoller`](crate::registry::ChangePoller) reads the
    /// change log (MySQL / MariaDB, SQLite; default 250 ms, at least 10 ms):
    /// the longest another process's change goes unseen, plus one query.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(10));
        self
    }

    /// How long change log rows are kept (default 10 minutes, at least one
    /// minute). A poller that could not read the log for longer (its
    /// database unreachable) forgets every cached tenant when it reads again.
    pub fn change_retention(mut self, retention: Duration) -> Self {
        self.change_retention = retention.max(Duration::from_secs(60));
        self
    }

    /// The `LISTEN/NOTIFY` channel for change notifications (Postgres).
    pub fn channel(mut self, channel: Ident) -> Self {
        self.channel = channel;
        self
    }

    /// How tenant ids map to schema names (Postgres schema mode).
    pub fn naming(mut self, naming: SchemaNaming) -> Self {
        self.naming = naming;
        self
    }

    /// The registry schema (Postgres).
    pub fn schema_name(&self) -> &Ident {
        &self.schema
    }

    /// The tenants table, if set (otherwise the backend's default).
    pub fn tenants_table_name(&self) -> Option<&Ident> {
        self.tenants.as_ref()
    }

    /// The domains table, if set (otherwise the backend's default).
    pub fn domains_table_name(&self) -> Option<&Ident> {
        self.domains.as_ref()
    }

    /// The change log table (MySQL / MariaDB, SQLite).
    pub fn changes_table_name(&self) -> &Ident {
        &self.changes
    }

    /// How often the change log is polled (MySQL / MariaDB, SQLite).
    #[cfg_attr(not(any(feature = "mysql", feature = "sqlite")), allow(dead_code))]
    pub(crate) fn polling(&self) -> Duration {
        self.poll_interval
    }

    /// How long change log rows are kept (MySQL / MariaDB, SQLite).
    #[cfg_attr(not(any(feature = "mysql", feature = "sqlite")), allow(dead_code))]
    pub(crate) fn retention(&self) -> Duration {
        self.change_retention
    }

    /// The notification channel (Postgres).
    pub fn channel_name(&self) -> &Ident {
        &self.channel
    }

    /// The tenant schema naming (Postgres schema mode).
    pub fn schema_naming(&self) -> &SchemaNaming {
        &self.naming
    }

    /// The tenants table, or the default of `defaults`.
    pub(crate) fn tenants(&self, defaults: TableDefaults) -> Ident {
        self.tenants.clone().unwrap_or_else(|| match defaults {
            TableDefaults::Postgres => Ident::from_static("tenants"),
            TableDefaults::Sql => Ident::from_static("tenancy_tenants"),
        })
    }

    /// The domains table, or the default of `defaults`.
    pub(crate) fn domains(&self, defaults: TableDefaults) -> Ident {
        self.domains.clone().unwrap_or_else(|| match defaults {
            TableDefaults::Postgres => Ident::from_static("domains"),
            TableDefaults::Sql => Ident::from_static("tenancy_domains"),
        })
    }

    /// The spare-schemas table (Postgres).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn spares(&self) -> &Ident {
        &self.spares
    }

    /// Checks the table names the backend of `defaults` uses.
    #[cfg_attr(
        not(any(feature = "postgres", feature = "mysql", feature = "sqlite")),
        allow(dead_code)
    )]
    pub(crate) fn validate(&self, defaults: TableDefaults) -> Result<(), TenancyError> {
        let tenants = self.tenants(defaults);
        let domains = self.domains(defaults);
        let mut tables = vec![&tenants, &domains];
        match defaults {
            TableDefaults::Postgres => tables.push(&self.spares),
            TableDefaults::Sql => tables.push(&self.changes),
        }
        for table in &tables {
            if table.as_str().len() > MAX_TABLE_LEN {
                return Err(TenancyError::Configuration {
                    message: format!(
                        "the registry table name `{table}` is longer than {MAX_TABLE_LEN} bytes"
                    ),
                });
            }
        }
        let distinct = tables
            .iter()
            .enumerate()
            .all(|(i, a)| tables.iter().skip(i + 1).all(|b| a != b));
        if !distinct {
            return Err(TenancyError::Configuration {
                message: "the registry tables need three different names".to_owned(),
            });
        }
        Ok(())
    }
}
