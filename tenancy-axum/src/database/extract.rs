//! [`TenantDb`]: the request tenant's database handle in a handler.

use std::any::type_name;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::Extensions;
use http::request::Parts;
use tenancy_core::Resolved;
use tenancy_sqlx::{RegistryTenant, TenantAccess};

use super::rejection::{DbRejectionReason, TenantDbRejection};
use crate::extract::layer_context;

/// A type [`TenantDb<A>`] can open tenant-scoped database access with.
///
/// Implemented for every [`tenancy_sqlx::TenantAccess`]; it exists to explain
/// a wrong type argument in `TenantDb<A>` where it is written (rather than as
/// an unsatisfied handler bound). Any `TenantAccess` works, including your
/// own:
///
/// ```
/// use tenancy_axum::{TenantDb, TenantDbAccess};
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
/// [`TenantAccess::open`] for the tenant the [`TenancyLayer`](crate::TenancyLayer)
/// resolved.
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
/// The extractor finds `A` in the request extensions, as `A` or `Arc<A>`: add
/// it to the router with axum's [`Extension`](axum::Extension) layer, e.g.
/// `router.layer(Extension(schemas))` (or `Extension(Arc::new(access))` for an
/// access type that is not `Clone`). This works with any router state.
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
/// In this order, rendered with the layer's [`ErrorRenderer`](crate::ErrorRenderer)
/// (see [`TenantDbRejection`]):
///
/// | condition | response |
/// |---|---|
/// | no `TenancyLayer` handled the request, or its store's tenant type is not `RegistryTenant` | `500 Configuration` |
/// | no access object `A` in the request extensions | `500 Configuration` |
/// | the request names no tenant (central host, central or optional route) | `404 TenantRequired` |
/// | [`TenantAccess::open`] fails | the error's own status, e.g. `503 StoreUnavailable` |
///
/// # Example
///
/// ```no_run
/// use axum::{Extension, Json, Router, extract::Path, http::StatusCode, routing::{get, post}};
/// use tenancy_axum::{TenancyLayer, TenantDb};
/// use tenancy_core::{CachedStore, SubdomainResolver, Tenancy};
/// use tenancy_sqlx::{PgRegistry, RegistryConfig, SchemaPool};
/// use tower::Layer;
///
/// fn internal(_: sqlx::Error) -> StatusCode {
///     StatusCode::INTERNAL_SERVER_ERROR
/// }
///
/// // Read only: the transaction is dropped (rolled back) at the end.
/// async fn list(TenantDb(mut tx): TenantDb<SchemaPool>) -> Result<Json<Vec<String>>, StatusCode> {
///     let names = sqlx::query_scalar("SELECT name FROM items ORDER BY id")
///         .fetch_all(&mut tx)
///         .await
///         .map_err(internal)?;
///     Ok(Json(names))
/// }
///
/// // A write: committed only if every statement succeeded.
/// async fn add(TenantDb(mut tx): TenantDb<SchemaPool>, Path(name): Path<String>) -> Result<StatusCode, StatusCode> {
///     sqlx::query("INSERT INTO items (name) VALUES ($1)").bind(name).execute(&mut tx).await.map_err(internal)?;
///     tx.commit().await.map_err(internal)?;
///     Ok(StatusCode::CREATED)
/// }
///
/// # async fn example(pool: sqlx::PgPool) -> Result<(), Box<dyn std::error::Error>> {
/// let registry = PgRegistry::connect(pool.clone(), RegistryConfig::default()).await?;
/// let tenancy = Tenancy::new(SubdomainResolver::new(["example.com"])?, CachedStore::new(registry));
/// let router: Router = Router::new()
///     .route("/items", get(list))
///     .route("/items/{name}", post(add))
///     .layer(Extension(SchemaPool::new(pool)));
/// let app = TenancyLayer::new(tenancy).layer(router);
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
        let renderer = Some(Arc::clone(&context.renderer));
        let Some(access) = find_access::<A>(extensions) else {
            return Err(TenantDbRejection::new(
                DbRejectionReason::MissingAccess {
                    access: type_name::<A>(),
                },
                renderer,
            ));
        };
        let Some(resolved) = extensions.get::<Resolved<RegistryTenant>>() else {
            return Err(TenantDbRejection::new(
                DbRejectionReason::Tenant(crate::RejectionReason::TenantRequired),
                renderer,
            ));
        };
        match access.open(resolved.tenant()).await {
            Ok(handle) => Ok(Self(handle)),
            Err(error) => Err(TenantDbRejection::new(
                DbRejectionReason::Open(error),
                renderer,
            )),
        }
    }
}
