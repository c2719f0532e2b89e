//! The shared database suite (the workspace's internal crate `tenancy-testkit`),
//! run against the axum adapter and a real Postgres, plus axum-specific checks.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{Value, json};
use tenancy_axum::{CurrentTenant, TenancyLayer, TenantDb, TenantRejection};
use tenancy_core::{
    BoxFuture, Gate, HeaderResolver, InMemoryStore, Tenancy, TenancyError, TenantId, TenantRecord,
};
use tenancy_sqlx::schema::SchemaName;
use tenancy_sqlx::{RegistryTenant, SchemaPool, Storage, TenantAccess};
use tenancy_testkit::{DbHarness, DbSetup, PoolPerTenant, Served, TestApp, TestResponse, sql};
use tower::{Layer, ServiceExt as _};

fn internal(error: &sqlx::Error) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response()
}

async fn list(mut db: TenantDb<SchemaPool>) -> Result<Json<Value>, Response> {
    let tx = db.open().await.map_err(IntoResponse::into_response)?;
    sql::list(tx)
        .await
        .map(Json)
        .map_err(|error| internal(&error))
}

async fn list_slowly(mut db: TenantDb<SchemaPool>) -> Result<Json<Value>, Response> {
    let tx = db.open().await.map_err(IntoResponse::into_response)?;
    sql::list_slowly(tx)
        .await
        .map(Json)
        .map_err(|error| internal(&error))
}

async fn insert(
    CurrentTenant(tenant): CurrentTenant<RegistryTenant>,
    db: TenantDb<SchemaPool>,
    Path(name): Path<String>,
) -> Result<Response, Response> {
    let mut tx = db
        .into_handle()
        .await
        .map_err(IntoResponse::into_response)?;
    sql::insert(&mut tx, tenant.id().as_str(), &name)
        .await
        .map_err(|error| internal(&error))?;
    tx.commit().await.map_err(|error| internal(&error))?;
    Ok((StatusCode::CREATED, Json(json!({ "inserted": name }))).into_response())
}

async fn fail(
    CurrentTenant(tenant): CurrentTenant<RegistryTenant>,
    mut db: TenantDb<SchemaPool>,
    Path(name): Path<String>,
) -> Result<Response, Response> {
    let tx = db.open().await.map_err(IntoResponse::into_response)?;
    sql::insert(tx, tenant.id().as_str(), &name)
        .await
        .map_err(|error| internal(&error))?;
    // Fails without committing: the transaction is dropped with `db`, and rolls back.
    let body = json!({ "error": "HandlerFailed", "message": "the handler failed after a write" });
    Err((StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response())
}

/// The body is read before the handler runs, so before the connection is taken.
async fn upload(db: TenantDb<SchemaPool>, Json(body): Json<Value>) -> Result<Response, Response> {
    let name = body["name"].as_str().unwrap_or_default().to_owned();
    let marker = db.tenant().id().as_str().to_owned();
    let mut tx = db
        .into_handle()
        .await
        .map_err(IntoResponse::into_response)?;
    sql::insert(&mut tx, &marker, &name)
        .await
        .map_err(|error| internal(&error))?;
    tx.commit().await.map_err(|error| internal(&error))?;
    Ok((StatusCode::CREATED, Json(json!({ "inserted": name }))).into_response())
}

async fn list_pool(mut db: TenantDb<PoolPerTenant>) -> Result<Json<Value>, TenantRejection> {
    let pool = db.open().await?;
    Ok(sql::list_pool(pool)
        .await
        .map_or_else(|error| Json(json!({ "error": error.to_string() })), Json))
}

fn text_renderer(error: &TenancyError) -> Response {
    (error.status(), format!("{}: {error}", error.kind())).into_response()
}

struct Axum;

#[derive(Clone)]
struct AxumApp(Router);

/// The test app of the suite for `setup`.
fn router(setup: DbSetup) -> Router {
    let mut router = Router::new()
        .route("/items", get(list))
        .route("/central/items", get(list))
        .route("/items/slow", get(list_slowly))
        .route("/items/{name}", post(insert))
        .route("/fail/{name}", post(fail))
        .route("/pool", get(list_pool))
        .route("/upload", post(upload))
        // As an `Arc<A>`, the other way `TenantDb` finds its access object.
        .layer(Extension(Arc::new(setup.pools)));
    if let Some(schemas) = setup.schemas {
        router = router.layer(Extension(schemas));
    }
    if !setup.layer {
        return router;
    }
    let mut layer = TenancyLayer::new(
        Gate::new(setup.tenancy)
            .optional()
            .central_route("/central/*"),
    );
    if setup.text_errors {
        layer = layer.error_renderer(text_renderer);
    }
    Router::new().fallback_service(layer.layer(router))
}

/// Aborts the server task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl DbHarness for Axum {
    async fn app(setup: DbSetup) -> impl TestApp {
        AxumApp(router(setup))
    }

    async fn serve(setup: DbSetup) -> Served {
        assert!(setup.layer, "a served app is always behind the adapter");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = router(setup);
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Served::new(addr, AbortOnDrop(server))
    }
}

impl TestApp for AxumApp {
    async fn send(&self, request: http::Request<Vec<u8>>) -> TestResponse {
        let response = self
            .0
            .clone()
            .oneshot(request.map(Body::from))
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        TestResponse {
            status,
            headers,
            body,
        }
    }
}

tenancy_testkit::database_suite!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    Axum
);

/// A layer whose store hands out another tenant type than `RegistryTenant`:
/// a configuration error, whatever the access object (no database needed).
#[tokio::test]
async fn a_store_of_another_tenant_type_is_a_configuration_error() {
    let store =
        InMemoryStore::from_iter([TenantRecord::new(TenantId::new("acme").unwrap(), "Acme")]);
    let tenancy = Tenancy::new(HeaderResolver::new("x-tenant-id").unwrap(), store);
    let router = Router::new()
        .route("/pool", get(list_pool))
        .layer(Extension(Arc::new(PoolPerTenant::default())));
    let app = TenancyLayer::new(tenancy).layer(router);
    let request = http::Request::get("/pool")
        .header("x-tenant-id", "acme")
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 500);
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"], "Configuration");
}

/// Counts its opens; the handle is the open's number, in a `Cell`: a handle
/// that is `Send` but not `Sync` (as some connection types are) still makes
/// a `Send` handler future, which axum requires.
#[derive(Clone, Default)]
struct Counting(Arc<AtomicUsize>);

impl TenantAccess for Counting {
    type Tenant = RegistryTenant;
    type Handle = Cell<usize>;

    fn open<'a>(
        &'a self,
        _: &'a RegistryTenant,
    ) -> BoxFuture<'a, Result<Cell<usize>, TenancyError>> {
        Box::pin(async move { Ok(Cell::new(self.0.fetch_add(1, Ordering::SeqCst) + 1)) })
    }
}

async fn unused(_db: TenantDb<Counting>) -> &'static str {
    "unused"
}

async fn twice(mut db: TenantDb<Counting>) -> Result<String, TenantRejection> {
    let first = db.open().await?.get();
    let again = db.open().await?.get();
    let tenant = db.tenant().id().to_string();
    let owned = db.into_handle().await?.get();
    Ok(format!("{tenant}: {first} {again} {owned}"))
}

/// `TenantDb` opens on first use, once: never during extraction, and
/// `open` / `into_handle` after it hand out the same handle (no database).
#[tokio::test]
async fn tenant_db_opens_once_on_first_use() {
    let acme = RegistryTenant::builder(
        TenantId::new("acme").unwrap(),
        "Acme Corp",
        Storage::Schema(SchemaName::new("tenant_acme").unwrap()),
    )
    .build();
    let tenancy = Tenancy::new(
        HeaderResolver::new("x-tenant-id").unwrap(),
        InMemoryStore::from_iter([acme]),
    );
    let opens = Counting::default();
    let router = Router::new()
        .route("/unused", get(unused))
        .route("/twice", get(twice))
        .layer(Extension(opens.clone()));
    let app = TenancyLayer::new(tenancy).layer(router);
    let send = |path: &str| {
        let request = http::Request::get(path)
            .header("x-tenant-id", "acme")
            .body(Body::empty())
            .unwrap();
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await.unwrap();
            assert_eq!(response.status(), 200);
            axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap()
        }
    };

    assert_eq!(send("/unused").await, "unused");
    assert_eq!(opens.0.load(Ordering::SeqCst), 0, "extraction opened");
    assert_eq!(send("/twice").await, "acme: 1 1 1");
    assert_eq!(opens.0.load(Ordering::SeqCst), 1);
}
