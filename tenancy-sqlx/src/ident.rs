//! SQL identifiers: validated [`Ident`]s, [`InvalidIdentifier`], and quoting.
//!
//! Every identifier that reaches SQL text goes through [`Ident`] or one of
//! the storage names (`SchemaName`, `DatabaseName`, `SharedKey`), is
//! restricted to `a-z`, `0-9`, `_` (and `-` for storage names), and is always
//! written quoted. Nothing else is ever interpolated into SQL.

use std::fmt;
use std::sync::Arc;

use tenancy_core::TenancyError;

/// The longest identifier Postgres keeps (NAMEDATALEN - 1), in bytes.
pub(crate) const MAX_IDENT_LEN: usize = 63;

/// Why a string is not an acceptable identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidIdentifier {
    /// The identifier is empty.
    #[error("the identifier is empty")]
    Empty,
    /// The identifier is longer than 63 bytes.
    #[error("the identifier `{name}` is {len} bytes long (at most 63)")]
    TooLong {
        /// The rejected identifier.
        name: String,
        /// Its length in bytes.
        len: usize,
    },
    /// The identifier has a character outside the accepted set.
    #[error("the identifier `{name}` may only contain {allowed}")]
    InvalidChar {
        /// The rejected identifier.
        name: String,
        /// The accepted characters.
        allowed: &'static str,
    },
    /// The name is reserved (`public`, `information_schema`, `pg_*`, ...).
    #[error("the schema name `{name}` is reserved")]
    Reserved {
        /// The rejected name.
        name: String,
    },
}

impl From<InvalidIdentifier> for TenancyError {
    fn from(error: InvalidIdentifier) -> Self {
        TenancyError::Configuration {
            message: error.to_string(),
        }
    }
}

/// A validated SQL identifier: `[a-z_][a-z0-9_]*`, at most 63 bytes.
///
/// Used for the registry's schema, tables and notification channel. It is
/// always written quoted ([`quoted`](Self::quoted)).
///
/// ```
/// use tenancy_sqlx::Ident;
///
/// let table = Ident::new("tenants")?;
/// assert_eq!(table.quoted(), "\"tenants\"");
/// assert!(Ident::new("Tenants").is_err());
/// assert!(Ident::new("x; DROP TABLE y").is_err());
/// # Ok::<(), tenancy_sqlx::InvalidIdentifier>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ident(Arc<str>);

impl Ident {
    /// The longest identifier, in bytes: 63, what Postgres keeps
    /// (NAMEDATALEN - 1). Schema names, database names and shared keys have
    /// the same limit.
    pub const MAX_LEN: usize = MAX_IDENT_LEN;

    /// Validates `name`.
    pub fn new(name: impl AsRef<str>) -> Result<Self, InvalidIdentifier> {
        let name = name.as_ref();
        check_len(name)?;
        let mut bytes = name.bytes();
        let first_ok = bytes
            .next()
            .is_some_and(|byte| byte.is_ascii_lowercase() || byte == b'_');
        if !first_ok || !bytes.all(|byte| matches!(byte, b'a'..=b'z' | b'0'..=b'9' | b'_')) {
            return Err(InvalidIdentifier::InvalidChar {
                name: name.to_owned(),
                allowed: "a-z, 0-9 and _ (not starting with a digit)",
            });
        }
        Ok(Self(Arc::from(name)))
    }

    /// A compile-time constant identifier of this crate (checked in debug builds).
    pub(crate) fn from_static(name: &'static str) -> Self {
        debug_assert!(
            Self::new(name).is_ok(),
            "invalid built-in identifier {name}"
        );
        Self(Arc::from(name))
    }

    /// The identifier as written (unquoted).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The identifier quoted for SQL: `"name"`.
    pub fn quoted(&self) -> String {
        quote_ident(&self.0)
    }
}

/// Checks that `name` is 1 to 63 bytes long.
pub(crate) fn check_len(name: &str) -> Result<(), InvalidIdentifier> {
    if name.is_empty() {
        return Err(InvalidIdentifier::Empty);
    }
    if name.len() > MAX_IDENT_LEN {
        return Err(InvalidIdentifier::TooLong {
            name: name.to_owned(),
            len: name.len(),
        });
    }
    Ok(())
}

/// Quotes an identifier for SQL, doubling embedded quotes.
pub(crate) fn quote_ident(name: &str) -> String {
    quote_with(name, '"')
}

/// Encloses `text` in `quote`, doubling any `quote` inside: an identifier
/// read from a catalog (`"…"`, MySQL's `` `…` ``) or a literal (`'…'`).
pub(crate) fn quote_with(text: &str, quote: char) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push(quote);
    for ch in text.chars() {
        if ch == quote {
            quoted.push(quote);
        }
        quoted.push(ch);
    }
    quoted.push(quote);
    quoted
}

/// Quotes a string literal for SQL (standard-conforming strings), doubling quotes.
#[cfg(feature = "postgres")]
pub(crate) fn quote_literal(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('\'');
    for ch in text.chars() {
        if ch == '\'' {
            quoted.push('\'');
        }
        quoted.push(ch);
    }
    quoted.push('\'');
    quoted
}

/// Back-quotes a validated identifier for MySQL / MariaDB (`[a-z0-9_]`:
/// nothing to escape).
#[cfg(feature = "mysql")]
pub(crate) fn backquote(name: &str) -> String {
    format!("`{name}`")
}

/// Checks a prefix of schema or database names: empty, or a valid identifier
/// that does not start with the reserved `pg_`.
pub(crate) fn name_prefix(prefix: &str) -> Result<Arc<str>, InvalidIdentifier> {
    if !prefix.is_empty() {
        Ident::new(prefix)?;
        if prefix.starts_with("pg_") {
            return Err(InvalidIdentifier::Reserved {
                name: prefix.to_owned(),
            });
        }
    }
    Ok(Arc::from(prefix))
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ident({:?})", &*self.0)
    }
}

impl AsRef<str> for Ident {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Ident {
    type Err = InvalidIdentifier;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

#[cfg(all(test, feature = "postgres"))]
mod tests {
    use super::*;

    #[test]
    fn quoting_doubles_quotes() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
