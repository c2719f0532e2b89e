//! Custom renderers, tracing, and hostile input.

use super::{app, app_with};
use crate::testing::Harness;
use crate::testing::client::get;
use crate::testing::fixture::Fixture;
use crate::testing::recorder::Recorder;
use crate::testing::setup::Renderer;

/// A custom renderer renders every tenancy error, the extractors'
/// rejections included.
pub async fn custom_renderer_renders_every_tenancy_error<H: Harness>() {
    let fixture = Fixture::new();
    let app = app_with::<H>(fixture.setup().with_renderer(Renderer::Text)).await;
    let cases = [
        (get("/items").host("nope.localhost"), 404, "TenantNotFound"),
        (get("/items").host("localhost"), 404, "TenantRequired"),
        // The extractor's rejection uses the layer's renderer too.
        (get("/strict").host("localhost"), 404, "TenantRequired"),
        (
            get("/t/acme/items").host("globex.localhost"),
            400,
            "TenantConflict",
        ),
    ];
    for (request, status, kind) in cases {
        let response = request.send(&app).await;
        assert_eq!(response.status, status, "{}", response.text());
        assert!(
            response.content_type().starts_with("text/plain"),
            "{response:?}"
        );
        assert!(
            response.text().starts_with(&format!("{kind}: ")),
            "{}",
            response.text()
        );
    }
    assert_eq!(
        get("/items")
            .host("acme.localhost")
            .send(&app)
            .await
            .tenant(),
        "acme"
    );
}

/// Each request gets one `tenancy` span with its `tenant.id`, and the
/// handler runs inside it.
pub async fn tenant_id_is_recorded_on_the_request_span<H: Harness>() {
    let fixture = Fixture::new();
    let app = app::<H>(&fixture).await;
    let recorder = Recorder::default();
    let _guard = recorder.install();
    assert_eq!(
        get("/items")
            .host("acme.localhost")
            .send(&app)
            .await
            .tenant(),
        "acme"
    );
    assert_eq!(get("/t/globex/items").send(&app).await.tenant(), "globex");
    get("/health").host("acme.localhost").send(&app).await.ok();
    get("/items")
        .host("nope.localhost")
        .send(&app)
        .await
        .error(404, "TenantNotFound");
    assert_eq!(recorder.spans(), 4, "one `tenancy` span per request");
    assert_eq!(recorder.tenant_ids(), ["acme", "globex"]);
    // The handlers' own events are inside the span, with the tenant.
    assert_eq!(
        recorder.handler_events(),
        [Some("acme".to_owned()), Some("globex".to_owned()), None]
    );
}

/// Hostile hosts, headers and paths are answered with a client error (or
/// served), never a server error.
pub async fn hostile_input_never_fails_the_server<H: Harness>() {
    let fixture = Fixture::new();
    let app = app::<H>(&fixture).await;
    let long = "a".repeat(10_000);
    let labels = vec!["a"; 200].join(".");
    let requests = [
        get("/items").host(&long),
        get("/items").host(format!("{labels}.localhost")),
        get("/items").host("acme.localhost:99999999"),
        get("/items").host("ácme.localhost"),
        get("/items").host(b"acme.local\xffhost"),
        get("/items").host(""),
        get("/items").host(":"),
        get("/items").host("[]"),
        get("/items").host("[::1]:80:80"),
        get("/items").host("user@acme.localhost"),
        get("/items").host("."),
        get("/items").host("localhost."),
        get("/items").header("x-tenant-id", &long),
        get("/items")
            .header("x-tenant-id", "acme")
            .header("x-tenant-id", &long),
        get("/t//items"),
        get("/t/"),
        get("/t/%2e%2e/items"),
        get("/t/acme%2Fglobex/items"),
        get(&format!("/t/{long}/items")),
        get("/t/acme/../globex/items"),
        get("/t/acme//items"),
        get("http://globex.localhost/t/acme/items").host("acme.localhost"),
        get("http://acme.localhost/items"),
        get("/items?x=%ff%00"),
    ];
    for request in requests {
        let response = request.send(&app).await;
        assert!(
            matches!(response.status, 200 | 400 | 403 | 404),
            "{request:?} -> {response:?}"
        );
        if response.status != 200 && response.content_type() == "application/json" {
            let body = response.json();
            assert!(
                body["error"].is_string() && body["message"].is_string(),
                "{body}"
            );
        }
    }
}
