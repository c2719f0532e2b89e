//! [`SharedKey`]: the stable key that marks a tenant's rows in shared tables.

use std::fmt;
use std::sync::Arc;

use tenancy_core::TenancyError;

use crate::ident::{InvalidIdentifier, MAX_IDENT_LEN};

/// The value of the tenant column (`tenant_id` by default) in shared-schema
/// mode: a stable key the registry stores for each tenant, decoupled from the
/// tenant id.
///
/// - A rename changes the tenant id in the registry only; the key, and so every
///   data row, stays as it is.
/// - A new tenant gets a fresh random key ([`generate`](Self::generate): 128
///   bits from the operating system, as 32 hex digits), so a tenant that is
///   deleted and created again, or created under a renamed tenant's old id,
///   never sees rows written under an earlier key, and a key cannot be guessed
///   from an id.
/// - Keys are `a-z`, `0-9`, `_` and `-`, 1 to 63 bytes, so one can be written
///   as a SQL literal safely (Postgres sets it with `set_config` in the same
///   round trip as `BEGIN`); everywhere else it is bound as a parameter.
///
/// To adopt existing rows whose tenant column already holds some value (for
/// example the tenant id), create the tenant with that value as its key
/// (`RlsManager::create_with_key` and friends).
///
/// ```
/// use tenancy_sqlx::shared::SharedKey;
///
/// let key = SharedKey::generate()?;
/// assert_eq!(key.as_str().len(), 32);
/// assert_ne!(key, SharedKey::generate()?);
/// assert!(SharedKey::new("acme").is_ok());
/// assert!(SharedKey::new("x' OR '1'='1").is_err());
/// # Ok::<(), tenancy_core::TenancyError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SharedKey(Arc<str>);

impl SharedKey {
    /// Validates `key`.
    pub fn new(key: impl AsRef<str>) -> Result<Self, InvalidIdentifier> {
        let key = key.as_ref();
        if key.is_empty() {
            return Err(InvalidIdentifier::Empty);
        }
        if key.len() > MAX_IDENT_LEN {
            return Err(InvalidIdentifier::TooLong {
                name: key.to_owned(),
                len: key.len(),
            });
        }
        if !key
            .bytes()
            .all(|byte| matches!(byte, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
        {
            return Err(InvalidIdentifier::InvalidChar {
                name: key.to_owned(),
                allowed: "a-z, 0-9, _ and -",
            });
        }
        Ok(Self(Arc::from(key)))
    }

    /// A fresh random key: 128 bits from the operating system's generator.
    ///
    /// Fails (with [`TenancyError::Storage`]) only when the operating system
    /// cannot provide randomness.
    pub fn generate() -> Result<Self, TenancyError> {
        let mut bytes = [0_u8; 16];
        getrandom::fill(&mut bytes)
            .map_err(|error| TenancyError::storage(RandomnessError(error)))?;
        let mut key = String::with_capacity(32);
        for byte in bytes {
            key.push(hex_digit(byte >> 4));
            key.push(hex_digit(byte & 0x0f));
        }
        Ok(Self(Arc::from(key)))
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16).unwrap_or('0')
}

/// The operating system could not provide random bytes for a new key.
#[derive(Debug, thiserror::Error)]
#[error("the operating system could not provide random bytes for a tenant key: {0}")]
struct RandomnessError(getrandom::Error);

impl fmt::Display for SharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedKey({:?})", &*self.0)
    }
}

impl AsRef<str> for SharedKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for SharedKey {
    type Err = InvalidIdentifier;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_valid_and_distinct() {
        let keys: std::collections::HashSet<SharedKey> =
            (0..1000).map(|_| SharedKey::generate().unwrap()).collect();
        assert_eq!(keys.len(), 1000);
        for key in &keys {
            assert_eq!(SharedKey::new(key.as_str()).unwrap(), *key);
            assert_eq!(key.as_str().len(), 32);
        }
    }

    #[test]
    fn keys_are_validated() {
        assert!(SharedKey::new("").is_err());
        assert!(SharedKey::new("a".repeat(64)).is_err());
        assert!(SharedKey::new("A").is_err());
        assert!(SharedKey::new("a'b").is_err());
        assert!(SharedKey::new("a-b_c9").is_ok());
    }
}
