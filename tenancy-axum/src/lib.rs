//! axum integration for tenancy-rs: a tower layer and tenant extractors.
//!
//! Wrap your router in a [`TenancyLayer`] and take the tenant in handlers
//! with [`CurrentTenant`] (or [`OptionalTenant`]):
//!
//! ```no_run
//! use axum::{Router, ServiceExt, extract::Request, routing::get};
//! use tenancy_axum::{CurrentTenant, TenancyLayer};
//! use tenancy_core::{
//!     CachedStore, ChainResolver, HeaderResolver, InMemoryStore, PathPrefixResolver,
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
//!     let app = TenancyLayer::new(tenancy).central_route("/health").layer(router);
//!
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await?;
//!     Ok(())
//! }
//! ```
//!
//! - [`TenancyLayer`] / [`TenancyService`] / [`ResponseFuture`]: run the
//!   [`tenancy_core::Tenancy`] pipeline once per request, put the tenant in
//!   the request extensions (as a [`tenancy_core::Resolved`]), strip a tenant
//!   path prefix before routing, and record `tenant.id` on a `tenancy`
//!   [`tracing`] span. Per-route policies: tenant required (default),
//!   optional, or central (no resolution).
//! - [`CurrentTenant`] / [`OptionalTenant`]: extractors, rejecting with a
//!   typed [`TenantRejection`].
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
//! # Database access (feature `sqlx`)
//!
//! [`TenantDb<A>`](TenantDb) hands a handler a database handle scoped to the
//! request's tenant, for any isolation mode `A` of `tenancy-sqlx` (any
//! [`TenantAccess`](tenancy_sqlx::TenantAccess)): with
//! `tenancy_sqlx::SchemaPool`, a transaction whose `search_path`
//! is the tenant's schema. The handler never names the tenant, so it cannot
//! reach another tenant's data by accident. The handle is opened when the
//! handler first asks for it ([`TenantDb::open`]), not during extraction, so
//! no pooled connection waits on a slow request body. The access object
//! comes from the request extensions (axum's [`Extension`](axum::Extension) layer), the
//! tenant from the layer (its store must hand out
//! [`RegistryTenant`](tenancy_sqlx::RegistryTenant)s, e.g. a
//! `tenancy_sqlx::PgRegistry`). Transactions are never committed
//! for you: commit in the handler; a dropped transaction rolls back. The
//! access object and the registry are built with `tenancy-sqlx` itself (its
//! feature `postgres` for the Postgres types used below).
//!
//! ```no_run
//! # #[cfg(feature = "sqlx")] mod app {
//! use axum::response::{IntoResponse, Response};
//! use axum::{Extension, Json, Router, ServiceExt, extract::Request, http::StatusCode, routing::get};
//! use sqlx::postgres::PgPoolOptions;
//! use tenancy_axum::{TenancyLayer, TenantDb};
//! use tenancy_core::{CachedStore, SubdomainResolver, Tenancy};
//! use tenancy_sqlx::{PgRegistry, RegistryConfig, SchemaPool};
//! use tower::Layer;
//!
//! // A transaction in the tenant's schema, opened on first use; read only,
//! // so it is just dropped.
//! async fn items(mut db: TenantDb<SchemaPool>) -> Result<Json<Vec<String>>, Response> {
//!     let tx = db.open().await.map_err(IntoResponse::into_response)?;
//!     let names = sqlx::query_scalar("SELECT name FROM items ORDER BY id")
//!         .fetch_all(&mut *tx)
//!         .await
//!         .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())?;
//!     Ok(Json(names))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let pool = PgPoolOptions::new().connect("postgres://localhost/app").await?;
//!     let registry = PgRegistry::connect(pool.clone(), RegistryConfig::default()).await?;
//!     let tenancy = Tenancy::new(SubdomainResolver::new(["localhost"])?, CachedStore::new(registry));
//!
//!     let router = Router::new()
//!         .route("/items", get(items))
//!         .layer(Extension(SchemaPool::new(pool))); // what `TenantDb<SchemaPool>` opens
//!     let app = TenancyLayer::new(tenancy).layer(router);
//!
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await?;
//!     Ok(())
//! }
//! # }
//! # fn main() {}
//! ```
//!
//! - [`TenantDb`]: the extractor, rejecting with a typed
//!   [`TenantDbRejection`] (`404 TenantRequired`, `500 Configuration`); its
//!   [`open`](TenantDb::open) / [`into_handle`](TenantDb::into_handle) fail
//!   with the same type and the error of opening, e.g. `503 StoreUnavailable`.
//! - [`TenantDbAccess`]: the bound on `A` (every `TenantAccess` that is `Clone`).

// The crate docs link to the `sqlx` items; without the feature they are absent.
#![cfg_attr(not(feature = "sqlx"), allow(rustdoc::broken_intra_doc_links))]

mod context;
#[cfg(feature = "sqlx")]
mod database;
mod error;
mod extract;
mod future;
mod layer;
mod rejection;
mod routes;
mod service;

#[cfg(feature = "sqlx")]
pub use database::{DbRejectionReason, TenantDb, TenantDbAccess, TenantDbRejection};
pub use error::{ErrorRenderer, JsonErrors, TenancyErrorResponse};
pub use extract::{CurrentTenant, OptionalTenant, RequestTenant};
pub use future::ResponseFuture;
pub use layer::TenancyLayer;
pub use rejection::{RejectionReason, TenantRejection};
pub use service::TenancyService;
