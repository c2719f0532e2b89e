//! actix-specific behaviour: routing after the rewrite, misconfigurations,
//! middleware placement.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, HttpRequest, HttpResponse, test, web};
use serde_json::{Value, json};
use tenancy_actix::{CurrentTenant, OptionalTenant, TenancyMiddleware};
use tenancy_core::{
    ChainResolver, Gate, InMemoryStore, PathPrefixResolver, SubdomainResolver, Tenancy, TenantId,
    TenantRecord,
};

fn store() -> InMemoryStore {
    InMemoryStore::from_iter([
        TenantRecord::new(TenantId::new("acme").unwrap(), "Acme Corp"),
        TenantRecord::new(TenantId::new("globex").unwrap(), "Globex"),
    ])
}

fn tenancy() -> Tenancy<InMemoryStore> {
    Tenancy::new(
        ChainResolver::new()
            .with(SubdomainResolver::new(["localhost"]).unwrap())
            .with(PathPrefixResolver::new("/t").unwrap()),
        store(),
    )
}

fn get(uri: &str, host: &str) -> test::TestRequest {
    test::TestRequest::get()
        .uri(uri)
        .insert_header(("host", host))
}

/// Calls the app; returns the status and the JSON body (`null` if not JSON).
async fn call<S, R, B>(app: &S, request: R) -> (u16, Value)
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let response = app.call(request).await.unwrap();
    let status = response.status().as_u16();
    let body = test::read_body(response).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// What routing decided: the matched pattern, the path and the `{id}` parameter.
async fn routed(
    CurrentTenant(tenant): CurrentTenant<TenantRecord>,
    request: HttpRequest,
) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "tenant": tenant.id.as_str(),
        "pattern": request.match_pattern(),
        "path": request.path(),
        "id": request.match_info().get("id"),
    }))
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(json!({"error": "NotFound", "message": "no such route"}))
}

/// The proof that actix-web routes the rewritten path: the App has no route
/// under `/t`, yet `/t/acme/items/7` reaches the `/items/{id}` resource, with
/// its parameter, and the request path is the rewritten one.
#[actix_web::test]
async fn routing_sees_the_rewritten_path() {
    let app = test::init_service(
        App::new()
            .wrap(TenancyMiddleware::new(tenancy()))
            .route("/items", web::get().to(routed))
            .route("/items/{id}", web::get().to(routed))
            .default_service(web::to(not_found)),
    )
    .await;
    let (status, body) = call(&app, get("/t/acme/items/7?x=1", "localhost").to_request()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"tenant": "acme", "pattern": "/items/{id}", "path": "/items/7", "id": "7"})
    );
    let (status, body) = call(&app, get("/t/globex/items", "localhost").to_request()).await;
    assert_eq!(
        (status, &body["pattern"]),
        (200, &json!("/items")),
        "{body}"
    );
    // Without the middleware, the same request is not routed.
    let bare = test::init_service(
        App::new()
            .route("/items/{id}", web::get().to(routed))
            .default_service(web::to(not_found)),
    )
    .await;
    let (status, body) = call(&bare, get("/t/acme/items/7", "localhost").to_request()).await;
    assert_eq!((status, &body["error"]), (404, &json!("NotFound")));
}

#[actix_web::test]
async fn a_scope_middleware_refuses_to_misroute_a_prefixed_path() {
    let app = test::init_service(
        App::new().service(
            web::scope("/t")
                .wrap(TenancyMiddleware::new(tenancy()))
                .route("/{tenant}/items", web::get().to(routed)),
        ),
    )
    .await;
    let (status, body) = call(&app, get("/t/acme/items", "localhost").to_request()).await;
    assert_eq!(
        (status, &body["error"]),
        (500, &json!("Configuration")),
        "{body}"
    );

    // With rewriting off, the scope matches the prefix itself.
    let app = test::init_service(
        App::new().service(
            web::scope("/t")
                .wrap(TenancyMiddleware::new(
                    Gate::new(tenancy()).rewrite_path_prefix(false),
                ))
                .route("/{tenant}/items", web::get().to(routed)),
        ),
    )
    .await;
    let (status, body) = call(&app, get("/t/acme/items", "localhost").to_request()).await;
    assert_eq!(
        (status, &body["tenant"], &body["path"]),
        (200, &json!("acme"), &json!("/t/acme/items"))
    );
}

#[actix_web::test]
async fn a_scope_middleware_works_without_a_path_prefix() {
    let app = test::init_service(
        App::new()
            .service(
                web::scope("/api")
                    .wrap(TenancyMiddleware::new(tenancy()))
                    .route("/items", web::get().to(routed)),
            )
            .route("/health", web::get().to(HttpResponse::Ok)),
    )
    .await;
    let (status, body) = call(&app, get("/api/items", "globex.localhost").to_request()).await;
    assert_eq!((status, &body["tenant"]), (200, &json!("globex")));
    let (status, body) = call(&app, get("/api/items", "localhost").to_request()).await;
    assert_eq!((status, &body["error"]), (404, &json!("TenantRequired")));
    let (status, _) = call(&app, get("/health", "nope.localhost").to_request()).await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn extractors_without_a_middleware_are_a_configuration_error() {
    let app =
        test::init_service(App::new().route("/current", web::get().to(routed)).route(
            "/optional",
            web::get().to(
                |OptionalTenant(tenant): OptionalTenant<TenantRecord>| async move {
                    format!("{tenant:?}")
                },
            ),
        ))
        .await;
    for uri in ["/current", "/optional"] {
        let (status, body) = call(&app, get(uri, "acme.localhost").to_request()).await;
        assert_eq!(
            (status, &body["error"]),
            (500, &json!("Configuration")),
            "{uri}"
        );
        assert!(
            !body.to_string().contains("TenantRecord"),
            "type names are logged, not sent"
        );
    }
}

#[actix_web::test]
async fn asking_for_another_tenant_type_is_a_configuration_error() {
    async fn wrong(CurrentTenant(tenant): CurrentTenant<Arc<TenantRecord>>) -> String {
        tenant.name.to_string()
    }
    let app = test::init_service(
        App::new()
            .wrap(TenancyMiddleware::new(Gate::new(tenancy()).optional()))
            .route("/wrong", web::get().to(wrong)),
    )
    .await;
    for host in ["acme.localhost", "localhost"] {
        let (status, body) = call(&app, get("/wrong", host).to_request()).await;
        assert_eq!(
            (status, &body["error"]),
            (500, &json!("Configuration")),
            "{host}"
        );
    }
}

/// The middleware is `Send + Clone`, as `HttpServer::new` needs (compile-time check).
#[allow(dead_code)]
fn middleware_fits_http_server(middleware: TenancyMiddleware<InMemoryStore>) {
    fn send_clone<T: Send + Clone + 'static>(_: &T) {}
    send_clone(&middleware);
    let _ = actix_web::HttpServer::new(move || App::new().wrap(middleware.clone()));
}

/// Custom resolvers see the query string of actix requests too.
#[actix_web::test]
async fn custom_resolvers_see_the_query_string() {
    use tenancy_core::{RequestView, Resolution, TenancyError, from_fn};
    let by_query = from_fn(|request: &RequestView<'_>| -> Result<_, TenancyError> {
        match request.query_param("tenant") {
            Some(id) => Ok(Some(Resolution::id(TenantId::new(id)?))),
            None => Ok(None),
        }
    });
    let app = test::init_service(
        App::new()
            .wrap(TenancyMiddleware::new(Tenancy::new(by_query, store())))
            .route("/items", web::get().to(routed)),
    )
    .await;
    let (status, body) = call(&app, get("/items?tenant=globex", "localhost").to_request()).await;
    assert_eq!((status, &body["tenant"]), (200, &json!("globex")), "{body}");
    let (status, body) = call(&app, get("/items?tenant=Bad_Id", "localhost").to_request()).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("InvalidTenantId")),
        "{body}"
    );
}
