//! The shared conformance suite, run against the actix-web adapter.
//!
//! The suite lives with the axum adapter (`tenancy-axum/tests/suite`) and is
//! included here unchanged: only the harness below is actix-specific.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../../tenancy-axum/tests/suite/mod.rs"]
mod suite;

use std::rc::Rc;
use std::time::Duration;

use actix_web::dev::Service;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{App, HttpMessage, HttpRequest, HttpResponse, test, web};
use futures_util::future::LocalBoxFuture;
use serde_json::{Value, json};
use tenancy_actix::{CurrentTenant, OptionalTenant, OriginalUri, TenancyMiddleware, status_code};
use tenancy_core::{TenancyError, TenantRecord};

use suite::{Harness, Renderer, Setup, TestApp, TestResponse};

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
        .body(format!("{}: {error}", error.kind()))
}

struct Actix;

type Send = Rc<dyn Fn(http::Request<Vec<u8>>) -> LocalBoxFuture<'static, TestResponse>>;

/// The initialised actix service, behind a closure (its type cannot be named).
struct ActixApp(Send);

/// An `http` 1 request as an actix-web (`http` 0.2) test request.
fn to_actix(request: http::Request<Vec<u8>>) -> test::TestRequest {
    let (parts, body) = request.into_parts();
    let method = actix_web::http::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap();
    let mut actix = test::TestRequest::default()
        .method(method)
        .uri(&parts.uri.to_string())
        .set_payload(body);
    for (name, value) in &parts.headers {
        actix = actix.append_header((
            HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
            HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        ));
    }
    actix
}

impl Harness for Actix {
    async fn app(setup: Setup) -> impl TestApp {
        let mut middleware = TenancyMiddleware::new(setup.tenancy)
            .central_route("/health")
            .optional_route("/")
            .optional_route("/maybe")
            .optional_route("/strict");
        if setup.optional {
            middleware = middleware.optional();
        }
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
        let service = Rc::new(test::init_service(app).await);
        ActixApp(Rc::new(move |request| {
            let service = Rc::clone(&service);
            Box::pin(async move {
                let response = service.call(to_actix(request).to_request()).await.unwrap();
                let status = response.status().as_u16();
                let mut headers = http::HeaderMap::new();
                for (name, value) in response.headers() {
                    headers.append(
                        http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
                        http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
                    );
                }
                let body = test::read_body(response).await.to_vec();
                TestResponse {
                    status,
                    headers,
                    body,
                }
            })
        }))
    }
}

impl TestApp for ActixApp {
    async fn send(&self, request: http::Request<Vec<u8>>) -> TestResponse {
        (self.0)(request).await
    }
}

suite::conformance_suite!(
    #[actix_web::test]
    Actix
);
