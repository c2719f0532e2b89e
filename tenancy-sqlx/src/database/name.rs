//! Tenant database names: [`DatabaseName`], where a database lives
//! ([`DatabaseLocation`]) and how tenant ids map to names ([`DatabaseNaming`]).

use std::fmt;
use std::sync::Arc;

use tenancy_core::TenantId;

use crate::ident::{Ident, InvalidIdentifier, MAX_IDENT_LEN, name_prefix};

/// Names no tenant database may take: the servers' own databases.
const RESERVED: &[&str] = &[
    "postgres",
    "template0",
    "template1",
    "mysql",
    "information_schema",
    "performance_schema",
    "sys",
];

/// A tenant database name (a Postgres or MySQL database, or the stem of a
/// SQLite file): `a-z`, `0-9`, `_` and `-`, 1 to 63 bytes, never a server's
/// own database (`postgres`, `template0`, `mysql`, `sys`, ...).
///
/// The grammar has no `.`, `/` or `\`, so a name used as a file name can
/// never leave its directory. Always quoted when it reaches SQL.
///
/// ```
/// use tenancy_sqlx::DatabaseName;
///
/// assert_eq!(DatabaseName::new("tenant_a-b")?.as_str(), "tenant_a-b");
/// assert!(DatabaseName::new("../etc/passwd").is_err());
/// assert!(DatabaseName::new("mysql").is_err());
/// # Ok::<(), tenancy_sqlx::InvalidIdentifier>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DatabaseName(Arc<str>);

impl DatabaseName {
    /// Validates `name`.
    pub fn new(name: impl AsRef<str>) -> Result<Self, InvalidIdentifier> {
        let name = name.as_ref();
        if name.is_empty() {
            return Err(InvalidIdentifier::Empty);
        }
        if name.len() > MAX_IDENT_LEN {
            return Err(InvalidIdentifier::TooLong {
                name: name.to_owned(),
                len: name.len(),
            });
        }
        if !name
            .bytes()
            .all(|byte| matches!(byte, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
        {
            return Err(InvalidIdentifier::InvalidChar {
                name: name.to_owned(),
                allowed: "a-z, 0-9, _ and -",
            });
        }
        if RESERVED.contains(&name) || name.starts_with("pg_") {
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

    /// The name quoted for Postgres (and SQLite): `"name"`.
    pub fn quoted(&self) -> String {
        crate::ident::quote_ident(&self.0)
    }

    /// The name quoted for MySQL / MariaDB: `` `name` ``.
    pub fn backquoted(&self) -> String {
        // The grammar has no backquote, so there is nothing to escape.
        format!("`{}`", self.0)
    }
}

impl fmt::Display for DatabaseName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DatabaseName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseName({:?})", &*self.0)
    }
}

impl AsRef<str> for DatabaseName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for DatabaseName {
    type Err = InvalidIdentifier;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// Where a tenant database lives: a named server (from the application's
/// configuration, so the registry never stores credentials) and a database
/// name on it. The registry stores it as `server/database`.
///
/// ```
/// use tenancy_sqlx::{DatabaseLocation, DatabaseName, Ident};
///
/// let location = DatabaseLocation::new(Ident::new("eu1")?, DatabaseName::new("tenant_acme")?);
/// assert_eq!(location.to_string(), "eu1/tenant_acme");
/// assert_eq!(location.to_string().parse::<DatabaseLocation>()?, location);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DatabaseLocation {
    server: Ident,
    database: DatabaseName,
    /// `server/database`, as the registry stores it.
    text: Arc<str>,
}

impl DatabaseLocation {
    /// `database` on `server`.
    pub fn new(server: Ident, database: DatabaseName) -> Self {
        let text = Arc::from(format!("{server}/{database}"));
        Self {
            server,
            database,
            text,
        }
    }

    /// `server/database`, as the registry stores it.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The server's name.
    pub fn server(&self) -> &Ident {
        &self.server
    }

    /// The database name.
    pub fn database(&self) -> &DatabaseName {
        &self.database
    }
}

impl fmt::Display for DatabaseLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for DatabaseLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseLocation({self})")
    }
}

impl std::str::FromStr for DatabaseLocation {
    type Err = InvalidIdentifier;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (server, database) = s.split_once('/').ok_or(InvalidIdentifier::InvalidChar {
            name: s.to_owned(),
            allowed: "`server/database`",
        })?;
        Ok(Self::new(Ident::new(server)?, DatabaseName::new(database)?))
    }
}

/// Maps tenant ids to database names one-to-one: `{prefix}{id}`.
///
/// The prefix (default `tenant_`) is `[a-z_][a-z0-9_]*` or empty. Tenant ids
/// never contain `_`, so names this crate derives for other purposes (the
/// Postgres template `{prefix}_template`, MySQL's de-duplicated names
/// `{prefix}{id}_{token}`) can never collide with a tenant's. An id too long
/// for the prefix is refused, not truncated.
///
/// ```
/// use tenancy_core::TenantId;
/// use tenancy_sqlx::DatabaseNaming;
///
/// let naming = DatabaseNaming::default();
/// assert_eq!(naming.database_for(&TenantId::new("acme")?)?.as_str(), "tenant_acme");
/// assert_eq!(naming.template()?.as_str(), "tenant__template");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DatabaseNaming {
    prefix: Arc<str>,
}

impl Default for DatabaseNaming {
    fn default() -> Self {
        Self {
            prefix: Arc::from("tenant_"),
        }
    }
}

impl DatabaseNaming {
    /// A naming with `prefix` (may be empty).
    pub fn with_prefix(prefix: impl AsRef<str>) -> Result<Self, InvalidIdentifier> {
        Ok(Self {
            prefix: name_prefix(prefix.as_ref())?,
        })
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The database of tenant `id`.
    pub fn database_for(&self, id: &TenantId) -> Result<DatabaseName, InvalidIdentifier> {
        DatabaseName::new(format!("{}{id}", self.prefix))
    }

    /// The tenant whose database is `name`, if `name` is a mapped name.
    pub fn tenant_for(&self, name: &DatabaseName) -> Option<TenantId> {
        let rest = name.as_str().strip_prefix(&*self.prefix)?;
        TenantId::new(rest).ok()
    }

    /// The Postgres template database: `{prefix}_template`.
    pub fn template(&self) -> Result<DatabaseName, InvalidIdentifier> {
        DatabaseName::new(format!("{}_template", self.prefix))
    }

    /// A name for tenant `id` that differs from [`database_for`](Self::database_for)
    /// (used where the natural name is still held by a renamed tenant).
    #[cfg(any(feature = "mysql", feature = "sqlite"))]
    pub(crate) fn unique_for(
        &self,
        id: &TenantId,
        token: &str,
    ) -> Result<DatabaseName, InvalidIdentifier> {
        let room = MAX_IDENT_LEN.saturating_sub(self.prefix.len() + token.len() + 1);
        let stem: String = id.as_str().chars().take(room).collect();
        DatabaseName::new(format!("{}{stem}_{token}", self.prefix))
    }
}

impl fmt::Debug for DatabaseNaming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseNaming")
            .field("prefix", &&*self.prefix)
            .finish()
    }
}

/// A short random token (8 hex digits) for de-duplicated names.
#[cfg(any(feature = "mysql", feature = "sqlite"))]
pub(crate) fn token() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default(),
    );
    format!("{:08x}", hasher.finish() & 0xffff_ffff)
}

/// `InvalidIdentifier` as a storage-creation error of `tenant`.
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub(crate) fn naming_error(
    tenant: &TenantId,
    name: &str,
    error: InvalidIdentifier,
) -> tenancy_core::TenancyError {
    tenancy_core::TenancyError::SchemaCreation {
        tenant: tenant.clone(),
        schema: name.to_owned(),
        source: Box::new(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_escape_a_directory_or_hit_server_databases() {
        for bad in [
            "..", "a/b", "a\\b", ".hidden", "A", "a b", "", "postgres", "pg_x",
        ] {
            assert!(DatabaseName::new(bad).is_err(), "{bad}");
        }
        let naming = DatabaseNaming::with_prefix("").unwrap();
        assert!(
            naming
                .database_for(&TenantId::new("mysql").unwrap())
                .is_err()
        );
        let id = TenantId::new("a-1").unwrap();
        let name = naming.database_for(&id).unwrap();
        assert_eq!(naming.tenant_for(&name), Some(id));
    }

    #[cfg(feature = "mysql")]
    #[test]
    fn derived_names_never_collide_with_tenant_names() {
        let naming = DatabaseNaming::default();
        let id = TenantId::new("a".repeat(63)).unwrap();
        assert!(naming.database_for(&id).is_err(), "too long: refused");
        let unique = naming.unique_for(&id, "0123abcd").unwrap();
        assert_eq!(unique.as_str().len(), MAX_IDENT_LEN);
        assert!(naming.tenant_for(&unique).is_none());
        assert!(naming.tenant_for(&naming.template().unwrap()).is_none());
    }

    #[test]
    fn locations_round_trip() {
        let location: DatabaseLocation = "main/tenant_a-b".parse().unwrap();
        assert_eq!(location.server().as_str(), "main");
        assert_eq!(location.database().as_str(), "tenant_a-b");
        assert!("main".parse::<DatabaseLocation>().is_err());
        assert!("main/../x".parse::<DatabaseLocation>().is_err());
        assert_eq!(location.database().backquoted(), "`tenant_a-b`");
    }
}
