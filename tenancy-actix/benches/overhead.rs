//! Middleware overhead: one request through an actix-web App with and without
//! the tenancy middleware (warm cache), in process.
//!
//! `cargo bench -p tenancy-actix --bench overhead`

#![allow(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use actix_web::dev::Service;
use actix_web::rt::System;
use actix_web::{App, test, web};
use criterion::{Criterion, criterion_group, criterion_main};
use tenancy_actix::{ActixRequest, CurrentTenant, TenancyMiddleware};
use tenancy_core::{
    CachedStore, ChainResolver, HeaderResolver, InMemoryStore, PathPrefixResolver,
    SubdomainResolver, Tenancy, TenantId, TenantRecord,
};

async fn plain_handler() -> &'static str {
    "ok"
}

async fn tenant_handler(CurrentTenant(tenant): CurrentTenant<TenantRecord>) -> &'static str {
    black_box(tenant);
    "ok"
}

fn request(uri: &str, host: &str) -> test::TestRequest {
    test::TestRequest::get()
        .uri(uri)
        .insert_header(("host", host))
}

/// Times `iters` sequential requests through `app` on the actix system.
macro_rules! timed {
    ($system:expr, $app:expr, $uri:expr, $host:expr) => {
        |b: &mut criterion::Bencher<'_>| {
            b.iter_custom(|iters| {
                $system.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let response = $app.call(request($uri, $host).to_request()).await;
                        black_box(response.unwrap());
                    }
                    start.elapsed()
                })
            });
        }
    };
}

fn overhead(c: &mut Criterion) {
    let system = System::new();
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

    let plain = system.block_on(test::init_service(
        App::new().route("/items", web::get().to(plain_handler)),
    ));
    let with_tenancy = system.block_on(test::init_service(
        App::new()
            .wrap(TenancyMiddleware::new(std::sync::Arc::clone(&tenancy)))
            .route("/items", web::get().to(tenant_handler)),
    ));

    // Warm the cache, and check that both answer 200.
    system.block_on(async {
        for (uri, host) in [("/items", "acme.localhost"), ("/t/acme/items", "localhost")] {
            let response = with_tenancy
                .call(request(uri, host).to_request())
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
        let response = plain
            .call(request("/items", "localhost").to_request())
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    });

    let mut group = c.benchmark_group("actix");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.bench_function(
        "without tenancy",
        timed!(system, plain, "/items", "acme.localhost"),
    );
    group.bench_function(
        "tenancy: subdomain",
        timed!(system, with_tenancy, "/items", "acme.localhost"),
    );
    group.bench_function(
        "tenancy: path prefix, rewritten",
        timed!(system, with_tenancy, "/t/acme/items", "localhost"),
    );
    // For reference: the core pipeline alone (resolve + cached lookup) on an
    // actix request, which the middleware runs once per request; the rest of
    // the difference is the adapter.
    group.bench_function("reference: core Tenancy::resolve only", |b| {
        b.iter_custom(|iters| {
            system.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let request = request("/items", "acme.localhost").to_srv_request();
                    let resolved = tenancy.resolve(&ActixRequest::from(&request)).await;
                    black_box(resolved.unwrap());
                }
                start.elapsed()
            })
        });
    });
    group.finish();

    // A paired measurement that resists a busy machine: batches of requests
    // without and with the middleware alternate, and the fastest batch of each counts.
    const BATCHES: usize = 200;
    const REQUESTS: u32 = 2_000;
    let mut best = [Duration::MAX; 3];
    system.block_on(async {
        for _ in 0..BATCHES {
            let start = Instant::now();
            for _ in 0..REQUESTS {
                let response = plain.call(request("/items", "acme.localhost").to_request());
                black_box(response.await.unwrap());
            }
            best[0] = best[0].min(start.elapsed() / REQUESTS);
            for (slot, (uri, host)) in best
                .iter_mut()
                .skip(1)
                .zip([("/items", "acme.localhost"), ("/t/acme/items", "localhost")])
            {
                let start = Instant::now();
                for _ in 0..REQUESTS {
                    let response = with_tenancy.call(request(uri, host).to_request());
                    black_box(response.await.unwrap());
                }
                *slot = (*slot).min(start.elapsed() / REQUESTS);
            }
        }
    });
    let [without, subdomain, prefix] = best.map(|time| time.as_nanos());
    println!(
        "actix paired (fastest of {BATCHES} batches of {REQUESTS}): without tenancy {without} ns, \
         subdomain {subdomain} ns (+{} ns), path prefix {prefix} ns (+{} ns)",
        subdomain.saturating_sub(without),
        prefix.saturating_sub(without),
    );
}

criterion_group!(benches, overhead);
criterion_main!(benches);
