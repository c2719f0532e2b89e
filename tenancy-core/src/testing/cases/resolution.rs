//! Every resolution strategy, alone and together.

use serde_json::json;

use super::app;
use crate::DomainName;
use crate::testing::Harness;
use crate::testing::client::get;
use crate::testing::fixture::{Fixture, id};

/// A subdomain of a base domain names the tenant, whatever its case, port
/// or trailing dot.
pub async fn subdomain_names_the_tenant<H: Harness>() {
    let fixture = Fixture::new();
    let app = app::<H>(&fixture).await;
    for host in [
        "acme.localhost",
        "ACME.localhost:8080",
        "acme.example.com.",
        "acme.localhost:",
    ] {
        let response = get("/items").host(host).send(&app).await;
        let body = response.ok();
        assert_eq!(body["tenant"], "acme", "{host}");
        assert_eq!(body["name"], "Acme Corp");
        assert_eq!(body["path"], "/items");
    }
    let body = get("/").host("globex.localhost").send(&app).await.ok();
    assert_eq!(body, json!({"tenant": {"id": "globex", "name": "Globex"}}));
}

/// A registered custom domain names its tenant; an unregistered one names
/// none, until it is registered and the cache forgets the miss.
pub async fn custom_domain_names_the_tenant<H: Harness>() {
    let fixture = Fixture::new();
    let app = app::<H>(&fixture).await;
    for host in ["acme.test", "ACME.Test.:443"] {
        assert_eq!(
            get("/items").host(host).send(&app).await.tenant(),
            "acme",
            "{host}"
        );
    }
    // An unregistered host outside the base domains names no tenant.
    get("/items")
        .host("unknown.test")
        .send(&app)
        .await
        .error(404, "TenantRequired");
    // ...unless the path prefix names one.
    assert_eq!(
        get("/t/globex/items")
            .host("unknown.test")
            .send(&app)
            .await
            .tenant(),
        "globex"
    );
    // A domain added later is found once the cache forgets the miss.
    let globex = get("/items").host("globex.test");
    globex.send(&app).await.error(404, "TenantRequired");
    fixture
        .backend
        .tenants
        .add_domain(DomainName::new("globex.test").unwrap(), &id("globex"))
        .unwrap();
    globex.send(&app).await.error(404, "TenantRequired");
    fixture
        .invalidate_domain(DomainName::new("globex.test").unwrap())
        .await;
    assert_eq!(globex.send(&app).await.tenant(), "globex");
}

/// A path prefix names the tenant and is stripped before routing; the query
/// is kept, the original URI too.
pub async fn path_prefix_is_stripped_before_routing<H: Harness>() {
    let fixture = Fixture::new();
    let app = app::<H>(&fixture).await;
    let body = get("/t/acme/items?page=2&q=a%20b")
        .host("localhost")
        .send(&app)
        .await
        .ok();
    assert_eq!(body["tenant"], "acme");
    assert_eq!(body["path"], "/items", "the handler sees the routed path");
    assert_eq!(body["query"], "page=2&q=a%20b", "the query is kept");
    assert_eq!(body["original"], "/t/acme/items?page=2&q=a%20b");

    // Path parameters are matched against the rewritten path.
    let body = get("/t/globex/items/42").send(&app).await.ok();
    assert_eq!(body, json!({"tenant": "globex", "item": "42"}));

    // The bare prefix routes to `/`.
    for uri in ["/t/acme", "/t/acme/", "/t/acme?x=1"] {
        let body = get(uri).host("localhost").send(&app).await.ok();
        assert_eq!(body["tenant"]["id"], "acme", "{uri}");
    }

    // Without the prefix there is no such tenant route; `/t` alone names no tenant.
    let response = get("/t/acme/nowhere").host("localhost").send(&app).await;
    assert_eq!(response.status, 404, "an unknown route stays unknown");
    get("/t")
        .host("localhost")
        .send(&app)
        .await
        .error(404, "TenantRequired");
    // Central routes under a prefix run with the tenant, like any route.
    let body = get("/t/acme/health")
        .host("localhost")
        .send(&app)
        .await
        .ok();
    assert_eq!(body, json!({"status": "ok"}));
}

/// The tenant header names the tenant, whatever its case; the same value
/// twice is one tenant.
pub async fn header_names_the_tenant<H: Harness>() {
    let fixture = Fixture::new();
    let app = app::<H>(&fixture).await;
    for value in ["globex", "GLOBEX"] {
        let response = get("/items")
            .host("localhost")
            .header("x-tenant-id", value)
            .send(&app)
            .await;
        assert_eq!(response.tenant(), "globex", "{value}");
    }
    // The same value twice is one tenant; no Host header at all is fine.
    let response = get("/items")
        .header("X-Tenant-ID", "acme")
        .header("x-tenant-id", "acme")
        .send(&app)
        .await;
    assert_eq!(response.tenant(), "acme");
}

/// Strategies that name the same tenant are not a conflict.
pub async fn agreeing_strategies_name_one_tenant<H: Harness>() {
    let fixture = Fixture::new();
    let app = app::<H>(&fixture).await;
    let body = get("/t/acme/items")
        .host("acme.localhost")
        .header("x-tenant-id", "acme")
        .send(&app)
        .await
        .ok();
    assert_eq!(
        (body["tenant"].as_str(), body["path"].as_str()),
        (Some("acme"), Some("/items"))
    );
    let response = get("/items")
        .host("acme.test")
        .header("x-tenant-id", "acme")
        .send(&app)
        .await;
    assert_eq!(
        response.tenant(),
        "acme",
        "a custom domain and the id of its tenant agree"
    );
}
