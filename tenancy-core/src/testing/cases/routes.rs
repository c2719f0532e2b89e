//! Central hosts, and central, optional and required routes.

use serde_json::json;

use super::{app, app_with};
use crate::testing::Harness;
use crate::testing::client::{TestRequest, get};
use crate::testing::fixture::Fixture;

const CENTRAL_HOSTS: [Option<&str>; 6] = [
    Some("localhost"),
    Some("www.localhost"),
    Some("example.com:8080"),
    Some("127.0.0.1:8080"),
    Some("[::1]"),
    None,
];

fn central(uri: &str, host: Option<&str>) -> TestRequest {
    match host {
        Some(host) => get(uri).host(host),
        None => get(uri),
    }
}

/// A central host (no tenant) is refused on required routes, and runs
/// without a tenant on optional ones.
pub async fn central_host_on_tenant_routes<H: Harness>() {
    let fixture = Fixture::new();
    let app = app::<H>(&fixture).await;
    for host in CENTRAL_HOSTS {
        // A required route: refused by the layer.
        let message = central("/items", host)
            .send(&app)
            .await
            .error(404, "TenantRequired");
        assert!(message.contains("tenant"), "{message}");
        central("/items/1", host)
            .send(&app)
            .await
            .error(404, "TenantRequired");
        // Optional routes run without a tenant.
        let body = central("/", host).send(&app).await.ok();
        assert_eq!(body, json!({"tenant": null}), "{host:?}");
        let body = central("/maybe", host).send(&app).await.ok();
        assert_eq!(body, json!({"tenant": null}));
        // An optional route whose handler insists: the extractor's rejection.
        central("/strict", host)
            .send(&app)
            .await
            .error(404, "TenantRequired");
    }
    // With a tenant required by default, unknown paths are refused before routing.
    get("/nowhere")
        .host("localhost")
        .send(&app)
        .await
        .error(404, "TenantRequired");
    // On a tenant host the same routes have the tenant.
    let body = get("/strict").host("acme.localhost").send(&app).await.ok();
    assert_eq!(body, json!({"tenant": "acme"}));
    let body = get("/maybe").host("globex.localhost").send(&app).await.ok();
    assert_eq!(body, json!({"tenant": "globex"}));
}

/// A central route runs on every host, even a bad one, without asking the
/// store.
pub async fn central_route_runs_on_every_host<H: Harness>() {
    let fixture = Fixture::new();
    let app = app::<H>(&fixture).await;
    fixture.backend.set_failing(true);
    let lookups = fixture.backend.lookups();
    let requests = [
        get("/health").host("localhost"),
        get("/health").host("acme.localhost"),
        get("/health").host("nope.localhost"),
        get("/health").host("initech.localhost"),
        get("/health").host("bad_host.localhost"),
        get("/health").host("a.localhost").host("b.localhost"),
        get("/health")
            .host("acme.localhost")
            .header("x-tenant-id", "globex"),
        get("/health").header("x-tenant-id", "not valid"),
    ];
    for request in requests {
        let body = request.send(&app).await.ok();
        assert_eq!(body, json!({"status": "ok"}), "{request:?}");
    }
    assert_eq!(
        fixture.backend.lookups(),
        lookups,
        "central routes never touch the store"
    );
}

/// With a tenant optional by default, central requests pass to the router,
/// and a badly named tenant is still refused.
pub async fn optional_by_default<H: Harness>() {
    let fixture = Fixture::new();
    let app = app_with::<H>(fixture.setup().optional()).await;
    // An unknown path on a central host reaches the router's own 404.
    let response = get("/nowhere").host("localhost").send(&app).await;
    assert_eq!(response.status, 404);
    assert!(
        !response.text().contains("TenantRequired"),
        "{}",
        response.text()
    );
    // The layer lets a central request through; the handler's extractor refuses it.
    get("/items")
        .host("localhost")
        .send(&app)
        .await
        .error(404, "TenantRequired");
    assert_eq!(
        get("/maybe").host("localhost").send(&app).await.ok(),
        json!({"tenant": null})
    );
    assert_eq!(
        get("/items")
            .host("acme.localhost")
            .send(&app)
            .await
            .tenant(),
        "acme"
    );
    // Optional is not lenient: a tenant that cannot be served is refused.
    get("/maybe")
        .host("nope.localhost")
        .send(&app)
        .await
        .error(404, "TenantNotFound");
    get("/maybe")
        .host("initech.localhost")
        .send(&app)
        .await
        .error(403, "TenantInactive");
    get("/maybe")
        .header("x-tenant-id", "-x")
        .send(&app)
        .await
        .error(400, "InvalidTenantId");
}
