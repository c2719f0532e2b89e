//! Which routes need a tenant: per-path policies with a default.

use std::fmt;

/// Whether a route needs a tenant: what the [`Gate`](crate::Gate) does for a
/// request, decided from its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Resolve; a request that names no tenant is refused with `TenantRequired`.
    Required,
    /// Resolve; a request that names no tenant runs without one.
    Optional,
    /// Do not resolve at all: the route runs without a tenant on every host.
    Central,
}

/// A path pattern: an exact path, or `/base/*` for `/base` and everything under it.
#[derive(Clone, PartialEq, Eq)]
enum Pattern {
    Exact(Box<str>),
    Under(Box<str>),
}

impl Pattern {
    fn new(pattern: &str) -> Self {
        let pattern = if pattern.starts_with('/') {
            pattern.to_owned()
        } else {
            // Request paths always start with `/`: `health` can only mean `/health`.
            format!("/{pattern}")
        };
        match pattern.strip_suffix("/*") {
            Some(base) => Self::Under(base.into()),
            None => Self::Exact(pattern.into()),
        }
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            Self::Exact(exact) => path == &**exact,
            Self::Under(base) => path
                .strip_prefix(&**base)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
        }
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(exact) => write!(f, "{exact:?}"),
            Self::Under(base) => write!(f, "\"{base}/*\""),
        }
    }
}

/// Per-path policies (first match wins) and the policy of every other path.
#[derive(Debug, Clone)]
pub(crate) struct Routes {
    rules: Vec<(Pattern, Policy)>,
    default: Policy,
}

impl Default for Routes {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            default: Policy::Required,
        }
    }
}

impl Routes {
    pub(crate) fn set_default(&mut self, policy: Policy) {
        self.default = policy;
    }

    pub(crate) fn add(&mut self, pattern: &str, policy: Policy) {
        self.rules.push((Pattern::new(pattern), policy));
    }

    /// The policy for a request path, as received (before any prefix is stripped).
    pub(crate) fn policy(&self, path: &str) -> Policy {
        self.rules
            .iter()
            .find(|(pattern, _)| pattern.matches(path))
            .map_or(self.default, |(_, policy)| *policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_nested_patterns() {
        let mut routes = Routes::default();
        routes.add("/health", Policy::Central);
        routes.add("admin/*", Policy::Optional);
        routes.add("/", Policy::Optional);
        assert_eq!(routes.policy("/health"), Policy::Central);
        assert_eq!(routes.policy("/health/"), Policy::Required);
        assert_eq!(routes.policy("/healthz"), Policy::Required);
        assert_eq!(routes.policy("/admin"), Policy::Optional);
        assert_eq!(routes.policy("/admin/tenants"), Policy::Optional);
        assert_eq!(routes.policy("/administrator"), Policy::Required);
        assert_eq!(routes.policy("/"), Policy::Optional);
        assert_eq!(routes.policy("/items"), Policy::Required);
        assert_eq!(routes.policy(""), Policy::Required);
    }

    #[test]
    fn first_match_wins_and_default_applies() {
        let mut routes = Routes::default();
        routes.set_default(Policy::Optional);
        routes.add("/items/*", Policy::Required);
        routes.add("/items/public", Policy::Central);
        assert_eq!(routes.policy("/items/public"), Policy::Required);
        assert_eq!(routes.policy("/other"), Policy::Optional);
        let mut all = Routes::default();
        all.add("/*", Policy::Central);
        assert_eq!(all.policy("/anything/at/all"), Policy::Central);
    }
}
