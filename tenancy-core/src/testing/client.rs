//! [`TestApp`], [`TestRequest`] and [`TestResponse`]: building requests and
//! checking responses, independent of the framework.

use std::future::Future;

use http::{HeaderMap, Method, Request};
use serde_json::Value;

/// A test app in process, driven with plain `http` 1 requests.
///
/// The adapter's side of the client: send the request through the
/// middleware and the app's router, and collect the whole response. The
/// future need not be `Send` (actix-web's are not).
pub trait TestApp {
    /// Sends `request` through the adapter and the app's router.
    fn send(&self, request: Request<Vec<u8>>) -> impl Future<Output = TestResponse>;
}

/// A response as the client sees it: what a [`TestApp`] returns.
#[derive(Debug, Clone)]
pub struct TestResponse {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Vec<u8>,
}

impl TestResponse {
    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    ///
    /// # Panics
    ///
    /// When the body is not JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text()))
    }

    /// The `Content-Type` header, or `""`.
    pub fn content_type(&self) -> &str {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    /// Asserts a success and returns the JSON body.
    ///
    /// # Panics
    ///
    /// When the status is not 200 or the body not JSON.
    #[track_caller]
    pub fn ok(&self) -> Value {
        assert_eq!(
            self.status,
            200,
            "expected 200, got {self:?}: {}",
            self.text()
        );
        self.json()
    }

    /// Asserts a tenancy error: this status, `application/json`, and exactly
    /// `{"error": kind, "message": <non-empty string>}`. Returns the message.
    ///
    /// # Panics
    ///
    /// When the response is anything else.
    #[track_caller]
    pub fn error(&self, status: u16, kind: &str) -> String {
        assert_eq!(
            self.status,
            status,
            "expected {status} {kind}, got {}: {}",
            self.status,
            self.text()
        );
        assert_eq!(self.content_type(), "application/json", "{}", self.text());
        let body = self.json();
        let object = body.as_object().expect("an error body is a JSON object");
        assert_eq!(object.len(), 2, "only `error` and `message`: {body}");
        assert_eq!(object["error"], kind, "{body}");
        let message = object["message"].as_str().expect("`message` is a string");
        assert!(!message.is_empty(), "{body}");
        message.to_owned()
    }

    /// The tenant id an `/items`-like handler answered for: the string
    /// `tenant` of a successful JSON body.
    ///
    /// # Panics
    ///
    /// When the response is not a success with such a body.
    #[track_caller]
    pub fn tenant(&self) -> String {
        self.ok()["tenant"]
            .as_str()
            .unwrap_or_else(|| panic!("no tenant in {}", self.text()))
            .to_owned()
    }
}

/// A request under construction, with an empty body; headers may repeat
/// (unlike in `http::request::Builder`, a repeated `host` is kept).
#[derive(Debug, Clone)]
pub struct TestRequest {
    method: Method,
    uri: String,
    headers: Vec<(String, Vec<u8>)>,
}

/// A `GET` of `uri` (a path and query, or an absolute URI).
pub fn get(uri: &str) -> TestRequest {
    TestRequest::new(Method::GET, uri)
}

/// A `POST` of `uri`, with an empty body.
pub fn post(uri: &str) -> TestRequest {
    TestRequest::new(Method::POST, uri)
}

impl TestRequest {
    /// A request of `uri` with `method`, no headers and an empty body.
    pub fn new(method: Method, uri: &str) -> Self {
        Self {
            method,
            uri: uri.to_owned(),
            headers: Vec::new(),
        }
    }

    /// Adds a `Host` header (a second call adds a second one).
    #[must_use]
    pub fn host(self, host: impl AsRef<[u8]>) -> Self {
        self.header("host", host)
    }

    /// Adds a header; the value may be any bytes a header value allows.
    #[must_use]
    pub fn header(self, name: &str, value: impl AsRef<[u8]>) -> Self {
        let mut headers = self.headers;
        headers.push((name.to_owned(), value.as_ref().to_vec()));
        Self { headers, ..self }
    }

    /// The `http` request.
    ///
    /// # Panics
    ///
    /// When the URI, a header name or a header value is invalid.
    #[track_caller]
    pub fn build(&self) -> Request<Vec<u8>> {
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(self.uri.as_str());
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_slice());
        }
        builder.body(Vec::new()).unwrap()
    }

    /// Sends the request through `app`.
    pub async fn send(&self, app: &impl TestApp) -> TestResponse {
        app.send(self.build()).await
    }
}
