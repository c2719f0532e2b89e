//! Framework-neutral multi-tenancy: decide which tenant a request belongs to.
//!
//! `tenancy-core` holds the concepts every adapter shares and nothing else: no
//! database driver, no web framework. Depend on it alone to write a custom
//! resolver or store; pick `tenancy-axum` or `tenancy-actix` for a web
//! framework and `tenancy-sqlx` for database isolation.
//!
//! - [`TenantId`] and [`DomainName`]: validated, normalised identifiers — the
//!   only gate for tenant input, so every other layer can trust them.
//! - [`Tenant`] / [`Domain`] traits with plain [`TenantRecord`] / [`DomainRecord`].
//! - [`RequestInfo`]: a borrowed view of a request, implemented for `http` types.
//! - [`Resolver`]s: [`SubdomainResolver`], [`DomainResolver`],
//!   [`PathPrefixResolver`], [`HeaderResolver`], [`ChainResolver`], closures.
//! - [`TenantStore`]s: [`InMemoryStore`] and the [`CachedStore`] decorator
//!   (TTL, refresh ahead, stale on error, bounded misses, [`CacheStats`]).
//! - [`Tenancy`]: resolve → look up → refuse inactive → tenant.
//! - [`Gate`]: the per-request decision of a web framework adapter (route
//!   policies, path-prefix stripping); [`adapter`]: what an adapter's
//!   middleware and extractors share.
//! - [`TenantAccess`]: tenant-scoped access to data, opened on first use
//!   through [`LazyAccess`].
//! - [`TenancyError`]: every failure, each with an HTTP status.
//! - [`scope`]: a task-local tenant for background work.
//! - `testing` (feature `testing`): the HTTP conformance kit every framework
//!   adapter runs in its tests.
//!
//! # Example
//!
//! ```
//! use tenancy_core::{
//!     CachedStore, ChainResolver, InMemoryStore, PathPrefixResolver, SubdomainResolver, Tenancy,
//!     TenancyError, TenantId, TenantRecord,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = InMemoryStore::from_iter([
//!     TenantRecord::new(TenantId::new("acme")?, "Acme Corp"),
//!     TenantRecord::new(TenantId::new("globex")?, "Globex").deactivated(),
//! ]);
//! let resolver = ChainResolver::new()
//!     .with(SubdomainResolver::new(["localhost"])?)
//!     .with(PathPrefixResolver::new("/t")?);
//! let tenancy = Tenancy::new(resolver, CachedStore::new(store));
//!
//! // A subdomain names the tenant.
//! let request = http::Request::builder().uri("/items").header("host", "acme.localhost").body(())?;
//! let resolved = tenancy.resolve(&request).await?.expect("a tenant");
//! assert_eq!(resolved.tenant().id.as_str(), "acme");
//!
//! // A path prefix does too; the application routes the rest of the path.
//! let request = http::Request::builder().uri("/t/acme/items").header("host", "localhost").body(())?;
//! let resolved = tenancy.resolve(&request).await?.expect("a tenant");
//! assert_eq!(resolved.routed_path(request.uri().path()), "/items");
//!
//! // A central host names no tenant.
//! let request = http::Request::builder().uri("/").header("host", "localhost").body(())?;
//! assert!(tenancy.resolve(&request).await?.is_none());
//!
//! // Failures are typed, with an HTTP status.
//! let request = http::Request::builder().uri("/").header("host", "globex.localhost").body(())?;
//! let error = tenancy.resolve(&request).await.unwrap_err();
//! assert!(matches!(error, TenancyError::TenantInactive { .. }));
//! assert_eq!(error.status(), 403);
//! # Ok(()) }
//! ```

mod access;
pub mod adapter;
mod domain;
mod error;
mod extract;
mod gate;
mod host;
mod id;
mod key;
mod request;
mod resolver;
pub mod scope;
mod store;
mod tenancy;
mod tenant;
#[cfg(feature = "testing")]
pub mod testing;

pub use access::{LazyAccess, TenantAccess};
pub use domain::{Domain, DomainName, DomainRecord, InvalidDomain};
pub use error::{BoxError, TenancyError};
pub use extract::{RejectionReason, RequestAccess, RequestTenant};
pub use gate::{Gate, Policy};
pub use host::{Host, InvalidHost};
pub use id::{InvalidTenantId, TenantId};
pub use key::{Strategy, TenantKey};
pub use request::{HeaderValues, RequestInfo, RequestView};
pub use resolver::{
    AsyncResolver, ChainResolver, DomainResolver, FnResolver, HeaderResolver, InvalidPathPrefix,
    PathPrefixResolver, Resolution, Resolver, SubdomainResolver, from_fn,
};
pub use store::{
    BoxFuture, CacheBuilder, CacheStats, CachedStore, Clock, InMemoryStore, Invalidate,
    Invalidation, ManualClock, TenantEvent, TenantStore,
};
pub use tenancy::{Resolve, Resolved, Tenancy};
pub use tenant::{Tenant, TenantRecord};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
