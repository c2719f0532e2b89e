//! The shared database suite, run against the actix-web adapter and a real
//! Postgres (feature `sqlx`), plus actix-specific checks.
//!
//! The suite lives with the axum adapter (`tenancy-axum/tests/db_suite`) and
//! is included here unchanged: only the harness below is actix-specific.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
#[path = "../../tenancy-axum/tests/db_suite/mod.rs"]
mod db_suite;

use actix_web::{App, HttpResponse, test, web};
use serde_json::{Value, json};
use tenancy_actix::{CurrentTenant, TenancyMiddleware, TenantDb, status_code};
use tenancy_core::{HeaderResolver, InMemoryStore, Tenancy, TenancyError, TenantId, TenantRecord};
use tenancy_sqlx::{RegistryTenant, SchemaPool};

use common::ActixApp;
use db_suite::{DbHarness, DbSetup, PoolPerTenant, TestApp, TestResponse, sql};

fn internal(error: &sqlx::Error) -> HttpResponse {
    HttpResponse::InternalServerError().body(error.to_string())
}

fn respond(result: Result<Value, sqlx::Error>) -> HttpResponse {
    result.map_or_else(
        |error| internal(&error),
        |body| HttpResponse::Ok().json(body),
    )
}

async fn list(TenantDb(mut tx): TenantDb<SchemaPool>) -> HttpResponse {
    respond(sql::list(&mut tx).await)
}

async fn list_slowly(TenantDb(mut tx): TenantDb<SchemaPool>) -> HttpResponse {
    respond(sql::list_slowly(&mut tx).await)
}

async fn insert(
    CurrentTenant(tenant): CurrentTenant<RegistryTenant>,
    TenantDb(mut tx): TenantDb<SchemaPool>,
    name: web::Path<String>,
) -> HttpResponse {
    if let Err(error) = sql::insert(&mut tx, tenant.id().as_str(), &name).await {
        return internal(&error);
    }
    if let Err(error) = tx.commit().await {
        return internal(&error);
    }
    HttpResponse::Created().json(json!({ "inserted": name.into_inner() }))
}

async fn fail(
    CurrentTenant(tenant): CurrentTenant<RegistryTenant>,
    TenantDb(mut tx): TenantDb<SchemaPool>,
    name: web::Path<String>,
) -> HttpResponse {
    if let Err(error) = sql::insert(&mut tx, tenant.id().as_str(), &name).await {
        return internal(&error);
    }
    // Fails without committing: `tx` is dropped, and rolls back.
    let body = json!({ "error": "HandlerFailed", "message": "the handler failed after a write" });
    HttpResponse::InternalServerError().json(body)
}

async fn list_pool(TenantDb(pool): TenantDb<PoolPerTenant>) -> HttpResponse {
    respond(sql::list_pool(&pool).await)
}

fn text_renderer(error: &TenancyError) -> HttpResponse {
    HttpResponse::build(status_code(error))
        .content_type("text/plain; charset=utf-8")
        .body(format!("{}: {error}", error.kind()))
}

/// The routes of the test app, on `app`.
fn routes<T>(app: App<T>) -> App<T>
where
    T: actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Error = actix_web::Error,
            InitError = (),
        >,
{
    app.route("/items", web::get().to(list))
        .route("/central/items", web::get().to(list))
        .route("/items/slow", web::get().to(list_slowly))
        .route("/items/{name}", web::post().to(insert))
        .route("/fail/{name}", web::post().to(fail))
        .route("/pool", web::get().to(list_pool))
}

struct Actix;

impl DbHarness for Actix {
    async fn app(setup: DbSetup) -> impl TestApp {
        let mut app = App::new().app_data(web::Data::new(setup.pools));
        if let Some(schemas) = setup.schemas {
            app = app.app_data(web::Data::new(schemas));
        }
        if !setup.layer {
            return ActixApp::new(routes(app)).await;
        }
        let mut middleware = TenancyMiddleware::new(setup.tenancy)
            .optional()
            .central_route("/central/*");
        if setup.text_errors {
            middleware = middleware.error_renderer(text_renderer);
        }
        ActixApp::new(routes(app).wrap(middleware)).await
    }
}

db_suite::database_suite!(
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
