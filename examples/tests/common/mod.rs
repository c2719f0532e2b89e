//! Shared helpers of the end-to-end tests.
#![allow(
    dead_code,
    unused_imports,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::string_slice,
    clippy::print_stderr,
    clippy::indexing_slicing
)]

pub mod backend;
pub mod cluster;
pub mod http;
pub mod server;

use serde_json::{Value, json};

pub use backend::{Environment, Pair};
pub use http::{Connection, Request, Response, send};
pub use server::{Framework, Server, start_binary_path};

/// The admin token every test app runs with.
pub const TOKEN: &str = "test-admin-token";

/// The standard environment: admin API and header strategy enabled.
pub fn standard(env: &Environment) -> Vec<(String, String)> {
    env.with(&[
        ("TENANCY_ADMIN_TOKEN", TOKEN),
        ("TENANCY_HEADER", "X-Tenant-ID"),
    ])
}

/// Item names of a `GET /items` answer, asserting its shape on the way.
pub fn item_names(response: &Response) -> Vec<String> {
    assert_eq!(
        response.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&response.body)
    );
    let items = response.json();
    let items = items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"));
    let mut previous = 0;
    items
        .iter()
        .map(|item| {
            let id = item["id"]
                .as_i64()
                .unwrap_or_else(|| panic!("no integer id: {item}"));
            assert!(id > previous, "items must be ordered by id: {items:?}");
            previous = id;
            assert!(item["capacity"].is_number(), "no capacity: {item}");
            item["name"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Asserts an error response: status, JSON shape and kind.
#[track_caller]
pub fn assert_error(response: &Response, status: u16, kind: &str) {
    let body = String::from_utf8_lossy(&response.body).into_owned();
    assert_eq!(
        response.status, status,
        "expected {status} {kind}, got body {body}"
    );
    let json: Value = serde_json::from_slice(&response.body)
        .unwrap_or_else(|_| panic!("error body is not JSON: {body}"));
    assert_eq!(json["error"], json!(kind), "body {body}");
    assert!(
        json["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no message in {body}"
    );
    assert_eq!(
        json.as_object().map(|o| o.len()),
        Some(2),
        "exactly error and message: {body}"
    );
}

/// Creates a tenant through the admin API.
pub async fn create_tenant(server: &Server, id: &str, name: &str, domains: &[&str]) -> Response {
    server
        .send(
            &Request::post("/admin/tenants")
                .host("localhost")
                .bearer(TOKEN)
                .json(&json!({"id": id, "name": name, "domains": domains})),
        )
        .await
}

/// Generates one test per framework × mode × backend pair, in a module:
/// `matrix!(module_name, scenario)` where `scenario(Framework, Pair)` is async.
#[macro_export]
macro_rules! matrix {
    ($module:ident, $scenario:path) => {
        mod $module {
            use super::*;

            $crate::matrix!(@tests $scenario;
                axum_sqlite_database: Axum, SqliteDatabase;
                axum_sqlite_shared: Axum, SqliteShared;
                axum_postgres_schema: Axum, PostgresSchema;
                axum_postgres_database: Axum, PostgresDatabase;
                axum_postgres_shared: Axum, PostgresShared;
                axum_mysql_database: Axum, MysqlDatabase;
                axum_mysql_shared: Axum, MysqlShared;
                actix_sqlite_database: Actix, SqliteDatabase;
                actix_sqlite_shared: Actix, SqliteShared;
                actix_postgres_schema: Actix, PostgresSchema;
                actix_postgres_database: Actix, PostgresDatabase;
                actix_postgres_shared: Actix, PostgresShared;
                actix_mysql_database: Actix, MysqlDatabase;
                actix_mysql_shared: Actix, MysqlShared;
                axum_pgbouncer_schema: Axum, PgBouncerSchema;
                axum_pgbouncer_database: Axum, PgBouncerDatabase;
                axum_pgbouncer_shared: Axum, PgBouncerShared;
                actix_pgbouncer_schema: Actix, PgBouncerSchema;
                actix_pgbouncer_database: Actix, PgBouncerDatabase;
                actix_pgbouncer_shared: Actix, PgBouncerShared;
            );
        }
    };
    (@tests $scenario:path; $($name:ident: $framework:ident, $pair:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            $scenario(Framework::$framework, Pair::$pair).await;
        }
    )*};
}
