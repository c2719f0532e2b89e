//! [`RegistryConfig`]: where the registry keeps its tables and how it notifies.

use tenancy_core::TenancyError;

use crate::ident::Ident;
use crate::storage::SchemaNaming;

/// The longest registry table name: constraint names append up to 13 bytes and
/// must stay within Postgres' 63-byte limit so they are never truncated.
const MAX_TABLE_LEN: usize = 50;

/// Names and settings of a [`PgRegistry`](crate::PgRegistry).
///
/// Defaults: schema `tenancy`, tables `tenants`, `domains` and `spare_schemas`,
/// notification channel `tenancy_registry`, tenant schemas named by
/// [`SchemaNaming::default`] (`tenant_<id>`).
///
/// ```
/// use tenancy_sqlx::{Ident, RegistryConfig, SchemaNaming};
///
/// let config = RegistryConfig::new()
///     .schema(Ident::new("control")?)
///     .tenants_table(Ident::new("customers")?)
///     .channel(Ident::new("customers_changed")?)
///     .naming(SchemaNaming::with_prefix("customer_")?);
/// assert_eq!(config.schema_name().as_str(), "control");
/// # Ok::<(), tenancy_sqlx::InvalidIdentifier>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct RegistryConfig {
    pub(crate) schema: Ident,
    pub(crate) tenants: Ident,
    pub(crate) domains: Ident,
    pub(crate) spares: Ident,
    pub(crate) channel: Ident,
    pub(crate) naming: SchemaNaming,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            schema: Ident::from_static("tenancy"),
            tenants: Ident::from_static("tenants"),
            domains: Ident::from_static("domains"),
            spares: Ident::from_static("spare_schemas"),
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

    /// The schema holding the registry tables (created if missing; may be `public`).
    pub fn schema(mut self, schema: Ident) -> Self {
        self.schema = schema;
        self
    }

    /// The tenants table.
    pub fn tenants_table(mut self, table: Ident) -> Self {
        self.tenants = table;
        self
    }

    /// The domains table.
    pub fn domains_table(mut self, table: Ident) -> Self {
        self.domains = table;
        self
    }

    /// The table listing pre-provisioned spare schemas.
    pub fn spares_table(mut self, table: Ident) -> Self {
        self.spares = table;
        self
    }

    /// The `LISTEN/NOTIFY` channel for change notifications.
    pub fn channel(mut self, channel: Ident) -> Self {
        self.channel = channel;
        self
    }

    /// How tenant ids map to schema names.
    pub fn naming(mut self, naming: SchemaNaming) -> Self {
        self.naming = naming;
        self
    }

    /// The registry schema.
    pub fn schema_name(&self) -> &Ident {
        &self.schema
    }

    /// The notification channel.
    pub fn channel_name(&self) -> &Ident {
        &self.channel
    }

    /// The tenant schema naming.
    pub fn schema_naming(&self) -> &SchemaNaming {
        &self.naming
    }

    pub(crate) fn validate(&self) -> Result<(), TenancyError> {
        let tables = [&self.tenants, &self.domains, &self.spares];
        for table in tables {
            if table.as_str().len() > MAX_TABLE_LEN {
                return Err(TenancyError::Configuration {
                    message: format!(
                        "the registry table name `{table}` is longer than {MAX_TABLE_LEN} bytes"
                    ),
                });
            }
        }
        if self.tenants == self.domains
            || self.tenants == self.spares
            || self.domains == self.spares
        {
            return Err(TenancyError::Configuration {
                message: "the registry tables need three different names".to_owned(),
            });
        }
        Ok(())
    }
}
