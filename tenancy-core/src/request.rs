//! [`RequestInfo`]: a framework-neutral, borrowed view of a request.

use crate::error::TenancyError;
use crate::host::{Host, HostReason, InvalidHost};

/// What a request carries under one header name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderValues<'a> {
    /// The header is not present.
    Absent,
    /// The header is present once.
    One(&'a [u8]),
    /// The header is present several times, always with this value.
    Repeated(&'a [u8]),
    /// The header is present several times with different values.
    Conflicting,
}

impl<'a> HeaderValues<'a> {
    /// Summarises the values of one header, in order of appearance.
    ///
    /// ```
    /// use tenancy_core::HeaderValues;
    ///
    /// let values: [&[u8]; 2] = [b"acme", b"globex"];
    /// assert_eq!(HeaderValues::collect(values), HeaderValues::Conflicting);
    /// assert_eq!(HeaderValues::collect([b"acme".as_slice()]), HeaderValues::One(b"acme"));
    /// ```
    pub fn collect(values: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut values = values.into_iter();
        let Some(first) = values.next() else {
            return Self::Absent;
        };
        let mut summary = Self::One(first);
        for value in values {
            if value != first {
                return Self::Conflicting;
            }
            summary = Self::Repeated(first);
        }
        summary
    }
}

/// A borrowed, framework-neutral view of an incoming request.
///
/// Implemented here for [`http::request::Parts`] and [`http::Request`], and by
/// each framework adapter for its own request type. Implementations only
/// borrow; nothing is copied on the hot path.
///
/// ```
/// use tenancy_core::{HeaderValues, RequestInfo};
///
/// let request = http::Request::builder()
///     .uri("/t/acme/items")
///     .header("host", "localhost:8080")
///     .body(())?;
/// assert_eq!(request.path(), "/t/acme/items");
/// assert_eq!(request.header("Host"), HeaderValues::One(b"localhost:8080"));
/// # Ok::<(), http::Error>(())
/// ```
pub trait RequestInfo {
    /// All values of the header `name` (matched case-insensitively).
    fn header(&self, name: &str) -> HeaderValues<'_>;

    /// The authority of the request URI, if it has one (HTTP/2, absolute-form).
    fn uri_authority(&self) -> Option<&str>;

    /// The path of the request URI, without the query.
    fn path(&self) -> &str;

    /// All values of the `Host` header; override it when a faster lookup than
    /// [`header("host")`](Self::header) exists.
    fn host_header(&self) -> HeaderValues<'_> {
        self.header("host")
    }

    /// The query string of the request URI, without the `?`, if any.
    fn query(&self) -> Option<&str> {
        None
    }

    /// The normalised host: from the `Host` header, else the URI authority.
    ///
    /// Two `Host` headers, or a `Host` header that disagrees with the URI
    /// authority, are refused rather than guessed at. An empty or absent
    /// host is `Ok(None)`.
    fn host(&self) -> Result<Option<Host<'_>>, InvalidHost> {
        let authority = self
            .uri_authority()
            .filter(|authority| !authority.is_empty())
            .map(|authority| authority.rsplit('@').next().unwrap_or(authority));
        let header = match self.host_header() {
            HeaderValues::Absent => None,
            HeaderValues::One(value) => Some(value).filter(|value| !value.is_empty()),
            HeaderValues::Repeated(_) | HeaderValues::Conflicting => {
                return Err(InvalidHost(HostReason::Repeated));
            }
        };
        match (header, authority) {
            (None, None) => Ok(None),
            (Some(raw), None) => Host::parse(raw).map(Some),
            (None, Some(authority)) => Host::parse(authority.as_bytes()).map(Some),
            (Some(raw), Some(authority)) => {
                let host = Host::parse(raw)?;
                if host != Host::parse(authority.as_bytes())? {
                    return Err(InvalidHost(HostReason::Mismatch));
                }
                Ok(Some(host))
            }
        }
    }
}

fn header_values<K: http::header::AsHeaderName>(
    headers: &http::HeaderMap,
    name: K,
) -> HeaderValues<'_> {
    HeaderValues::collect(
        headers
            .get_all(name)
            .iter()
            .map(http::HeaderValue::as_bytes),
    )
}

impl RequestInfo for http::request::Parts {
    fn header(&self, name: &str) -> HeaderValues<'_> {
        header_values(&self.headers, name)
    }

    fn host_header(&self) -> HeaderValues<'_> {
        header_values(&self.headers, http::header::HOST)
    }

    fn uri_authority(&self) -> Option<&str> {
        self.uri.authority().map(http::uri::Authority::as_str)
    }

    fn path(&self) -> &str {
        self.uri.path()
    }

    fn query(&self) -> Option<&str> {
        self.uri.query()
    }
}

impl<B> RequestInfo for http::Request<B> {
    fn header(&self, name: &str) -> HeaderValues<'_> {
        header_values(self.headers(), name)
    }

    fn host_header(&self) -> HeaderValues<'_> {
        header_values(self.headers(), http::header::HOST)
    }

    fn uri_authority(&self) -> Option<&str> {
        self.uri().authority().map(http::uri::Authority::as_str)
    }

    fn path(&self) -> &str {
        self.uri().path()
    }

    fn query(&self) -> Option<&str> {
        self.uri().query()
    }
}

impl<R: RequestInfo + ?Sized> RequestInfo for &R {
    fn header(&self, name: &str) -> HeaderValues<'_> {
        (**self).header(name)
    }

    fn uri_authority(&self) -> Option<&str> {
        (**self).uri_authority()
    }

    fn path(&self) -> &str {
        (**self).path()
    }

    fn query(&self) -> Option<&str> {
        (**self).query()
    }

    fn host_header(&self) -> HeaderValues<'_> {
        (**self).host_header()
    }

    fn host(&self) -> Result<Option<Host<'_>>, InvalidHost> {
        (**self).host()
    }
}

/// A request prepared for resolvers: the host parsed once, headers on demand.
///
/// [`Tenancy`](crate::Tenancy) builds one per request and hands it to every
/// resolver of a chain, so the host is normalised only once.
///
/// ```
/// use tenancy_core::RequestView;
///
/// let request = http::Request::builder()
///     .uri("/items")
///     .header("host", "ACME.localhost:8080")
///     .body(())?;
/// let view = RequestView::new(&request)?;
/// assert_eq!(view.host().and_then(|host| host.name()), Some("acme.localhost"));
/// assert_eq!(view.path(), "/items");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct RequestView<'a> {
    host: Option<Host<'a>>,
    path: &'a str,
    request: &'a dyn RequestInfo,
}

impl<'a> RequestView<'a> {
    /// Parses the host of `request` and builds a view over it.
    ///
    /// Fails with [`TenancyError::InvalidHost`] for a malformed, repeated or
    /// ambiguous host.
    pub fn new(request: &'a dyn RequestInfo) -> Result<Self, TenancyError> {
        Ok(Self {
            host: request.host()?,
            path: request.path(),
            request,
        })
    }

    /// The normalised host, if the request has one.
    pub fn host(&self) -> Option<&Host<'a>> {
        self.host.as_ref()
    }

    /// The request path, without the query.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The query string, without the `?`, if any.
    pub fn query(&self) -> Option<&'a str> {
        self.request.query()
    }

    /// The first value of the query parameter `name`, still percent-encoded.
    ///
    /// ```
    /// use tenancy_core::RequestView;
    ///
    /// let request = http::Request::builder().uri("/users?page=2&tenant=acme").body(())?;
    /// let view = RequestView::new(&request)?;
    /// assert_eq!(view.query_param("tenant"), Some("acme"));
    /// assert_eq!(view.query_param("missing"), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn query_param(&self, name: &str) -> Option<&'a str> {
        self.query()?.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then_some(value)
        })
    }

    /// All values of the header `name`.
    pub fn header(&self, name: &str) -> HeaderValues<'a> {
        self.request.header(name)
    }
}

impl std::fmt::Debug for RequestView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestView")
            .field("host", &self.host)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}
