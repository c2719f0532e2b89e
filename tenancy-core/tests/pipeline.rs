//! `Tenancy`: resolve → look up → refuse inactive → tenant.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)] // test helpers

use tenancy_core::{
    CachedStore, ChainResolver, DomainName, HeaderResolver, InMemoryStore, PathPrefixResolver,
    Strategy, SubdomainResolver, Tenancy, TenancyError, TenantId, TenantRecord,
};

fn id(text: &str) -> TenantId {
    TenantId::new(text).unwrap()
}

fn tenancy() -> Tenancy<CachedStore<InMemoryStore>> {
    let store = InMemoryStore::from_iter([
        TenantRecord::new(id("acme"), "Acme Corp"),
        TenantRecord::new(id("globex"), "Globex"),
        TenantRecord::new(id("initech"), "Initech").deactivated(),
    ]);
    store
        .add_domain(DomainName::new("acme.test").unwrap(), &id("acme"))
        .unwrap();
    let resolver = ChainResolver::new()
        .with(
            SubdomainResolver::new(["localhost"])
                .unwrap()
                .with_custom_domains(),
        )
        .with(PathPrefixResolver::new("/t").unwrap())
        .with(HeaderResolver::new("x-tenant-id").unwrap());
    Tenancy::new(resolver, CachedStore::new(store))
}

fn request(host: &str, uri: &str) -> http::Request<()> {
    http::Request::builder()
        .uri(uri)
        .header("host", host)
        .body(())
        .unwrap()
}

async fn outcome(
    tenancy: &Tenancy<CachedStore<InMemoryStore>>,
    host: &str,
    uri: &str,
) -> Result<Option<String>, String> {
    match tenancy.resolve(&request(host, uri)).await {
        Ok(Some(resolved)) => Ok(Some(resolved.tenant().id.to_string())),
        Ok(None) => Ok(None),
        Err(error) => Err(format!("{} {}", error.status().as_u16(), error.kind())),
    }
}

#[tokio::test]
async fn the_pipeline_table() {
    let tenancy = tenancy();
    let cases: &[(&str, &str, Result<Option<&str>, &str>)] = &[
        ("acme.localhost", "/items", Ok(Some("acme"))),
        ("acme.test", "/items", Ok(Some("acme"))),
        ("ACME.TEST:8080", "/items", Ok(Some("acme"))),
        ("localhost", "/t/globex/items", Ok(Some("globex"))),
        ("acme.test", "/t/acme/items", Ok(Some("acme"))),
        ("localhost", "/items", Ok(None)),
        ("www.localhost", "/", Ok(None)),
        ("127.0.0.1:8080", "/", Ok(None)),
        ("nobody.localhost", "/items", Err("404 TenantNotFound")),
        // A host outside the base domains that is not a registered custom
        // domain names no tenant: the path prefix (or header) decides.
        ("nobody.test", "/items", Ok(None)),
        ("api.unlisted.example", "/t/acme/items", Ok(Some("acme"))),
        ("API.Unlisted.Example:443", "/t/globex/", Ok(Some("globex"))),
        ("nobody.test", "/t/nobody/items", Err("404 TenantNotFound")),
        ("nobody.test", "/t/initech/items", Err("403 TenantInactive")),
        ("localhost", "/t/nobody/items", Err("404 TenantNotFound")),
        ("initech.localhost", "/items", Err("403 TenantInactive")),
        ("localhost", "/t/initech/items", Err("403 TenantInactive")),
        (
            "globex.localhost",
            "/t/acme/items",
            Err("400 TenantConflict"),
        ),
        // The custom domain belongs to acme, the path names globex.
        ("acme.test", "/t/globex/items", Err("400 TenantConflict")),
        ("localhost", "/t/%61cme/items", Err("400 InvalidTenantId")),
        ("localhost", "/t/../items", Err("400 InvalidTenantId")),
        ("bad_host.localhost", "/", Err("400 InvalidHost")),
    ];
    for (host, uri, expected) in cases {
        let expected = expected
            .map(|found| found.map(str::to_owned))
            .map_err(str::to_owned);
        assert_eq!(outcome(&tenancy, host, uri).await, expected, "{host} {uri}");
    }
}

/// Unregistered hosts fall through on the cached path too (the second round
/// answers from the cache, positive and negative entries alike), and the
/// path prefix is still stripped.
#[tokio::test]
async fn unregistered_hosts_fall_through_to_path_and_header() {
    let tenancy = tenancy();
    for round in 0..2 {
        let by_path = request("api.unlisted.example", "/t/acme/items/3");
        let resolved = tenancy.resolve(&by_path).await.unwrap().unwrap();
        assert_eq!(resolved.tenant().id.as_str(), "acme", "round {round}");
        assert_eq!(resolved.strategy(), Strategy::PathPrefix);
        assert_eq!(resolved.routed_path(by_path.uri().path()), "/items/3");

        let mut by_header = request("api.unlisted.example", "/items");
        by_header
            .headers_mut()
            .insert("x-tenant-id", "globex".parse().unwrap());
        let resolved = tenancy.resolve(&by_header).await.unwrap().unwrap();
        assert_eq!(resolved.tenant().id.as_str(), "globex", "round {round}");
        assert_eq!(resolved.strategy(), Strategy::Header);

        // A registered custom domain still wins, and still conflicts.
        let mut conflict = request("acme.test", "/items");
        conflict
            .headers_mut()
            .insert("x-tenant-id", "globex".parse().unwrap());
        let error = tenancy.resolve(&conflict).await.unwrap_err();
        assert_eq!(error.kind(), "TenantConflict", "round {round}");
    }
}

#[tokio::test]
async fn resolved_carries_strategy_and_routed_path() {
    let tenancy = tenancy();
    let request = request("localhost", "/t/acme/items/3?x=1");
    let resolved = tenancy.resolve(&request).await.unwrap().unwrap();
    assert_eq!(resolved.strategy(), Strategy::PathPrefix);
    assert_eq!(resolved.routed_path(request.uri().path()), "/items/3");
    assert_eq!(resolved.path_prefix_len(), "/t/acme".len());
    let by_domain = tenancy
        .resolve(&self::request("acme.test", "/t/acme/x"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_domain.strategy(), Strategy::Domain);
    assert_eq!(by_domain.into_tenant().name.as_ref(), "Acme Corp");
}

#[tokio::test]
async fn a_conflict_between_a_domain_and_an_id_names_both() {
    let tenancy = tenancy();
    let error = tenancy
        .resolve(&request("acme.test", "/t/globex/items"))
        .await
        .unwrap_err();
    match error {
        TenancyError::TenantConflict {
            first,
            first_by,
            second,
            second_by,
        } => {
            assert_eq!(first.to_string(), "acme.test");
            assert_eq!(first_by, Strategy::Domain);
            assert_eq!(second.to_string(), "globex");
            assert_eq!(second_by, Strategy::PathPrefix);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn load_is_for_background_jobs() {
    let tenancy = tenancy();
    assert_eq!(
        tenancy.load(&id("acme")).await.unwrap().name.as_ref(),
        "Acme Corp"
    );
    assert_eq!(
        tenancy.load(&id("initech")).await.unwrap_err().kind(),
        "TenantInactive"
    );
    assert_eq!(
        tenancy.load(&id("nobody")).await.unwrap_err().kind(),
        "TenantNotFound"
    );
}

#[tokio::test]
async fn invalidation_takes_effect_on_the_next_request() {
    let tenancy = tenancy();
    assert_eq!(
        outcome(&tenancy, "globex.localhost", "/").await,
        Ok(Some("globex".into()))
    );
    tenancy
        .store()
        .inner()
        .insert(TenantRecord::new(id("globex"), "Globex").deactivated());
    assert_eq!(
        outcome(&tenancy, "globex.localhost", "/").await,
        Ok(Some("globex".into())),
        "cached"
    );
    tenancy.store().invalidate_tenant(&id("globex"));
    assert_eq!(
        outcome(&tenancy, "globex.localhost", "/").await,
        Err("403 TenantInactive".into())
    );
}

#[test]
fn the_resolve_future_is_send_and_does_not_borrow_the_request() {
    fn assert_send<T: Send>(_: &T) {}
    let tenancy = tenancy();
    let future = {
        let request = request("acme.localhost", "/");
        tenancy.resolve(&request)
        // `request` is dropped here; the future must not need it.
    };
    assert_send(&future);
    let resolved = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future);
    assert_eq!(resolved.unwrap().unwrap().tenant().id.as_str(), "acme");
}

#[test]
fn every_error_kind_has_a_status() {
    use http::StatusCode;
    let io = || std::io::Error::other("boom");
    let cases: Vec<(TenancyError, StatusCode, &str)> = vec![
        (
            TenancyError::TenantNotFound {
                key: id("a").into(),
            },
            StatusCode::NOT_FOUND,
            "TenantNotFound",
        ),
        (
            TenancyError::TenantInactive { id: id("a") },
            StatusCode::FORBIDDEN,
            "TenantInactive",
        ),
        (
            TenancyError::TenantRequired,
            StatusCode::NOT_FOUND,
            "TenantRequired",
        ),
        (
            TenantId::new("").unwrap_err().into(),
            StatusCode::BAD_REQUEST,
            "InvalidTenantId",
        ),
        (
            DomainName::new("").unwrap_err().into(),
            StatusCode::BAD_REQUEST,
            "InvalidDomain",
        ),
        (
            TenancyError::HeaderConflict { header: "x".into() },
            StatusCode::BAD_REQUEST,
            "TenantConflict",
        ),
        (
            TenancyError::TenantExists { id: id("a") },
            StatusCode::CONFLICT,
            "TenantExists",
        ),
        (
            TenancyError::DomainTaken {
                domain: DomainName::new("a.test").unwrap(),
            },
            StatusCode::CONFLICT,
            "DomainTaken",
        ),
        (
            TenancyError::unavailable(io()),
            StatusCode::SERVICE_UNAVAILABLE,
            "StoreUnavailable",
        ),
        (
            TenancyError::SchemaCreation {
                tenant: id("a"),
                schema: "t_a".into(),
                source: io().into(),
            },
            StatusCode::INTERNAL_SERVER_ERROR,
            "SchemaCreation",
        ),
        (
            TenancyError::TableCreation {
                tenant: id("a"),
                source: io().into(),
            },
            StatusCode::INTERNAL_SERVER_ERROR,
            "TableCreation",
        ),
        (
            TenancyError::SchemaRename {
                from: id("a"),
                to: id("b"),
                source: io().into(),
            },
            StatusCode::INTERNAL_SERVER_ERROR,
            "SchemaRename",
        ),
        (
            TenancyError::SchemaDrop {
                tenant: id("a"),
                schema: "t_a".into(),
                source: io().into(),
            },
            StatusCode::INTERNAL_SERVER_ERROR,
            "SchemaDrop",
        ),
        (
            TenancyError::Migration {
                tenant: id("a"),
                source: io().into(),
            },
            StatusCode::INTERNAL_SERVER_ERROR,
            "Migration",
        ),
        (
            TenancyError::Configuration {
                message: "x".into(),
            },
            StatusCode::INTERNAL_SERVER_ERROR,
            "Configuration",
        ),
        (
            TenancyError::storage(io()),
            StatusCode::INTERNAL_SERVER_ERROR,
            "Storage",
        ),
    ];
    for (error, status, kind) in cases {
        assert_eq!(error.status(), status, "{error:?}");
        assert_eq!(error.kind(), kind, "{error:?}");
        assert_eq!(error.is_server_error(), status.is_server_error());
        if status.is_server_error() {
            let source = std::error::Error::source(&error);
            assert!(
                matches!(error, TenancyError::Configuration { .. })
                    || source.is_some_and(|s| s.to_string() == "boom"),
                "{error:?} keeps its source"
            );
        }
    }
}
