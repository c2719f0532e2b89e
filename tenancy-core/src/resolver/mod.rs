//! Resolvers: pure, synchronous functions from a request to a [`TenantKey`],
//! and [`AsyncResolver`] for those that need I/O.
//!
//! Built-ins cover the usual strategies: [`SubdomainResolver`],
//! [`DomainResolver`] (custom domains), [`PathPrefixResolver`],
//! [`HeaderResolver`], and [`ChainResolver`] to combine them. Closures become
//! resolvers through [`from_fn`].

mod chain;
mod deferred;
mod domain;
mod function;
mod header;
mod path;
mod resolution;

pub(crate) use resolution::routed_path;
mod subdomain;

pub use chain::ChainResolver;
pub use deferred::AsyncResolver;
pub(crate) use deferred::{DynAsyncResolver, Resolving};
pub use domain::DomainResolver;
pub use function::{FnResolver, from_fn};
pub use header::HeaderResolver;
pub use path::{InvalidPathPrefix, PathPrefixResolver};
pub use resolution::Resolution;
pub use subdomain::SubdomainResolver;

use std::sync::Arc;

use crate::error::TenancyError;
use crate::request::RequestView;

/// Finds which tenant, if any, a request names.
///
/// Resolution is pure and synchronous: it reads the request and returns a
/// [`Resolution`] (or `None` when the request names no tenant, e.g. on a
/// central host). Looking the key up is the store's job. An input that names a
/// tenant in an invalid way is an error, not `None`.
///
/// ```
/// use tenancy_core::{Resolution, Resolver, RequestView, TenancyError, TenantId, from_fn};
///
/// // Every request belongs to the tenant "demo".
/// let resolver = from_fn(|_: &RequestView<'_>| -> Result<_, TenancyError> {
///     Ok(Some(Resolution::id(TenantId::new("demo")?)))
/// });
/// let request = http::Request::new(());
/// let view = RequestView::new(&request)?;
/// assert_eq!(resolver.resolve(&view)?.map(|r| r.key().to_string()), Some("demo".into()));
/// # Ok::<(), TenancyError>(())
/// ```
pub trait Resolver: Send + Sync {
    /// Resolves `request` to a tenant key, `None` when it names no tenant.
    fn resolve(&self, request: &RequestView<'_>) -> Result<Option<Resolution>, TenancyError>;
}

impl<R: Resolver + ?Sized> Resolver for Arc<R> {
    fn resolve(&self, request: &RequestView<'_>) -> Result<Option<Resolution>, TenancyError> {
        (**self).resolve(request)
    }
}

impl<R: Resolver + ?Sized> Resolver for Box<R> {
    fn resolve(&self, request: &RequestView<'_>) -> Result<Option<Resolution>, TenancyError> {
        (**self).resolve(request)
    }
}

impl<R: Resolver + ?Sized> Resolver for &R {
    fn resolve(&self, request: &RequestView<'_>) -> Result<Option<Resolution>, TenancyError> {
        (**self).resolve(request)
    }
}
