//! Host-based resolution, table-driven in the style of Finbuckle's host
//! strategy tests, with the subdomain edge cases of Tenancy for Laravel.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)] // test helpers

use tenancy_core::{
    DomainResolver, RequestView, Resolver, SubdomainResolver, TenancyError, TenantKey,
};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// The host names this tenant id.
    Id(&'static str),
    /// The host is this custom domain.
    Domain(&'static str),
    /// The host names no tenant (central, IP, nested, outside the bases).
    Nothing,
    /// The request is refused with this error kind.
    Error(&'static str),
}
use Expect::{Domain, Error, Id, Nothing};

fn resolve(resolver: &dyn Resolver, host: &[u8]) -> Expect {
    let request = http::Request::builder()
        .uri("/items")
        .header(
            http::header::HOST,
            http::HeaderValue::from_bytes(host).expect("a header value"),
        )
        .body(())
        .expect("a request");
    let outcome = RequestView::new(&request).and_then(|view| resolver.resolve(&view));
    match outcome {
        Ok(None) => Nothing,
        Ok(Some(resolution)) => match resolution.key() {
            TenantKey::Id(id) => Id(leak(id.as_str())),
            TenantKey::Domain(domain) => Domain(leak(domain.as_str())),
        },
        Err(error) => Error(error.kind()),
    }
}

fn leak(text: &str) -> &'static str {
    Box::leak(text.to_owned().into_boxed_str())
}

const HOST_CASES: &[(&str, Expect)] = &[
    // Plain subdomains and normalisation.
    ("acme.localhost", Id("acme")),
    ("ACME.LocalHost", Id("acme")),
    ("acme.localhost:8080", Id("acme")),
    ("acme.localhost:", Id("acme")),
    ("acme.localhost.", Id("acme")),
    ("acme.localhost.:8080", Id("acme")),
    ("acme.example.com", Id("acme")),
    ("123.example.com", Id("123")),
    ("a-b.example.com", Id("a-b")),
    ("xn--mnchen-3ya.example.com", Id("xn--mnchen-3ya")),
    // Longest base wins: app.example.com is a base of its own.
    ("acme.app.example.com", Id("acme")),
    // Central hosts.
    ("localhost", Nothing),
    ("localhost:8080", Nothing),
    ("www.localhost", Nothing),
    ("WWW.example.com", Nothing),
    ("example.com", Nothing),
    ("app.example.com", Nothing),
    ("admin.example.com", Nothing),
    // Nested subdomains are not tenants (Tenancy for Laravel's NotASubdomain).
    ("a.b.localhost", Nothing),
    ("www.acme.localhost", Nothing),
    // Outside every base.
    ("badexample.com", Nothing),
    ("example.com.evil.test", Nothing),
    ("acme.test", Nothing),
    // IP addresses never name a tenant.
    ("127.0.0.1", Nothing),
    ("127.0.0.1:8080", Nothing),
    ("[::1]", Nothing),
    ("[::1]:8080", Nothing),
    ("[2001:db8::1]:443", Nothing),
    // Malformed hosts are refused, not guessed at.
    ("acme_corp.localhost", Error("InvalidHost")),
    ("-acme.localhost", Error("InvalidHost")),
    ("acme-.localhost", Error("InvalidHost")),
    ("acme..localhost", Error("InvalidHost")),
    (".localhost", Error("InvalidHost")),
    ("acme.localhost:http", Error("InvalidHost")),
    ("acme.localhost:99999", Error("InvalidHost")),
    ("acme.localhost:80:80", Error("InvalidHost")),
    ("user@acme.localhost", Error("InvalidHost")),
    ("acme.localhost/evil", Error("InvalidHost")),
    ("acme%2elocalhost", Error("InvalidHost")),
    ("[::1", Error("InvalidHost")),
    ("[::1]x", Error("InvalidHost")),
    ("[acme]", Error("InvalidHost")),
    ("::1", Error("InvalidHost")),
];

fn subdomains() -> SubdomainResolver {
    SubdomainResolver::new(["localhost", "example.com", "app.example.com"])
        .unwrap()
        .central_host("admin.example.com")
        .unwrap()
}

#[test]
fn subdomain_host_table() {
    assert!(HOST_CASES.len() >= 20);
    let resolver = subdomains();
    for (host, expected) in HOST_CASES {
        assert_eq!(
            resolve(&resolver, host.as_bytes()),
            *expected,
            "host {host:?}"
        );
    }
}

#[test]
fn non_ascii_and_oversized_hosts_are_refused() {
    let resolver = subdomains();
    assert_eq!(
        resolve(&resolver, "münchen.localhost".as_bytes()),
        Error("InvalidHost")
    );
    assert_eq!(
        resolve(&resolver, b"acme\xff.localhost"),
        Error("InvalidHost")
    );
    let long_label = format!("{}.localhost", "a".repeat(64));
    assert_eq!(
        resolve(&resolver, long_label.as_bytes()),
        Error("InvalidHost")
    );
    let huge = format!("{}.localhost", "a.".repeat(5_000));
    assert_eq!(resolve(&resolver, huge.as_bytes()), Error("InvalidHost"));
}

#[test]
fn www_can_be_a_tenant_when_configured() {
    let resolver = SubdomainResolver::new(["localhost"])
        .unwrap()
        .www_is_central(false);
    assert_eq!(resolve(&resolver, b"www.localhost"), Id("www"));
    assert_eq!(resolve(&resolver, b"localhost"), Nothing);
}

#[test]
fn custom_domains_outside_the_bases() {
    let resolver = subdomains().with_custom_domains();
    let cases: &[(&str, Expect)] = &[
        ("shop.acme.test", Domain("shop.acme.test")),
        ("Shop.Acme.Test.:443", Domain("shop.acme.test")),
        ("acme.test", Domain("acme.test")),
        ("badexample.com", Domain("badexample.com")),
        ("acme.localhost", Id("acme")),
        ("a.b.localhost", Nothing),
        ("localhost", Nothing),
        ("127.0.0.1", Nothing),
    ];
    for (host, expected) in cases {
        assert_eq!(
            resolve(&resolver, host.as_bytes()),
            *expected,
            "host {host:?}"
        );
    }
}

#[test]
fn domain_resolver_alone() {
    let resolver = DomainResolver::new().except_within(["localhost"]).unwrap();
    assert_eq!(resolve(&resolver, b"acme.test"), Domain("acme.test"));
    assert_eq!(resolve(&resolver, b"acme.localhost"), Nothing);
    assert_eq!(resolve(&resolver, b"localhost"), Nothing);
    assert_eq!(resolve(&resolver, b"[::1]:80"), Nothing);
    let every_host = DomainResolver::new();
    assert_eq!(
        resolve(&every_host, b"acme.localhost"),
        Domain("acme.localhost")
    );
}

#[test]
fn two_host_headers_are_refused() {
    for second in ["acme.localhost", "globex.localhost"] {
        let request = http::Request::builder()
            .header("host", "acme.localhost")
            .header("host", second)
            .body(())
            .unwrap();
        let error = RequestView::new(&request).unwrap_err();
        assert_eq!(error.kind(), "InvalidHost");
        assert_eq!(error.status(), 400);
        assert!(
            error.to_string().contains("more than one Host header"),
            "{error}"
        );
    }
}

#[test]
fn uri_authority_is_used_without_a_host_header() {
    // HTTP/2 carries the host in the :authority pseudo-header, i.e. the URI.
    let resolver = subdomains();
    let request = http::Request::builder()
        .uri("https://acme.localhost:8443/items")
        .body(())
        .unwrap();
    let view = RequestView::new(&request).unwrap();
    let resolution = resolver.resolve(&view).unwrap().unwrap();
    assert_eq!(resolution.key().to_string(), "acme");
}

#[test]
fn host_header_and_uri_authority_must_agree() {
    let agree = http::Request::builder()
        .uri("http://ACME.localhost/items")
        .header("host", "acme.localhost")
        .body(())
        .unwrap();
    assert!(RequestView::new(&agree).is_ok());
    let disagree = http::Request::builder()
        .uri("http://globex.localhost/items")
        .header("host", "acme.localhost")
        .body(())
        .unwrap();
    let error = RequestView::new(&disagree).unwrap_err();
    assert!(matches!(error, TenancyError::InvalidHost(_)), "{error:?}");
}

#[test]
fn empty_host_names_nothing() {
    let resolver = subdomains();
    let request = http::Request::builder()
        .header("host", "")
        .body(())
        .unwrap();
    let view = RequestView::new(&request).unwrap();
    assert!(view.host().is_none());
    assert!(resolver.resolve(&view).unwrap().is_none());
    let no_host = http::Request::new(());
    assert!(
        resolver
            .resolve(&RequestView::new(&no_host).unwrap())
            .unwrap()
            .is_none()
    );
}
