//! The adapters' HTTP conformance suite (`tenancy_core::testing`, feature
//! `testing`), run against the axum adapter: the harness below serves the
//! suite's test app with axum handlers behind a `TenancyLayer`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{OriginalUri, Path};
use axum::http::Uri;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};
use tenancy_axum::{CurrentTenant, OptionalTenant, TenancyLayer, TenancyService};
use tenancy_core::testing::{Harness, Renderer, Setup, Store, TestApp, TestResponse};
use tenancy_core::{TenancyError, TenantRecord};
use tower::{Layer, ServiceExt as _};

async fn health() -> Json<Value> {
    tracing::info!("handler");
    Json(json!({"status": "ok"}))
}

async fn home(OptionalTenant(tenant): OptionalTenant<TenantRecord>) -> Json<Value> {
    let tenant = tenant.map(|tenant| json!({"id": tenant.id.as_str(), "name": &*tenant.name}));
    Json(json!({ "tenant": tenant }))
}

async fn maybe(OptionalTenant(tenant): OptionalTenant<TenantRecord>) -> Json<Value> {
    Json(json!({ "tenant": tenant.map(|tenant| tenant.id.to_string()) }))
}

async fn strict(CurrentTenant(tenant): CurrentTenant<TenantRecord>) -> Json<Value> {
    Json(json!({ "tenant": tenant.id.as_str() }))
}

async fn items(
    CurrentTenant(tenant): CurrentTenant<TenantRecord>,
    uri: Uri,
    OriginalUri(original): OriginalUri,
) -> Json<Value> {
    tracing::info!("handler");
    Json(json!({
        "tenant": tenant.id.as_str(),
        "name": &*tenant.name,
        "path": uri.path(),
        "query": uri.query().unwrap_or_default(),
        "original": original.to_string(),
    }))
}

async fn item(
    CurrentTenant(tenant): CurrentTenant<TenantRecord>,
    Path(item): Path<String>,
) -> Json<Value> {
    Json(json!({ "tenant": tenant.id.as_str(), "item": item }))
}

async fn slow(CurrentTenant(tenant): CurrentTenant<TenantRecord>, uri: Uri) -> Json<Value> {
    tokio::time::sleep(Duration::from_millis(1)).await;
    Json(json!({ "tenant": tenant.id.as_str(), "path": uri.path() }))
}

fn text_renderer(error: &TenancyError) -> axum::response::Response {
    (error.status(), Renderer::text_body(error)).into_response()
}

struct Axum;

struct AxumApp(TenancyService<Router, Store>);

impl Harness for Axum {
    async fn app(setup: Setup) -> impl TestApp {
        let router = Router::new()
            .route("/health", get(health))
            .route("/", get(home))
            .route("/maybe", get(maybe))
            .route("/strict", get(strict))
            .route("/items", get(items))
            .route("/items/{id}", get(item))
            .route("/slow", get(slow));
        let mut layer = TenancyLayer::new(setup.gate);
        if setup.renderer == Renderer::Text {
            layer = layer.error_renderer(text_renderer);
        }
        AxumApp(layer.layer(router))
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

tenancy_core::conformance_suite!(
    #[tokio::test]
    Axum
);

/// The service can be served as is (this only has to compile).
#[allow(dead_code)]
fn servable(app: TenancyService<Router, Store>) -> impl Send {
    axum::ServiceExt::<axum::extract::Request>::into_make_service(app)
}
