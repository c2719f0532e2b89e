//! The adapters' shared HTTP conformance suite.
//!
//! Written once, run against every framework adapter in process: each adapter
//! crate has a `tests/conformance.rs` that includes this module, implements
//! [`Harness`] (how to build the test app and send it a request) and expands
//! [`conformance_suite!`] into one test per case. The cases only speak plain
//! `http` 1 requests and responses, so they cannot depend on a framework.
//!
//! # The test app
//!
//! Every harness serves the same routes behind its adapter, configured from a
//! [`Setup`] with `central_route("/health")`, `optional_route("/")`,
//! `optional_route("/maybe")` and `optional_route("/strict")` (plus
//! `.optional()` when `setup.optional`, and a text renderer for
//! [`Renderer::Text`]):
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
//! The text renderer answers the error's status with `text/plain` and the body
//! `"{kind}: {message}"`.

#![allow(dead_code)]

pub(crate) mod cases;
pub(crate) mod client;
pub(crate) mod fixture;
pub(crate) mod recorder;

use std::future::Future;

pub(crate) use client::{TestApp, TestResponse};
pub(crate) use fixture::{Renderer, Setup};

/// How one adapter builds the test app described in the module docs.
pub(crate) trait Harness {
    /// The test app for `setup`.
    fn app(setup: Setup) -> impl Future<Output = impl TestApp>;
}

/// Expands into one test per conformance case, for the harness `$harness`,
/// each test function carrying the attribute `$test` (e.g. `tokio::test`).
macro_rules! conformance_suite {
    (#[$test:meta] $harness:ty) => {
        crate::suite::conformance_suite!(@cases #[$test] $harness;
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
                crate::suite::cases::$case::<$harness>().await;
            }
        )*
    };
}

pub(crate) use conformance_suite;
