//! [`TenantDb`]: the request tenant's database handle in a handler.

use std::any::type_name;
use std::fmt;
use std::future::ready;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use tenancy_core::Resolved;
use tenancy_sqlx::{RegistryTenant, TenantAccess};

use super::rejection::{DbRejectionReason, TenantDbRejection};
use crate::error::ErrorRenderer;
use crate::extract::middleware_context;
use crate::rejection::RejectionReason;

/// A type [`TenantDb<A>`] can open tenant-scoped database access with.
///
/// Implemented for every [`tenancy_sqlx::TenantAccess`]; it exists to explain
/// a wrong type argument in `TenantDb<A>` where it is written (rather than as
/// an unsatisfied handler bound). Any `TenantAccess` works, including your
/// own:
///
/// ```
/// use tenancy_actix::{TenantDb, TenantDbAccess};
/// use tenancy_core::{BoxFuture, TenancyError, Tenant};
/// use tenancy_sqlx::{RegistryTenant, TenantAccess};
///
/// /// Hands out the tenant's id: a stand-in for a real database handle.
/// struct Ids;
///
/// impl TenantAccess for Ids {
///     type Handle = String;
///
///     fn open<'a>(&'a self, tenant: &'a RegistryTenant) -> BoxFuture<'a, Result<String, TenancyError>> {
///         Box::pin(async move { Ok(tenant.id().to_string()) })
///     }
/// }
///
/// fn assert_access<A: TenantDbAccess>() {}
/// assert_access::<Ids>();
/// async fn handler(TenantDb(id): TenantDb<Ids>) -> String {
///     id
/// }
/// # let _ = handler;
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not open tenant-scoped database access: `TenantDb<A>` needs `A: tenancy_sqlx::TenantAccess`",
    label = "not a tenant access type",
    note = "use an isolation type of `tenancy-sqlx`, e.g. `TenantDb<SchemaPool>` for a schema per tenant, \
            or implement `tenancy_sqlx::TenantAccess` for your own type"
)]
pub trait TenantDbAccess: TenantAccess {}

// Not recommended: an error names `TenantDbAccess` (with the message above),
// not the `TenantAccess` bound of this impl.
#[diagnostic::do_not_recommend]
impl<A: TenantAccess> TenantDbAccess for A {}

/// A database handle scoped to the request's tenant: `A::Handle`, opened with
/// [`TenantAccess::open`] for the tenant the
/// [`TenancyMiddleware`](crate::TenancyMiddleware) resolved.
///
/// What the handle is depends on the isolation mode `A`: for
/// `tenancy_sqlx::SchemaPool` (a schema per tenant) it is a
/// `TenantTransaction` whose `search_path`
/// is the tenant's schema; a shared-schema access hands out a transaction
/// scoped by row-level security; a database-per-tenant access, the tenant's
/// pool. The handler never names the tenant, so it cannot open another
/// tenant's data by accident.
///
/// Take the handle out with a pattern, `TenantDb(mut tx): TenantDb<SchemaPool>`,
/// and run queries with `&mut tx`; on a `db: TenantDb<SchemaPool>` it is
/// `&mut *db` (through [`DerefMut`]), as `&mut db` is not an sqlx executor.
///
/// # Where the access object comes from
///
/// The extractor finds `A` as application data, like [`web::Data<A>`]:
/// register it with `App::app_data(web::Data::new(access))` (or on a
/// `Scope` / `Resource`; `web::Data::from(arc)` for an `Arc<A>` you already
/// have). The tenant comes from the
/// [`TenancyMiddleware`](crate::TenancyMiddleware), whose store must hand out
/// [`RegistryTenant`]s (e.g. a `tenancy_sqlx::PgRegistry`, with
/// or without a [`CachedStore`](tenancy_core::CachedStore) in front).
///
/// # Transactions: the handler commits
///
/// Nothing is committed automatically. A transaction handle is the handler's
/// to `commit`; a transaction that
/// is dropped uncommitted — the handler returned early with an error,
/// panicked, or the client went away and the request future was dropped — is
/// rolled back, so a failing handler leaves no partial write. (A commit is an
/// explicit decision of the handler: it cannot be tied to the response status
/// generically, since not every handle is a transaction.) Read-only handlers
/// can simply drop the transaction.
///
/// # Rejections
///
/// In this order, rendered with the middleware's [`ErrorRenderer`]
/// (see [`TenantDbRejection`]):
///
/// | condition | response |
/// |---|---|
/// | no `TenancyMiddleware` handled the request, or its store's tenant type is not `RegistryTenant` | `500 Configuration` |
/// | no `web::Data<A>` registered | `500 Configuration` |
/// | the request names no tenant (central host, central or optional route) | `404 TenantRequired` |
/// | [`TenantAccess::open`] fails | the error's own status, e.g. `503 StoreUnavailable` |
///
/// # Example
///
/// ```no_run
/// use actix_web::{App, HttpResponse, error::ErrorInternalServerError, web};
/// use tenancy_actix::{TenancyMiddleware, TenantDb};
/// use tenancy_core::{CachedStore, SubdomainResolver, Tenancy};
/// use tenancy_sqlx::{PgRegistry, RegistryConfig, SchemaPool};
///
/// // Read only: the transaction is dropped (rolled back) at the end.
/// async fn list(TenantDb(mut tx): TenantDb<SchemaPool>) -> actix_web::Result<web::Json<Vec<String>>> {
///     let names = sqlx::query_scalar("SELECT name FROM items ORDER BY id")
///         .fetch_all(&mut tx)
///         .await
///         .map_err(ErrorInternalServerError)?;
///     Ok(web::Json(names))
/// }
///
/// // A write: committed only if every statement succeeded.
/// async fn add(TenantDb(mut tx): TenantDb<SchemaPool>, name: web::Path<String>) -> actix_web::Result<HttpResponse> {
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
///         .route("/items/{name}", web::post().to(add))
/// };
/// # let _ = app; Ok(()) }
/// ```
pub struct TenantDb<A: TenantDbAccess>(pub A::Handle);

impl<A: TenantDbAccess> TenantDb<A> {
    /// The handle, by value (e.g. to commit a transaction).
    pub fn into_inner(self) -> A::Handle {
        self.0
    }
}

impl<A: TenantDbAccess> Deref for TenantDb<A> {
    type Target = A::Handle;

    fn deref(&self) -> &A::Handle {
        &self.0
    }
}

impl<A: TenantDbAccess> DerefMut for TenantDb<A> {
    fn deref_mut(&mut self) -> &mut A::Handle {
        &mut self.0
    }
}

impl<A: TenantDbAccess> fmt::Debug for TenantDb<A>
where
    A::Handle: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TenantDb").field(&self.0).finish()
    }
}

/// What opening needs, taken from the request: the access object, the
/// tenant and the renderer for a failure.
type Prepared<A> = (web::Data<A>, RegistryTenant, Arc<dyn ErrorRenderer>);

fn prepare<A: TenantDbAccess>(request: &HttpRequest) -> Result<Prepared<A>, TenantDbRejection> {
    let extensions = request.extensions();
    let context = middleware_context::<RegistryTenant>(&extensions)?;
    let renderer = Arc::clone(&context.renderer);
    let Some(access) = request.app_data::<web::Data<A>>() else {
        return Err(TenantDbRejection::new(
            DbRejectionReason::MissingAccess {
                access: type_name::<A>(),
            },
            Some(renderer),
        ));
    };
    let Some(resolved) = extensions.get::<Resolved<RegistryTenant>>() else {
        return Err(TenantDbRejection::new(
            DbRejectionReason::Tenant(RejectionReason::TenantRequired),
            Some(renderer),
        ));
    };
    Ok((access.clone(), resolved.tenant().clone(), renderer))
}

impl<A: TenantDbAccess> FromRequest for TenantDb<A> {
    type Error = TenantDbRejection;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        match prepare::<A>(request) {
            Err(rejection) => Box::pin(ready(Err(rejection))),
            Ok((access, tenant, renderer)) => Box::pin(async move {
                match access.open(&tenant).await {
                    Ok(handle) => Ok(Self(handle)),
                    Err(error) => Err(TenantDbRejection::new(
                        DbRejectionReason::Open(error),
                        Some(renderer),
                    )),
                }
            }),
        }
    }
}
