//! actix-web integration for tenancy-rs: middleware and tenant extractors.
//!
//! Wrap your App in a [`TenancyMiddleware`] and take the tenant in handlers
//! with [`CurrentTenant`] (or [`OptionalTenant`]):
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use tenancy_actix::{CurrentTenant, TenancyMiddleware};
//! use tenancy_core::{
//!     CachedStore, ChainResolver, HeaderResolver, InMemoryStore, PathPrefixResolver,
//!     SubdomainResolver, Tenancy, TenantId, TenantRecord,
//! };
//!
//! async fn hello(CurrentTenant(tenant): CurrentTenant<TenantRecord>) -> String {
//!     format!("Hello, {}!", tenant.name)
//! }
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let store = InMemoryStore::from_iter([TenantRecord::new(TenantId::new("acme")?, "Acme")]);
//!     let resolver = ChainResolver::new()
//!         .with(SubdomainResolver::new(["localhost"])?) // acme.localhost/hello
//!         .with(PathPrefixResolver::new("/t")?) // localhost/t/acme/hello
//!         .with(HeaderResolver::new("x-tenant-id")?); // X-Tenant-ID: acme
//!     let tenancy = Tenancy::new(resolver, CachedStore::new(store));
//!     // On the App, so that `/t/acme/hello` is routed as `/hello`.
//!     let middleware = TenancyMiddleware::new(tenancy).central_route("/health");
//!
//!     HttpServer::new(move || {
//!         App::new()
//!             .wrap(middleware.clone())
//!             .route("/hello", web::get().to(hello))
//!             .route("/health", web::get().to(|| async { "ok" }))
//!     })
//!     .bind("127.0.0.1:8080")?
//!     .run()
//!     .await?;
//!     Ok(())
//! }
//! ```
//!
//! - [`TenancyMiddleware`] / [`TenancyService`] / [`ResponseFuture`]: run the
//!   [`tenancy_core::Tenancy`] pipeline once per request, put the tenant in
//!   the request extensions (as a [`tenancy_core::Resolved`]), strip a tenant
//!   path prefix before routing (the original is kept as [`OriginalUri`]),
//!   and record `tenant.id` on a `tenancy` [`tracing`] span. Per-route
//!   policies: tenant required (default), optional, or central (no resolution).
//! - [`CurrentTenant`] / [`OptionalTenant`]: [`FromRequest`](actix_web::FromRequest)
//!   extractors, rejecting with a typed [`TenantRejection`] ([`ResponseError`](actix_web::ResponseError)).
//! - [`ErrorRenderer`]: every error is `{"error": kind, "message": text}`
//!   ([`JsonErrors`]) unless you plug in your own renderer.
//! - [`ActixRequest`]: actix-web requests as a [`tenancy_core::RequestInfo`].
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
//! no pooled connection waits on a slow request body. The access object is
//! application data ([`web::Data<A>`](actix_web::web::Data)), the tenant comes from the
//! middleware (its store must hand out
//! [`RegistryTenant`](tenancy_sqlx::RegistryTenant)s, e.g. a
//! `tenancy_sqlx::PgRegistry`). Transactions are never committed
//! for you: commit in the handler; a dropped transaction rolls back. The
//! access object and the registry are built with `tenancy-sqlx` itself (its
//! feature `postgres` for the Postgres types used below).
//!
//! ```no_run
//! # #[cfg(feature = "sqlx")] mod app {
//! use actix_web::{App, HttpServer, error::ErrorInternalServerError, web};
//! use sqlx::postgres::PgPoolOptions;
//! use tenancy_actix::{TenancyMiddleware, TenantDb};
//! use tenancy_core::{CachedStore, SubdomainResolver, Tenancy};
//! use tenancy_sqlx::{PgRegistry, RegistryConfig, SchemaPool};
//!
//! // A transaction in the tenant's schema, opened on first use; read only,
//! // so it is just dropped.
//! async fn items(mut db: TenantDb<SchemaPool>) -> actix_web::Result<web::Json<Vec<String>>> {
//!     let tx = db.open().await?;
//!     let names = sqlx::query_scalar("SELECT name FROM items ORDER BY id")
//!         .fetch_all(&mut *tx)
//!         .await
//!         .map_err(ErrorInternalServerError)?;
//!     Ok(web::Json(names))
//! }
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let pool = PgPoolOptions::new().connect("postgres://localhost/app").await?;
//!     let registry = PgRegistry::connect(pool.clone(), RegistryConfig::default()).await?;
//!     let tenancy = Tenancy::new(SubdomainResolver::new(["localhost"])?, CachedStore::new(registry));
//!     let middleware = TenancyMiddleware::new(tenancy);
//!     let schemas = web::Data::new(SchemaPool::new(pool)); // what `TenantDb<SchemaPool>` opens
//!
//!     HttpServer::new(move || {
//!         App::new()
//!             .wrap(middleware.clone())
//!             .app_data(schemas.clone())
//!             .route("/items", web::get().to(items))
//!     })
//!     .bind("127.0.0.1:8080")?
//!     .run()
//!     .await?;
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
//! - [`TenantDbAccess`]: the bound on `A` (every `TenantAccess`).

// The crate docs link to the `sqlx` items; without the feature they are absent.
#![cfg_attr(not(feature = "sqlx"), allow(rustdoc::broken_intra_doc_links))]

mod context;
#[cfg(feature = "sqlx")]
mod database;
mod error;
mod extract;
mod future;
mod middleware;
mod rejection;
mod request;
mod rewrite;
mod routes;
mod service;

#[cfg(feature = "sqlx")]
pub use database::{DbRejectionReason, TenantDb, TenantDbAccess, TenantDbRejection};
pub use error::{ErrorRenderer, JsonErrors, TenancyErrorResponse, status_code};
pub use extract::{CurrentTenant, OptionalTenant, RequestTenant};
pub use future::ResponseFuture;
pub use middleware::TenancyMiddleware;
pub use rejection::{RejectionReason, TenantRejection};
pub use request::ActixRequest;
pub use rewrite::OriginalUri;
pub use service::TenancyService;
