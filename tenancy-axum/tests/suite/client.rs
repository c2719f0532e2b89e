//! Building requests and checking responses, independent of the framework.

use std::future::Future;

use http::{HeaderMap, Method, Request};
use serde_json::Value;

/// A response as the client sees it.
#[derive(Debug)]
pub(crate) struct TestResponse {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl TestResponse {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text()))
    }

    pub(crate) fn content_type(&self) -> &str {
        self.headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    /// Asserts a success and returns the JSON body.
    #[track_caller]
    pub(crate) fn ok(&self) -> Value {
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
    #[track_caller]
    pub(crate) fn error(&self, status: u16, kind: &str) -> String {
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

    /// The tenant id an `/items`-like handler answered for.
    #[track_caller]
    pub(crate) fn tenant(&self) -> String {
        self.ok()["tenant"]
            .as_str()
            .unwrap_or_else(|| panic!("no tenant in {}", self.text()))
            .to_owned()
    }
}

/// A test app in process, driven with plain `http` 1 requests.
pub(crate) trait TestApp {
    /// Sends `request` through the adapter and the app's router.
    fn send(&self, request: Request<Vec<u8>>) -> impl Future<Output = TestResponse>;
}

/// A request under construction; headers may repeat.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    method: Method,
    uri: String,
    headers: Vec<(String, Vec<u8>)>,
}

pub(crate) fn get(uri: &str) -> Req {
    Req {
        method: Method::GET,
        uri: uri.to_owned(),
        headers: Vec::new(),
    }
}

pub(crate) fn post(uri: &str) -> Req {
    Req {
        method: Method::POST,
        uri: uri.to_owned(),
        headers: Vec::new(),
    }
}

impl Req {
    pub(crate) fn host(self, host: impl AsRef<[u8]>) -> Self {
        self.header("host", host)
    }

    pub(crate) fn header(self, name: &str, value: impl AsRef<[u8]>) -> Self {
        let mut headers = self.headers;
        headers.push((name.to_owned(), value.as_ref().to_vec()));
        Self { headers, ..self }
    }

    pub(crate) fn build(&self) -> Request<Vec<u8>> {
        let mut builder = Request::builder()
            .method(self.method.clone())
            .uri(self.uri.as_str());
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_slice());
        }
        builder.body(Vec::new()).unwrap()
    }

    pub(crate) async fn send(&self, app: &impl TestApp) -> TestResponse {
        app.send(self.build()).await
    }
}
