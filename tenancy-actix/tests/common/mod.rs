//! Driving an actix-web app with the suites' plain `http` 1 requests.

#![allow(dead_code)]

use std::rc::Rc;

use actix_web::App;
use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::test;
use futures_util::future::LocalBoxFuture;

// The including test crate names its suite's `TestApp` and `TestResponse` at its root.
use crate::{TestApp, TestResponse};

type Sender = Rc<dyn Fn(http::Request<Vec<u8>>) -> LocalBoxFuture<'static, TestResponse>>;

/// An initialised actix service, behind a closure (its type cannot be named).
pub(crate) struct ActixApp(Sender);

impl ActixApp {
    /// Initialises `app`, as `actix_web::test::init_service` does.
    pub(crate) async fn new<T, B>(app: App<T>) -> Self
    where
        T: ServiceFactory<
                ServiceRequest,
                Config = (),
                Response = ServiceResponse<B>,
                Error = actix_web::Error,
                InitError = (),
            > + 'static,
        B: MessageBody + 'static,
    {
        let service = Rc::new(test::init_service(app).await);
        Self(Rc::new(move |request| {
            let service = Rc::clone(&service);
            Box::pin(async move {
                let response = service.call(to_actix(request).to_request()).await.unwrap();
                let status = response.status().as_u16();
                let mut headers = http::HeaderMap::new();
                for (name, value) in response.headers() {
                    headers.append(
                        http::HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
                        http::HeaderValue::from_bytes(value.as_bytes()).unwrap(),
                    );
                }
                let body = test::read_body(response).await.to_vec();
                TestResponse {
                    status,
                    headers,
                    body,
                }
            })
        }))
    }
}

impl TestApp for ActixApp {
    async fn send(&self, request: http::Request<Vec<u8>>) -> TestResponse {
        (self.0)(request).await
    }
}

/// An `http` 1 request as an actix-web (`http` 0.2) test request.
fn to_actix(request: http::Request<Vec<u8>>) -> test::TestRequest {
    let (parts, body) = request.into_parts();
    let method = actix_web::http::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap();
    let mut actix = test::TestRequest::default()
        .method(method)
        .uri(&parts.uri.to_string())
        .set_payload(body);
    for (name, value) in &parts.headers {
        actix = actix.append_header((
            HeaderName::from_bytes(name.as_str().as_bytes()).unwrap(),
            HeaderValue::from_bytes(value.as_bytes()).unwrap(),
        ));
    }
    actix
}
