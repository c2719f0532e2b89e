//! The tenancy rows of the error table, each with its JSON shape.

use super::app;
use crate::testing::Harness;
use crate::testing::client::get;
use crate::testing::fixture::Fixture;

/// An invalid tenant id, from the path or the header, is `400 InvalidTenantId`.
pub async fn invalid_tenant_id_is_400<H: Harness>() {
    let fixture = Fixture::new();
    let app = app::<H>(&fixture).await;
    let requests = [
        get("/t/bad_id/items").host("localhost"),
        get("/t/%61cme/items").host("localhost"),
        get("/t/-acme/items"),
        get("/t/../items"),
        get(&format!("/t/{}/items", "a".repeat(64))),
        get("/items").header("x-tenant-id", "not a tenant"),
        get("/items").header("x-tenant-id", b"acm\xffe"),
        get("/items").header("x-tenant-id", ""),
    ];
    for request in requests {
        let message = request.send(&app).await.error(400, "InvalidTenantId");
        assert!(message.starts_with("invalid tenant id"), "{message}");
    }
}

/// A repeated or malformed `Host` is `400 InvalidHost`.
pub async fn invalid_or_repeated_host_is_400<H: Harness>() {
    let fixture = Fixture::new();
    let app = app::<H>(&fixture).await;
    // Two Host headers, equal or not, are refused rather than guessed at.
    get("/items")
        .host("acme.localhost")
        .host("globex.localhost")
        .send(&app)
        .await
        .error(400, "InvalidHost");
    get("/items")
        .host("acme.localhost")
        .host("acme.localhost")
        .send(&app)
        .await
        .error(400, "InvalidHost");
    for host in [
        "bad_id.localhost",
        "acme..localhost",
        "acme.localhost:http",
        "[::1",
    ] {
        get("/items")
            .host(host)
            .send(&app)
            .await
            .error(400, "InvalidHost");
    }
}

/// Strategies (or header values) naming different tenants are
/// `400 TenantConflict`.
pub async fn conflicting_tenants_are_400<H: Harness>() {
    let fixture = Fixture::new();
    let app = app::<H>(&fixture).await;
    let requests = [
        // Two strategies.
        get("/t/globex/items").host("acme.localhost"),
        get("/items")
            .host("acme.localhost")
            .header("x-tenant-id", "globex"),
        get("/t/acme/items").header("x-tenant-id", "globex"),
        // A custom domain whose tenant is not the one named by the header.
        get("/items")
            .host("acme.test")
            .header("x-tenant-id", "globex"),
        // Two different values of the tenant header.
        get("/items")
            .header("x-tenant-id", "acme")
            .header("x-tenant-id", "globex"),
        get("/items")
            .host("acme.localhost")
            .header("x-tenant-id", "acme")
            .header("X-Tenant-Id", "ACME")
            .header("x-tenant-id", "globex"),
    ];
    for request in requests {
        request.send(&app).await.error(400, "TenantConflict");
    }
}

/// A deactivated tenant is `403 TenantInactive`, whatever names it.
pub async fn inactive_tenant_is_403<H: Harness>() {
    let fixture = Fixture::new();
    let app = app::<H>(&fixture).await;
    for request in [
        get("/items").host("initech.localhost"),
        get("/t/initech/items"),
        get("/items").header("x-tenant-id", "initech"),
        get("/").host("initech.localhost"),
    ] {
        let message = request.send(&app).await.error(403, "TenantInactive");
        assert_eq!(message, "tenant `initech` is inactive");
    }
}

/// An unknown tenant is `404 TenantNotFound`; an unregistered host outside
/// the base domains names no tenant.
pub async fn unknown_tenant_is_404<H: Harness>() {
    let fixture = Fixture::new();
    let app = app::<H>(&fixture).await;
    for request in [
        get("/items").host("nope.localhost"),
        get("/t/nope/items"),
        get("/items").header("x-tenant-id", "nope"),
        get("/items")
            .host("api.unlisted.example")
            .header("x-tenant-id", "nope"),
        get("/").host("nope.example.com"),
    ] {
        request.send(&app).await.error(404, "TenantNotFound");
    }
    // Hosts outside the base domains that no tenant registered name no
    // tenant at all.
    get("/items")
        .host("shop.nope.test")
        .send(&app)
        .await
        .error(404, "TenantRequired");
    // On an optional route that is simply no tenant.
    let body = get("/").host("api.unlisted.example").send(&app).await.ok();
    assert_eq!(body["tenant"], serde_json::Value::Null);
}

/// A failing store is `503 StoreUnavailable`, without its source; the next
/// request after recovery succeeds.
pub async fn store_unavailable_is_503<H: Harness>() {
    let fixture = Fixture::new();
    let app = app::<H>(&fixture).await;
    fixture.backend.set_failing(true);
    for request in [
        get("/items").host("acme.localhost"),
        get("/t/globex/items"),
        get("/items").host("acme.test"),
    ] {
        let message = request.send(&app).await.error(503, "StoreUnavailable");
        assert!(
            !message.contains("secret"),
            "the source is not leaked: {message}"
        );
    }
    // Failures are remembered only for the cache's `retry_after` (1 s by
    // default, so a flood cannot hammer a failing store): once it has
    // passed after recovery, the next request succeeds.
    fixture.backend.set_failing(false);
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(
        get("/items")
            .host("acme.localhost")
            .send(&app)
            .await
            .tenant(),
        "acme"
    );
}
