//! The whole `Tenancy` call per request — subdomain resolution plus a cached
//! lookup, 100,000 tenants in the store — against a hand-written baseline
//! measured in the same run: read the `Host` header, take the first label and
//! look it up in a `HashMap<String, TenantRecord>`.
//!
//! Three traffic shapes: one hot tenant; a working set of 4,096 random
//! tenants; and every request a different tenant among all 100,000
//! (memory-latency bound on this machine: it leaves the CPU caches).
//!
//! `cargo bench -p tenancy-core --bench tenancy`
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tenancy_core::{
    CacheBuilder, InMemoryStore, SubdomainResolver, Tenancy, TenantId, TenantRecord,
};

const TENANTS: usize = 100_000;

/// A fixed pseudo-random sequence of tenant numbers (xorshift; no extra dependency).
fn tenant_numbers(count: usize, among: usize) -> Vec<usize> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % among as u64) as usize
        })
        .collect()
}

fn request_for(tenant: usize) -> http::Request<()> {
    http::Request::builder()
        .uri("/items")
        .header("host", format!("t{tenant:06}.example.com:8080"))
        .body(())
        .unwrap()
}

fn record(tenant: usize) -> TenantRecord {
    TenantRecord::new(
        TenantId::new(format!("t{tenant:06}")).unwrap(),
        format!("Tenant {tenant}"),
    )
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cached = CacheBuilder::new()
        .capacity(2 * TENANTS)
        .ttl(Duration::from_secs(3_600))
        .build(InMemoryStore::from_iter((0..TENANTS).map(record)));
    let tenancy = Tenancy::new(SubdomainResolver::new(["example.com"]).unwrap(), cached);
    let table: HashMap<String, TenantRecord> = (0..TENANTS)
        .map(|i| (format!("t{i:06}"), record(i)))
        .collect();

    // Warm the cache with every tenant, and check it really holds them all.
    runtime.block_on(async {
        for i in 0..TENANTS {
            tenancy.resolve(&request_for(i)).await.unwrap().unwrap();
        }
    });
    assert_eq!(tenancy.store().len().0, TENANTS);

    let shapes: [(&str, Vec<http::Request<()>>); 3] = [
        ("one_tenant", vec![request_for(4_242)]),
        (
            "working_set_4096",
            tenant_numbers(4_096, TENANTS)
                .into_iter()
                .map(request_for)
                .collect(),
        ),
        (
            "uniform_100k",
            tenant_numbers(TENANTS, TENANTS)
                .into_iter()
                .map(request_for)
                .collect(),
        ),
    ];

    let mut group = c.benchmark_group("per_request");
    for (shape, requests) in &shapes {
        let mut next = 0usize;
        group.bench_with_input(
            BenchmarkId::new("tenancy", shape),
            requests,
            |b, requests| {
                b.to_async(&runtime).iter(|| {
                    next = (next + 1) % requests.len();
                    let future = tenancy.resolve(&requests[next]);
                    async move { black_box(future.await.unwrap().unwrap()) }
                });
            },
        );
        let mut next = 0usize;
        group.bench_with_input(
            BenchmarkId::new("baseline_hashmap", shape),
            requests,
            |b, requests| {
                b.iter(|| {
                    next = (next + 1) % requests.len();
                    let host = requests[next].headers()[http::header::HOST]
                        .to_str()
                        .unwrap();
                    let label = host.split('.').next().unwrap();
                    black_box(table.get(label).cloned().unwrap())
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
