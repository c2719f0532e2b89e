//! [`DomainName`]: a validated, normalised host name used as a tenant key.

use std::fmt;
use std::str::FromStr;

use smol_str::{SmolStr, StrExt};

use crate::id::{Reason, TenantId};

/// A validated, lower-cased DNS host name such as `acme.example.com`.
///
/// Custom domains are stored and looked up as `DomainName`s. The grammar is
/// that of a host name: dot-separated labels of `a-z`, `0-9` and `-` (each 1 to
/// 63 bytes, no leading or trailing `-`), at most 253 bytes in all. Input is
/// lower-cased and one trailing dot is removed; an IP address is refused.
///
/// ```
/// use tenancy_core::DomainName;
///
/// let domain = DomainName::new("Shop.Acme.TEST.")?;
/// assert_eq!(domain.as_str(), "shop.acme.test");
/// assert!(DomainName::new("127.0.0.1").is_err());
/// assert!(DomainName::new("a..b").is_err());
/// # Ok::<(), tenancy_core::InvalidDomain>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(SmolStr);

impl DomainName {
    /// The longest accepted name, in bytes (without a trailing dot).
    pub const MAX_LEN: usize = 253;

    /// Validates and normalises `input`.
    pub fn new(input: impl AsRef<str>) -> Result<Self, InvalidDomain> {
        Self::from_bytes(input.as_ref().as_bytes())
    }

    /// Validates and normalises raw bytes.
    pub fn from_bytes(input: &[u8]) -> Result<Self, InvalidDomain> {
        let input = input.strip_suffix(b".").unwrap_or(input);
        let has_upper = validate_host_name(input)?;
        let text = std::str::from_utf8(input).map_err(|_| InvalidDomain(DomainReason::NotAscii))?;
        Ok(if has_upper {
            Self(text.to_ascii_lowercase_smolstr())
        } else {
            Self(SmolStr::new(text))
        })
    }

    /// The name as a string slice (always lower-case ASCII, no trailing dot).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this name is `base` itself or ends with `.{base}`.
    ///
    /// ```
    /// use tenancy_core::DomainName;
    ///
    /// let base = DomainName::new("example.com")?;
    /// assert!(DomainName::new("shop.example.com")?.is_within(&base));
    /// assert!(!DomainName::new("badexample.com")?.is_within(&base));
    /// # Ok::<(), tenancy_core::InvalidDomain>(())
    /// ```
    pub fn is_within(&self, base: &DomainName) -> bool {
        is_within(self.as_str(), base.as_str())
    }
}

/// Whether `name` equals `base` or is a subdomain of it.
pub(crate) fn is_within(name: &str, base: &str) -> bool {
    match name.strip_suffix(base) {
        Some("") => true,
        Some(rest) => rest.ends_with('.'),
        None => false,
    }
}

/// Byte classes for the fast path of [`validate_host_name`].
const LDH: u8 = 0;
const UPPER: u8 = 1;
const OTHER: u8 = 2;

/// `LDH` for `a-z 0-9 - .`, `UPPER` for `A-Z`, `OTHER` for everything else.
// Evaluated at compile time: an out-of-range index would fail the build.
#[allow(clippy::indexing_slicing)]
const CLASSES: [u8; 256] = {
    let mut classes = [OTHER; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        classes[byte] = match b {
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' => LDH,
            b'A'..=b'Z' => UPPER,
            _ => OTHER,
        };
        byte += 1;
    }
    classes
};

/// Checks host-name grammar (no trailing dot); returns whether there is upper
/// case. A name whose last label is all digits is refused: it is an IP address
/// (or would be read as one by browsers).
///
/// The common case (only `a-z 0-9 - .`, well-formed labels) takes a
/// branch-free pass over the bytes and one pass over the labels; anything
/// else is checked byte by byte to name the exact problem.
pub(crate) fn validate_host_name(input: &[u8]) -> Result<bool, InvalidDomain> {
    if input.is_empty() || input.len() > DomainName::MAX_LEN {
        return explain_host_name(input);
    }
    let classes = input.iter().fold(0u8, |seen, &byte| {
        seen | CLASSES.get(usize::from(byte)).copied().unwrap_or(OTHER)
    });
    if classes & OTHER != 0 {
        return explain_host_name(input);
    }
    let mut last_label: &[u8] = &[];
    for label in input.split(|&byte| byte == b'.') {
        let well_formed = matches!(
            (label.first(), label.last()),
            (Some(first), Some(last)) if *first != b'-' && *last != b'-'
        ) && label.len() <= TenantId::MAX_LEN;
        if !well_formed {
            return explain_host_name(input);
        }
        last_label = label;
    }
    if last_label.iter().all(u8::is_ascii_digit) {
        return Err(InvalidDomain(DomainReason::IpAddress));
    }
    Ok(classes & UPPER != 0)
}

/// The slow path of [`validate_host_name`]: finds and names the first problem.
fn explain_host_name(input: &[u8]) -> Result<bool, InvalidDomain> {
    let label_error = |reason| Err(InvalidDomain(DomainReason::Label(reason)));
    if input.is_empty() {
        return Err(InvalidDomain(DomainReason::Empty));
    }
    if input.len() > DomainName::MAX_LEN {
        return Err(InvalidDomain(DomainReason::TooLong { len: input.len() }));
    }
    let mut has_upper = false;
    let mut label_len = 0usize;
    let mut label_digits_only = true;
    let mut previous = b'.';
    for (index, &byte) in input.iter().enumerate() {
        match byte {
            b'a'..=b'z' => label_digits_only = false,
            b'A'..=b'Z' => {
                has_upper = true;
                label_digits_only = false;
            }
            b'0'..=b'9' => {}
            b'-' if label_len == 0 => return label_error(Reason::LeadingHyphen),
            b'-' => label_digits_only = false,
            b'.' if label_len == 0 => return label_error(Reason::Empty),
            b'.' if previous == b'-' => return label_error(Reason::TrailingHyphen),
            b'.' => {
                label_len = 0;
                label_digits_only = true;
                previous = byte;
                continue;
            }
            _ if byte.is_ascii() => return label_error(Reason::InvalidChar { byte, index }),
            _ => return Err(InvalidDomain(DomainReason::NotAscii)),
        }
        label_len += 1;
        if label_len > TenantId::MAX_LEN {
            return label_error(Reason::TooLong { len: label_len });
        }
        previous = byte;
    }
    match previous {
        b'.' => label_error(Reason::Empty),
        b'-' => label_error(Reason::TrailingHyphen),
        _ if label_digits_only => Err(InvalidDomain(DomainReason::IpAddress)),
        _ => Ok(has_upper),
    }
}

/// Why a string is not a valid domain name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DomainReason {
    Empty,
    TooLong { len: usize },
    Label(Reason),
    NotAscii,
    IpAddress,
}

impl fmt::Display for DomainReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("it is empty"),
            Self::TooLong { len } => write!(f, "it is {len} bytes long (at most 253)"),
            Self::Label(Reason::Empty) => f.write_str("it has an empty label"),
            Self::Label(Reason::TooLong { len }) => {
                write!(f, "a label is {len} bytes long (at most 63)")
            }
            Self::Label(reason) => write!(f, "a label is invalid: {reason}"),
            Self::NotAscii => f.write_str("it contains non-ASCII bytes"),
            Self::IpAddress => f.write_str("it is an IP address (its last label is all digits)"),
        }
    }
}

/// The error returned when input is not a valid [`DomainName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid domain name: {0}")]
pub struct InvalidDomain(pub(crate) DomainReason);

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DomainName({:?})", &*self.0)
    }
}

impl AsRef<str> for DomainName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for DomainName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl FromStr for DomainName {
    type Err = InvalidDomain;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for DomainName {
    type Error = InvalidDomain;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl TryFrom<String> for DomainName {
    type Error = InvalidDomain;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for DomainName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for DomainName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::new(text).map_err(serde::de::Error::custom)
    }
}

/// A domain registered to a tenant: its name, owner, and whether it is primary.
///
/// ```
/// use tenancy_core::{Domain, DomainName, DomainRecord, TenantId};
///
/// let domain = DomainRecord::new(DomainName::new("acme.test")?, TenantId::new("acme")?);
/// assert_eq!(domain.tenant_id().as_str(), "acme");
/// assert!(!domain.is_primary());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Domain: Send + Sync {
    /// The domain name.
    fn name(&self) -> &DomainName;

    /// The tenant that owns the domain.
    fn tenant_id(&self) -> &TenantId;

    /// Whether this is the tenant's primary domain (used to build links).
    fn is_primary(&self) -> bool;
}

/// A plain [`Domain`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct DomainRecord {
    /// The domain name.
    pub name: DomainName,
    /// The tenant that owns the domain.
    pub tenant_id: TenantId,
    /// Whether this is the tenant's primary domain.
    pub primary: bool,
}

impl DomainRecord {
    /// A non-primary domain of `tenant_id`.
    pub fn new(name: DomainName, tenant_id: TenantId) -> Self {
        Self {
            name,
            tenant_id,
            primary: false,
        }
    }

    /// The same domain, marked primary.
    #[must_use]
    pub fn primary(self) -> Self {
        Self {
            primary: true,
            ..self
        }
    }
}

impl Domain for DomainRecord {
    fn name(&self) -> &DomainName {
        &self.name
    }

    fn tenant_id(&self) -> &TenantId {
        &self.tenant_id
    }

    fn is_primary(&self) -> bool {
        self.primary
    }
}
