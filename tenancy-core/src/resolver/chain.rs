//! [`ChainResolver`]: several strategies that must agree.

use std::fmt;
use std::sync::Arc;

use super::resolution::Parts;
use super::{Resolution, Resolver};
use crate::domain::DomainName;
use crate::error::TenancyError;
use crate::id::TenantId;
use crate::key::{Strategy, TenantKey};
use crate::request::RequestView;

/// Runs several resolvers in order and merges what they find.
///
/// Every resolver runs, so that disagreement is caught: two ids that differ
/// are a [`TenantConflict`](TenancyError::TenantConflict). When one strategy
/// finds a custom domain and another an id, the domain is looked up and the
/// tenant found must have that id (checked by [`Tenancy`](crate::Tenancy)).
/// The first error any resolver returns is returned. The path prefix of a
/// path-prefix resolver is kept whichever strategy supplies the key.
///
/// ```
/// use tenancy_core::{ChainResolver, HeaderResolver, PathPrefixResolver, Resolver, RequestView,
///     SubdomainResolver, TenancyError};
///
/// let chain = ChainResolver::new()
///     .with(SubdomainResolver::new(["localhost"])?)
///     .with(PathPrefixResolver::new("/t")?)
///     .with(HeaderResolver::new("x-tenant-id")?);
///
/// let agree = http::Request::builder().uri("/t/acme/items").header("host", "acme.localhost").body(())?;
/// let resolution = chain.resolve(&RequestView::new(&agree)?)?.expect("a tenant");
/// assert_eq!(resolution.routed_path("/t/acme/items"), "/items");
///
/// let clash = http::Request::builder().uri("/t/acme/items").header("host", "globex.localhost").body(())?;
/// assert!(matches!(chain.resolve(&RequestView::new(&clash)?), Err(TenancyError::TenantConflict { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
pub struct ChainResolver {
    resolvers: Vec<Arc<dyn Resolver>>,
}

impl ChainResolver {
    /// An empty chain (it resolves nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a resolver to the chain.
    #[must_use]
    pub fn with(mut self, resolver: impl Resolver + 'static) -> Self {
        self.resolvers.push(Arc::new(resolver));
        self
    }

    /// Appends a resolver to the chain, in place.
    pub fn push(&mut self, resolver: impl Resolver + 'static) {
        self.resolvers.push(Arc::new(resolver));
    }

    /// The number of resolvers in the chain.
    pub fn len(&self) -> usize {
        self.resolvers.len()
    }

    /// Whether the chain has no resolvers.
    pub fn is_empty(&self) -> bool {
        self.resolvers.is_empty()
    }
}

impl fmt::Debug for ChainResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainResolver")
            .field("len", &self.resolvers.len())
            .finish()
    }
}

impl Resolver for ChainResolver {
    fn resolve(&self, request: &RequestView<'_>) -> Result<Option<Resolution>, TenancyError> {
        let mut found = Vec::new();
        for resolver in &self.resolvers {
            if let Some(resolution) = resolver.resolve(request)? {
                found.push(resolution);
            }
        }
        merge(found)
    }
}

/// Merges the findings of one request, failing when they name different tenants.
fn merge(found: Vec<Resolution>) -> Result<Option<Resolution>, TenancyError> {
    let prefix = found
        .iter()
        .map(Resolution::path_prefix_len)
        .max()
        .unwrap_or(0);
    let mut id: Option<(TenantId, Strategy)> = None;
    let mut domain: Option<(DomainName, Strategy)> = None;
    let mut optional = false;
    for resolution in found {
        let Parts {
            key,
            strategy,
            expected,
            optional: key_optional,
        } = resolution.into_parts();
        let named = match key {
            TenantKey::Id(key_id) => Some((key_id, strategy)),
            TenantKey::Domain(key_domain) => {
                optional |= key_optional;
                agree(&mut domain, key_domain, strategy, TenantKey::Domain)?;
                None
            }
        };
        for (key_id, by) in named.into_iter().chain(expected) {
            agree(&mut id, key_id, by, TenantKey::Id)?;
        }
    }
    let resolution = match (domain, id) {
        (Some((domain, by)), Some((id, id_by))) => {
            Resolution::new(TenantKey::Domain(domain), by).expecting(id, id_by)
        }
        (Some((domain, by)), None) => Resolution::new(TenantKey::Domain(domain), by),
        (None, Some((id, by))) => Resolution::new(TenantKey::Id(id), by),
        (None, None) => return Ok(None),
    };
    let resolution = if optional {
        resolution.optional()
    } else {
        resolution
    };
    Ok(Some(resolution.with_path_prefix(prefix)))
}

/// Records `value` in `slot`, or fails if the slot already holds a different value.
fn agree<V: PartialEq>(
    slot: &mut Option<(V, Strategy)>,
    value: V,
    by: Strategy,
    key: fn(V) -> TenantKey,
) -> Result<(), TenancyError> {
    match slot.take() {
        None => *slot = Some((value, by)),
        Some((first, first_by)) if first == value => *slot = Some((first, first_by)),
        Some((first, first_by)) => {
            return Err(TenancyError::TenantConflict {
                first: key(first),
                first_by,
                second: key(value),
                second_by: by,
            });
        }
    }
    Ok(())
}
