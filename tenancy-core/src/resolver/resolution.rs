//! [`Resolution`]: the result of resolving a request.

use crate::domain::DomainName;
use crate::id::TenantId;
use crate::key::{Strategy, TenantKey};

/// The outcome of resolving a request that names a tenant.
///
/// Besides the [`TenantKey`] to look up it carries:
/// - the length of a path prefix that adapters strip before routing
///   (`/t/acme/items` is routed as `/items`);
/// - a tenant id that the looked-up tenant must have, when a chain found a
///   custom domain *and* an id (a mismatch is a
///   [`TenantConflict`](crate::TenancyError::TenantConflict)).
///
/// ```
/// use tenancy_core::{Resolution, TenantId};
///
/// let resolution = Resolution::id(TenantId::new("acme")?).with_path_prefix("/t/acme".len());
/// assert_eq!(resolution.routed_path("/t/acme/items"), "/items");
/// assert_eq!(resolution.routed_path("/t/acme"), "/");
/// # Ok::<(), tenancy_core::InvalidTenantId>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    key: TenantKey,
    strategy: Strategy,
    path_prefix_len: usize,
    expected: Option<(TenantId, Strategy)>,
    optional: bool,
}

impl Resolution {
    /// A resolution to a tenant id, found by a custom strategy.
    pub fn id(id: TenantId) -> Self {
        Self::new(TenantKey::Id(id), Strategy::Custom("custom"))
    }

    /// A resolution to a custom domain, found by a custom strategy.
    pub fn domain(domain: DomainName) -> Self {
        Self::new(TenantKey::Domain(domain), Strategy::Custom("custom"))
    }

    /// A resolution to `key`, found by `strategy`.
    pub fn new(key: TenantKey, strategy: Strategy) -> Self {
        Self {
            key,
            strategy,
            path_prefix_len: 0,
            expected: None,
            optional: false,
        }
    }

    /// Sets the number of leading path bytes that adapters strip before routing.
    #[must_use]
    pub fn with_path_prefix(mut self, len: usize) -> Self {
        self.path_prefix_len = len;
        self
    }

    /// Marks the key as one that may name no tenant: a host outside every
    /// base domain, which is a tenant's only if it is a registered custom
    /// domain. When the store does not know it, the request is resolved by
    /// the [expected id](Self::expected_id) alone (the path prefix or the
    /// header), or names no tenant.
    ///
    /// ```
    /// use tenancy_core::{DomainName, Resolution};
    ///
    /// let host = Resolution::domain(DomainName::new("api.unlisted.example")?).optional();
    /// assert!(host.is_optional());
    /// # Ok::<(), tenancy_core::InvalidDomain>(())
    /// ```
    #[must_use]
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self
    }

    /// Whether the key may name no tenant (see [`optional`](Self::optional)).
    pub fn is_optional(&self) -> bool {
        self.optional
    }

    /// Requires the looked-up tenant to have `id` (found by `strategy`).
    #[must_use]
    pub fn expecting(mut self, id: TenantId, strategy: Strategy) -> Self {
        self.expected = Some((id, strategy));
        self
    }

    /// The key to look up.
    pub fn key(&self) -> &TenantKey {
        &self.key
    }

    /// The strategy that found the key.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// The number of leading path bytes to strip before routing (0: none).
    pub fn path_prefix_len(&self) -> usize {
        self.path_prefix_len
    }

    /// The id the looked-up tenant must have, and the strategy that named it.
    pub fn expected_id(&self) -> Option<(&TenantId, Strategy)> {
        self.expected.as_ref().map(|(id, strategy)| (id, *strategy))
    }

    /// The path the application should route: `path` without the tenant prefix.
    ///
    /// Returns `path` unchanged when there is no prefix or when `path` is not
    /// the path this resolution was made from; never panics.
    pub fn routed_path<'p>(&self, path: &'p str) -> &'p str {
        routed_path(path, self.path_prefix_len)
    }

    pub(crate) fn into_parts(self) -> Parts {
        Parts {
            key: self.key,
            strategy: self.strategy,
            expected: self.expected,
            optional: self.optional,
        }
    }

    /// The resolution by the expected id alone, for an optional key the store
    /// does not know.
    pub(crate) fn fallback(&self) -> Option<Resolution> {
        let (id, strategy) = self.expected.clone()?;
        Some(Resolution::new(TenantKey::Id(id), strategy).with_path_prefix(self.path_prefix_len))
    }
}

/// `path` without its first `prefix_len` bytes; `/` when nothing is left.
/// A [`Resolution`] taken apart (for merging in a chain).
pub(crate) struct Parts {
    pub(crate) key: TenantKey,
    pub(crate) strategy: Strategy,
    pub(crate) expected: Option<(TenantId, Strategy)>,
    pub(crate) optional: bool,
}

pub(crate) fn routed_path(path: &str, prefix_len: usize) -> &str {
    if prefix_len == 0 {
        return path;
    }
    match path.get(prefix_len..) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => path,
    }
}
