//! Schema storage: [`SchemaName`], the one-to-one [`SchemaNaming`] from
//! tenant ids to schema names, and [`TenantSchema`] (what names a schema).

use std::fmt;
use std::sync::Arc;

use tenancy_core::{TenancyError, TenantId, TenantRecord};

#[cfg(feature = "postgres")]
use crate::ident::Ident;
#[cfg(feature = "postgres")]
use crate::ident::quote_literal;
use crate::ident::{InvalidIdentifier, check_len, name_prefix, quote_ident};

/// A tenant schema name: validated, never reserved, always quoted.
///
/// The grammar is `a-z`, `0-9`, `_` and `-`, 1 to 63 bytes; `public`,
/// `information_schema` and anything starting with `pg_` are refused. (That a
/// schema must not share its name with a role is checked against the database
/// when a tenant is created or renamed.) Cheap to clone.
///
/// ```
/// use tenancy_sqlx::schema::SchemaName;
///
/// let schema = SchemaName::new("tenant_a-b")?;
/// assert_eq!(schema.quoted(), "\"tenant_a-b\"");
/// assert!(SchemaName::new("public").is_err());
/// assert!(SchemaName::new("pg_catalog").is_err());
/// assert!(SchemaName::new("a\"b").is_err());
/// # Ok::<(), tenancy_sqlx::InvalidIdentifier>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SchemaName(Arc<str>);

impl SchemaName {
    /// Validates `name`.
    pub fn new(name: impl AsRef<str>) -> Result<Self, InvalidIdentifier> {
        let name = name.as_ref();
        check_len(name)?;
        if !name
            .bytes()
            .all(|byte| matches!(byte, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
        {
            return Err(InvalidIdentifier::InvalidChar {
                name: name.to_owned(),
                allowed: "a-z, 0-9, _ and -",
            });
        }
        if is_reserved_schema(name) {
            return Err(InvalidIdentifier::Reserved {
                name: name.to_owned(),
            });
        }
        Ok(Self(Arc::from(name)))
    }

    /// The name as written (unquoted).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name quoted as an identifier: `"name"`.
    pub fn quoted(&self) -> String {
        quote_ident(&self.0)
    }

    /// The `search_path` value for this schema, as a quoted SQL string literal.
    ///
    /// `pg_temp` is listed last so that temporary tables left on a pooled
    /// connection can never shadow the tenant's tables.
    #[cfg(feature = "postgres")]
    pub(crate) fn search_path_literal(&self, shared: &[Ident]) -> String {
        let mut path = self.quoted();
        for schema in shared {
            path.push_str(", ");
            path.push_str(&schema.quoted());
        }
        path.push_str(", pg_temp");
        quote_literal(&path)
    }
}

/// Whether Postgres or this crate reserves a schema name.
fn is_reserved_schema(name: &str) -> bool {
    name == "public" || name == "information_schema" || name.starts_with("pg_")
}

/// Maps tenant ids to schema names one-to-one: `{prefix}{id}`.
///
/// The prefix (default `tenant_`) is `[a-z_][a-z0-9_]*`; since tenant ids
/// never contain `_`, the mapping is injective for any prefix and a mapped name
/// can never collide with names this crate uses for spare schemas. An id too
/// long for the prefix (more than 63 bytes together) is refused rather than
/// truncated.
///
/// ```
/// use tenancy_core::TenantId;
/// use tenancy_sqlx::schema::SchemaNaming;
///
/// let naming = SchemaNaming::default();
/// let schema = naming.schema_for(&TenantId::new("select")?)?;
/// assert_eq!(schema.as_str(), "tenant_select");
/// assert_eq!(naming.tenant_for(&schema).map(|id| id.to_string()).as_deref(), Some("select"));
///
/// let bare = SchemaNaming::with_prefix("")?;
/// assert!(bare.schema_for(&TenantId::new("public")?).is_err(), "never `public`");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SchemaNaming {
    prefix: Arc<str>,
}

impl Default for SchemaNaming {
    fn default() -> Self {
        Self {
            prefix: Arc::from("tenant_"),
        }
    }
}

impl SchemaNaming {
    /// A naming with the given prefix (may be empty).
    pub fn with_prefix(prefix: impl AsRef<str>) -> Result<Self, InvalidIdentifier> {
        Ok(Self {
            prefix: name_prefix(prefix.as_ref())?,
        })
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The schema of tenant `id`.
    pub fn schema_for(&self, id: &TenantId) -> Result<SchemaName, InvalidIdentifier> {
        let mut name = String::with_capacity(self.prefix.len() + id.as_str().len());
        name.push_str(&self.prefix);
        name.push_str(id.as_str());
        SchemaName::new(name)
    }

    /// The tenant whose schema is `schema`, if `schema` is a mapped name.
    pub fn tenant_for(&self, schema: &SchemaName) -> Option<TenantId> {
        let rest = schema.as_str().strip_prefix(&*self.prefix)?;
        TenantId::new(rest).ok()
    }

    /// The name of a spare schema (pre-provisioned, not yet claimed) with suffix `token`.
    ///
    /// It contains `_spare_`, which no tenant id can produce.
    #[cfg(feature = "postgres")]
    pub(crate) fn spare(&self, token: &str) -> Result<SchemaName, InvalidIdentifier> {
        SchemaName::new(format!("{}_spare_{token}", self.prefix))
    }
}

impl fmt::Debug for SchemaNaming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaNaming")
            .field("prefix", &&*self.prefix)
            .finish()
    }
}

/// Something that names a tenant schema: a [`SchemaName`], a tenant id or record
/// (through a [`SchemaNaming`]), or a [`RegistryTenant`](crate::tenant::RegistryTenant)
/// (through the storage location the registry recorded).
///
/// ```
/// use tenancy_core::TenantId;
/// use tenancy_sqlx::schema::{SchemaNaming, TenantSchema};
///
/// let id = TenantId::new("acme")?;
/// assert_eq!(id.tenant_schema(&SchemaNaming::default())?.as_str(), "tenant_acme");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait TenantSchema {
    /// The schema of this tenant.
    fn tenant_schema(&self, naming: &SchemaNaming) -> Result<SchemaName, TenancyError>;
}

impl TenantSchema for SchemaName {
    fn tenant_schema(&self, _: &SchemaNaming) -> Result<SchemaName, TenancyError> {
        Ok(self.clone())
    }
}

impl TenantSchema for TenantId {
    fn tenant_schema(&self, naming: &SchemaNaming) -> Result<SchemaName, TenancyError> {
        Ok(naming.schema_for(self)?)
    }
}

impl TenantSchema for TenantRecord {
    fn tenant_schema(&self, naming: &SchemaNaming) -> Result<SchemaName, TenancyError> {
        self.id.tenant_schema(naming)
    }
}

impl<T: TenantSchema + ?Sized> TenantSchema for &T {
    fn tenant_schema(&self, naming: &SchemaNaming) -> Result<SchemaName, TenancyError> {
        (**self).tenant_schema(naming)
    }
}

impl<T: TenantSchema + ?Sized> TenantSchema for Arc<T> {
    fn tenant_schema(&self, naming: &SchemaNaming) -> Result<SchemaName, TenancyError> {
        (**self).tenant_schema(naming)
    }
}

impl fmt::Display for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SchemaName({:?})", &*self.0)
    }
}

impl AsRef<str> for SchemaName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for SchemaName {
    type Err = InvalidIdentifier;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awkward_tenant_ids_map_to_quoted_schemas() {
        let naming = SchemaNaming::default();
        for id in ["select", "user", "123", "a-b"] {
            let schema = naming.schema_for(&TenantId::new(id).unwrap()).unwrap();
            assert_eq!(schema.quoted(), format!("\"tenant_{id}\""));
            assert_eq!(naming.tenant_for(&schema).unwrap().as_str(), id);
        }
    }

    #[test]
    fn bare_naming_quotes_keywords_and_refuses_reserved() {
        let naming = SchemaNaming::with_prefix("").unwrap();
        assert_eq!(
            naming
                .schema_for(&TenantId::new("select").unwrap())
                .unwrap()
                .quoted(),
            "\"select\""
        );
        assert!(matches!(
            naming.schema_for(&TenantId::new("public").unwrap()),
            Err(InvalidIdentifier::Reserved { .. })
        ));
        let tricky = SchemaNaming::with_prefix("pub").unwrap();
        assert!(tricky.schema_for(&TenantId::new("lic").unwrap()).is_err());
    }

    #[test]
    fn too_long_ids_are_refused_not_truncated() {
        let naming = SchemaNaming::default();
        let id = TenantId::new("a".repeat(63)).unwrap();
        assert!(matches!(
            naming.schema_for(&id),
            Err(InvalidIdentifier::TooLong { len: 70, .. })
        ));
        let id = TenantId::new("a".repeat(56)).unwrap();
        assert!(naming.schema_for(&id).is_ok());
    }

    #[test]
    fn prefixes_are_validated() {
        assert!(SchemaNaming::with_prefix("pg_").is_err());
        assert!(SchemaNaming::with_prefix("Tenant").is_err());
        assert!(SchemaNaming::with_prefix("t\"; drop").is_err());
        assert!(SchemaNaming::with_prefix("t_").is_ok());
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn search_path_lists_pg_temp_last() {
        let schema = SchemaName::new("tenant_a-b").unwrap();
        assert_eq!(
            schema.search_path_literal(&[Ident::new("shared").unwrap()]),
            "'\"tenant_a-b\", \"shared\", pg_temp'"
        );
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn spare_names_cannot_collide_with_tenants() {
        let naming = SchemaNaming::default();
        let spare = naming.spare("0001").unwrap();
        assert!(naming.tenant_for(&spare).is_none());
        let bare = SchemaNaming::with_prefix("").unwrap();
        assert!(bare.tenant_for(&bare.spare("0001").unwrap()).is_none());
    }
}
