//! Database storage: a tenant [`DatabaseName`] and where it lives
//! ([`DatabaseLocation`]: a named server and a database on it).

use std::fmt;
use std::sync::Arc;

use crate::ident::{Ident, InvalidIdentifier, MAX_IDENT_LEN};

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
/// use tenancy_sqlx::database::DatabaseName;
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
/// use tenancy_sqlx::Ident;
/// use tenancy_sqlx::database::{DatabaseLocation, DatabaseName};
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
