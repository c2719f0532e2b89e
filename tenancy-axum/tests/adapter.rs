//! axum-specific behaviour: misconfigurations, layer placement, serving over TCP.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{Request, Uri};
use axum::routing::get;
use serde_json::Value;
use tenancy_axum::{CurrentTenant, OptionalTenant, TenancyLayer};
use tenancy_core::{
    Gate, InMemoryStore, PathPrefixResolver, SubdomainResolver, Tenancy, TenantId, TenantRecord,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::{Layer, ServiceExt};

fn store() -> InMemoryStore {
    InMemoryStore::from_iter([TenantRecord::new(
        TenantId::new("acme").unwrap(),
        "Acme Corp",
    )])
}

async fn send<S>(app: S, uri: &str, host: &str) -> (u16, String)
where
    S: tower::Service<Request<Body>, Response = axum::response::Response>,
    S::Error: std::fmt::Debug,
{
    let request = Request::get(uri)
        .header("host", host)
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn error_kind(body: &str) -> String {
    let body: Value = serde_json::from_str(body).unwrap();
    body["error"].as_str().unwrap().to_owned()
}

async fn name(CurrentTenant(tenant): CurrentTenant<TenantRecord>) -> String {
    tenant.name.to_string()
}

#[tokio::test]
async fn extractors_without_a_layer_are_a_configuration_error() {
    let app =
        Router::new().route("/current", get(name)).route(
            "/optional",
            get(
                |OptionalTenant(tenant): OptionalTenant<TenantRecord>| async move {
                    format!("{tenant:?}")
                },
            ),
        );
    for uri in ["/current", "/optional"] {
        let (status, body) = send(app.clone(), uri, "acme.localhost").await;
        assert_eq!(
            (status, error_kind(&body).as_str()),
            (500, "Configuration"),
            "{uri}"
        );
        assert!(
            !body.contains("TenantRecord"),
            "type names are logged, not sent: {body}"
        );
    }
}

#[tokio::test]
async fn asking_for_another_tenant_type_is_a_configuration_error() {
    async fn wrong(CurrentTenant(tenant): CurrentTenant<Arc<TenantRecord>>) -> String {
        tenant.name.to_string()
    }
    async fn wrong_optional(OptionalTenant(tenant): OptionalTenant<Arc<TenantRecord>>) -> String {
        format!("{tenant:?}")
    }
    let tenancy = Tenancy::new(SubdomainResolver::new(["localhost"]).unwrap(), store());
    let app = TenancyLayer::new(Gate::new(tenancy).optional()).layer(
        Router::new()
            .route("/wrong", get(wrong))
            .route("/wrong-optional", get(wrong_optional)),
    );
    // Caught whether or not the request has a tenant.
    for (uri, host) in [
        ("/wrong", "acme.localhost"),
        ("/wrong", "localhost"),
        ("/wrong-optional", "localhost"),
    ] {
        let (status, body) = send(app.clone(), uri, host).await;
        assert_eq!(
            (status, error_kind(&body).as_str()),
            (500, "Configuration"),
            "{uri} {host}"
        );
    }
}

#[tokio::test]
async fn route_layer_works_without_a_path_prefix() {
    let tenancy = Tenancy::new(SubdomainResolver::new(["localhost"]).unwrap(), store());
    let app = Router::new()
        .route("/name", get(name))
        .route_layer(TenancyLayer::new(tenancy))
        .route("/health", get(|| async { "ok" }));
    assert_eq!(
        send(app.clone(), "/name", "acme.localhost").await,
        (200, "Acme Corp".into())
    );
    let (status, body) = send(app.clone(), "/name", "localhost").await;
    assert_eq!(
        (status, error_kind(&body).as_str()),
        (404, "TenantRequired")
    );
    assert_eq!(
        send(app, "/health", "nope.localhost").await,
        (200, "ok".into())
    );
}

#[tokio::test]
async fn rewriting_can_be_turned_off_for_routers_that_match_the_prefix() {
    async fn nested(
        CurrentTenant(tenant): CurrentTenant<TenantRecord>,
        Path(segment): Path<String>,
        uri: Uri,
    ) -> String {
        format!("{} {segment} {}", tenant.id, uri.path())
    }
    let tenancy = Tenancy::new(PathPrefixResolver::new("/t").unwrap(), store());
    let app = TenancyLayer::new(Gate::new(tenancy).rewrite_path_prefix(false))
        .layer(Router::new().route("/t/{tenant}/items", get(nested)));
    assert_eq!(
        send(app, "/t/acme/items", "localhost").await,
        (200, "acme acme /t/acme/items".into())
    );
}

#[tokio::test]
async fn serves_over_tcp_with_into_make_service() {
    let tenancy = Tenancy::new(
        tenancy_core::ChainResolver::new()
            .with(SubdomainResolver::new(["localhost"]).unwrap())
            .with(PathPrefixResolver::new("/t").unwrap()),
        store(),
    );
    let app = TenancyLayer::new(tenancy).layer(Router::new().route("/name", get(name)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            axum::ServiceExt::<axum::extract::Request>::into_make_service(app),
        )
        .await
        .unwrap();
    });
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /t/acme/name HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .unwrap()
    .unwrap();
    server.abort();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("Acme Corp"), "{response}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_requests_on_several_threads_see_only_their_own_tenant() {
    let store = store();
    for index in 0..20 {
        let id = TenantId::new(format!("t{index}")).unwrap();
        store.insert(TenantRecord::new(id.clone(), format!("Tenant {index}")));
    }
    let tenancy = Tenancy::new(
        tenancy_core::ChainResolver::new()
            .with(SubdomainResolver::new(["localhost"]).unwrap())
            .with(PathPrefixResolver::new("/t").unwrap()),
        tenancy_core::CachedStore::new(store),
    );
    async fn echo(CurrentTenant(tenant): CurrentTenant<TenantRecord>, uri: Uri) -> String {
        tokio::task::yield_now().await;
        format!("{} {} {}", tenant.id, tenant.name, uri.path())
    }
    let app = TenancyLayer::new(tenancy).layer(Router::new().route("/echo", get(echo)));
    let tasks: Vec<_> = (0..400)
        .map(|index| {
            let app = app.clone();
            tokio::spawn(async move {
                let tenant = index % 20;
                let (uri, host) = if index % 2 == 0 {
                    ("/echo".to_owned(), format!("t{tenant}.localhost"))
                } else {
                    (format!("/t/t{tenant}/echo"), "localhost".to_owned())
                };
                let answer = send(app, &uri, &host).await;
                (tenant, answer)
            })
        })
        .collect();
    for task in tasks {
        let (tenant, answer) = task.await.unwrap();
        assert_eq!(answer, (200, format!("t{tenant} Tenant {tenant} /echo")));
    }
}

/// Resolves the first label of the host after an `await`, refusing `bad.*`
/// with `401 InvalidToken`: a stand-in for a resolver that verifies a token.
struct SlowLabel;

impl tenancy_core::AsyncResolver for SlowLabel {
    type Input = String;

    fn extract(
        &self,
        request: &tenancy_core::RequestView<'_>,
    ) -> Result<Option<String>, tenancy_core::TenancyError> {
        let host = request.host().and_then(|host| host.name()).unwrap_or("");
        Ok(host.split_once('.').map(|(label, _)| label.to_owned()))
    }

    fn resolve(
        &self,
        label: String,
    ) -> tenancy_core::BoxFuture<
        '_,
        Result<Option<tenancy_core::Resolution>, tenancy_core::TenancyError>,
    > {
        Box::pin(async move {
            tokio::task::yield_now().await;
            if label == "bad" {
                let status = http::StatusCode::UNAUTHORIZED;
                return Err(tenancy_core::TenancyError::refused(
                    status,
                    "InvalidToken",
                    "no",
                ));
            }
            Ok(Some(tenancy_core::Resolution::id(TenantId::new(&label)?)))
        })
    }
}

#[tokio::test]
async fn an_async_resolver_resolves_and_refuses_with_its_own_status() {
    let tenancy = Tenancy::with_async_resolver(SlowLabel, store());
    let app = TenancyLayer::new(tenancy).layer(Router::new().route("/name", get(name)));
    assert_eq!(
        send(app.clone(), "/name", "acme.localhost").await,
        (200, "Acme Corp".into())
    );
    let (status, body) = send(app.clone(), "/name", "bad.localhost").await;
    assert_eq!((status, error_kind(&body).as_str()), (401, "InvalidToken"));
    let (status, body) = send(app.clone(), "/name", "localhost").await;
    assert_eq!(
        (status, error_kind(&body).as_str()),
        (404, "TenantRequired")
    );
    let (status, body) = send(app, "/name", "nope.localhost").await;
    assert_eq!(
        (status, error_kind(&body).as_str()),
        (404, "TenantNotFound")
    );
}

/// Hands out the tenant's id: a stand-in for an isolation mode's access type.
#[derive(Clone)]
struct Ids;

impl tenancy_core::TenantAccess for Ids {
    type Tenant = TenantRecord;
    type Handle = String;

    fn open<'a>(
        &'a self,
        tenant: &'a TenantRecord,
    ) -> tenancy_core::BoxFuture<'a, Result<String, tenancy_core::TenancyError>> {
        Box::pin(async move { Ok(tenant.id.to_string()) })
    }
}

async fn tenant_db_id(
    db: tenancy_axum::TenantDb<Ids>,
) -> Result<String, tenancy_axum::TenantRejection> {
    db.into_handle().await
}

#[tokio::test]
async fn a_gate_hands_its_access_objects_to_tenant_db() {
    let tenancy = || Tenancy::new(SubdomainResolver::new(["localhost"]).unwrap(), store());
    let router = || Router::new().route("/db", get(tenant_db_id));
    let app = TenancyLayer::new(Gate::new(tenancy()).with_access(Ids)).layer(router());
    assert_eq!(
        send(app, "/db", "acme.localhost").await,
        (200, "acme".into())
    );
    // Without it (and without an `Extension`): a configuration error.
    let app = TenancyLayer::new(tenancy()).layer(router());
    let (status, body) = send(app, "/db", "acme.localhost").await;
    assert_eq!((status, error_kind(&body).as_str()), (500, "Configuration"));
}

/// Hands out its label: two of them can be told apart.
#[derive(Clone)]
struct Labelled(&'static str);

impl tenancy_core::TenantAccess for Labelled {
    type Tenant = TenantRecord;
    type Handle = &'static str;

    fn open<'a>(
        &'a self,
        _tenant: &'a TenantRecord,
    ) -> tenancy_core::BoxFuture<'a, Result<&'static str, tenancy_core::TenancyError>> {
        Box::pin(std::future::ready(Ok(self.0)))
    }
}

async fn labelled(
    db: tenancy_axum::TenantDb<Labelled>,
) -> Result<&'static str, tenancy_axum::TenantRejection> {
    db.into_handle().await
}

#[tokio::test]
async fn the_last_access_of_a_type_wins_and_the_gate_beats_an_extension() {
    let tenancy = || Tenancy::new(SubdomainResolver::new(["localhost"]).unwrap(), store());
    let gate = Gate::new(tenancy())
        .with_access(Labelled("first"))
        .with_access(Labelled("second"));
    let router = Router::new()
        .route("/db", get(labelled))
        .layer(axum::Extension(Labelled("extension")));
    let app = TenancyLayer::new(gate).layer(router.clone());
    assert_eq!(
        send(app, "/db", "acme.localhost").await,
        (200, "second".into())
    );
    // Without one in the gate, the extension serves.
    let app = TenancyLayer::new(tenancy()).layer(router);
    assert_eq!(
        send(app, "/db", "acme.localhost").await,
        (200, "extension".into())
    );
}
