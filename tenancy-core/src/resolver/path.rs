//! [`PathPrefixResolver`]: `/{prefix}/{id}/rest` names tenant `id`.

use super::{Resolution, Resolver};
use crate::error::TenancyError;
use crate::id::TenantId;
use crate::key::{Strategy, TenantKey};
use crate::request::RequestView;

/// Resolves `{prefix}/{id}/rest` to tenant `id`; adapters route `/rest`.
///
/// The segment after the prefix must be a valid [`TenantId`] as it stands:
/// percent-encoded (`%61cme`) or dot (`..`) segments are
/// [`InvalidTenantId`](TenancyError::InvalidTenantId) errors, never decoded.
/// Paths outside the prefix (and the bare prefix) name no tenant.
///
/// ```
/// use tenancy_core::{PathPrefixResolver, Resolver, RequestView};
///
/// let resolver = PathPrefixResolver::new("/t")?;
/// let request = http::Request::builder().uri("/t/acme/items?page=2").body(())?;
/// let resolution = resolver.resolve(&RequestView::new(&request)?)?.expect("a tenant");
/// assert_eq!(resolution.key().to_string(), "acme");
/// assert_eq!(resolution.routed_path("/t/acme/items"), "/items");
///
/// let bad = http::Request::builder().uri("/t/%61cme/items").body(())?;
/// assert!(resolver.resolve(&RequestView::new(&bad)?).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct PathPrefixResolver {
    prefix: String,
}

/// The error returned for a prefix that is not `/segment[/segment…]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid path prefix {0:?}: it must start with `/`, not end with `/`, and have no empty segment"
)]
pub struct InvalidPathPrefix(String);

impl PathPrefixResolver {
    /// A resolver for paths under `prefix` (for example `/t`).
    pub fn new(prefix: impl Into<String>) -> Result<Self, InvalidPathPrefix> {
        let prefix = prefix.into();
        let valid = prefix.starts_with('/')
            && prefix.len() > 1
            && !prefix.ends_with('/')
            && !prefix.contains("//")
            && !prefix.contains(['?', '#']);
        if valid {
            Ok(Self { prefix })
        } else {
            Err(InvalidPathPrefix(prefix))
        }
    }

    /// The configured prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl Resolver for PathPrefixResolver {
    fn resolve(&self, request: &RequestView<'_>) -> Result<Option<Resolution>, TenancyError> {
        let Some(after) = request
            .path()
            .strip_prefix(self.prefix.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
        else {
            return Ok(None);
        };
        let segment = after.split('/').next().unwrap_or_default();
        let id = TenantId::new(segment)?;
        let prefix_len = self.prefix.len() + 1 + segment.len();
        Ok(Some(
            Resolution::new(TenantKey::Id(id), Strategy::PathPrefix).with_path_prefix(prefix_len),
        ))
    }
}
