//! The database cases: each builds an app through a `DbHarness` on a fresh
//! database and checks real HTTP outcomes and the rows in Postgres.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};
use tenancy_core::testing::{get, post};

use crate::DbHarness;
use crate::fixture::{DbFixture, DbSetup};
use crate::pg::Via;
use crate::raw::{self, Progress};

/// The item names of a `{"items": [...]}` body.
fn names(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {body}"))
        .iter()
        .map(|item| item["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Asserts that every item of the body carries the marker `tenant`.
#[track_caller]
fn assert_only(body: &Value, tenant: &str) {
    let items = body["items"].as_array().unwrap();
    assert!(!items.is_empty(), "{body}");
    for item in items {
        assert_eq!(item["tenant"], tenant, "a foreign row for {tenant}: {body}");
    }
}

/// `GET /items` for `acme` (by subdomain) and `globex` (by header) lists
/// exactly that tenant's rows, from that tenant's schema.
pub async fn each_tenant_sees_only_its_own_rows<H: DbHarness>(via: Via) {
    let fixture = DbFixture::new(via).await;
    let app = H::app(fixture.setup()).await;

    let acme = get("/items").host("acme.localhost").send(&app).await.ok();
    assert_only(&acme, "acme");
    assert_eq!(names(&acme), ["acme item 1", "acme item 2", "acme item 3"]);
    assert_eq!(acme["schema"], fixture.acme.schema().unwrap().as_str());

    // Another strategy, another tenant, the same route.
    let globex = get("/items")
        .host("localhost")
        .header("X-Tenant-ID", "globex")
        .send(&app)
        .await
        .ok();
    assert_only(&globex, "globex");
    assert_eq!(names(&globex), ["globex item 1", "globex item 2"]);
    assert_eq!(globex["schema"], fixture.globex.schema().unwrap().as_str());
    assert_ne!(acme["schema"], globex["schema"]);
}

/// `POST /items/{name}` for `acme` commits the row in `acme`'s schema and
/// nowhere else, as the app and a direct read both see.
pub async fn writes_land_in_the_requests_tenant_only<H: DbHarness>(via: Via) {
    let fixture = DbFixture::new(via).await;
    let app = H::app(fixture.setup()).await;

    let response = post("/items/anvil").host("acme.localhost").send(&app).await;
    assert_eq!(response.status, 201, "{}", response.text());
    assert_eq!(response.json()["inserted"], "anvil");

    let acme = get("/items").host("acme.localhost").send(&app).await.ok();
    assert_only(&acme, "acme");
    assert_eq!(names(&acme).last().unwrap(), "anvil");
    let globex = get("/items").host("globex.localhost").send(&app).await.ok();
    assert!(!names(&globex).contains(&"anvil".to_owned()), "{globex}");

    // And in the database itself, read outside the app.
    let rows = fixture.rows(&fixture.acme).await;
    assert_eq!(
        rows.last().unwrap(),
        &("acme".to_owned(), "anvil".to_owned())
    );
    assert_eq!(fixture.rows(&fixture.globex).await.len(), 2);
}

/// Without a tenant (a central host, or a central route on a tenant host)
/// `TenantDb` answers `404 TenantRequired`, and nothing is written.
pub async fn no_tenant_is_tenant_required<H: DbHarness>(via: Via) {
    let fixture = DbFixture::new(via).await;
    let app = H::app(fixture.setup()).await;

    // A central host on an optional route: the extractor refuses, not the layer.
    get("/items")
        .host("localhost")
        .send(&app)
        .await
        .error(404, "TenantRequired");
    post("/items/anvil")
        .host("localhost")
        .send(&app)
        .await
        .error(404, "TenantRequired");
    // A central route resolves nothing, even on a tenant host.
    get("/central/items")
        .host("acme.localhost")
        .send(&app)
        .await
        .error(404, "TenantRequired");
    assert_eq!(fixture.rows(&fixture.acme).await.len(), 3);
}

/// A missing access object, or no adapter at all, answers
/// `500 Configuration` (without type names), before the tenant is resolved.
pub async fn missing_access_or_layer_is_a_configuration_error<H: DbHarness>(via: Via) {
    let fixture = DbFixture::new(via).await;

    // No `SchemaPool` access object.
    let setup = DbSetup {
        schemas: None,
        ..fixture.setup()
    };
    let app = H::app(setup).await;
    let message = get("/items")
        .host("acme.localhost")
        .send(&app)
        .await
        .error(500, "Configuration");
    assert!(
        !message.contains("SchemaPool"),
        "type names are logged, not sent: {message}"
    );
    // Checked before the tenant: a misconfigured route fails on central hosts too.
    get("/items")
        .host("localhost")
        .send(&app)
        .await
        .error(500, "Configuration");
    // Other access types are unaffected.
    assert_only(
        &get("/pool").host("acme.localhost").send(&app).await.ok(),
        "acme",
    );

    // No tenancy adapter at all.
    let setup = DbSetup {
        layer: false,
        ..fixture.setup()
    };
    let bare = H::app(setup).await;
    get("/items")
        .host("acme.localhost")
        .send(&bare)
        .await
        .error(500, "Configuration");
}

/// A handler that fails after a write without committing leaves no row and
/// no session idle in a transaction; the next write commits.
pub async fn failing_handler_leaves_no_partial_write<H: DbHarness>(via: Via) {
    let fixture = DbFixture::new(via).await;
    let app = H::app(fixture.setup()).await;

    post("/fail/half-done")
        .host("acme.localhost")
        .send(&app)
        .await
        .error(500, "HandlerFailed");

    let rows = fixture.rows(&fixture.acme).await;
    assert_eq!(
        rows.len(),
        3,
        "the failed handler's insert was rolled back: {rows:?}"
    );
    // Rolled back, not left open: no session stays inside a transaction.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while fixture.idle_in_transaction().await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a dropped transaction was left open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The pool is still healthy, and the next write commits.
    let response = post("/items/whole").host("acme.localhost").send(&app).await;
    assert_eq!(response.status, 201, "{}", response.text());
    let names: Vec<String> = fixture
        .rows(&fixture.acme)
        .await
        .into_iter()
        .map(|(_, name)| name)
        .collect();
    assert_eq!(
        names,
        ["acme item 1", "acme item 2", "acme item 3", "whole"]
    );
}

/// A failed open answers with its error's status and kind (`503
/// StoreUnavailable`), without the source's secrets.
pub async fn open_errors_keep_their_status<H: DbHarness>(via: Via) {
    let fixture = DbFixture::new(via).await;

    // A real outage: the access object's pool is closed.
    let setup = DbSetup {
        schemas: Some(fixture.closed_schema_pool().await),
        ..fixture.setup()
    };
    let app = H::app(setup).await;
    get("/items")
        .host("acme.localhost")
        .send(&app)
        .await
        .error(503, "StoreUnavailable");

    // An access type's own error, with a secret in its source.
    fixture.pools.set_failing(true);
    let message = get("/pool")
        .host("acme.localhost")
        .send(&app)
        .await
        .error(503, "StoreUnavailable");
    assert!(
        !message.contains("secret"),
        "sources are logged, not sent: {message}"
    );
    fixture.pools.set_failing(false);
    assert_only(
        &get("/pool").host("acme.localhost").send(&app).await.ok(),
        "acme",
    );
}

/// 90 concurrent reads and writes for two tenants on one pool: every read
/// sees only its tenant's rows, every write lands in its tenant's schema.
pub async fn concurrent_requests_never_see_foreign_rows<H: DbHarness>(via: Via) {
    let fixture = DbFixture::new(via).await;
    let app = H::app(fixture.setup()).await;
    let requests: Vec<(&str, bool, _)> = (0..90)
        .map(|index| {
            let (tenant, host) = if index % 2 == 0 {
                ("acme", "acme.localhost")
            } else {
                ("globex", "globex.localhost")
            };
            let write = index % 3 == 0;
            let request = if write {
                post(&format!("/items/concurrent-{index}")).host(host)
            } else {
                get("/items/slow").host(host)
            };
            (tenant, write, request)
        })
        .collect();
    let app = &app;
    let responses =
        join_all(requests.iter().map(|(tenant, write, request)| async move {
            (*tenant, *write, request.send(app).await)
        }))
        .await;
    for (tenant, write, response) in &responses {
        if *write {
            assert_eq!(response.status, 201, "{}", response.text());
        } else {
            assert_only(&response.ok(), tenant);
        }
    }
    // Every committed write is in its own tenant's schema, and only there.
    for tenant in [&fixture.acme, &fixture.globex] {
        let rows = fixture.rows(tenant).await;
        for (marker, name) in &rows {
            assert_eq!(marker, tenant.id().as_str(), "{name} in the wrong schema");
        }
        let expected = responses
            .iter()
            .filter(|(owner, write, _)| *write && *owner == tenant.id().as_str())
            .count();
        let written = rows
            .iter()
            .filter(|(_, name)| name.starts_with("concurrent-"))
            .count();
        assert_eq!(written, expected);
    }
}

/// `TenantDb` works with any `TenantAccess` ([`PoolPerTenant`](crate::PoolPerTenant)),
/// whose own errors keep their status.
pub async fn any_tenant_access_works<H: DbHarness>(via: Via) {
    let fixture = DbFixture::new(via).await;
    let app = H::app(fixture.setup()).await;

    // `TenantDb<PoolPerTenant>`: an in-test access whose handle is a pool.
    let acme = get("/pool").host("acme.localhost").send(&app).await.ok();
    assert_only(&acme, "acme");
    assert_eq!(names(&acme).len(), 3);
    let globex = get("/pool").host("globex.localhost").send(&app).await.ok();
    assert_only(&globex, "globex");
    assert_eq!(names(&globex).len(), 2);

    // A tenant the access has no pool for: the access's own error and status.
    fixture
        .manager
        .create(tenancy_sqlx::NewTenant::new(
            crate::fixture::id("initech"),
            "Initech",
        ))
        .await
        .unwrap();
    get("/pool")
        .host("initech.localhost")
        .send(&app)
        .await
        .error(500, "Configuration");
    // ... while the schema access serves it.
    let initech = get("/items")
        .host("initech.localhost")
        .send(&app)
        .await
        .ok();
    assert!(names(&initech).is_empty(), "{initech}");
}

/// Rejections of `TenantDb` render with the adapter's error renderer (here
/// the text one), whatever their cause.
pub async fn rejections_use_the_layers_renderer<H: DbHarness>(via: Via) {
    let fixture = DbFixture::new(via).await;
    let setup = DbSetup {
        schemas: None,
        text_errors: true,
        ..fixture.setup()
    };
    let app = H::app(setup).await;

    let check = |response: crate::TestResponse, status: u16, kind: &str| {
        assert_eq!(response.status, status, "{}", response.text());
        assert!(
            response.content_type().starts_with("text/plain"),
            "{:?}",
            response.headers
        );
        assert!(
            response.text().starts_with(&format!("{kind}: ")),
            "{}",
            response.text()
        );
    };
    check(
        get("/pool").host("localhost").send(&app).await,
        404,
        "TenantRequired",
    );
    check(
        get("/items").host("acme.localhost").send(&app).await,
        500,
        "Configuration",
    );
    fixture.pools.set_failing(true);
    check(
        get("/pool").host("acme.localhost").send(&app).await,
        503,
        "StoreUnavailable",
    );
}

/// Slow uploads hold no pooled connection: `TenantDb` takes its connection
/// when the handler first uses it, after the body is read.
///
/// Four connections; 20 uploads to `POST /upload` (`TenantDb<SchemaPool>`,
/// then `Json`) whose 30-byte bodies trickle in one byte every 100 ms (about
/// 3 s each, after a head with `Content-Length`). Once the uploads are a
/// fifth of the way through their bodies, a bodiless `GET /items` must be
/// answered while all 20 bodies are still unfinished; and then every upload
/// succeeds. Only the order is asserted, never a duration.
///
/// With the handle opened during extraction (before the body is read, as
/// `TenantDb` used to), each upload took a connection as soon as its head
/// was in and held it until its body was: four uploads would hold all four
/// connections for their whole 3 s, the other sixteen and the `GET` would
/// queue behind them, and the `GET` would be answered only after some bodies
/// had completed (the first assertion below fails; checked by making
/// extraction open eagerly again).
pub async fn slow_uploads_hold_no_connections<H: DbHarness>(via: Via) {
    const UPLOADS: usize = 20;
    const BODY: usize = 30;
    let fixture = DbFixture::new(via).await;
    let setup = DbSetup {
        schemas: Some(fixture.schema_pool(4).await),
        ..fixture.setup()
    };
    let server = H::serve(setup).await;
    let addr = server.addr;

    let progress = Progress::default();
    let bodies: Vec<Vec<u8>> = (0..UPLOADS)
        .map(|index| {
            let body = json!({ "name": format!("upload-{index:02}") }).to_string();
            format!("{body:<BODY$}").into_bytes()
        })
        .collect();
    let progress = &progress;
    let uploads = join_all(bodies.iter().map(|body| async move {
        raw::trickle(
            addr,
            "/upload",
            "acme.localhost",
            body,
            Duration::from_millis(100),
            progress,
        )
        .await
    }));
    let probe = async {
        // The uploads' heads are in, and a fifth of their bodies.
        while progress.bytes() < UPLOADS * BODY / 5 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let response = raw::get(addr, "/items", "acme.localhost").await;
        (response, progress.bodies())
    };
    let (uploads, (probe, finished)) = tokio::join!(uploads, probe);

    assert_eq!(probe.status, 200, "{}", probe.body);
    assert_eq!(
        finished, 0,
        "the bodiless request was answered only after {finished} slow upload(s) had finished: \
         their connections were taken before their bodies arrived"
    );
    let listed: Value = serde_json::from_str(&probe.body).unwrap();
    assert_eq!(
        names(&listed),
        ["acme item 1", "acme item 2", "acme item 3"]
    );

    for response in &uploads {
        assert_eq!(response.status, 201, "{}", response.body);
    }
    let uploaded = fixture
        .rows(&fixture.acme)
        .await
        .into_iter()
        .filter(|(marker, name)| marker == "acme" && name.starts_with("upload-"))
        .count();
    assert_eq!(uploaded, UPLOADS);
}
