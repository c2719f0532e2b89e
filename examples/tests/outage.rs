//! Database outages, end to end (`examples/ITEMS_APP.md`, "Slow, vanishing
//! and numerous clients"): while the database is down, storage routes answer
//! `503 StoreUnavailable` within 5 s, tenants already cached keep resolving
//! (`GET /` and `/health` answer 200), and once the database is back the app
//! serves normally again within 5 s, without a restart.
//!
//! Each test owns a throw-away server ([`common::cluster`]) it stops and
//! starts; the shared servers are never touched. The 5 s bounds asserted
//! here are the contract's own.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::print_stderr
)]

mod common;

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::cluster::{MariaDbServer, PgCluster};
use common::*;
use serde_json::json;

/// The contract's bound on answering while a database is down, and on
/// serving again once it is back.
const CONTRACT: Duration = Duration::from_secs(5);

/// Past the cache TTL (5 s): a tenant looked up now is served stale.
const PAST_TTL: Duration = Duration::from_millis(5_500);

/// A database server the test can take down and bring back.
trait Outage {
    fn take_down(&mut self) -> impl Future<Output = ()> + Send;
    fn bring_back(&mut self) -> impl Future<Output = ()> + Send;
}

impl Outage for PgCluster {
    async fn take_down(&mut self) {
        self.stop().await;
    }
    async fn bring_back(&mut self) {
        self.start().await;
    }
}

impl Outage for MariaDbServer {
    async fn take_down(&mut self) {
        self.stop().await;
    }
    async fn bring_back(&mut self) {
        self.start().await;
    }
}

/// The app's working directory, removed on drop (a failed test included).
struct Workdir(PathBuf);

impl Workdir {
    fn new(label: &str) -> Workdir {
        let dir = PathBuf::from(format!(
            "/tmp/tenancy-outage-app-{label}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        Workdir(dir)
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sends `request`, returning the response and how long it took.
async fn timed(server: &Server, request: &Request) -> (Response, Duration) {
    let started = Instant::now();
    let response = server.send(request).await;
    (response, started.elapsed())
}

fn acme(target: &str) -> Request {
    Request::get(target).host("acme.localhost")
}

/// Asserts a `503 StoreUnavailable` answered within the contract's bound.
#[track_caller]
fn assert_unavailable(what: &str, response: &Response, took: Duration, log: &str) {
    assert_eq!(
        response.status,
        503,
        "{what} during the outage: {} {:?}; app log:\n{log}",
        response.status,
        String::from_utf8_lossy(&response.body)
    );
    assert_error(response, 503, "StoreUnavailable");
    assert!(
        took <= CONTRACT,
        "{what} took {took:?} to answer 503 (contract: within {CONTRACT:?})"
    );
}

/// Asserts that `GET /` on acme still names the tenant, and `/health` is up.
async fn assert_still_resolving(server: &Server, label: &str) {
    let (root, took) = timed(server, &acme("/")).await;
    assert_eq!(
        root.status,
        200,
        "{label}: GET / of a cached tenant during the outage: {:?}",
        String::from_utf8_lossy(&root.body)
    );
    assert_eq!(
        root.json(),
        json!({"tenant": {"id": "acme", "name": "Acme Corp"}}),
        "{label}"
    );
    assert!(took <= CONTRACT, "{label}: GET / took {took:?}");
    let health = server
        .send(&Request::get("/health").host("localhost"))
        .await;
    assert_eq!(health.status, 200, "{label}: /health during the outage");
    assert_eq!(health.json(), json!({"status": "ok"}), "{label}");
}

/// Polls `GET /items` on acme until it lists the three seed items; returns
/// how long that took (panics past the contract's bound).
async fn wait_recovered(server: &Server, label: &str) -> Duration {
    let expected = ["acme item 1", "acme item 2", "acme item 3"];
    let started = Instant::now();
    loop {
        let response = server.send(&acme("/items")).await;
        if response.status == 200 {
            assert_eq!(item_names(&response), expected, "{label}");
            return started.elapsed();
        }
        assert!(
            started.elapsed() <= CONTRACT,
            "{label}: still {} {:?} {:?} after the database came back; app log:\n{}",
            response.status,
            String::from_utf8_lossy(&response.body),
            started.elapsed(),
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The outage scenario on a running app whose only database server is
/// `database`.
async fn outage(server: &Server, database: &mut impl Outage, label: &str) {
    // Serving, and acme is cached.
    let items = server.send(&acme("/items")).await;
    assert_eq!(
        item_names(&items),
        ["acme item 1", "acme item 2", "acme item 3"],
        "{label}"
    );
    assert_eq!(server.send(&acme("/")).await.status, 200, "{label}");

    database.take_down().await;

    // At once: acme's entry is still fresh, only the items' pool fails.
    let (response, fresh) = timed(server, &acme("/items")).await;
    assert_unavailable("GET /items", &response, fresh, &server.log());
    let (response, write) = timed(
        server,
        &Request::post("/items")
            .host("acme.localhost")
            .json(&json!({"name": "during the outage", "capacity": 1.0})),
    )
    .await;
    assert_unavailable("POST /items", &response, write, &server.log());
    assert_still_resolving(server, label).await;

    // Past the TTL: the cache tries the registry before serving acme stale,
    // then the items' pool fails: the longest path.
    tokio::time::sleep(PAST_TTL).await;
    let (response, stale) = timed(server, &acme("/items")).await;
    assert_unavailable("GET /items (stale tenant)", &response, stale, &server.log());
    assert_still_resolving(server, label).await;

    database.bring_back().await;
    let recovered = wait_recovered(server, label).await;
    // Writes work again too.
    let created = server
        .send(
            &Request::post("/items")
                .host("acme.localhost")
                .json(&json!({"name": "after the outage", "capacity": 2.0})),
        )
        .await;
    assert_eq!(created.status, 201, "{label}: POST /items after the outage");

    eprintln!(
        "{label}: 503 in {fresh:?} (fresh tenant), {write:?} (POST), {stale:?} (stale tenant); \
         serving again {recovered:?} after the database was back"
    );
}

/// The app on a throw-away PostgreSQL cluster, in `isolation` mode.
async fn postgres(framework: Framework, isolation: &str) {
    let label = format!("{framework:?} postgres {isolation}");
    let mut cluster = PgCluster::start_new().await;
    cluster.create_database("items").await;
    let env = vec![
        ("TENANCY_DATABASE_URL".to_owned(), cluster.url("items")),
        ("TENANCY_ISOLATION".to_owned(), isolation.to_owned()),
        ("TENANCY_ADMIN_TOKEN".to_owned(), TOKEN.to_owned()),
        ("TENANCY_SEED".to_owned(), "1".to_owned()),
    ];
    let dir = Workdir::new(&format!("pg-{}", cluster.port));
    let server = Server::start(framework, &dir.0, &env).await;
    outage(&server, &mut cluster, &label).await;
    server.stop().await;
}

/// The app on a throw-away MariaDB server, in `isolation` mode.
async fn mariadb(framework: Framework, isolation: &str) {
    let label = format!("{framework:?} mariadb {isolation}");
    let mut mariadb = MariaDbServer::start_new().await;
    mariadb.create_database("items").await;
    let env = vec![
        ("TENANCY_DATABASE_URL".to_owned(), mariadb.url("items")),
        ("TENANCY_ISOLATION".to_owned(), isolation.to_owned()),
        ("TENANCY_ADMIN_TOKEN".to_owned(), TOKEN.to_owned()),
        ("TENANCY_SEED".to_owned(), "1".to_owned()),
    ];
    let dir = Workdir::new(&format!("mariadb-{}", mariadb.port));
    let server = Server::start(framework, &dir.0, &env).await;
    outage(&server, &mut mariadb, &label).await;
    server.stop().await;
}

macro_rules! outage_tests {
    ($($name:ident: $backend:ident, $framework:ident, $isolation:literal;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            $backend(Framework::$framework, $isolation).await;
        }
    )*};
}

outage_tests! {
    postgres_schema_axum: postgres, Axum, "schema";
    postgres_schema_actix: postgres, Actix, "schema";
    postgres_database_axum: postgres, Axum, "database";
    postgres_database_actix: postgres, Actix, "database";
    postgres_shared_axum: postgres, Axum, "shared";
    postgres_shared_actix: postgres, Actix, "shared";
    mariadb_database_axum: mariadb, Axum, "database";
    mariadb_database_actix: mariadb, Actix, "database";
    mariadb_shared_axum: mariadb, Axum, "shared";
    mariadb_shared_actix: mariadb, Actix, "shared";
}
