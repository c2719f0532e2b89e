//! The errors the cache itself produces.

use std::fmt;
use std::sync::Arc;

use crate::error::TenancyError;

/// Wraps a store error that several lookups share.
pub(super) fn shared(error: Arc<TenancyError>) -> TenancyError {
    TenancyError::unavailable(SharedError(error))
}

/// The error of a lookup refused for lack of a miss slot.
pub(super) fn too_many_misses() -> TenancyError {
    TenancyError::unavailable(TooManyMisses)
}

/// A store error shared between the lookups that waited for one load.
#[derive(Debug)]
struct SharedError(Arc<TenancyError>);

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the tenant lookup failed")
    }
}

impl std::error::Error for SharedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// Too many lookups of uncached keys were already in the store.
#[derive(Debug)]
struct TooManyMisses;

impl fmt::Display for TooManyMisses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("too many concurrent lookups of uncached tenants")
    }
}

impl std::error::Error for TooManyMisses {}
