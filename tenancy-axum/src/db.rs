//! [`TenantDb`]: the request tenant's database access in a handler, opened
//! when the handler first uses it.

use std::fmt;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;
use tenancy_core::adapter::Rejection;
use tenancy_core::{LazyAccess, RequestAccess};

use crate::error::ErrorRenderer;
use crate::rejection::TenantRejection;

/// Database access scoped to the request's tenant: opens an `A::Handle` with
/// [`TenantAccess::open`](tenancy_core::TenantAccess::open) for the tenant the
/// [`TenancyLayer`](crate::TenancyLayer) resolved — when the handler first
/// asks for it, not during extraction.
///
/// What the handle is depends on the isolation mode `A`: for
/// `tenancy_sqlx::SchemaPool` (a schema per tenant) a transaction whose
/// `search_path` is the tenant's schema; for a shared-schema access a
/// transaction scoped by row-level security; for a database-per-tenant
/// access, the tenant's pool. The handler never names the tenant, so it
/// cannot open another tenant's data by accident.
///
/// # Opened on first use
///
/// Extracting `TenantDb` checks the configuration and finds the tenant, but
/// takes no connection: [`open`](Self::open) does, the first time it is
/// called (later calls return the same handle), and
/// [`into_handle`](Self::into_handle) hands the handle out by value (to
/// `commit` a transaction). So a handler that also reads a body, e.g.
/// `(TenantDb<SchemaPool>, Json<T>)`, holds no pooled connection while a slow
/// client uploads it. Run queries on the handle: with
/// `let tx = db.open().await?`, the executor is `&mut *tx`.
///
/// # Configuration
///
/// The extractor finds `A` in the request extensions, as `A` or `Arc<A>`
/// (axum's [`Extension`](axum::Extension) layer: `router.layer(Extension(schemas))`),
/// and keeps a clone of it. The layer's store must hand out `A::Tenant`s
/// (`RegistryTenant` for the registries and isolation modes of `tenancy-sqlx`).
///
/// # Transactions: the handler commits
///
/// Nothing is committed automatically: a transaction dropped uncommitted —
/// the handler returned early, panicked, or the client went away — is rolled
/// back, so a failing handler leaves no partial write.
///
/// # Rejections
///
/// Extraction fails, in this order, with a [`TenantRejection`] rendered by
/// the layer's [`ErrorRenderer`]: no layer, or a layer whose store hands out
/// another tenant type (`500 Configuration`); no access object `A` in the
/// extensions (`500 Configuration`); the request names no tenant (`404
/// TenantRequired`). When opening fails, [`open`](Self::open) and
/// [`into_handle`](Self::into_handle) return a rejection with the error's own
/// status (e.g. `503 StoreUnavailable`), rendered the same way.
///
/// ```no_run
/// use axum::response::{IntoResponse, Response};
/// use axum::{Extension, Json, Router, http::StatusCode, routing::get};
/// use tenancy_axum::{TenancyLayer, TenantDb};
/// use tenancy_core::{CachedStore, SubdomainResolver, Tenancy};
/// use tenancy_sqlx::{PgRegistry, RegistryConfig, SchemaPool};
/// use tower::Layer;
///
/// fn internal(_: sqlx::Error) -> Response {
///     StatusCode::INTERNAL_SERVER_ERROR.into_response()
/// }
///
/// // Read only: the transaction is dropped (rolled back) at the end.
/// async fn list(mut db: TenantDb<SchemaPool>) -> Result<Json<Vec<String>>, Response> {
///     let tx = db.open().await.map_err(IntoResponse::into_response)?;
///     let names = sqlx::query_scalar("SELECT name FROM items ORDER BY id")
///         .fetch_all(&mut *tx)
///         .await
///         .map_err(internal)?;
///     Ok(Json(names))
/// }
///
/// // A write: the body is read before a connection is taken, and the
/// // transaction is committed only if every statement succeeded.
/// async fn add(db: TenantDb<SchemaPool>, Json(name): Json<String>) -> Result<StatusCode, Response> {
///     let mut tx = db.into_handle().await.map_err(IntoResponse::into_response)?;
///     sqlx::query("INSERT INTO items (name) VALUES ($1)").bind(name).execute(&mut tx).await.map_err(internal)?;
///     tx.commit().await.map_err(internal)?;
///     Ok(StatusCode::CREATED)
/// }
///
/// # async fn example(pool: sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
/// let registry = PgRegistry::connect(pool.clone(), RegistryConfig::default()).await?;
/// let tenancy = Tenancy::new(SubdomainResolver::new(["example.com"])?, CachedStore::new(registry));
/// let router: Router = Router::new()
///     .route("/items", get(list).post(add))
///     .layer(Extension(SchemaPool::new(pool)));
/// let app = TenancyLayer::new(tenancy).layer(router);
/// # let _ = app; Ok(()) }
/// ```
pub struct TenantDb<A: RequestAccess> {
    access: LazyAccess<A>,
    renderer: Arc<dyn ErrorRenderer>,
}

impl<A: RequestAccess> TenantDb<A> {
    /// The handle, opened on the first call; later calls return the same
    /// handle.
    ///
    /// # Errors
    ///
    /// The rejection of the failed `TenantAccess::open` (e.g. `503
    /// StoreUnavailable`); a later call tries again.
    pub async fn open(&mut self) -> Result<&mut A::Handle, TenantRejection> {
        let Self { access, renderer } = self;
        access
            .open()
            .await
            .map_err(|error| Rejection::open(error, renderer).into())
    }

    /// The handle, by value (e.g. to commit a transaction): the one
    /// [`open`](Self::open) returned, or a new one.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open).
    pub async fn into_handle(self) -> Result<A::Handle, TenantRejection> {
        let Self { access, renderer } = self;
        access
            .into_handle()
            .await
            .map_err(|error| Rejection::open(error, &renderer).into())
    }

    /// The request's tenant, whose data the handle is scoped to.
    pub fn tenant(&self) -> &A::Tenant {
        self.access.tenant()
    }
}

impl<A: RequestAccess> fmt::Debug for TenantDb<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TenantDb").field(&self.access).finish()
    }
}

impl<A: RequestAccess, St: Send + Sync> FromRequestParts<St> for TenantDb<A> {
    type Rejection = TenantRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &St) -> Result<Self, Self::Rejection> {
        let extensions = &parts.extensions;
        let access = extensions
            .get::<A>()
            .or_else(|| extensions.get::<Arc<A>>().map(|access| &**access));
        let (access, renderer) = tenancy_core::adapter::tenant_access(extensions, access)?;
        Ok(Self { access, renderer })
    }
}
