//! [`TenantDb`]: the request tenant's database access in a handler, opened
//! when the handler first uses it.

use std::any::type_name;
use std::fmt;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::Extensions;
use http::request::Parts;
use tenancy_core::Resolved;
use tenancy_sqlx::{RegistryTenant, TenantAccess};

use super::rejection::{DbRejectionReason, TenantDbRejection};
use crate::error::ErrorRenderer;
use crate::extract::layer_context;

/// A type [`TenantDb<A>`] can open tenant-scoped database access with.
///
/// Implemented for every [`tenancy_sqlx::TenantAccess`] that is [`Clone`]
/// (the isolation types of `tenancy-sqlx` are, cheaply: they share their
/// pools). `TenantDb` keeps a clone of the access object, so that it can open
/// the handle later, when the handler asks for it; an access type that is not
/// `Clone` works as `TenantDb<Arc<MyAccess>>`. The trait exists to explain a
/// wrong type argument in `TenantDb<A>` where it is written (rather than as
/// an unsatisfied handler bound). Any such `TenantAccess` works, including
/// your own:
///
/// ```
/// use tenancy_axum::{TenantDb, TenantDbAccess, TenantDbRejection};
/// use tenancy_core::{BoxFuture, TenancyError, Tenant};
/// use tenancy_sqlx::{RegistryTenant, TenantAccess};
///
/// /// Hands out the tenant's id: a stand-in for a real database handle.
/// #[derive(Clone)]
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
/// async fn handler(db: TenantDb<Ids>) -> Result<String, TenantDbRejection> {
///     db.into_handle().await
/// }
/// # let _ = handler;
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not open tenant-scoped database access: `TenantDb<A>` needs `A: tenancy_sqlx::TenantAccess + Clone`",
    label = "not a cloneable tenant access type",
    note = "use an isolation type of `tenancy-sqlx`, e.g. `TenantDb<SchemaPool>` for a schema per tenant, \
            or implement `tenancy_sqlx::TenantAccess` for your own type (behind an `Arc` if it is not `Clone`: \
            `TenantDb<Arc<MyAccess>>`)"
)]
pub trait TenantDbAccess: TenantAccess + Clone {}

// Not recommended: an error names `TenantDbAccess` (with the message above),
// not the bounds of this impl.
#[diagnostic::do_not_recommend]
impl<A: TenantAccess + Clone> TenantDbAccess for A {}

/// Database access scoped to the request's tenant: opens an `A::Handle` with
/// [`TenantAccess::open`] for the tenant the [`TenancyLayer`](crate::TenancyLayer)
/// resolved — when the handler first asks for it, not during extraction.
///
/// What the handle is depends on the isolation mode `A`: for
/// `tenancy_sqlx::SchemaPool` (a schema per tenant) it is a
/// `TenantTransaction` whose `search_path`
/// is the tenant's schema; a shared-schema access hands out a transaction
/// scoped by row-level security; a database-per-tenant access, the tenant's
/// pool. The handler never names the tenant, so it cannot open another
/// tenant's data by accident.
///
/// # Opened on first use
///
/// Extracting `TenantDb` checks the configuration and finds the tenant, but
/// takes no connection: [`open`](Self::open) does, the first time it is
/// called (later calls return the same handle), and
/// [`into_handle`](Self::into_handle) hands the handle out by value (to
/// `commit` a transaction). So a handler that also reads a body, e.g.
/// `(TenantDb<SchemaPool>, Json<T>)`, holds no pooled connection while a slow
/// client uploads it; the connection is taken once the body is in, and
/// returned when the handle is dropped. A handler that returns before using
/// the database never takes one.
///
/// Run queries on the handle: with `let tx = db.open().await?`, `tx` is a
/// `&mut TenantTransaction`, and the executor is `&mut *tx` (or `tx` itself
/// for a single statement).
///
/// # Where the access object comes from
///
/// The extractor finds `A` in the request extensions, as `A` or `Arc<A>`, and
/// keeps a clone of it: add it to the router with axum's
/// [`Extension`](axum::Extension) layer, e.g.
/// `router.layer(Extension(schemas))`; an access type that is not `Clone` is
/// extracted as `TenantDb<Arc<MyAccess>>` from `Extension(Arc::new(access))`.
/// This works with any router state.
/// The tenant comes from the [`TenancyLayer`](crate::TenancyLayer), whose
/// store must hand out [`RegistryTenant`]s (e.g. a
/// `tenancy_sqlx::PgRegistry`, with or without a
/// [`CachedStore`](tenancy_core::CachedStore) in front).
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
/// Extraction fails, in this order, rendered with the layer's
/// [`ErrorRenderer`] (see [`TenantDbRejection`]):
///
/// | condition | response |
/// |---|---|
/// | no `TenancyLayer` handled the request, or its store's tenant type is not `RegistryTenant` | `500 Configuration` |
/// | no access object `A` in the request extensions | `500 Configuration` |
/// | the request names no tenant (central host, central or optional route) | `404 TenantRequired` |
///
/// When [`TenantAccess::open`] fails, [`open`](Self::open) and
/// [`into_handle`](Self::into_handle) return a rejection with the error's own
/// status (e.g. `503 StoreUnavailable`), rendered the same way: a handler
/// returning `Result<_, TenantDbRejection>` (or an error type converting from
/// it) passes it on with `?`.
///
/// # Example
///
/// ```no_run
/// use axum::response::{IntoResponse, Response};
/// use axum::{Extension, Json, Router, extract::Path, http::StatusCode, routing::{get, post}};
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
pub struct TenantDb<A: TenantDbAccess> {
    access: A,
    tenant: RegistryTenant,
    renderer: Arc<dyn ErrorRenderer>,
    handle: Option<A::Handle>,
}

impl<A: TenantDbAccess> TenantDb<A> {
    /// The handle, opened on the first call; later calls return the same
    /// handle.
    ///
    /// Fails with the rejection of the failed [`TenantAccess::open`] (e.g.
    /// `503 StoreUnavailable`); a later call tries again.
    pub async fn open(&mut self) -> Result<&mut A::Handle, TenantDbRejection> {
        let handle = match self.handle.take() {
            Some(handle) => handle,
            None => self.open_new().await?,
        };
        Ok(self.handle.insert(handle))
    }

    /// The handle, by value (e.g. to commit a transaction): the one
    /// [`open`](Self::open) returned, or a new one.
    pub async fn into_handle(mut self) -> Result<A::Handle, TenantDbRejection> {
        match self.handle.take() {
            Some(handle) => Ok(handle),
            None => self.open_new().await,
        }
    }

    /// The request's tenant, whose data the handle is scoped to.
    #[must_use]
    pub fn tenant(&self) -> &RegistryTenant {
        &self.tenant
    }

    /// A new handle. Borrows the fields it needs, not `self`: the future
    /// stays `Send` for a handle that is `Send` but not `Sync`.
    async fn open_new(&mut self) -> Result<A::Handle, TenantDbRejection> {
        let Self {
            access,
            tenant,
            renderer,
            ..
        } = self;
        access.open(tenant).await.map_err(|error| {
            TenantDbRejection::new(DbRejectionReason::Open(error), Some(Arc::clone(renderer)))
        })
    }
}

impl<A: TenantDbAccess> fmt::Debug for TenantDb<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantDb")
            .field("access", &type_name::<A>())
            .field("tenant", self.tenant.id())
            .field("opened", &self.handle.is_some())
            .finish_non_exhaustive()
    }
}

/// The access object of type `A` in `extensions`, inserted as `A` or `Arc<A>`.
fn find_access<A: TenantAccess>(extensions: &Extensions) -> Option<&A> {
    extensions
        .get::<A>()
        .or_else(|| extensions.get::<Arc<A>>().map(|access| &**access))
}

impl<A: TenantDbAccess, St: Send + Sync> FromRequestParts<St> for TenantDb<A> {
    type Rejection = TenantDbRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &St) -> Result<Self, Self::Rejection> {
        let extensions = &parts.extensions;
        let context = layer_context::<RegistryTenant>(extensions)?;
        let renderer = Arc::clone(&context.renderer);
        let Some(access) = find_access::<A>(extensions) else {
            return Err(TenantDbRejection::new(
                DbRejectionReason::MissingAccess {
                    access: type_name::<A>(),
                },
                Some(renderer),
            ));
        };
        let Some(resolved) = extensions.get::<Resolved<RegistryTenant>>() else {
            return Err(TenantDbRejection::new(
                DbRejectionReason::Tenant(crate::RejectionReason::TenantRequired),
                Some(renderer),
            ));
        };
        // No connection yet: `open` takes it, once the handler asks.
        Ok(Self {
            access: access.clone(),
            tenant: resolved.tenant().clone(),
            renderer,
            handle: None,
        })
    }
}
