//! [`DomainResolver`]: the whole host is a custom-domain key.

use super::{Resolution, Resolver};
use crate::domain::{DomainName, InvalidDomain, is_within};
use crate::error::TenancyError;
use crate::key::{Strategy, TenantKey};
use crate::request::RequestView;

/// Resolves the whole host to a [`TenantKey::Domain`] (custom domains).
///
/// IP addresses name no tenant, and neither do hosts equal to or under the
/// domains given to [`except_within`](Self::except_within) (typically your
/// base domains, which a [`SubdomainResolver`](super::SubdomainResolver)
/// handles). Whether the domain is registered is the store's question.
///
/// ```
/// use tenancy_core::{DomainResolver, Resolver, RequestView};
///
/// let resolver = DomainResolver::new().except_within(["example.com"])?;
/// let shop = http::Request::builder().header("host", "shop.acme.test").body(())?;
/// let resolution = resolver.resolve(&RequestView::new(&shop)?)?;
/// assert_eq!(resolution.map(|r| r.key().to_string()), Some("shop.acme.test".into()));
///
/// let ours = http::Request::builder().header("host", "acme.example.com").body(())?;
/// assert!(resolver.resolve(&RequestView::new(&ours)?)?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct DomainResolver {
    excluded: Vec<DomainName>,
}

impl DomainResolver {
    /// A resolver that treats every named host as a custom domain.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ignores hosts equal to or under any of `domains`.
    pub fn except_within<I>(mut self, domains: I) -> Result<Self, InvalidDomain>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        for domain in domains {
            self.excluded.push(DomainName::new(domain)?);
        }
        Ok(self)
    }
}

impl Resolver for DomainResolver {
    fn resolve(&self, request: &RequestView<'_>) -> Result<Option<Resolution>, TenancyError> {
        let Some(name) = request.host().and_then(|host| host.name()) else {
            return Ok(None);
        };
        if self
            .excluded
            .iter()
            .any(|excluded| is_within(name, excluded.as_str()))
        {
            return Ok(None);
        }
        let domain = DomainName::new(name)?;
        Ok(Some(
            Resolution::new(TenantKey::Domain(domain), Strategy::Domain).optional(),
        ))
    }
}
