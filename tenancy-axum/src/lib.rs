//! axum integration for tenancy-rs: a tower layer and tenant extractors.
//!
//! Wrap your router in a [`TenancyLayer`] and take the tenant in handlers
//! with [`CurrentTenant`] (or [`OptionalTenant`]):
//!
//! ```no_run
//! use axum::{Router, ServiceExt, extract::Request, routing::get};
//! use tenancy_axum::{CurrentTenant, TenancyLayer};
//! use tenancy_core::{
//!     CachedStore, ChainResolver, Gate, HeaderResolver, InMemoryStore, PathPrefixResolver,
//!     SubdomainResolver, Tenancy, TenantId, TenantRecord,
//! };
//! use tower::Layer;
//!
//! async fn hello(CurrentTenant(tenant): CurrentTenant<TenantRecord>) -> String {
//!     format!("Hello, {}!", tenant.name)
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let store = InMemoryStore::from_iter([TenantRecord::new(TenantId::new("acme")?, "Acme")]);
//!     let resolver = ChainResolver::new()
//!         .with(SubdomainResolver::new(["localhost"])?) // acme.localhost/hello
//!         .with(PathPrefixResolver::new("/t")?) // localhost/t/acme/hello
//!         .with(HeaderResolver::new("x-tenant-id")?); // X-Tenant-ID: acme
//!     let tenancy = Tenancy::new(resolver, CachedStore::new(store));
//!
//!     let router = Router::new()
//!         .route("/hello", get(hello))
//!         .route("/health", get(|| async { "ok" }));
//!     // Wrap the whole router, so that `/t/acme/hello` is routed as `/hello`.
//!     let app = TenancyLayer::new(Gate::new(tenancy).central_route("/health")).layer(router);
//!
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await?;
//!     Ok(())
//! }
//! ```
//!
//! - [`TenancyLayer`] / [`TenancyService`] / [`ResponseFuture`]: run a
//!   [`tenancy_core::Gate`] once per request (its route policies: tenant
//!   required by default, optional, or central), put the tenant in the
//!   request extensions, strip a tenant path prefix before routing, and
//!   record `tenant.id` on a `tenancy` [`tracing`] span.
//! - [`CurrentTenant`] / [`OptionalTenant`]: the tenant in a handler.
//! - [`TenantDb`]: database access scoped to the request's tenant, for any
//!   [`TenantAccess`](tenancy_core::TenantAccess) (the isolation modes of
//!   `tenancy-sqlx`), opened on first use.
//! - [`TenantRejection`]: every extractor's rejection, a typed response.
//! - [`ErrorRenderer`]: every error is `{"error": kind, "message": text}`
//!   ([`JsonErrors`]) unless you plug in your own renderer.
//!
//! | the request | required route | optional route | central route |
//! |---|---|---|---|
//! | names an active tenant | 200, with the tenant | 200, with the tenant | 200, no tenant |
//! | names no tenant (central host) | `404 TenantRequired` | 200, no tenant | 200, no tenant |
//! | unknown / inactive tenant | `404 TenantNotFound` / `403 TenantInactive` | same | 200, no tenant |
//! | invalid id, two tenants, bad `Host` | `400 InvalidTenantId` / `TenantConflict` / `InvalidHost` | same | 200, no tenant |
//! | the store is down | `503 StoreUnavailable` | same | 200, no tenant |
//!
//! # Database access
//!
//! [`TenantDb<A>`](TenantDb) opens a handle scoped to the request's tenant
//! when the handler first asks for it, for any isolation mode `A` of
//! `tenancy-sqlx`: with `tenancy_sqlx::SchemaPool`, a transaction whose
//! `search_path` is the tenant's schema. The handler never names the
//! tenant, so it cannot reach another tenant's data by accident. Its docs
//! show a complete app.

mod db;
mod error;
mod extract;
mod future;
mod layer;
mod rejection;
mod service;
mod state;

pub use db::TenantDb;
pub use error::{ErrorRenderer, JsonErrors, TenancyErrorResponse};
pub use extract::{CurrentTenant, OptionalTenant};
pub use future::ResponseFuture;
pub use layer::TenancyLayer;
pub use rejection::TenantRejection;
pub use service::TenancyService;
