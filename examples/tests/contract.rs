//! The HTTP contract of `examples/ITEMS_APP.md`, driven over real sockets
//! against the real binaries, for every mode × backend pair and both
//! frameworks.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::print_stderr
)]

mod common;

use common::*;
use serde_json::json;

/// Every route, every strategy and every row of the error table.
async fn contract(framework: Framework, pair: Pair) {
    let env = Environment::new(pair).await;
    let server = Server::start(framework, &env.workdir, &standard(&env)).await;
    let result = tokio::spawn(run_contract(server.addr.clone())).await;
    if let Err(panic) = result {
        eprintln!("server log:\n{}", server.log());
        drop(server);
        env.cleanup().await;
        std::panic::resume_unwind(panic.into_panic());
    }
    server.stop().await;
    env.cleanup().await;
}

async fn run_contract(addr: String) {
    let get = |host: &str, path: &str| Request::get(path).host(host);
    let s = |request: Request| {
        let addr = addr.clone();
        async move { send(&addr, &request).await }
    };

    // Health on any host, without a tenant.
    for host in [
        "localhost",
        "acme.localhost",
        "nobody.localhost",
        "127.0.0.1",
    ] {
        let health = s(get(host, "/health")).await;
        assert_eq!(health.status, 200, "health on {host}");
        assert_eq!(health.json(), json!({"status": "ok"}));
    }

    // The tenant, or null on a central host.
    assert_eq!(
        s(get("localhost", "/")).await.json(),
        json!({"tenant": null})
    );
    assert_eq!(
        s(get("www.localhost:8080", "/")).await.json(),
        json!({"tenant": null})
    );
    assert_eq!(
        s(get("acme.localhost", "/")).await.json(),
        json!({"tenant": {"id": "acme", "name": "Acme Corp"}})
    );

    // Seeded items, by every strategy.
    let acme_items = vec!["acme item 1", "acme item 2", "acme item 3"];
    let globex_items = vec!["globex item 1", "globex item 2", "globex item 3"];
    for request in [
        get("acme.localhost", "/items"),
        get("ACME.LocalHost:8080", "/items"),
        get("acme.localhost.", "/items"),
        get("acme.test", "/items"),
        get("Acme.Test:443", "/items"),
        get("localhost", "/t/acme/items"),
        get("localhost", "/t/ACME/items"),
        get("acme.localhost", "/t/acme/items"),
        get("localhost", "/items").header("X-Tenant-ID", "acme"),
        get("acme.test", "/t/acme/items").header("x-tenant-id", "ACME"),
    ] {
        assert_eq!(
            item_names(&s(request.clone()).await),
            acme_items,
            "{request:?}"
        );
    }
    assert_eq!(
        item_names(&s(get("globex.localhost", "/items")).await),
        globex_items
    );
    let first = s(get("acme.localhost", "/items")).await.json()[0].clone();
    assert_eq!(first["name"], json!("acme item 1"));
    assert_eq!(first["capacity"], json!(10.0));

    // Create, read, delete an item; another tenant cannot see or delete it.
    let created = s(Request::post("/items")
        .host("acme.localhost")
        .json(&json!({"name": "anvil", "capacity": 2.5})))
    .await;
    assert_eq!(created.status, 201, "{:?}", created.json());
    let item = created.json();
    assert_eq!(item["name"], json!("anvil"));
    assert_eq!(item["capacity"], json!(2.5));
    let id = item["id"].as_i64().unwrap();
    let path = format!("/items/{id}");
    assert_eq!(s(get("acme.localhost", &path)).await.json(), item);
    assert_eq!(
        s(get("localhost", &format!("/t/acme{path}"))).await.json(),
        item
    );
    assert_error(&s(get("globex.localhost", &path)).await, 404, "NotFound");
    assert_error(
        &s(Request::delete(&path).host("globex.localhost")).await,
        404,
        "NotFound",
    );
    assert_eq!(
        item_names(&s(get("globex.localhost", "/items")).await),
        globex_items
    );
    assert_eq!(
        s(Request::delete(&path).host("acme.localhost"))
            .await
            .status,
        204
    );
    assert_error(&s(get("acme.localhost", &path)).await, 404, "NotFound");
    assert_error(
        &s(Request::delete(&path).host("acme.localhost")).await,
        404,
        "NotFound",
    );
    assert_error(
        &s(get("acme.localhost", "/items/999999")).await,
        404,
        "NotFound",
    );
    assert_error(
        &s(get("acme.localhost", "/items/not-a-number")).await,
        404,
        "NotFound",
    );
    assert_eq!(
        item_names(&s(get("acme.localhost", "/items")).await),
        acme_items
    );

    // The error table.
    assert_error(
        &s(get("localhost", "/t/acme_corp/items")).await,
        400,
        "InvalidTenantId",
    );
    assert_error(
        &s(get("localhost", "/t/%61cme/items")).await,
        400,
        "InvalidTenantId",
    );
    assert_error(
        &s(get("localhost", "/items").header("X-Tenant-ID", "not valid!")).await,
        400,
        "InvalidTenantId",
    );
    assert_error(
        &s(get("globex.localhost", "/t/acme/items")).await,
        400,
        "TenantConflict",
    );
    assert_error(
        &s(get("acme.localhost", "/items").header("X-Tenant-ID", "globex")).await,
        400,
        "TenantConflict",
    );
    assert_error(
        &s(get("acme.test", "/t/globex/items")).await,
        400,
        "TenantConflict",
    );
    let two_values = get("localhost", "/items")
        .header("X-Tenant-ID", "acme")
        .header("X-Tenant-ID", "globex");
    assert_eq!(s(two_values).await.status, 400);
    let two_hosts = Request::get("/items")
        .host("acme.localhost")
        .host("globex.localhost");
    assert_eq!(s(two_hosts).await.status, 400);
    let post = |host: &str, body: &[u8]| {
        Request::post("/items")
            .host(host)
            .raw_body("application/json", body.to_vec())
    };
    for body in [
        &b"{"[..],
        b"not json",
        b"[]",
        b"{\"name\": 1, \"capacity\": 2}",
        b"{\"name\": \"x\"}",
        b"{\"name\": \"x\", \"capacity\": \"big\"}",
    ] {
        let response = s(post("acme.localhost", body)).await;
        assert!(
            matches!(response.status, 400 | 422),
            "{body:?} -> {}",
            response.status
        );
        assert_eq!(response.error_kind(), "InvalidBody", "{body:?}");
    }
    let text = Request::post("/items")
        .host("acme.localhost")
        .raw_body("text/plain", "{\"name\":\"x\",\"capacity\":1}");
    let response = s(text).await;
    assert!(
        matches!(response.status, 400 | 415 | 422),
        "wrong content type -> {}",
        response.status
    );
    assert!(response.json()["error"].is_string());
    assert_error(
        &s(get("acme.localhost", "/admin/tenants")).await,
        404,
        "NotFound",
    );
    assert_error(
        &s(get("localhost", "/admin/tenants")).await,
        401,
        "Unauthorized",
    );
    assert_error(
        &s(get("localhost", "/admin/tenants").bearer("wrong")).await,
        401,
        "Unauthorized",
    );
    assert_error(
        &s(get("nobody.localhost", "/items")).await,
        404,
        "TenantNotFound",
    );
    // A host that is neither a registered domain nor under a base domain
    // names no tenant: the path prefix (or the header) decides.
    assert_error(
        &s(get("nobody.test", "/items")).await,
        404,
        "TenantRequired",
    );
    assert_eq!(
        s(get("api.unlisted.example", "/")).await.json(),
        json!({"tenant": null})
    );
    assert_eq!(
        item_names(&s(get("api.unlisted.example", "/t/acme/items")).await).len(),
        3,
        "the path prefix decides on an unregistered host"
    );
    assert_error(
        &s(get("api.unlisted.example", "/t/nobody/items")).await,
        404,
        "TenantNotFound",
    );
    assert_error(
        &s(get("localhost", "/t/nobody/items")).await,
        404,
        "TenantNotFound",
    );
    assert_error(&s(get("localhost", "/items")).await, 404, "TenantRequired");
    assert_error(
        &s(get("acme.localhost", "/no-such-route")).await,
        404,
        "NotFound",
    );
    assert_error(
        &s(get("localhost", "/no-such-route")).await,
        404,
        "NotFound",
    );
    assert_error(
        &s(Request::new("PUT", "/items").host("acme.localhost")).await,
        405,
        "MethodNotAllowed",
    );
    assert_error(
        &s(Request::new("PATCH", "/health").host("localhost")).await,
        405,
        "MethodNotAllowed",
    );
    let huge = format!(
        "{{\"name\": \"{}\", \"capacity\": 1}}",
        "x".repeat(2 * 1024 * 1024)
    );
    assert_error(
        &s(post("acme.localhost", huge.as_bytes())).await,
        413,
        "PayloadTooLarge",
    );

    // Admin: create, list, deactivate, activate, rename, delete, recreate, migrate.
    let admin = |request: Request| request.host("localhost").bearer(TOKEN);
    let create = s(admin(Request::post("/admin/tenants"))
        .json(&json!({"id": "initech", "name": "Initech", "domains": ["Initech.TEST"]})))
    .await;
    assert_eq!(create.status, 201, "{:?}", create.json());
    assert_eq!(create.json()["id"], json!("initech"));
    assert_eq!(create.json()["domains"], json!(["initech.test"]));
    assert_eq!(
        item_names(&s(get("initech.localhost", "/items")).await),
        Vec::<String>::new()
    );
    assert_eq!(
        item_names(&s(get("initech.test", "/items")).await),
        Vec::<String>::new()
    );
    let made = s(Request::post("/items")
        .host("initech.test")
        .json(&json!({"name": "stapler", "capacity": 1})))
    .await;
    assert_eq!(made.status, 201);
    let dup = s(admin(Request::post("/admin/tenants"))
        .json(&json!({"id": "acme", "name": "Again", "domains": []})))
    .await;
    assert_error(&dup, 409, "TenantExists");
    let taken = s(admin(Request::post("/admin/tenants"))
        .json(&json!({"id": "hooli", "name": "Hooli", "domains": ["acme.test"]})))
    .await;
    assert_error(&taken, 409, "DomainTaken");
    assert_error(
        &s(get("hooli.localhost", "/items")).await,
        404,
        "TenantNotFound",
    );
    let bad_id = s(admin(Request::post("/admin/tenants"))
        .json(&json!({"id": "bad id", "name": "x", "domains": []})))
    .await;
    assert_eq!(bad_id.status, 400);
    let bad_body =
        s(admin(Request::post("/admin/tenants")).raw_body("application/json", "{\"id\": 3}")).await;
    assert_eq!(bad_body.error_kind(), "InvalidBody");

    let list = s(admin(Request::get("/admin/tenants"))).await;
    assert_eq!(list.status, 200);
    let mut ids: Vec<String> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, ["acme", "globex", "initech"]);
    let acme = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == json!("acme"))
        .unwrap()
        .clone();
    assert_eq!(
        acme,
        json!({"id": "acme", "name": "Acme Corp", "active": true, "domains": ["acme.test"]})
    );

    let off = s(admin(Request::post("/admin/tenants/initech/deactivate"))).await;
    assert_eq!(off.status, 200);
    assert_eq!(off.json()["active"], json!(false));
    assert_error(
        &s(get("initech.localhost", "/items")).await,
        403,
        "TenantInactive",
    );
    assert_error(
        &s(get("initech.test", "/items")).await,
        403,
        "TenantInactive",
    );
    let on = s(admin(Request::post("/admin/tenants/initech/activate"))).await;
    assert_eq!(on.json()["active"], json!(true));
    assert_eq!(
        item_names(&s(get("initech.localhost", "/items")).await),
        ["stapler"]
    );
    assert_error(
        &s(admin(Request::post("/admin/tenants/nobody/deactivate"))).await,
        404,
        "TenantNotFound",
    );

    let renamed =
        s(admin(Request::post("/admin/tenants/initech/rename"))
            .json(&json!({"new_id": "initrode"})))
        .await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.json());
    assert_eq!(renamed.json()["id"], json!("initrode"));
    assert_eq!(renamed.json()["domains"], json!(["initech.test"]));
    assert_error(
        &s(get("initech.localhost", "/items")).await,
        404,
        "TenantNotFound",
    );
    assert_eq!(
        item_names(&s(get("initrode.localhost", "/items")).await),
        ["stapler"]
    );
    assert_eq!(
        item_names(&s(get("initech.test", "/items")).await),
        ["stapler"]
    );
    let onto =
        s(admin(Request::post("/admin/tenants/initrode/rename")).json(&json!({"new_id": "acme"})))
            .await;
    assert_error(&onto, 409, "TenantExists");

    // Clone: a new tenant with a copy of the items, no domains; the two
    // then live apart.
    let cloned = s(admin(Request::post("/admin/tenants/initrode/clone"))
        .json(&json!({"new_id": "initrode-copy"})))
    .await;
    assert_eq!(cloned.status, 201, "{:?}", cloned.json());
    assert_eq!(cloned.json()["id"], json!("initrode-copy"));
    assert_eq!(cloned.json()["domains"], json!([]));
    assert_eq!(
        item_names(&s(get("initrode-copy.localhost", "/items")).await),
        ["stapler"]
    );
    let added = s(Request::post("/items")
        .host("initrode-copy.localhost")
        .json(&json!({"name": "copier", "capacity": 1})))
    .await;
    assert_eq!(added.status, 201, "{:?}", added.json());
    assert_eq!(
        item_names(&s(get("initrode.localhost", "/items")).await),
        ["stapler"],
        "the source does not see the copy's items"
    );
    assert_error(
        &s(admin(Request::post("/admin/tenants/initrode/clone")).json(&json!({"new_id": "acme"})))
            .await,
        409,
        "TenantExists",
    );
    assert_error(
        &s(admin(Request::post("/admin/tenants/nobody/clone")).json(&json!({"new_id": "other"})))
            .await,
        404,
        "TenantNotFound",
    );
    assert_eq!(
        s(admin(Request::delete("/admin/tenants/initrode-copy")))
            .await
            .status,
        204
    );

    assert_eq!(
        s(admin(Request::delete("/admin/tenants/initrode")))
            .await
            .status,
        204
    );
    assert_error(
        &s(get("initrode.localhost", "/items")).await,
        404,
        "TenantNotFound",
    );
    // Its domain went with it: the host now names no tenant.
    assert_error(
        &s(get("initech.test", "/items")).await,
        404,
        "TenantRequired",
    );
    assert_error(
        &s(admin(Request::delete("/admin/tenants/initrode"))).await,
        404,
        "TenantNotFound",
    );
    let again = create_tenant_at(&addr, "initrode", "Initrode", &["initech.test"]).await;
    assert_eq!(again.status, 201);
    assert_eq!(
        item_names(&s(get("initrode.localhost", "/items")).await),
        Vec::<String>::new(),
        "starts empty"
    );

    let report = s(admin(Request::post("/admin/migrate"))).await;
    assert_eq!(report.status, 200, "{:?}", report.json());
    let text = report.json().to_string();
    for tenant in ["acme", "globex", "initrode"] {
        assert!(text.contains(tenant), "the report names {tenant}: {text}");
    }
}

async fn create_tenant_at(addr: &str, id: &str, name: &str, domains: &[&str]) -> Response {
    send(
        addr,
        &Request::post("/admin/tenants")
            .host("localhost")
            .bearer(TOKEN)
            .json(&json!({"id": id, "name": name, "domains": domains})),
    )
    .await
}

matrix!(contract_matrix, contract);
