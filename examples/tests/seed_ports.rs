//! The two ports of the seed tutorials, driven over HTTP.
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

fn names(response: &Response) -> Vec<String> {
    assert_eq!(
        response.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&response.body)
    );
    response
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|user| user["name"].as_str().unwrap().to_owned())
        .collect()
}

fn workdir(name: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    std::env::temp_dir().join(format!("tenancy-{name}-{}-{nanos}", std::process::id()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_schema_users_with_a_query_parameter() {
    let dir = workdir("shared-users");
    let env = vec![(
        "TENANCY_DATABASE_URL".to_owned(),
        format!("sqlite://{}/users.db", dir.display()),
    )];
    let server = Server::start_binary(start_binary_path("shared-users"), &dir, &env).await;
    let post = |tenant: &str, name: &str| {
        Request::post(&format!("/users?tenant={tenant}"))
            .host("localhost")
            .json(&json!({"name": name}))
    };
    assert_eq!(server.send(&post("acme", "alice")).await.status, 201);
    assert_eq!(server.send(&post("acme", "bob")).await.status, 201);
    assert_eq!(server.send(&post("globex", "carol")).await.status, 201);
    assert_eq!(
        names(
            &server
                .send(&Request::get("/users?tenant=acme").host("localhost"))
                .await
        ),
        ["alice", "bob"]
    );
    assert_eq!(
        names(
            &server
                .send(&Request::get("/users?tenant=GLOBEX").host("localhost"))
                .await
        ),
        ["carol"]
    );
    let none = server.send(&Request::get("/users").host("localhost")).await;
    assert_eq!(
        (none.status, none.error_kind()),
        (404, "TenantRequired".to_owned())
    );
    let unknown = server
        .send(&Request::get("/users?tenant=nobody").host("localhost"))
        .await;
    assert_eq!(
        (unknown.status, unknown.error_kind()),
        (404, "TenantNotFound".to_owned())
    );
    let invalid = server
        .send(&Request::get("/users?tenant=a%27%20OR%201=1").host("localhost"))
        .await;
    assert_eq!(
        (invalid.status, invalid.error_kind()),
        (400, "InvalidTenantId".to_owned())
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_and_a_database_per_tenant_by_subdomain() {
    let dir = workdir("registry-users");
    let env = vec![
        (
            "TENANCY_DATABASE_URL".to_owned(),
            format!("sqlite://{}/registry.db", dir.display()),
        ),
        (
            "TENANCY_TENANTS_DIR".to_owned(),
            format!("{}/tenants", dir.display()),
        ),
    ];
    let server = Server::start_binary(start_binary_path("registry-users"), &dir, &env).await;
    let post = |host: &str, name: &str| {
        Request::post("/users")
            .host(host)
            .json(&json!({"name": name}))
    };
    assert_eq!(
        server.send(&post("acme.localhost", "alice")).await.status,
        201
    );
    assert_eq!(
        server
            .send(&post("globex.localhost:8082", "carol"))
            .await
            .status,
        201
    );
    assert_eq!(
        names(
            &server
                .send(&Request::get("/users").host("acme.localhost"))
                .await
        ),
        ["alice"]
    );
    assert_eq!(
        names(
            &server
                .send(&Request::get("/users").host("globex.localhost"))
                .await
        ),
        ["carol"]
    );
    assert!(
        dir.join("tenants/tenant_acme.db").exists(),
        "one database file per tenant"
    );
    let central = server.send(&Request::get("/users").host("localhost")).await;
    assert_eq!(
        (central.status, central.error_kind()),
        (404, "TenantRequired".to_owned())
    );
    let unknown = server
        .send(&Request::get("/users").host("nobody.localhost"))
        .await;
    assert_eq!(
        (unknown.status, unknown.error_kind()),
        (404, "TenantNotFound".to_owned())
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
