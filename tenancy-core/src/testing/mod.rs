//! The framework adapters' HTTP conformance kit (feature `testing`).
//!
//! One suite of HTTP cases, written once against plain `http` 1 requests and
//! responses, that every framework adapter runs in process: `tenancy-axum`
//! and `tenancy-actix` do, and an adapter for another framework can too.
//! Enable the feature in the adapter's dev-dependencies:
//!
//! ```toml
//! [dev-dependencies]
//! tenancy-core = { version = "0.1", features = ["testing"] }
//! ```
//!
//! # What an adapter author implements
//!
//! - [`TestApp`]: sends a request (`http::Request<Vec<u8>>`) through the
//!   adapter's middleware and the app's router, in process, and collects
//!   the [`TestResponse`] (status, headers, whole body).
//! - [`Harness`]: builds that app for a [`Setup`]: the adapter's middleware
//!   made from [`Setup::gate`] (a ready [`Gate`](crate::Gate) carrying the
//!   route policies below), rendering errors as [`Setup::renderer`] says,
//!   in front of the routes below (handlers with the adapter's extractors).
//!
//! Then one line in a test file runs every case of [`cases`] as a test of
//! its own, with the test attribute of the framework's runtime:
//!
//! ```ignore
//! tenancy_core::conformance_suite!(#[tokio::test] MyHarness);
//! ```
//!
//! The harnesses of the workspace's adapters are the complete examples:
//! `tenancy-axum/tests/conformance.rs` and `tenancy-actix/tests/conformance.rs`
//! in the repository.
//!
//! # The test app
//!
//! Every harness serves the same routes behind its adapter. The gate of the
//! [`Setup`] has `central_route("/health")`, `optional_route("/")`,
//! `optional_route("/maybe")` and `optional_route("/strict")` (and
//! `.optional()` when a case asks for it); every other route requires a
//! tenant.
//!
//! | route | extractor | answer |
//! |---|---|---|
//! | `GET /health` | none | `{"status": "ok"}`, emits the event `handler` |
//! | `GET /` | `OptionalTenant` | `{"tenant": {"id", "name"}}` or `{"tenant": null}` |
//! | `GET /maybe` | `OptionalTenant` | `{"tenant": id}` or `{"tenant": null}` |
//! | `GET /strict` | `CurrentTenant` | `{"tenant": id}` |
//! | `GET /items` | `CurrentTenant` | `{"tenant", "name", "path", "query", "original"}`: the path and query the handler sees (query `""` when none) and the URI as received; emits the event `handler` |
//! | `GET /items/{id}` | `CurrentTenant` | `{"tenant": id, "item": id}` |
//! | `GET /slow` | `CurrentTenant` | sleeps 1 ms, then `{"tenant": id, "path": path}` |
//!
//! "Emits the event `handler`" is `tracing::info!("handler")`, inside the
//! request (see [`Recorder`]). Errors, the middleware's and the extractors'
//! rejections alike, are rendered with the adapter's default JSON renderer
//! for [`Renderer::Json`]; for [`Renderer::Text`] with a renderer answering
//! the error's status, `text/plain` and the body [`Renderer::text_body`].
//!
//! Each case starts from a fresh [`Fixture`]: its tenants, resolvers and the
//! [`Store`] (a cache over a controllable [`Backend`]) are described there.
//!
//! # Example
//!
//! The harness of a pretend framework whose middleware is the bare gate and
//! whose only handler answers `{"tenant": id}` (or `null`) on every path:
//! too little for the whole suite, enough for a few cases, called one by one.
//!
//! ```
//! use serde_json::json;
//! use tenancy_core::testing::{Harness, Renderer, Setup, Store, TestApp, TestResponse, cases};
//! use tenancy_core::Gate;
//! use tenancy_core::adapter::{Decision, Outcome};
//!
//! struct Plain;
//!
//! struct PlainApp(Gate<Store>);
//!
//! impl Harness for Plain {
//!     async fn app(setup: Setup) -> impl TestApp {
//!         assert_eq!(setup.renderer, Renderer::Json, "only the default renderer here");
//!         PlainApp(setup.gate)
//!     }
//! }
//!
//! impl TestApp for PlainApp {
//!     async fn send(&self, request: http::Request<Vec<u8>>) -> TestResponse {
//!         // The middleware: one decision per request.
//!         let outcome = match self.0.decide(&request) {
//!             Decision::Ready(outcome) => outcome,
//!             Decision::Lookup(pending) => pending.await,
//!         };
//!         // The handler, or the error renderer.
//!         let (status, body) = match outcome {
//!             Outcome::Attach(resolved) => (200, json!({ "tenant": resolved.tenant().id.as_str() })),
//!             Outcome::Pass => (200, json!({ "tenant": null })),
//!             Outcome::Refuse(error) => (
//!                 error.status().as_u16(),
//!                 json!({ "error": error.kind(), "message": error.to_string() }),
//!             ),
//!         };
//!         let mut headers = http::HeaderMap::new();
//!         headers.insert("content-type", http::HeaderValue::from_static("application/json"));
//!         TestResponse { status, headers, body: body.to_string().into_bytes() }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! cases::header_names_the_tenant::<Plain>().await;
//! cases::inactive_tenant_is_403::<Plain>().await;
//! cases::conflicting_tenants_are_400::<Plain>().await;
//! # }
//! ```

// A test kit: its assertions and panics are the point, and its inputs are
// its own constants (so unwrapping them and indexing fixed arrays is fine).
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

pub mod cases;
mod client;
mod fixture;
mod recorder;
mod setup;

use std::future::Future;

pub use client::{TestApp, TestRequest, TestResponse, get, post};
pub use fixture::{Backend, Fixture, Store};
pub use recorder::Recorder;
pub use setup::{Renderer, Setup};

/// How one adapter builds the test app of the [module docs](self).
///
/// The future need not be `Send` (actix-web's are not).
pub trait Harness {
    /// The test app for `setup`: the adapter's middleware made from
    /// `setup.gate`, rendering errors as `setup.renderer` says, in front of
    /// the suite's routes.
    fn app(setup: Setup) -> impl Future<Output = impl TestApp>;
}

/// Expands into one test per conformance case of
/// [`tenancy_core::testing::cases`](crate::testing::cases), for the
/// [`Harness`](crate::testing::Harness) `$harness`.
///
/// Each test is an `async fn` named after its case, carrying the attribute
/// `$test`: the async test attribute of the framework's runtime, e.g.
/// `#[tokio::test]`, `#[tokio::test(flavor = "multi_thread")]` or
/// `#[actix_web::test]`. Needs the feature `testing`.
///
/// ```ignore
/// struct MyHarness;
/// impl tenancy_core::testing::Harness for MyHarness { /* ... */ }
///
/// tenancy_core::conformance_suite!(#[tokio::test] MyHarness);
/// ```
#[macro_export]
macro_rules! conformance_suite {
    (#[$test:meta] $harness:ty) => {
        $crate::conformance_suite!(@cases #[$test] $harness;
            subdomain_names_the_tenant,
            custom_domain_names_the_tenant,
            path_prefix_is_stripped_before_routing,
            header_names_the_tenant,
            agreeing_strategies_name_one_tenant,
            central_host_on_tenant_routes,
            central_route_runs_on_every_host,
            optional_by_default,
            invalid_tenant_id_is_400,
            invalid_or_repeated_host_is_400,
            conflicting_tenants_are_400,
            inactive_tenant_is_403,
            unknown_tenant_is_404,
            store_unavailable_is_503,
            cache_invalidation_takes_effect_on_the_next_request,
            concurrent_requests_see_only_their_own_tenant,
            custom_renderer_renders_every_tenancy_error,
            tenant_id_is_recorded_on_the_request_span,
            hostile_input_never_fails_the_server,
        );
    };
    (@cases #[$test:meta] $harness:ty; $($case:ident,)*) => {
        $(
            #[$test]
            async fn $case() {
                $crate::testing::cases::$case::<$harness>().await;
            }
        )*
    };
}
