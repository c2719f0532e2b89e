//! Slow and vanishing clients, end to end, on both frameworks (Postgres,
//! schema mode): header trickling (slowloris, on a connection's first or a
//! later request), keep-alive idling, clients that disconnect mid-request,
//! and the request time-out.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::print_stderr
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use sqlx::Connection as _;
use tenancy_examples::items::POOL_SIZE;
use tenancy_examples::server::limits::{
    HEADER_TIMEOUT, KEEP_ALIVE, MAX_CONNECTIONS, REQUEST_TIMEOUT,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Runs `scenario` against a fresh environment, cleaning up whatever happens.
async fn with_env<F, Fut>(pair: Pair, scenario: F)
where
    F: FnOnce(Environment) -> Fut,
    Fut: Future<Output = Environment> + Send + 'static,
{
    let env = Environment::new(pair).await;
    let cleanup = Environment {
        pair: env.pair,
        name: env.name.clone(),
        workdir: env.workdir.clone(),
        env: env.env.clone(),
    };
    let result = tokio::spawn(scenario(env)).await;
    cleanup.cleanup().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic.into_panic());
    }
}

fn pg_admin_url() -> String {
    std::env::var("TENANCY_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Reads until the server closes the connection (EOF or reset); fails after
/// `limit`. Returns what was read.
async fn read_until_closed(stream: &mut (impl AsyncReadExt + Unpin), limit: Duration) -> Vec<u8> {
    let mut received = Vec::new();
    let closed = tokio::time::timeout(limit, async {
        let mut buffer = [0_u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the server kept the connection open for {limit:?}; got {:?}",
        String::from_utf8_lossy(&received)
    );
    received
}

/// Parses one complete HTTP/1.1 response (with a `Content-Length`).
fn parse_response(bytes: &[u8]) -> Response {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response head in {text:?}"));
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {text:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let response = Response {
        status,
        headers,
        body: body.as_bytes().to_vec(),
    };
    let length: usize = response
        .header("content-length")
        .unwrap_or_else(|| panic!("no Content-Length in {text:?}"))
        .parse()
        .unwrap();
    assert_eq!(response.body.len(), length, "truncated body in {text:?}");
    response
}

/// The help section of `--{flag}`.
fn help_section<'a>(help: &'a str, flag: &str) -> &'a str {
    let start = help
        .find(&format!("--{flag} "))
        .unwrap_or_else(|| panic!("--help does not list --{flag}:\n{help}"));
    let rest = &help[start..];
    let end = rest[2..]
        .find("\n      -")
        .map_or(rest.len(), |end| end + 2);
    &rest[..end]
}

/// The documented defaults are the constants, and `--help` of both binaries
/// lists them with their variables.
#[test]
fn help_lists_the_documented_defaults() {
    assert_eq!(HEADER_TIMEOUT, Duration::from_secs(10));
    assert_eq!(KEEP_ALIVE, Duration::from_secs(60));
    assert_eq!(REQUEST_TIMEOUT, Duration::from_secs(30));
    assert_eq!(MAX_CONNECTIONS, 10_000);
    for framework in Framework::ALL {
        let mut command = std::process::Command::new(framework.binary());
        command.arg("--help");
        for (key, _) in std::env::vars() {
            if key.starts_with("TENANCY_") {
                command.env_remove(key);
            }
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{framework:?} --help failed");
        let help = String::from_utf8(output.stdout).unwrap();
        for (flag, variable, default) in [
            ("header-timeout-secs", "TENANCY_HEADER_TIMEOUT_SECS", "10"),
            ("keep-alive-secs", "TENANCY_KEEP_ALIVE_SECS", "60"),
            ("request-timeout-secs", "TENANCY_REQUEST_TIMEOUT_SECS", "30"),
            ("max-connections", "TENANCY_MAX_CONNECTIONS", "10000"),
        ] {
            let section = help_section(&help, flag);
            assert!(
                section.contains(&format!("[env: {variable}=]")),
                "{framework:?}: --{flag} has no variable {variable}: {section}"
            );
            assert!(
                section.contains(&format!("[default: {default}]")),
                "{framework:?}: --{flag} is not documented with default {default}: {section}"
            );
        }
    }
}

/// One slowloris connection: the start of a request head, then one byte
/// every 500 ms, never finishing. Returns how long after its start the
/// server closed it.
async fn trickle(addr: String, connected: Arc<AtomicUsize>, closed: Arc<AtomicUsize>) -> Duration {
    let started = Instant::now();
    let stream = TcpStream::connect(&addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut read, mut write) = stream.into_split();
    write
        .write_all(b"GET /items HTTP/1.1\r\nHost: acme.localhost\r\nX-Slow: ")
        .await
        .unwrap();
    connected.fetch_add(1, Ordering::SeqCst);
    let writer = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if write.write_all(b"a").await.is_err() {
                break;
            }
        }
    });
    read_until_closed(&mut read, Duration::from_secs(30)).await;
    let elapsed = started.elapsed();
    closed.fetch_add(1, Ordering::SeqCst);
    writer.abort();
    elapsed
}

/// 200 connections trickling header bytes do not delay normal requests, and
/// the server closes each within the (default, 10 s) header time-out.
async fn trickling_headers(framework: Framework) {
    with_env(Pair::PostgresSchema, move |env| async move {
        // The defaults: no limit is configured.
        let server = Server::start(framework, &env.workdir, &standard(&env)).await;
        let connected = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let tricklers: Vec<_> = (0..200)
            .map(|_| {
                tokio::spawn(trickle(
                    server.addr.clone(),
                    Arc::clone(&connected),
                    Arc::clone(&closed),
                ))
            })
            .collect();
        while connected.load(Ordering::SeqCst) < 200 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        // Normal traffic meanwhile: 20 clients, 5 requests each.
        let clients: Vec<_> = (0..20)
            .map(|client| {
                let addr = server.addr.clone();
                tokio::spawn(async move {
                    let mut connection = Connection::open(&addr).await;
                    for round in 0..5 {
                        if round % 2 == 0 {
                            let names = item_names(
                                &connection
                                    .send(&Request::get("/items").host("acme.localhost"))
                                    .await,
                            );
                            assert!(names.len() >= 3, "{names:?}");
                        } else {
                            let made = send(
                                &addr,
                                &Request::post("/items")
                                    .host("globex.localhost")
                                    .json(&json!({"name": format!("c{client} r{round}"), "capacity": 1})),
                            )
                            .await;
                            assert_eq!(made.status, 201, "{:?}", String::from_utf8_lossy(&made.body));
                        }
                    }
                })
            })
            .collect();
        for client in clients {
            client.await.unwrap();
        }
        assert_eq!(
            closed.load(Ordering::SeqCst),
            0,
            "the normal requests must complete while every trickler is still connected"
        );

        for trickler in tricklers {
            let elapsed = trickler.await.unwrap();
            assert!(
                elapsed <= Duration::from_secs(15),
                "a trickling connection stayed open {elapsed:?}"
            );
            assert!(
                elapsed >= HEADER_TIMEOUT - Duration::from_secs(1),
                "a trickling connection was closed after only {elapsed:?}, before the header time-out"
            );
        }
        // Still serving.
        let names = item_names(&server.send(&Request::get("/items").host("acme.localhost")).await);
        assert!(names.len() >= 3);
        server.stop().await;
        env
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_headers_axum() {
    trickling_headers(Framework::Axum).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_headers_actix() {
    trickling_headers(Framework::Actix).await;
}

/// An idle keep-alive connection outlives the header time-out (it is the
/// keep-alive time-out that applies between requests) and is closed after
/// the keep-alive time-out.
async fn idle_keep_alive(framework: Framework) {
    with_env(Pair::PostgresSchema, move |env| async move {
        let settings = env.with(&[
            ("TENANCY_HEADER_TIMEOUT_SECS", "2"),
            ("TENANCY_KEEP_ALIVE_SECS", "5"),
        ]);
        let server = Server::start(framework, &env.workdir, &settings).await;
        let mut stream = TcpStream::connect(&server.addr).await.unwrap();
        let request = b"GET /items HTTP/1.1\r\nHost: acme.localhost\r\n\r\n";
        let exchange = async |stream: &mut TcpStream| {
            stream.write_all(request).await.unwrap();
            let mut received = Vec::new();
            let mut buffer = [0_u8; 4096];
            // The seed's items: the body ends with the JSON array's `]`.
            while !received.ends_with(b"]") {
                let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
                    .await
                    .expect("no response within 10 s")
                    .unwrap();
                assert!(
                    n > 0,
                    "closed early: {:?}",
                    String::from_utf8_lossy(&received)
                );
                received.extend_from_slice(&buffer[..n]);
            }
            let response = parse_response(&received);
            assert_eq!(response.status, 200);
        };
        exchange(&mut stream).await;
        // Idle for longer than the header time-out, shorter than keep-alive.
        tokio::time::sleep(Duration::from_secs(3)).await;
        exchange(&mut stream).await;
        let idle = Instant::now();
        let rest = read_until_closed(&mut stream, Duration::from_secs(12)).await;
        assert!(
            rest.is_empty(),
            "unexpected bytes {:?}",
            String::from_utf8_lossy(&rest)
        );
        let elapsed = idle.elapsed();
        assert!(
            elapsed >= Duration::from_secs(4),
            "an idle connection was closed after {elapsed:?}, before the 5 s keep-alive time-out"
        );
        server.stop().await;
        env
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_axum() {
    idle_keep_alive(Framework::Axum).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_actix() {
    idle_keep_alive(Framework::Actix).await;
}

/// A kept-alive connection whose second request trickles its headers (one
/// byte every 500 ms) is closed within the header time-out of that request's
/// first byte, while normal requests meanwhile succeed.
async fn trickling_later_request(framework: Framework) {
    with_env(Pair::PostgresSchema, move |env| async move {
        // A short header time-out, the default keep-alive.
        let settings = env.with(&[("TENANCY_HEADER_TIMEOUT_SECS", "2")]);
        let server = Server::start(framework, &env.workdir, &settings).await;
        let stream = TcpStream::connect(&server.addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (mut read, mut write) = stream.into_split();

        // One complete request, its response read.
        write
            .write_all(b"GET /items HTTP/1.1\r\nHost: acme.localhost\r\n\r\n")
            .await
            .unwrap();
        let mut received = Vec::new();
        let mut buffer = [0_u8; 4096];
        // The seed's items: the body ends with the JSON array's `]`.
        while !received.ends_with(b"]") {
            let n = tokio::time::timeout(Duration::from_secs(10), read.read(&mut buffer))
                .await
                .expect("no response within 10 s")
                .unwrap();
            assert!(
                n > 0,
                "closed early: {:?}",
                String::from_utf8_lossy(&received)
            );
            received.extend_from_slice(&buffer[..n]);
        }
        assert_eq!(parse_response(&received).status, 200);

        // The second request's head, one byte every 500 ms, never finished.
        let started = Instant::now();
        let writer = tokio::spawn(async move {
            let head = b"GET /items HTTP/1.1\r\nHost: acme.localhost\r\nX-Slow: ";
            for byte in head.iter().chain(std::iter::repeat(&b'a')) {
                if write.write_all(&[*byte]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });

        // Normal traffic meanwhile: new connections and a kept-alive one.
        let mut connection = Connection::open(&server.addr).await;
        for _ in 0..3 {
            let names = item_names(
                &server
                    .send(&Request::get("/items").host("acme.localhost"))
                    .await,
            );
            assert!(names.len() >= 3, "{names:?}");
            let names = item_names(
                &connection
                    .send(&Request::get("/items").host("globex.localhost"))
                    .await,
            );
            assert!(names.len() >= 3, "{names:?}");
        }

        let rest = read_until_closed(&mut read, Duration::from_secs(15)).await;
        let elapsed = started.elapsed();
        writer.abort();
        assert!(
            !String::from_utf8_lossy(&rest).starts_with("HTTP/1.1 2"),
            "the unfinished request was answered: {:?}",
            String::from_utf8_lossy(&rest)
        );
        assert!(
            elapsed <= Duration::from_secs(6),
            "a connection trickling its second request's headers stayed open {elapsed:?} \
             (header time-out 2 s)"
        );
        assert!(
            elapsed >= Duration::from_millis(1500),
            "closed after only {elapsed:?}, before the 2 s header time-out"
        );
        // Still serving.
        let names = item_names(
            &server
                .send(&Request::get("/items").host("acme.localhost"))
                .await,
        );
        assert!(names.len() >= 3, "{names:?}");
        server.stop().await;
        env
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_later_request_axum() {
    trickling_later_request(Framework::Axum).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_later_request_actix() {
    trickling_later_request(Framework::Actix).await;
}

/// How a vanishing client leaves.
#[derive(Debug, Clone, Copy)]
enum Vanish {
    /// Half of the request head, then gone.
    HalfHead,
    /// The head and half of a `POST /items` body, then gone.
    HalfBody,
    /// A whole `POST /items`, then gone before reading the answer.
    WholePost,
    /// A whole `GET /items`, then gone before reading the answer.
    WholeGet,
}

async fn vanish(addr: String, how: Vanish, index: usize) {
    let body =
        serde_json::to_vec(&json!({"name": format!("vanished {index}"), "capacity": 2.5})).unwrap();
    let head = format!(
        "POST /items HTTP/1.1\r\nHost: acme.localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let bytes: Vec<u8> = match how {
        Vanish::HalfHead => head.as_bytes()[..head.len() / 2].to_vec(),
        Vanish::HalfBody => [head.as_bytes(), &body[..body.len() / 2]].concat(),
        Vanish::WholePost => [head.as_bytes(), &body].concat(),
        Vanish::WholeGet => b"GET /items HTTP/1.1\r\nHost: acme.localhost\r\n\r\n".to_vec(),
    };
    // The server may already have closed (it must not, but a write error is
    // not what this test checks).
    let _ = stream.write_all(&bytes).await;
    // Leave at different moments: at once, or while the server works.
    tokio::time::sleep(Duration::from_millis((index % 8 * 25) as u64)).await;
    drop(stream);
}

/// The app's sessions on the test database: `(state, count)`.
async fn sessions(database: &str) -> Vec<(String, i64)> {
    let mut admin = sqlx::PgConnection::connect(&pg_admin_url()).await.unwrap();
    let rows: Vec<(Option<String>, i64)> = sqlx::query_as(
        "SELECT state, count(*) FROM pg_stat_activity \
         WHERE datname = $1 AND backend_type = 'client backend' GROUP BY state ORDER BY state",
    )
    .bind(database)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    admin.close().await.unwrap();
    rows.into_iter()
        .map(|(state, count)| (state.unwrap_or_default(), count))
        .collect()
}

/// Server-side TCP connections on `port` that are established or waiting to
/// be closed by the server (CLOSE_WAIT), from `/proc/net/tcp{,6}`.
fn held_connections(port: u16) -> usize {
    let port = format!("{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    fields.len() > 3
                        && fields[1].rsplit(':').next() == Some(port.as_str())
                        && (fields[3] == "01" || fields[3] == "08")
                })
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .count()
}

/// 300 clients leave mid-request; afterwards no transaction is open, the
/// app's database sessions are idle and within its pool (plus the LISTEN
/// session), the server holds none of their connections, and it still
/// serves.
async fn vanishing_clients(framework: Framework) {
    with_env(Pair::PostgresSchema, move |env| async move {
        let server = Server::start(framework, &env.workdir, &standard(&env)).await;
        let kinds = [Vanish::HalfHead, Vanish::HalfBody, Vanish::WholePost, Vanish::WholeGet];
        let clients: Vec<_> = (0..300)
            .map(|index| tokio::spawn(vanish(server.addr.clone(), kinds[index % kinds.len()], index)))
            .collect();
        for client in clients {
            client.await.unwrap();
        }

        let port: u16 = server.addr.rsplit(':').next().unwrap().parse().unwrap();
        let settled = Instant::now();
        let (mut last_sessions, mut last_held);
        loop {
            last_sessions = sessions(&env.name).await;
            last_held = held_connections(port);
            let all_idle = last_sessions.iter().all(|(state, _)| state == "idle");
            let total: i64 = last_sessions.iter().map(|(_, count)| count).sum();
            if all_idle && total <= i64::from(POOL_SIZE) + 1 && last_held == 0 {
                break;
            }
            assert!(
                settled.elapsed() < Duration::from_secs(15),
                "15 s after the clients left: sessions {last_sessions:?} (pool {POOL_SIZE} + LISTEN), \
                 {last_held} connection(s) still held by the server"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(
            !last_sessions.iter().any(|(state, _)| state.starts_with("idle in transaction")),
            "{last_sessions:?}"
        );

        // Still serving, reads and writes.
        let made = server
            .send(&Request::post("/items").host("acme.localhost").json(&json!({"name": "after", "capacity": 1})))
            .await;
        assert_eq!(made.status, 201, "{:?}", String::from_utf8_lossy(&made.body));
        let names = item_names(&server.send(&Request::get("/items").host("acme.localhost")).await);
        assert!(names.iter().any(|name| name == "after"), "{names:?}");
        // Half-sent bodies created nothing.
        let half_sent: Vec<&String> = names
            .iter()
            .filter(|name| {
                name.strip_prefix("vanished ")
                    .and_then(|index| index.parse::<usize>().ok())
                    .is_some_and(|index| index % kinds.len() == 1)
            })
            .collect();
        assert!(half_sent.is_empty(), "items from half-sent bodies: {half_sent:?}");
        server.stop().await;
        env
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vanishing_clients_axum() {
    vanishing_clients(Framework::Axum).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vanishing_clients_actix() {
    vanishing_clients(Framework::Actix).await;
}

/// A body that never completes is answered, after the request time-out,
/// with `408 RequestTimeout` in the JSON error shape, and the connection is
/// closed.
async fn request_timeout(framework: Framework) {
    with_env(Pair::PostgresSchema, move |env| async move {
        let settings = env.with(&[("TENANCY_REQUEST_TIMEOUT_SECS", "2")]);
        let server = Server::start(framework, &env.workdir, &settings).await;
        let mut stream = TcpStream::connect(&server.addr).await.unwrap();
        let started = Instant::now();
        stream
            .write_all(
                b"POST /items HTTP/1.1\r\nHost: acme.localhost\r\nContent-Type: application/json\r\n\
                  Content-Length: 100\r\n\r\n{\"name\": \"never",
            )
            .await
            .unwrap();
        let received = read_until_closed(&mut stream, Duration::from_secs(15)).await;
        let elapsed = started.elapsed();
        let response = parse_response(&received);
        assert_error(&response, 408, "RequestTimeout");
        assert!(
            response
                .header("connection")
                .is_some_and(|value| value.eq_ignore_ascii_case("close")),
            "the answer must announce the close: {:?}",
            response.headers
        );
        assert!(
            elapsed >= Duration::from_millis(1500),
            "answered after only {elapsed:?}, before the 2 s time-out"
        );
        // Nothing was created, and the app still serves.
        let names = item_names(&server.send(&Request::get("/items").host("acme.localhost")).await);
        assert_eq!(names.len(), 3, "{names:?}");
        server.stop().await;
        env
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_timeout_axum() {
    request_timeout(Framework::Axum).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_timeout_actix() {
    request_timeout(Framework::Actix).await;
}
