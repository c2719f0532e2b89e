//! actix-web integration for tenancy-rs: middleware and tenant extractors.
//!
//! Wrap your App in a [`TenancyMiddleware`] and take the tenant in handlers
//! with [`CurrentTenant`] (or [`OptionalTenant`]):
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use tenancy_actix::{CurrentTenant, TenancyMiddleware};
//! use tenancy_core::{
//!     CachedStore, ChainResolver, Gate, HeaderResolver, InMemoryStore, PathPrefixResolver,
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
//!     let middleware = TenancyMiddleware::new(Gate::new(tenancy).central_route("/health"));
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
//! - [`TenancyMiddleware`] / [`TenancyService`] / [`ResponseFuture`]: run a
//!   [`tenancy_core::Gate`] once per request (route policies: tenant
//!   required by default, optional, or central), put the tenant in the
//!   request extensions, strip a tenant path prefix before routing (the
//!   original is kept as [`OriginalUri`]), and record `tenant.id` on a
//!   `tenancy` [`tracing`] span.
//! - [`CurrentTenant`] / [`OptionalTenant`]: [`FromRequest`](actix_web::FromRequest)
//!   extractors for the tenant.
//! - [`TenantDb`]: database access scoped to the request's tenant, for any
//!   [`TenantAccess`](tenancy_core::TenantAccess) (the isolation modes of
//!   `tenancy-sqlx`), opened on first use.
//! - [`TenantRejection`]: every extractor's rejection, a [`ResponseError`](actix_web::ResponseError).
//! - [`ErrorRenderer`]: every error is `{"error": kind, "message": text}`
//!   ([`JsonErrors`]) unless you plug in your own renderer.
//! - [`ActixRequest`]: actix-web requests as a [`tenancy_core::RequestInfo`].
//!
//! Which requests run with a tenant, without one, or are refused is the
//! [`Gate`](tenancy_core::Gate)'s table; the errors are the same on axum.
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
mod middleware;
mod rejection;
mod request;
mod service;
mod state;

pub use db::TenantDb;
pub use error::{ErrorRenderer, JsonErrors, TenancyErrorResponse, status_code};
pub use extract::{CurrentTenant, OptionalTenant};
pub use future::ResponseFuture;
pub use middleware::TenancyMiddleware;
pub use rejection::TenantRejection;
pub use request::ActixRequest;
pub use service::TenancyService;
pub use state::OriginalUri;
