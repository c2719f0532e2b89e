//! `ActixRequest`: actix-web requests as a `RequestInfo`.

use actix_web::test::TestRequest;
use tenancy_actix::ActixRequest;
use tenancy_core::{HeaderValues, RequestInfo};

#[test]
fn repeated_and_conflicting_headers() {
    let request = TestRequest::get()
        .append_header(("x-tenant-id", "acme"))
        .append_header(("x-tenant-id", "globex"))
        .append_header(("host", "a.localhost"))
        .append_header(("host", "a.localhost"))
        .to_http_request();
    let info = ActixRequest::from(&request);
    assert_eq!(info.header("X-Tenant-Id"), HeaderValues::Conflicting);
    assert_eq!(info.header("host"), HeaderValues::Repeated(b"a.localhost"));
    assert_eq!(info.header("not a header name"), HeaderValues::Absent);
    assert!(info.host().is_err(), "two Host headers are refused");
}

#[test]
fn absolute_uri_authority() {
    let request = TestRequest::get()
        .uri("http://acme.localhost/items?page=2")
        .to_http_request();
    let info = ActixRequest::from(&request);
    assert_eq!(info.uri_authority(), Some("acme.localhost"));
    assert_eq!(info.path(), "/items");
    assert_eq!(info.query(), Some("page=2"));
    assert_eq!(info.host_header(), HeaderValues::Absent);
}
