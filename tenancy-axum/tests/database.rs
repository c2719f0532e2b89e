//! The shared database suite (`tests/db_suite`), run against the axum adapter
//! and a real Postgres (feature `sqlx`), plus axum-specific checks.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod db_suite;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{Value, json};
use tenancy_axum::{CurrentTenant, TenancyLayer, TenantDb};
use tenancy_core::{HeaderResolver, InMemoryStore, Tenancy, TenancyError, TenantId, TenantRecord};
use tenancy_sqlx::{RegistryTenant, SchemaPool};
use tower::{Layer, ServiceExt as _};

use db_suite::{DbHarness, DbSetup, PoolPerTenant, TestApp, TestResponse, sql};

fn internal(error: &sqlx::Error) -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response()
}

async fn list(TenantDb(mut tx): TenantDb<SchemaPool>) -> Result<Json<Value>, Response> {
    sql::list(&mut tx)
        .await
        .map(Json)
        .map_err(|error| internal(&error))
}

async fn list_slowly(TenantDb(mut tx): TenantDb<SchemaPool>) -> Result<Json<Value>, Response> {
    sql::list_slowly(&mut tx)
        .await
        .map(Json)
        .map_err(|error| internal(&error))
}

async fn insert(
    CurrentTenant(tenant): CurrentTenant<RegistryTenant>,
    TenantDb(mut tx): TenantDb<SchemaPool>,
    Path(name): Path<String>,
) -> Result<Response, Response> {
    sql::insert(&mut tx, tenant.id().as_str(), &name)
        .await
        .map_err(|error| internal(&error))?;
    tx.commit().await.map_err(|error| internal(&error))?;
    Ok((StatusCode::CREATED, Json(json!({ "inserted": name }))).into_response())
}

async fn fail(
    CurrentTenant(tenant): CurrentTenant<RegistryTenant>,
    TenantDb(mut tx): TenantDb<SchemaPool>,
    Path(name): Path<String>,
) -> Result<Response, Response> {
    sql::insert(&mut tx, tenant.id().as_str(), &name)
        .await
        .map_err(|error| internal(&error))?;
    // Fails without committing: `tx` is dropped, and rolls back.
    let body = json!({ "error": "HandlerFailed", "message": "the handler failed after a write" });
    Err((StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response())
}

async fn list_pool(TenantDb(pool): TenantDb<PoolPerTenant>) -> Result<Json<Value>, Response> {
    sql::list_pool(&pool)
        .await
        .map(Json)
        .map_err(|error| internal(&error))
}

fn text_renderer(error: &TenancyError) -> Response {
    (error.status(), format!("{}: {error}", error.kind())).into_response()
}

struct Axum;

#[derive(Clone)]
struct AxumApp(Router);

impl DbHarness for Axum {
    async fn app(setup: DbSetup) -> impl TestApp {
        let mut router = Router::new()
            .route("/items", get(list))
            .route("/central/items", get(list))
            .route("/items/slow", get(list_slowly))
            .route("/items/{name}", post(insert))
            .route("/fail/{name}", post(fail))
            .route("/pool", get(list_pool))
            // As an `Arc<A>`, the other way `TenantDb` finds its access object.
            .layer(Extension(Arc::new(setup.pools)));
        if let Some(schemas) = setup.schemas {
            router = router.layer(Extension(schemas));
        }
        if !setup.layer {
            return AxumApp(router);
        }
        let mut layer = TenancyLayer::new(setup.tenancy)
            .optional()
            .central_route("/central/*");
        if setup.text_errors {
            layer = layer.error_renderer(text_renderer);
        }
        AxumApp(Router::new().fallback_service(layer.layer(router)))
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

db_suite::database_suite!(
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
