//! Middleware overhead: one request through an axum router with and without
//! the tenancy layer (warm cache), in process.
//!
//! `cargo bench -p tenancy-axum --bench overhead`

#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use tenancy_axum::{CurrentTenant, TenancyLayer};
use tenancy_core::{
    CachedStore, ChainResolver, HeaderResolver, InMemoryStore, PathPrefixResolver,
    SubdomainResolver, Tenancy, TenantId, TenantRecord,
};
use tower::{Layer, ServiceExt};

async fn plain_handler() -> &'static str {
    "ok"
}

async fn tenant_handler(CurrentTenant(tenant): CurrentTenant<TenantRecord>) -> &'static str {
    black_box(tenant);
    "ok"
}

fn request(uri: &str, host: &str) -> Request<Body> {
    Request::get(uri)
        .header("host", host)
        .body(Body::empty())
        .unwrap()
}

fn overhead(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = InMemoryStore::from_iter((0..1000).map(|index| {
        TenantRecord::new(TenantId::new(format!("tenant{index}")).unwrap(), "Tenant")
    }));
    store.insert(TenantRecord::new(
        TenantId::new("acme").unwrap(),
        "Acme Corp",
    ));
    // The usual production chain: subdomain (with custom domains), path prefix, header.
    let resolver = ChainResolver::new()
        .with(
            SubdomainResolver::new(["localhost"])
                .unwrap()
                .with_custom_domains(),
        )
        .with(PathPrefixResolver::new("/t").unwrap())
        .with(HeaderResolver::new("x-tenant-id").unwrap());
    let tenancy = std::sync::Arc::new(Tenancy::new(resolver, CachedStore::new(store)));

    let plain = Router::new().route("/items", get(plain_handler));
    let with_tenancy = TenancyLayer::new(std::sync::Arc::clone(&tenancy))
        .layer(Router::new().route("/items", get(tenant_handler)));

    // Warm the cache, and check that both answer 200.
    runtime.block_on(async {
        for (uri, host) in [("/items", "acme.localhost"), ("/t/acme/items", "localhost")] {
            let response = with_tenancy
                .clone()
                .oneshot(request(uri, host))
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
        let response = plain
            .clone()
            .oneshot(request("/items", "localhost"))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    });

    let mut group = c.benchmark_group("axum");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("without tenancy", |b| {
        b.to_async(&runtime)
            .iter(|| plain.clone().oneshot(request("/items", "acme.localhost")));
    });
    group.bench_function("tenancy: subdomain", |b| {
        b.to_async(&runtime).iter(|| {
            with_tenancy
                .clone()
                .oneshot(request("/items", "acme.localhost"))
        });
    });
    group.bench_function("tenancy: path prefix, rewritten", |b| {
        b.to_async(&runtime).iter(|| {
            with_tenancy
                .clone()
                .oneshot(request("/t/acme/items", "localhost"))
        });
    });
    // For reference: the core pipeline alone (resolve + cached lookup), which
    // the layer runs once per request; the rest of the difference is the adapter.
    group.bench_function("reference: core Tenancy::resolve only", |b| {
        b.to_async(&runtime).iter(|| {
            let tenancy = std::sync::Arc::clone(&tenancy);
            async move {
                let request = request("/items", "acme.localhost");
                black_box(tenancy.resolve(&request).await.unwrap());
            }
        });
    });
    group.finish();
    paired(&runtime, &plain, &with_tenancy);
}

/// A paired measurement that resists a busy machine: batches of requests
/// without and with the layer alternate, and the fastest batch of each counts.
fn paired(
    runtime: &tokio::runtime::Runtime,
    plain: &Router,
    with_tenancy: &tenancy_axum::TenancyService<Router, CachedStore<InMemoryStore>>,
) {
    const BATCHES: usize = 200;
    const REQUESTS: u32 = 2_000;
    let mut best = [Duration::MAX; 3];
    runtime.block_on(async {
        for _ in 0..BATCHES {
            for (index, slot) in best.iter_mut().enumerate() {
                let start = Instant::now();
                for _ in 0..REQUESTS {
                    let response = match index {
                        0 => {
                            plain
                                .clone()
                                .oneshot(request("/items", "acme.localhost"))
                                .await
                        }
                        1 => {
                            with_tenancy
                                .clone()
                                .oneshot(request("/items", "acme.localhost"))
                                .await
                        }
                        _ => {
                            with_tenancy
                                .clone()
                                .oneshot(request("/t/acme/items", "localhost"))
                                .await
                        }
                    };
                    black_box(response.unwrap());
                }
                *slot = (*slot).min(start.elapsed() / REQUESTS);
            }
        }
    });
    let [without, subdomain, prefix] = best.map(|time| time.as_nanos());
    println!(
        "axum paired (fastest of {BATCHES} batches of {REQUESTS}): without tenancy {without} ns, \
         subdomain {subdomain} ns (+{} ns), path prefix {prefix} ns (+{} ns)",
        subdomain.saturating_sub(without),
        prefix.saturating_sub(without),
    );
}

criterion_group!(benches, overhead);
criterion_main!(benches);
