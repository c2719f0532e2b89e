//! Hostile and malformed input: every request gets its documented status, a
//! JSON error body, and never a 500 or a dropped connection.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::print_stderr
)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn bad_input(framework: Framework, pair: Pair) {
    let env = Environment::new(pair).await;
    let server = Server::start(framework, &env.workdir, &standard(&env)).await;
    let addr = server.addr.clone();
    let result = tokio::spawn(async move { run(&addr).await }).await;
    if let Err(panic) = result {
        eprintln!("server log:\n{}", server.log());
        drop(server);
        env.cleanup().await;
        std::panic::resume_unwind(panic.into_panic());
    }
    server.stop().await;
    env.cleanup().await;
}

/// Sends `request` on a kept-alive connection and checks the answer; the
/// connection must survive (the next request on it must work).
async fn expect(
    connection: &mut Connection,
    request: Request,
    statuses: &[u16],
    kind: Option<&str>,
) {
    let response = connection.send(&request).await;
    assert!(
        statuses.contains(&response.status),
        "{request:?}: expected one of {statuses:?}, got {} {:?}",
        response.status,
        String::from_utf8_lossy(&response.body)
    );
    assert!(response.status < 500, "{request:?} -> 5xx");
    let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_else(|_| {
        panic!(
            "{request:?}: {} with a body that is not JSON: {:?}",
            response.status,
            String::from_utf8_lossy(&response.body)
        )
    });
    assert!(
        json["error"].is_string() && json["message"].is_string(),
        "{request:?}: {json}"
    );
    if let Some(kind) = kind {
        assert_eq!(json["error"], json!(kind), "{request:?}");
    }
    // The connection is still usable.
    let health = connection
        .send(&Request::get("/health").host("localhost"))
        .await;
    assert_eq!(health.status, 200, "the connection broke after {request:?}");
}

/// A request some HTTP/1 parsers refuse before any application code runs
/// (actix-http answers a bodiless `400` and closes the connection; hyper lets
/// the app answer its JSON `400`). Either way: a 400, never a 5xx, and the
/// server keeps serving.
async fn expect_protocol_400(addr: &str, request: Request) {
    let response = send(addr, &request).await;
    assert_eq!(
        response.status,
        400,
        "{request:?}: {:?}",
        String::from_utf8_lossy(&response.body)
    );
    if !response.body.is_empty() {
        let json: serde_json::Value =
            serde_json::from_slice(&response.body).expect("a JSON error body");
        assert!(json["error"].is_string(), "{json}");
    }
    assert_eq!(
        send(addr, &Request::get("/health").host("localhost"))
            .await
            .status,
        200
    );
}

async fn run(addr: &str) {
    let mut c = Connection::open(addr).await;
    let get = |host: &str, path: &str| Request::get(path).host(host);

    // Hosts: oversized, malformed, non-UTF-8, repeated.
    let long_label = format!("{}.localhost", "a".repeat(64));
    let long_host = format!("{}.localhost", "a.".repeat(2_000));
    for host in [
        long_label.as_str(),
        long_host.as_str(),
        "acme_corp.localhost",
        "-acme.localhost",
        "acme..localhost",
        "acme.localhost:http",
        "acme.localhost:99999",
        "[::1",
        "user@acme.localhost",
        "acme%2elocalhost",
    ] {
        expect(&mut c, get(host, "/items"), &[400], Some("InvalidHost")).await;
    }
    expect(
        &mut c,
        Request::get("/items").header("Host", b"acme\xff.localhost".as_slice()),
        &[400],
        None,
    )
    .await;
    expect_protocol_400(
        addr,
        Request::get("/items")
            .header("Host", "acme.localhost")
            .header("Host", "acme.localhost"),
    )
    .await;
    expect_protocol_400(
        addr,
        Request::get("/items")
            .header("Host", "acme.localhost")
            .header("Host", "globex.localhost"),
    )
    .await;

    // Tenant header: non-UTF-8, SQL, repeated with different values.
    expect(
        &mut c,
        get("localhost", "/items").header("X-Tenant-ID", b"ac\xffme".as_slice()),
        &[400],
        Some("InvalidTenantId"),
    )
    .await;
    for value in [
        "acme'; DROP TABLE items; --",
        "acme\" OR 1=1",
        "../acme",
        "%61cme",
        "",
        "ac me",
    ] {
        expect(
            &mut c,
            get("localhost", "/items").header("X-Tenant-ID", value),
            &[400],
            Some("InvalidTenantId"),
        )
        .await;
    }
    expect(
        &mut c,
        get("localhost", "/items")
            .header("X-Tenant-ID", "acme")
            .header("X-Tenant-ID", "globex"),
        &[400],
        None,
    )
    .await;

    // Paths: percent-encoding, dot segments, SQL in ids, wrong case.
    for path in [
        "/t/%61cme/items",
        "/t/../items",
        "/t/./items",
        "/t/acme%2Fglobex/items",
        "/t/acme';--/items",
        "/t/a%00b/items",
        "/t//items",
    ] {
        expect(
            &mut c,
            get("localhost", path),
            &[400],
            Some("InvalidTenantId"),
        )
        .await;
    }
    let upper = c.send(&get("localhost", "/t/ACME/items")).await;
    assert_eq!(upper.status, 200, "ids are case-insensitive");
    expect(
        &mut c,
        get("acme.localhost", "/items/1%20OR%201=1"),
        &[404],
        Some("NotFound"),
    )
    .await;
    expect(
        &mut c,
        get("acme.localhost", "/items/-1"),
        &[404],
        Some("NotFound"),
    )
    .await;
    expect(
        &mut c,
        get("acme.localhost", "/items/99999999999999999999999"),
        &[404],
        Some("NotFound"),
    )
    .await;
    expect(
        &mut c,
        get("acme.localhost", "/items/%FF"),
        &[400, 404],
        None,
    )
    .await;
    expect(
        &mut c,
        get("acme.localhost", "/items/../../admin/tenants"),
        &[400, 404],
        None,
    )
    .await;

    // Admin ids.
    let admin = |request: Request| request.host("localhost").bearer(TOKEN);
    expect(
        &mut c,
        admin(Request::post("/admin/tenants/acme';--/deactivate")),
        &[400, 404],
        None,
    )
    .await;
    expect(
        &mut c,
        admin(Request::post("/admin/tenants"))
            .json(&json!({"id": "x'; DROP TABLE tenants; --", "name": "x"})),
        &[400],
        Some("InvalidTenantId"),
    )
    .await;
    expect(
        &mut c,
        admin(Request::post("/admin/tenants"))
            .json(&json!({"id": "ok-id", "name": "x", "domains": ["not a domain"]})),
        &[400],
        Some("InvalidDomain"),
    )
    .await;
    expect(
        &mut c,
        admin(Request::post("/admin/tenants"))
            .json(&json!({"id": "ok-id", "name": "x", "domains": ["127.0.0.1"]})),
        &[400],
        Some("InvalidDomain"),
    )
    .await;
    // At most 100 domains per tenant.
    let domains: Vec<String> = (0..101).map(|n| format!("d{n}.many.test")).collect();
    expect(
        &mut c,
        admin(Request::post("/admin/tenants"))
            .json(&json!({"id": "many", "name": "Many", "domains": domains})),
        &[422],
        Some("InvalidBody"),
    )
    .await;
    expect(
        &mut c,
        admin(Request::post("/admin/tenants/acme/rename")).json(&json!({"new_id": "../etc"})),
        &[400],
        Some("InvalidTenantId"),
    )
    .await;
    let still = c.send(&get("acme.localhost", "/items")).await;
    assert_eq!(
        item_names(&still).len(),
        3,
        "nothing was changed by the attempts"
    );

    // Bodies: malformed, wrong types, huge, deeply nested, wrong content type.
    let post = |body: Vec<u8>| {
        Request::post("/items")
            .host("acme.localhost")
            .raw_body("application/json", body)
    };
    for body in [
        &b"{"[..],
        b"}",
        b"null",
        b"[1,2]",
        b"{\"name\": null, \"capacity\": 1}",
        b"{\"name\": \"x\", \"capacity\": 1e999}",
        b"{\"name\": \"\", \"capacity\": 1}",
        b"\xff\xfe",
    ] {
        expect(
            &mut c,
            post(body.to_vec()),
            &[400, 422],
            Some("InvalidBody"),
        )
        .await;
    }
    // NUL is the one character refused in item names, with 422 everywhere.
    expect(
        &mut c,
        post(b"{\"name\": \"nul \\u0000 byte\", \"capacity\": 1}".to_vec()),
        &[422],
        Some("InvalidBody"),
    )
    .await;
    // Any other Unicode round-trips exactly: tabs, newlines, other control
    // characters, emoji, right-to-left text, combining marks.
    for name in [
        "tab\there",
        "line\nbreak\r\n",
        "bell \u{7} and escape \u{1b}",
        "  padded  ",
        "emoji 🦀👩‍💻",
        "עברית right-to-left",
        "e\u{301} combining",
        "quote ' \" backslash \\ percent % underscore _",
    ] {
        let created = c
            .send(&post(
                serde_json::to_vec(&json!({"name": name, "capacity": 1})).unwrap(),
            ))
            .await;
        assert_eq!(
            created.status,
            201,
            "{name:?}: {}",
            String::from_utf8_lossy(&created.body)
        );
        let id = created.json()["id"].as_i64().unwrap();
        let fetched = c
            .send(&Request::get(&format!("/items/{id}")).host("acme.localhost"))
            .await;
        assert_eq!(fetched.json()["name"], json!(name), "{name:?} round-trips");
        // Removed again: the checks below count the seed items only.
        let deleted = c
            .send(&Request::delete(&format!("/items/{id}")).host("acme.localhost"))
            .await;
        assert_eq!(deleted.status, 204);
    }
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    expect(
        &mut c,
        post(nested.into_bytes()),
        &[400, 422],
        Some("InvalidBody"),
    )
    .await;
    let huge = format!(
        "{{\"name\": \"{}\", \"capacity\": 1}}",
        "x".repeat(1_100_000)
    );
    expect(
        &mut c,
        post(huge.into_bytes()),
        &[413],
        Some("PayloadTooLarge"),
    )
    .await;
    expect(
        &mut c,
        Request::post("/items")
            .host("acme.localhost")
            .raw_body("text/plain", "{}"),
        &[400, 415, 422],
        Some("InvalidBody"),
    )
    .await;
    expect(
        &mut c,
        admin(Request::post("/admin/tenants"))
            .raw_body("application/json", vec![b'{'; 2 * 1024 * 1024]),
        &[413],
        Some("PayloadTooLarge"),
    )
    .await;
    // The same domain twice (in any case) in one tenant: refused up front.
    expect(
        &mut c,
        admin(Request::post("/admin/tenants")).json(&json!({
            "id": "twice",
            "name": "Twice",
            "domains": ["twice.test", "TWICE.test"]
        })),
        &[422],
        Some("InvalidBody"),
    )
    .await;
    let twice = c.send(&get("twice.localhost", "/items")).await;
    assert_eq!(twice.status, 404, "the refused tenant was not created");
    let items = item_names(&c.send(&get("acme.localhost", "/items")).await);
    assert_eq!(items.len(), 3, "no invalid item was stored: {items:?}");

    // An admin request without the token is refused before its body is read:
    // the answer comes although the announced body never arrives.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /admin/tenants HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/json\r\nContent-Length: 900000\r\n\r\n{",
        )
        .await
        .unwrap();
    let mut head = [0_u8; 12];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut head))
        .await
        .expect("refused without waiting for the body")
        .unwrap();
    assert_eq!(
        &head,
        b"HTTP/1.1 401",
        "{:?}",
        String::from_utf8_lossy(&head)
    );
}

matrix!(bad_input_matrix, bad_input);
