//! Path-prefix, header, chain and closure resolvers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)] // test helpers

use tenancy_core::{
    ChainResolver, HeaderResolver, PathPrefixResolver, RequestView, Resolution, Resolver, Strategy,
    SubdomainResolver, TenancyError, TenantId, TenantKey, from_fn,
};

fn request(host: &str, uri: &str, headers: &[(&str, &[u8])]) -> http::Request<()> {
    let mut builder = http::Request::builder().uri(uri).header("host", host);
    for (name, value) in headers {
        builder = builder.header(*name, http::HeaderValue::from_bytes(value).unwrap());
    }
    builder.body(()).unwrap()
}

fn run(
    resolver: &dyn Resolver,
    request: &http::Request<()>,
) -> Result<Option<Resolution>, TenancyError> {
    resolver.resolve(&RequestView::new(request)?)
}

#[test]
fn path_prefix_table() {
    let resolver = PathPrefixResolver::new("/t").unwrap();
    // (path, expected id, expected routed path) or an error kind.
    let cases: &[(&str, Result<Option<(&str, &str)>, &str>)] = &[
        ("/t/acme/items", Ok(Some(("acme", "/items")))),
        ("/t/acme/items/7", Ok(Some(("acme", "/items/7")))),
        ("/t/acme", Ok(Some(("acme", "/")))),
        ("/t/acme/", Ok(Some(("acme", "/")))),
        ("/t/ACME/items", Ok(Some(("acme", "/items")))),
        ("/t/123/items", Ok(Some(("123", "/items")))),
        ("/items", Ok(None)),
        ("/", Ok(None)),
        ("/t", Ok(None)),
        ("/tx/acme/items", Ok(None)),
        ("/T/acme/items", Ok(None)),
        ("/admin/t/acme", Ok(None)),
        ("/t/", Err("InvalidTenantId")),
        ("/t//items", Err("InvalidTenantId")),
        ("/t/%61cme/items", Err("InvalidTenantId")),
        ("/t/../items", Err("InvalidTenantId")),
        ("/t/./items", Err("InvalidTenantId")),
        ("/t/acme%2Fglobex/items", Err("InvalidTenantId")),
        ("/t/acme;drop/items", Err("InvalidTenantId")),
        ("/t/-acme/items", Err("InvalidTenantId")),
    ];
    for (path, expected) in cases {
        let request = request("localhost", path, &[]);
        let outcome = run(&resolver, &request)
            .map(|found| {
                found.map(|resolution| {
                    assert_eq!(resolution.strategy(), Strategy::PathPrefix);
                    (
                        resolution.key().to_string(),
                        resolution.routed_path(path).to_owned(),
                    )
                })
            })
            .map_err(|error| error.kind());
        let expected =
            expected.map(|found| found.map(|(id, rest)| (id.to_owned(), rest.to_owned())));
        assert_eq!(outcome, expected, "path {path:?}");
    }
}

#[test]
fn longer_path_prefixes_and_invalid_prefixes() {
    let resolver = PathPrefixResolver::new("/api/tenants").unwrap();
    let found = run(
        &resolver,
        &request("localhost", "/api/tenants/acme/items", &[]),
    )
    .unwrap()
    .unwrap();
    assert_eq!(found.key().to_string(), "acme");
    assert_eq!(found.routed_path("/api/tenants/acme/items"), "/items");
    for bad in ["", "/", "t", "/t/", "//t", "/a//b", "/t?x", "/t#x"] {
        assert!(PathPrefixResolver::new(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn routed_path_never_panics_on_a_foreign_path() {
    let resolution = Resolution::id(TenantId::new("acme").unwrap()).with_path_prefix(7);
    assert_eq!(resolution.routed_path("/t/acme/items"), "/items");
    assert_eq!(resolution.routed_path("/short"), "/short");
    assert_eq!(resolution.routed_path("/ééééé/x"), "/ééééé/x");
}

#[test]
fn header_resolver() {
    let resolver = HeaderResolver::new("X-Tenant-ID").unwrap();
    let outcome = |headers: &[(&str, &[u8])]| {
        run(&resolver, &request("localhost", "/", headers))
            .map(|found| found.map(|resolution| resolution.key().to_string()))
            .map_err(|error| error.kind())
    };
    assert_eq!(outcome(&[]), Ok(None));
    assert_eq!(
        outcome(&[("x-tenant-id", b"acme")]),
        Ok(Some("acme".into()))
    );
    assert_eq!(
        outcome(&[("X-TENANT-ID", b"ACME")]),
        Ok(Some("acme".into()))
    );
    assert_eq!(
        outcome(&[("x-tenant-id", b"acme"), ("x-tenant-id", b"acme")]),
        Ok(Some("acme".into()))
    );
    assert_eq!(
        outcome(&[("x-tenant-id", b"acme"), ("x-tenant-id", b"globex")]),
        Err("TenantConflict")
    );
    assert_eq!(outcome(&[("x-tenant-id", b"")]), Err("InvalidTenantId"));
    assert_eq!(
        outcome(&[("x-tenant-id", b"acme corp")]),
        Err("InvalidTenantId")
    );
    assert_eq!(
        outcome(&[("x-tenant-id", b"ac\xffme")]),
        Err("InvalidTenantId")
    );
    assert_eq!(
        outcome(&[("x-tenant-id", b"' OR 1=1 --")]),
        Err("InvalidTenantId")
    );
    assert_eq!(outcome(&[("x-other", b"acme")]), Ok(None));
    assert!(HeaderResolver::new("not a header").is_err());
    let error = run(
        &resolver,
        &request(
            "localhost",
            "/",
            &[("x-tenant-id", b"a"), ("x-tenant-id", b"b")],
        ),
    )
    .unwrap_err();
    assert_eq!(error.status(), 400);
}

fn full_chain() -> ChainResolver {
    ChainResolver::new()
        .with(
            SubdomainResolver::new(["localhost"])
                .unwrap()
                .with_custom_domains(),
        )
        .with(PathPrefixResolver::new("/t").unwrap())
        .with(HeaderResolver::new("x-tenant-id").unwrap())
}

#[test]
fn chain_merges_agreeing_strategies() {
    let chain = full_chain();
    let outcome = |host: &str, path: &str, headers: &[(&str, &[u8])]| {
        run(&chain, &request(host, path, headers)).map(|found| {
            found.map(|resolution| {
                (
                    resolution.key().clone(),
                    resolution.expected_id().map(|(id, _)| id.to_string()),
                    resolution.routed_path(path).to_owned(),
                )
            })
        })
    };
    let acme = || TenantKey::Id(TenantId::new("acme").unwrap());

    // One strategy at a time.
    assert_eq!(
        outcome("acme.localhost", "/items", &[]).unwrap(),
        Some((acme(), None, "/items".into()))
    );
    assert_eq!(
        outcome("localhost", "/t/acme/items", &[]).unwrap(),
        Some((acme(), None, "/items".into()))
    );
    assert_eq!(
        outcome("localhost", "/items", &[("x-tenant-id", b"acme")]).unwrap(),
        Some((acme(), None, "/items".into()))
    );
    assert_eq!(outcome("localhost", "/items", &[]).unwrap(), None);

    // All three agree: the prefix is still stripped.
    assert_eq!(
        outcome(
            "acme.localhost",
            "/t/acme/items",
            &[("x-tenant-id", b"ACME")]
        )
        .unwrap(),
        Some((acme(), None, "/items".into()))
    );

    // A custom domain plus an id: the domain is looked up, the id must match.
    let (key, expected, rest) = outcome("shop.acme.test", "/t/acme/items", &[])
        .unwrap()
        .unwrap();
    assert_eq!(key.to_string(), "shop.acme.test");
    assert_eq!(key.domain().map(|d| d.as_str()), Some("shop.acme.test"));
    assert_eq!(expected.as_deref(), Some("acme"));
    assert_eq!(rest, "/items");
}

#[test]
fn chain_reports_conflicts_with_both_strategies() {
    let chain = full_chain();
    let conflict = |host: &str, path: &str, headers: &[(&str, &[u8])]| match run(
        &chain,
        &request(host, path, headers),
    ) {
        Err(TenancyError::TenantConflict {
            first,
            first_by,
            second,
            second_by,
        }) => (first.to_string(), first_by, second.to_string(), second_by),
        other => panic!("expected a conflict for {host} {path}, got {other:?}"),
    };
    assert_eq!(
        conflict("globex.localhost", "/t/acme/items", &[]),
        (
            "globex".into(),
            Strategy::Subdomain,
            "acme".into(),
            Strategy::PathPrefix
        )
    );
    assert_eq!(
        conflict("localhost", "/t/acme/items", &[("x-tenant-id", b"globex")]),
        (
            "acme".into(),
            Strategy::PathPrefix,
            "globex".into(),
            Strategy::Header
        )
    );
    assert_eq!(
        conflict(
            "shop.acme.test",
            "/t/acme/items",
            &[("x-tenant-id", b"globex")]
        ),
        (
            "acme".into(),
            Strategy::PathPrefix,
            "globex".into(),
            Strategy::Header
        )
    );
    let error = run(&chain, &request("globex.localhost", "/t/acme/items", &[])).unwrap_err();
    assert_eq!(error.status(), 400);
    assert_eq!(
        error.to_string(),
        "the request names two different tenants: `globex` by subdomain and `acme` by path prefix"
    );
}

#[test]
fn chain_returns_the_first_error() {
    let chain = full_chain();
    let error = run(&chain, &request("acme.localhost", "/t/%61cme/items", &[])).unwrap_err();
    assert_eq!(error.kind(), "InvalidTenantId");
    let error = run(
        &chain,
        &request("acme.localhost", "/items", &[("x-tenant-id", b"bad id")]),
    )
    .unwrap_err();
    assert_eq!(error.kind(), "InvalidTenantId");
    assert!(ChainResolver::new().is_empty());
    assert!(
        run(&ChainResolver::new(), &request("acme.localhost", "/", &[]))
            .unwrap()
            .is_none()
    );
}

#[test]
fn closures_are_resolvers() {
    // Tenant from a `?tenant=` query parameter, as in the Flask shared-schema tutorial.
    let by_query = from_fn(
        |request: &RequestView<'_>| -> Result<Option<Resolution>, TenancyError> {
            match request.query_param("tenant") {
                Some(value) => Ok(Some(Resolution::new(
                    TenantKey::Id(TenantId::new(value)?),
                    Strategy::Custom("query"),
                ))),
                None => Ok(None),
            }
        },
    );
    let chain = ChainResolver::new()
        .with(by_query)
        .with(HeaderResolver::new("x-tenant-id").unwrap());
    let found = run(&chain, &request("localhost", "/users?tenant=Acme", &[]))
        .unwrap()
        .unwrap();
    assert_eq!(found.strategy(), Strategy::Custom("query"));
    assert_eq!(found.key().to_string(), "acme");
    assert!(
        run(&chain, &request("localhost", "/users?page=1", &[]))
            .unwrap()
            .is_none()
    );
    let error = run(&chain, &request("localhost", "/users?tenant=%61cme", &[])).unwrap_err();
    assert_eq!(error.kind(), "InvalidTenantId");
    let error = run(
        &chain,
        &request(
            "localhost",
            "/users?tenant=acme",
            &[("x-tenant-id", b"globex")],
        ),
    )
    .unwrap_err();
    assert!(error.to_string().contains("by query"), "{error}");
}
