//! [`TenantId`]: the validated, normalised tenant identifier.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use smol_str::{SmolStr, StrExt};

/// A validated, lower-cased tenant identifier.
///
/// The grammar is a DNS label, so that a subdomain can always carry the id:
/// 1 to 63 characters of `a-z`, `0-9` and `-`, not starting or ending with `-`.
/// Upper-case ASCII input is lower-cased; anything else is refused with an
/// [`InvalidTenantId`]. Construction is the only place where input is checked,
/// so every other layer (SQL identifiers, file names, cache keys) can trust a
/// `TenantId`. Ids of up to 23 bytes are stored inline, so cloning
/// and parsing them do not allocate.
///
/// ```
/// use tenancy_core::TenantId;
///
/// let id = TenantId::new("Acme-42")?;
/// assert_eq!(id.as_str(), "acme-42");
/// assert!(TenantId::new("acme_corp").is_err());
/// assert!(TenantId::new("-acme").is_err());
/// # Ok::<(), tenancy_core::InvalidTenantId>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(SmolStr);

impl TenantId {
    /// The longest accepted id, in bytes (the limit of a DNS label).
    pub const MAX_LEN: usize = 63;

    /// Validates and normalises `input`.
    pub fn new(input: impl AsRef<str>) -> Result<Self, InvalidTenantId> {
        let text = input.as_ref();
        let has_upper = validate_label(text.as_bytes()).map_err(InvalidTenantId)?;
        Ok(Self::from_valid(text, has_upper))
    }

    /// Validates and normalises raw bytes, such as a header value.
    ///
    /// ```
    /// use tenancy_core::TenantId;
    ///
    /// assert_eq!(TenantId::from_bytes(b"GLOBEX")?.as_str(), "globex");
    /// assert!(TenantId::from_bytes(b"glob\xffex").is_err());
    /// # Ok::<(), tenancy_core::InvalidTenantId>(())
    /// ```
    pub fn from_bytes(input: &[u8]) -> Result<Self, InvalidTenantId> {
        let has_upper = validate_label(input).map_err(InvalidTenantId)?;
        // Validation guarantees ASCII, so the conversion cannot fail.
        let text = std::str::from_utf8(input).map_err(|_| InvalidTenantId(Reason::NotAscii))?;
        Ok(Self::from_valid(text, has_upper))
    }

    fn from_valid(text: &str, has_upper: bool) -> Self {
        if has_upper {
            Self(text.to_ascii_lowercase_smolstr())
        } else {
            Self(SmolStr::new(text))
        }
    }

    /// The id as a string slice (always lower-case ASCII).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks the DNS-label grammar; returns whether the input has upper-case letters.
fn validate_label(input: &[u8]) -> Result<bool, Reason> {
    let (Some(first), Some(last)) = (input.first(), input.last()) else {
        return Err(Reason::Empty);
    };
    if input.len() > TenantId::MAX_LEN {
        return Err(Reason::TooLong { len: input.len() });
    }
    let mut has_upper = false;
    for (index, &byte) in input.iter().enumerate() {
        match byte {
            b'a'..=b'z' | b'0'..=b'9' | b'-' => {}
            b'A'..=b'Z' => has_upper = true,
            _ if byte.is_ascii() => return Err(Reason::InvalidChar { byte, index }),
            _ => return Err(Reason::NotAscii),
        }
    }
    if *first == b'-' {
        return Err(Reason::LeadingHyphen);
    }
    if *last == b'-' {
        return Err(Reason::TrailingHyphen);
    }
    Ok(has_upper)
}

/// Why a string is not a valid label (shared by tenant ids and domain labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    Empty,
    TooLong { len: usize },
    InvalidChar { byte: u8, index: usize },
    NotAscii,
    LeadingHyphen,
    TrailingHyphen,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("it is empty"),
            Self::TooLong { len } => write!(f, "it is {len} bytes long (at most 63)"),
            Self::InvalidChar { byte, index } => write!(
                f,
                "character {:?} at position {index} is not one of a-z, 0-9 and -",
                char::from(*byte)
            ),
            Self::NotAscii => f.write_str("it contains non-ASCII bytes"),
            Self::LeadingHyphen => f.write_str("it starts with a hyphen"),
            Self::TrailingHyphen => f.write_str("it ends with a hyphen"),
        }
    }
}

/// The error returned when input is not a valid [`TenantId`].
///
/// Its message explains the rule that was broken without echoing the whole
/// (attacker-controlled) input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid tenant id: {0}")]
pub struct InvalidTenantId(pub(crate) Reason);

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({:?})", &*self.0)
    }
}

impl AsRef<str> for TenantId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for TenantId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl FromStr for TenantId {
    type Err = InvalidTenantId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for TenantId {
    type Error = InvalidTenantId;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl TryFrom<String> for TenantId {
    type Error = InvalidTenantId;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl PartialEq<str> for TenantId {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for TenantId {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for TenantId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for TenantId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::new(text).map_err(serde::de::Error::custom)
    }
}
