//! [`SubdomainResolver`]: `{id}.{base}` names tenant `id`.

use std::collections::HashSet;

use super::{Resolution, Resolver};
use crate::domain::{DomainName, InvalidDomain};
use crate::error::TenancyError;
use crate::id::TenantId;
use crate::key::{Strategy, TenantKey};
use crate::request::RequestView;

/// Resolves `{id}.{base}` to tenant `id`, for one or more base domains.
///
/// - A base itself and `www.{base}` are central hosts: they name no tenant
///   (`None`). More central hosts can be added with [`central_host`](Self::central_host).
/// - A nested subdomain (`a.b.example.com`) names no tenant, unless
///   `b.example.com` is itself configured as a base; the longest matching base
///   wins.
/// - A host that is not a valid host name, such as `acme_corp.example.com`
///   (`_` is not allowed), never reaches the resolver: building the
///   [`RequestView`] fails with [`InvalidHost`](TenancyError::InvalidHost)
///   (`400`), and so does [`Tenancy::resolve`](crate::Tenancy::resolve).
///   A label of a valid host name is always a valid [`TenantId`] (both are
///   DNS labels), upper-case letters being lower-cased.
/// - IP addresses and hosts outside every base name no tenant, unless
///   [`with_custom_domains`](Self::with_custom_domains) turns such hosts into
///   [`TenantKey::Domain`] keys.
///
/// ```
/// use tenancy_core::{RequestView, Resolver, SubdomainResolver, TenancyError};
///
/// let resolver = SubdomainResolver::new(["example.com", "localhost"])?;
/// let request = http::Request::builder().header("host", "Acme.Example.com:443").body(())?;
/// let resolution = resolver.resolve(&RequestView::new(&request)?)?;
/// assert_eq!(resolution.map(|r| r.key().to_string()), Some("acme".to_string()));
///
/// let central = http::Request::builder().header("host", "www.localhost").body(())?;
/// assert!(resolver.resolve(&RequestView::new(&central)?)?.is_none());
///
/// // Not a host name: refused before any resolver runs.
/// let invalid = http::Request::builder().header("host", "acme_corp.example.com").body(())?;
/// let error = RequestView::new(&invalid).unwrap_err();
/// assert!(matches!(error, TenancyError::InvalidHost(_)));
/// assert_eq!((error.kind(), error.status().as_u16()), ("InvalidHost", 400));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SubdomainResolver {
    /// Base domains, longest first.
    bases: Vec<DomainName>,
    central: HashSet<DomainName>,
    www_is_central: bool,
    custom_domains: bool,
}

impl SubdomainResolver {
    /// A resolver for subdomains of `bases`.
    pub fn new<I>(bases: I) -> Result<Self, InvalidDomain>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut parsed = bases
            .into_iter()
            .map(DomainName::new)
            .collect::<Result<Vec<_>, _>>()?;
        parsed.sort_by(|a, b| {
            b.as_str()
                .len()
                .cmp(&a.as_str().len())
                .then_with(|| a.cmp(b))
        });
        parsed.dedup();
        Ok(Self {
            bases: parsed,
            central: HashSet::new(),
            www_is_central: true,
            custom_domains: false,
        })
    }

    /// Adds a host that names no tenant (e.g. `admin.example.com`).
    pub fn central_host(mut self, host: impl AsRef<str>) -> Result<Self, InvalidDomain> {
        self.central.insert(DomainName::new(host)?);
        Ok(self)
    }

    /// Whether `www.{base}` is a central host (default) or the tenant `www`.
    #[must_use]
    pub fn www_is_central(mut self, central: bool) -> Self {
        self.www_is_central = central;
        self
    }

    /// Treats hosts outside every base domain as custom domains.
    ///
    /// With this set, `shop.acme.test` resolves to
    /// `TenantKey::Domain("shop.acme.test")`, so one resolver covers the usual
    /// "registered custom domain, else subdomain" rule.
    #[must_use]
    pub fn with_custom_domains(mut self) -> Self {
        self.custom_domains = true;
        self
    }

    /// The configured base domains, longest first.
    pub fn bases(&self) -> &[DomainName] {
        &self.bases
    }

    /// Whether `host` is central: a base, `www.{base}` or a configured central host.
    pub fn is_central(&self, host: &str) -> bool {
        matches!(self.classify(host), Place::Central)
    }

    /// Where `host` stands relative to the bases, in one pass over them.
    fn classify<'h>(&self, host: &'h str) -> Place<'h> {
        if !self.central.is_empty() && self.central.contains(host) {
            return Place::Central;
        }
        for base in &self.bases {
            let Some(rest) = host.strip_suffix(base.as_str()) else {
                continue;
            };
            if rest.is_empty() {
                return Place::Central;
            }
            let Some(label) = rest.strip_suffix('.') else {
                continue;
            };
            return match label {
                _ if label.contains('.') => Place::Nested,
                "www" if self.www_is_central => Place::Central,
                _ => Place::Subdomain(label),
            };
        }
        Place::Outside
    }

    fn resolve_name(&self, host: &str) -> Result<Option<Resolution>, TenancyError> {
        match self.classify(host) {
            Place::Central | Place::Nested => Ok(None),
            Place::Subdomain(label) => {
                let id = TenantId::new(label)?;
                Ok(Some(Resolution::new(
                    TenantKey::Id(id),
                    Strategy::Subdomain,
                )))
            }
            Place::Outside if self.custom_domains => {
                let domain = DomainName::new(host)?;
                Ok(Some(
                    Resolution::new(TenantKey::Domain(domain), Strategy::Domain).optional(),
                ))
            }
            Place::Outside => Ok(None),
        }
    }
}

/// Where a host stands relative to the base domains.
enum Place<'h> {
    /// A base, `www.{base}` or a configured central host.
    Central,
    /// More than one label below the closest base.
    Nested,
    /// Exactly one label below a base.
    Subdomain(&'h str),
    /// Not under any base.
    Outside,
}

impl Resolver for SubdomainResolver {
    fn resolve(&self, request: &RequestView<'_>) -> Result<Option<Resolution>, TenancyError> {
        match request.host().and_then(|host| host.name()) {
            Some(name) => self.resolve_name(name),
            None => Ok(None),
        }
    }
}
