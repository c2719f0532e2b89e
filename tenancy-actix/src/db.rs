//! [`TenantDb`]: the request tenant's database access in a handler, opened
//! when the handler first uses it.

use std::fmt;
use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use tenancy_core::adapter::Rejection;
use tenancy_core::{LazyAccess, RequestAccess};

use crate::error::ErrorRenderer;
use crate::extract::ActixExtensions;
use crate::rejection::TenantRejection;

/// Database access scoped to the request's tenant, opened on first use: the
/// actix-web face of [`LazyAccess`].
///
/// The handle is whatever the isolation mode `A` opens for the tenant the
/// [`TenancyMiddleware`](crate::TenancyMiddleware) resolved: with
/// `tenancy_sqlx::SchemaPool`, a transaction in the tenant's schema. No
/// connection is taken during extraction, so `(TenantDb<SchemaPool>,
/// web::Json<T>)` holds none while a slow client sends the body;
/// [`open`](Self::open) takes it, [`into_handle`](Self::into_handle) hands it
/// out by value (to commit). An uncommitted transaction rolls back when
/// dropped.
///
/// `A` is application data: `App::app_data(web::Data::new(access))` (or on
/// a `Scope` / `Resource`). The middleware's store must hand out
/// `A::Tenant`s. Failures are [`TenantRejection`]s, in this order: no
/// middleware or another tenant type, no `web::Data<A>` (`500
/// Configuration`), no tenant (`404 TenantRequired`); opening fails with the
/// error's own status (e.g. `503 StoreUnavailable`). Being a
/// [`ResponseError`](actix_web::ResponseError), `?` passes it on in a handler
/// returning `actix_web::Result<_>`.
///
/// ```no_run
/// use actix_web::{App, HttpResponse, error::ErrorInternalServerError, web};
/// use tenancy_actix::{TenancyMiddleware, TenantDb};
/// use tenancy_core::{CachedStore, SubdomainResolver, Tenancy};
/// use tenancy_sqlx::{PgRegistry, RegistryConfig, SchemaPool};
///
/// // Read only: the transaction is dropped (rolled back) at the end.
/// async fn list(mut db: TenantDb<SchemaPool>) -> actix_web::Result<web::Json<Vec<String>>> {
///     let tx = db.open().await?;
///     let names = sqlx::query_scalar("SELECT name FROM items ORDER BY id")
///         .fetch_all(&mut *tx)
///         .await
///         .map_err(ErrorInternalServerError)?;
///     Ok(web::Json(names))
/// }
///
/// // A write: the body is read before a connection is taken, and the
/// // transaction is committed only if every statement succeeded.
/// async fn add(db: TenantDb<SchemaPool>, name: web::Json<String>) -> actix_web::Result<HttpResponse> {
///     let mut tx = db.into_handle().await?;
///     sqlx::query("INSERT INTO items (name) VALUES ($1)")
///         .bind(name.into_inner())
///         .execute(&mut tx)
///         .await
///         .map_err(ErrorInternalServerError)?;
///     tx.commit().await.map_err(ErrorInternalServerError)?;
///     Ok(HttpResponse::Created().finish())
/// }
///
/// # async fn example(pool: sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
/// let registry = PgRegistry::connect(pool.clone(), RegistryConfig::default()).await?;
/// let tenancy = Tenancy::new(SubdomainResolver::new(["example.com"])?, CachedStore::new(registry));
/// let middleware = TenancyMiddleware::new(tenancy);
/// let schemas = web::Data::new(SchemaPool::new(pool));
/// let app = move || {
///     App::new()
///         .wrap(middleware.clone())
///         .app_data(schemas.clone())
///         .route("/items", web::get().to(list))
///         .route("/items", web::post().to(add))
/// };
/// # let _ = app; Ok(()) }
/// ```
pub struct TenantDb<A: RequestAccess> {
    lazy: LazyAccess<A>,
    renderer: Arc<dyn ErrorRenderer>,
}

impl<A: RequestAccess> TenantDb<A> {
    /// The handle: opened by the first call, the same one afterwards.
    ///
    /// # Errors
    ///
    /// Opening failed (a later call tries again).
    pub async fn open(&mut self) -> Result<&mut A::Handle, TenantRejection> {
        let renderer = &self.renderer;
        match self.lazy.open().await {
            Ok(handle) => Ok(handle),
            Err(error) => Err(Rejection::open(error, renderer).into()),
        }
    }

    /// The handle by value, to commit it: the open one, or a new one.
    ///
    /// # Errors
    ///
    /// Opening failed.
    pub async fn into_handle(self) -> Result<A::Handle, TenantRejection> {
        let renderer = self.renderer;
        match self.lazy.into_handle().await {
            Ok(handle) => Ok(handle),
            Err(error) => Err(Rejection::open(error, &renderer).into()),
        }
    }

    /// Whose data the handle is scoped to: the request's tenant.
    pub fn tenant(&self) -> &A::Tenant {
        self.lazy.tenant()
    }
}

impl<A: RequestAccess> fmt::Debug for TenantDb<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.lazy, f)
    }
}

impl<A: RequestAccess> FromRequest for TenantDb<A> {
    type Error = TenantRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let extensions = request.extensions();
        let access = request.app_data::<web::Data<A>>().map(web::Data::get_ref);
        let extracted = tenancy_core::adapter::tenant_access(&ActixExtensions(&extensions), access);
        ready(match extracted {
            Ok((lazy, renderer)) => Ok(Self { lazy, renderer }),
            Err(rejection) => Err(rejection.into()),
        })
    }
}
