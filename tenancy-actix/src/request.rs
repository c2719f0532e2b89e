//! [`ActixRequest`]: actix-web requests as a [`RequestInfo`].

use std::fmt;

use actix_web::HttpRequest;
use actix_web::dev::{RequestHead, ServiceRequest};
use actix_web::http::header;
use tenancy_core::{HeaderValues, RequestInfo};

/// A borrowed actix-web request seen as a [`tenancy_core::RequestInfo`].
///
/// actix-web 4 uses the `http` 0.2 types and `tenancy-core` the `http` 1
/// types, so the core cannot implement [`RequestInfo`] for actix requests;
/// this newtype does, over the request head (URI and headers), without
/// copying. Use it to run a [`Resolver`](tenancy_core::Resolver) or
/// [`Tenancy`](tenancy_core::Tenancy) yourself.
///
/// ```
/// use actix_web::test::TestRequest;
/// use tenancy_actix::ActixRequest;
/// use tenancy_core::{HeaderValues, RequestInfo};
///
/// let request = TestRequest::get()
///     .uri("/t/acme/items?page=2")
///     .insert_header(("host", "ACME.localhost:8080"))
///     .to_http_request();
/// let info = ActixRequest::from(&request);
/// assert_eq!(info.path(), "/t/acme/items");
/// assert_eq!(info.header("Host"), HeaderValues::One(b"ACME.localhost:8080"));
/// assert_eq!(info.host()?.and_then(|host| host.name().map(str::to_owned)).as_deref(), Some("acme.localhost"));
/// # Ok::<(), tenancy_core::InvalidHost>(())
/// ```
#[derive(Clone, Copy)]
pub struct ActixRequest<'a> {
    head: &'a RequestHead,
}

impl<'a> ActixRequest<'a> {
    /// A view of a request head.
    pub fn new(head: &'a RequestHead) -> Self {
        Self { head }
    }
}

impl<'a> From<&'a ServiceRequest> for ActixRequest<'a> {
    fn from(request: &'a ServiceRequest) -> Self {
        Self::new(request.head())
    }
}

impl<'a> From<&'a HttpRequest> for ActixRequest<'a> {
    fn from(request: &'a HttpRequest) -> Self {
        Self::new(request.head())
    }
}

impl<'a> From<&'a RequestHead> for ActixRequest<'a> {
    fn from(head: &'a RequestHead) -> Self {
        Self::new(head)
    }
}

impl RequestInfo for ActixRequest<'_> {
    fn header(&self, name: &str) -> HeaderValues<'_> {
        header_values(self.head, name)
    }

    fn host_header(&self) -> HeaderValues<'_> {
        header_values(self.head, header::HOST)
    }

    fn query(&self) -> Option<&str> {
        self.head.uri.query()
    }

    fn uri_authority(&self) -> Option<&str> {
        self.head
            .uri
            .authority()
            .map(actix_web::http::uri::Authority::as_str)
    }

    fn path(&self) -> &str {
        self.head.uri.path()
    }
}

fn header_values(head: &RequestHead, name: impl header::AsHeaderName) -> HeaderValues<'_> {
    HeaderValues::collect(
        head.headers
            .get_all(name)
            .map(header::HeaderValue::as_bytes),
    )
}

impl fmt::Debug for ActixRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActixRequest")
            .field("uri", &self.head.uri)
            .finish_non_exhaustive()
    }
}
