//! [`from_fn`]: closures as resolvers.

use std::fmt;

use super::{Resolution, Resolver};
use crate::error::TenancyError;
use crate::request::RequestView;

/// Turns a closure into a [`Resolver`].
///
/// ```
/// use tenancy_core::{Resolution, RequestView, TenancyError, TenantId, from_fn};
///
/// // Tenant from a query parameter, as in the Flask shared-schema tutorial.
/// let by_query = from_fn(|request: &RequestView<'_>| -> Result<Option<Resolution>, TenancyError> {
///     let _ = request;
///     Ok(Some(Resolution::id(TenantId::new("acme")?)))
/// });
/// # let _ = by_query;
/// ```
pub fn from_fn<F>(f: F) -> FnResolver<F>
where
    F: Fn(&RequestView<'_>) -> Result<Option<Resolution>, TenancyError> + Send + Sync,
{
    FnResolver(f)
}

/// A [`Resolver`] made from a closure by [`from_fn`].
#[derive(Clone, Copy)]
pub struct FnResolver<F>(F);

impl<F> fmt::Debug for FnResolver<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FnResolver")
    }
}

impl<F> Resolver for FnResolver<F>
where
    F: Fn(&RequestView<'_>) -> Result<Option<Resolution>, TenancyError> + Send + Sync,
{
    fn resolve(&self, request: &RequestView<'_>) -> Result<Option<Resolution>, TenancyError> {
        (self.0)(request)
    }
}
