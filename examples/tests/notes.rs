//! The `notes` example (the first hour of a user, schema mode on axum),
//! smoke-tested as a real process on a database of its own: both ways of
//! naming a tenant, isolation, a resolver's own refusal, the central route,
//! and the background counter.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::backend::{pg_admin_url, uuid_like};
use common::{Request, Server, send, start_binary_path};
use serde_json::json;
use sqlx::{AssertSqlSafe, Connection};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_app_serves_each_tenant_its_own_notes() {
    let name = format!("e2e_notes_{}", uuid_like());
    let admin = pg_admin_url();
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("PostgreSQL must be reachable");
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let workdir = std::env::temp_dir().join(format!("tenancy-{name}"));
    let env = [
        ("NOTES_DATABASE_URL".to_owned(), url),
        ("NOTES_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ("NOTES_COUNT_EVERY_MS".to_owned(), "100".to_owned()),
    ];
    let server = Server::start_binary(start_binary_path("notes"), &workdir, &env).await;
    let addr = server.addr.clone();

    let health = send(&addr, &Request::get("/health").host("localhost")).await;
    assert_eq!(health.status, 200, "a central route, on every host");

    let added = send(
        &addr,
        &Request::post("/notes")
            .host("acme.localhost")
            .json(&json!({"body": "hello"})),
    )
    .await;
    assert_eq!(added.status, 201);
    let acme = send(&addr, &Request::get("/notes").host("acme.localhost")).await;
    assert_eq!(acme.json(), json!([{"id": 1, "body": "hello"}]));
    let globex = send(
        &addr,
        &Request::get("/notes")
            .host("localhost")
            .bearer("globex.demo-signature"),
    )
    .await;
    assert_eq!(globex.status, 200);
    assert_eq!(globex.json(), json!([]), "globex sees none of acme's notes");

    let forged = send(
        &addr,
        &Request::get("/notes")
            .host("localhost")
            .bearer("acme.forged"),
    )
    .await;
    assert_eq!(
        (forged.status, forged.error_kind().as_str()),
        (401, "InvalidToken")
    );
    let both = send(
        &addr,
        &Request::get("/notes")
            .host("acme.localhost")
            .bearer("globex.demo-signature"),
    )
    .await;
    assert_eq!(
        (both.status, both.error_kind().as_str()),
        (400, "TenantConflict")
    );
    let none = send(&addr, &Request::get("/notes").host("localhost")).await;
    assert_eq!(
        (none.status, none.error_kind().as_str()),
        (404, "TenantRequired")
    );

    // The background job counts every tenant's notes in its own scope.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stats = send(&addr, &Request::get("/stats").host("acme.localhost"))
            .await
            .json();
        if stats == json!({"tenant": "acme", "notes": 1}) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the counter did not catch up: {stats}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    drop(server);
    sqlx::raw_sql(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    let _ = std::fs::remove_dir_all(workdir);
}
