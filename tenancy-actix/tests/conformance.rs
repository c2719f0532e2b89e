//! The adapters' HTTP conformance suite (`tenancy_core::testing`, feature
//! `testing`), run against the actix-web adapter: the harness below serves
//! the suite's test app with actix-web handlers behind a `TenancyMiddleware`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use actix_web::{App, HttpMessage, HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use tenancy_actix::{CurrentTenant, OptionalTenant, OriginalUri, TenancyMiddleware, status_code};
// `common` uses `TestApp` and `TestResponse` from the crate root.
use tenancy_core::testing::{Harness, Renderer, Setup, TestApp, TestResponse};
use tenancy_core::{TenancyError, TenantRecord};

use common::ActixApp;

async fn health() -> web::Json<Value> {
    tracing::info!("handler");
    web::Json(json!({"status": "ok"}))
}

async fn home(OptionalTenant(tenant): OptionalTenant<TenantRecord>) -> web::Json<Value> {
    let tenant = tenant.map(|tenant| json!({"id": tenant.id.as_str(), "name": &*tenant.name}));
    web::Json(json!({ "tenant": tenant }))
}

async fn maybe(OptionalTenant(tenant): OptionalTenant<TenantRecord>) -> web::Json<Value> {
    web::Json(json!({ "tenant": tenant.map(|tenant| tenant.id.to_string()) }))
}

async fn strict(CurrentTenant(tenant): CurrentTenant<TenantRecord>) -> web::Json<Value> {
    web::Json(json!({ "tenant": tenant.id.as_str() }))
}

async fn items(
    CurrentTenant(tenant): CurrentTenant<TenantRecord>,
    request: HttpRequest,
) -> web::Json<Value> {
    tracing::info!("handler");
    let original = request.extensions().get::<OriginalUri>().map_or_else(
        || request.uri().to_string(),
        |OriginalUri(uri)| uri.to_string(),
    );
    web::Json(json!({
        "tenant": tenant.id.as_str(),
        "name": &*tenant.name,
        "path": request.path(),
        "query": request.query_string(),
        "original": original,
    }))
}

async fn item(
    CurrentTenant(tenant): CurrentTenant<TenantRecord>,
    item: web::Path<String>,
) -> web::Json<Value> {
    web::Json(json!({ "tenant": tenant.id.as_str(), "item": item.into_inner() }))
}

async fn slow(
    CurrentTenant(tenant): CurrentTenant<TenantRecord>,
    request: HttpRequest,
) -> web::Json<Value> {
    tokio::time::sleep(Duration::from_millis(1)).await;
    web::Json(json!({ "tenant": tenant.id.as_str(), "path": request.path() }))
}

fn text_renderer(error: &TenancyError) -> HttpResponse {
    HttpResponse::build(status_code(error))
        .content_type("text/plain; charset=utf-8")
        .body(Renderer::text_body(error))
}

struct Actix;

impl Harness for Actix {
    async fn app(setup: Setup) -> impl TestApp {
        let mut middleware = TenancyMiddleware::new(setup.gate);
        if setup.renderer == Renderer::Text {
            middleware = middleware.error_renderer(text_renderer);
        }
        let app = App::new()
            .wrap(middleware)
            .route("/health", web::get().to(health))
            .route("/", web::get().to(home))
            .route("/maybe", web::get().to(maybe))
            .route("/strict", web::get().to(strict))
            .route("/items", web::get().to(items))
            .route("/items/{id}", web::get().to(item))
            .route("/slow", web::get().to(slow));
        ActixApp::new(app).await
    }
}

tenancy_core::conformance_suite!(
    #[actix_web::test]
    Actix
);
