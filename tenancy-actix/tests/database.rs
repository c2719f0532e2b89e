//! The shared database suite (the workspace's internal crate `tenancy-testkit`),
//! run against the actix-web adapter and a real Postgres, plus actix-specific
//! checks: the suite is the axum adapter's too; only the harness below is
//! actix-specific.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::body::MessageBody;
use actix_web::dev::{ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpResponse, HttpServer, test, web};
use serde_json::{Value, json};
use tenancy_actix::{CurrentTenant, TenancyMiddleware, TenantDb, TenantRejection, status_code};
use tenancy_core::{
    BoxFuture, Gate, HeaderResolver, InMemoryStore, Tenancy, TenancyError, TenantId, TenantRecord,
};
use tenancy_sqlx::schema::SchemaName;
use tenancy_sqlx::{RegistryTenant, SchemaPool, Storage, TenantAccess};
use tenancy_testkit::{DbHarness, DbSetup, PoolPerTenant, Served, TestApp, TestResponse, sql};

use common::ActixApp;

fn internal(error: &sqlx::Error) -> HttpResponse {
    HttpResponse::InternalServerError().body(error.to_string())
}

fn respond(result: Result<Value, sqlx::Error>) -> HttpResponse {
    result.map_or_else(
        |error| internal(&error),
        |body| HttpResponse::Ok().json(body),
    )
}

async fn list(mut db: TenantDb<SchemaPool>) -> actix_web::Result<HttpResponse> {
    let tx = db.open().await?;
    Ok(respond(sql::list(tx).await))
}

async fn list_slowly(mut db: TenantDb<SchemaPool>) -> actix_web::Result<HttpResponse> {
    let tx = db.open().await?;
    Ok(respond(sql::list_slowly(tx).await))
}

async fn insert(
    CurrentTenant(tenant): CurrentTenant<RegistryTenant>,
    db: TenantDb<SchemaPool>,
    name: web::Path<String>,
) -> actix_web::Result<HttpResponse> {
    let mut tx = db.into_handle().await?;
    if let Err(error) = sql::insert(&mut tx, tenant.id().as_str(), &name).await {
        return Ok(internal(&error));
    }
    if let Err(error) = tx.commit().await {
        return Ok(internal(&error));
    }
    Ok(HttpResponse::Created().json(json!({ "inserted": name.into_inner() })))
}

async fn fail(
    CurrentTenant(tenant): CurrentTenant<RegistryTenant>,
    mut db: TenantDb<SchemaPool>,
    name: web::Path<String>,
) -> actix_web::Result<HttpResponse> {
    let tx = db.open().await?;
    if let Err(error) = sql::insert(tx, tenant.id().as_str(), &name).await {
        return Ok(internal(&error));
    }
    // Fails without committing: the transaction is dropped with `db`, and rolls back.
    let body = json!({ "error": "HandlerFailed", "message": "the handler failed after a write" });
    Ok(HttpResponse::InternalServerError().json(body))
}

/// The body is read before the handler runs, so before the connection is taken.
async fn upload(
    db: TenantDb<SchemaPool>,
    body: web::Json<Value>,
) -> Result<HttpResponse, TenantRejection> {
    let name = body["name"].as_str().unwrap_or_default().to_owned();
    let marker = db.tenant().id().as_str().to_owned();
    let mut tx = db.into_handle().await?;
    if let Err(error) = sql::insert(&mut tx, &marker, &name).await {
        return Ok(internal(&error));
    }
    if let Err(error) = tx.commit().await {
        return Ok(internal(&error));
    }
    Ok(HttpResponse::Created().json(json!({ "inserted": name })))
}

async fn list_pool(mut db: TenantDb<PoolPerTenant>) -> Result<HttpResponse, TenantRejection> {
    // `?` answers a failed open with its rejection (e.g. 503 StoreUnavailable).
    let pool = db.open().await?;
    Ok(respond(sql::list_pool(pool).await))
}

fn text_renderer(error: &TenancyError) -> HttpResponse {
    HttpResponse::build(status_code(error))
        .content_type("text/plain; charset=utf-8")
        .body(format!("{}: {error}", error.kind()))
}

/// The routes of the test app, on `app`.
fn routes<T>(app: App<T>) -> App<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    app.route("/items", web::get().to(list))
        .route("/central/items", web::get().to(list))
        .route("/items/slow", web::get().to(list_slowly))
        .route("/items/{name}", web::post().to(insert))
        .route("/fail/{name}", web::post().to(fail))
        .route("/pool", web::get().to(list_pool))
        .route("/upload", web::post().to(upload))
}

/// The test app of the suite for `setup`, behind the middleware.
fn wrapped(
    setup: DbSetup,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let mut app = App::new().app_data(web::Data::new(setup.pools));
    if let Some(schemas) = setup.schemas {
        app = app.app_data(web::Data::new(schemas));
    }
    let mut middleware = TenancyMiddleware::new(
        Gate::new(setup.tenancy)
            .optional()
            .central_route("/central/*"),
    );
    if setup.text_errors {
        middleware = middleware.error_renderer(text_renderer);
    }
    routes(app).wrap(middleware)
}

/// Stops the server when dropped.
struct StopOnDrop(ServerHandle);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        // The stop command is sent at once; its completion is not awaited.
        drop(self.0.stop(false));
    }
}

struct Actix;

impl DbHarness for Actix {
    async fn app(setup: DbSetup) -> impl TestApp {
        if setup.layer {
            return ActixApp::new(wrapped(setup)).await;
        }
        let mut app = App::new().app_data(web::Data::new(setup.pools));
        if let Some(schemas) = setup.schemas {
            app = app.app_data(web::Data::new(schemas));
        }
        ActixApp::new(routes(app)).await
    }

    async fn serve(setup: DbSetup) -> Served {
        assert!(setup.layer, "a served app is always behind the adapter");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = HttpServer::new(move || wrapped(setup.clone()))
            .workers(1)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run();
        let stop = StopOnDrop(server.handle());
        actix_web::rt::spawn(server);
        Served::new(addr, stop)
    }
}

tenancy_testkit::database_suite!(
    #[actix_web::test]
    Actix
);

/// A middleware whose store hands out another tenant type than
/// `RegistryTenant`: a configuration error (no database needed).
#[actix_web::test]
async fn a_store_of_another_tenant_type_is_a_configuration_error() {
    let store =
        InMemoryStore::from_iter([TenantRecord::new(TenantId::new("acme").unwrap(), "Acme")]);
    let tenancy = Tenancy::new(HeaderResolver::new("x-tenant-id").unwrap(), store);
    let app = App::new()
        .wrap(TenancyMiddleware::new(tenancy))
        .app_data(web::Data::new(PoolPerTenant::default()))
        .route("/pool", web::get().to(list_pool));
    let app = test::init_service(app).await;
    let request = test::TestRequest::get()
        .uri("/pool")
        .insert_header(("x-tenant-id", "acme"))
        .to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), 500);
    let body: Value = test::read_body_json(response).await;
    assert_eq!(body["error"], "Configuration");
}

/// Counts its opens; the handle is the open's number (in a `Cell`).
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
#[actix_web::test]
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
    let app = App::new()
        .wrap(TenancyMiddleware::new(tenancy))
        .app_data(web::Data::new(opens.clone()))
        .route("/unused", web::get().to(unused))
        .route("/twice", web::get().to(twice));
    let app = test::init_service(app).await;
    let send = |path: &'static str| {
        let request = test::TestRequest::get()
            .uri(path)
            .insert_header(("x-tenant-id", "acme"))
            .to_request();
        test::call_and_read_body(&app, request)
    };

    assert_eq!(send("/unused").await, "unused");
    assert_eq!(opens.0.load(Ordering::SeqCst), 0, "extraction opened");
    assert_eq!(send("/twice").await, "acme: 1 1 1");
    assert_eq!(opens.0.load(Ordering::SeqCst), 1);
}
