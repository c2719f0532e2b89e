//! [`TenantKey`]: what a resolver found, before the store looks it up.

use std::fmt;

use crate::domain::DomainName;
use crate::id::TenantId;

/// The key a resolver extracts from a request: a tenant id or a domain.
///
/// ```
/// use tenancy_core::{TenantId, TenantKey};
///
/// let key = TenantKey::from(TenantId::new("acme")?);
/// assert_eq!(key.to_string(), "acme");
/// assert_eq!(key.id().map(|id| id.as_str()), Some("acme"));
/// # Ok::<(), tenancy_core::InvalidTenantId>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TenantKey {
    /// A tenant id, e.g. from a subdomain, a path segment or a header.
    Id(TenantId),
    /// A custom domain: the whole host of the request.
    Domain(DomainName),
}

impl TenantKey {
    /// The id, if this key is one.
    pub fn id(&self) -> Option<&TenantId> {
        match self {
            Self::Id(id) => Some(id),
            Self::Domain(_) => None,
        }
    }

    /// The domain, if this key is one.
    pub fn domain(&self) -> Option<&DomainName> {
        match self {
            Self::Id(_) => None,
            Self::Domain(domain) => Some(domain),
        }
    }
}

impl fmt::Display for TenantKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => fmt::Display::fmt(id, f),
            Self::Domain(domain) => fmt::Display::fmt(domain, f),
        }
    }
}

impl From<TenantId> for TenantKey {
    fn from(id: TenantId) -> Self {
        Self::Id(id)
    }
}

impl From<DomainName> for TenantKey {
    fn from(domain: DomainName) -> Self {
        Self::Domain(domain)
    }
}

/// Which strategy found a tenant key (for errors and tracing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Strategy {
    /// A subdomain of a base domain.
    Subdomain,
    /// A custom domain (the whole host).
    Domain,
    /// A path prefix such as `/t/{id}`.
    PathPrefix,
    /// A request header.
    Header,
    /// A user-defined resolver, with its name.
    Custom(&'static str),
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Subdomain => f.write_str("subdomain"),
            Self::Domain => f.write_str("domain"),
            Self::PathPrefix => f.write_str("path prefix"),
            Self::Header => f.write_str("header"),
            Self::Custom(name) => f.write_str(name),
        }
    }
}
