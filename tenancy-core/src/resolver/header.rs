//! [`HeaderResolver`]: a header whose value is a tenant id.

use http::HeaderName;

use super::{Resolution, Resolver};
use crate::error::TenancyError;
use crate::id::TenantId;
use crate::key::{Strategy, TenantKey};
use crate::request::{HeaderValues, RequestView};

/// Resolves the value of a header (e.g. `X-Tenant-ID`) as a tenant id.
///
/// An absent header names no tenant; a present but invalid value is an
/// [`InvalidTenantId`](TenancyError::InvalidTenantId) error; the header
/// repeated with different values is a
/// [`TenantConflict`](TenancyError::TenantConflict).
///
/// ```
/// use tenancy_core::{HeaderResolver, Resolver, RequestView};
///
/// let resolver = HeaderResolver::new("X-Tenant-ID")?;
/// let request = http::Request::builder().header("x-tenant-id", "ACME").body(())?;
/// let resolution = resolver.resolve(&RequestView::new(&request)?)?;
/// assert_eq!(resolution.map(|r| r.key().to_string()), Some("acme".into()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct HeaderResolver {
    name: HeaderName,
}

impl HeaderResolver {
    /// A resolver reading the header `name`.
    pub fn new(name: impl AsRef<str>) -> Result<Self, http::header::InvalidHeaderName> {
        Ok(Self {
            name: HeaderName::from_bytes(name.as_ref().as_bytes())?,
        })
    }

    /// The header name (lower-case).
    pub fn name(&self) -> &str {
        self.name.as_str()
    }
}

impl Resolver for HeaderResolver {
    fn resolve(&self, request: &RequestView<'_>) -> Result<Option<Resolution>, TenancyError> {
        let value = match request.header(self.name.as_str()) {
            HeaderValues::Absent => return Ok(None),
            HeaderValues::One(value) | HeaderValues::Repeated(value) => value,
            HeaderValues::Conflicting => {
                return Err(TenancyError::HeaderConflict {
                    header: self.name.as_str().to_owned(),
                });
            }
        };
        let id = TenantId::from_bytes(value)?;
        Ok(Some(Resolution::new(TenantKey::Id(id), Strategy::Header)))
    }
}
