//! Cache invalidation and concurrent requests.

use std::time::Duration;

use futures_util::future::join_all;

use super::app;
use crate::TenantRecord;
use crate::testing::Harness;
use crate::testing::client::{TestRequest, get};
use crate::testing::fixture::{Fixture, id};

/// Registry changes are served from the cache until invalidated, then take
/// effect on the next request.
pub async fn cache_invalidation_takes_effect_on_the_next_request<H: Harness>() {
    let fixture = Fixture::new();
    let app = app::<H>(&fixture).await;
    let acme = get("/items").host("acme.localhost");
    assert_eq!(acme.send(&app).await.tenant(), "acme");
    let lookups = fixture.backend.lookups();
    assert_eq!(acme.send(&app).await.tenant(), "acme");
    assert_eq!(
        fixture.backend.lookups(),
        lookups,
        "a warm cache does not ask the store"
    );

    // Deactivated in the registry: served from the cache until invalidated.
    let record = fixture.backend.tenants.get(&id("acme")).unwrap();
    fixture.backend.tenants.insert(record.clone().deactivated());
    assert_eq!(acme.send(&app).await.tenant(), "acme");
    fixture.invalidate("acme").await;
    acme.send(&app).await.error(403, "TenantInactive");

    // Reactivated.
    fixture.backend.tenants.insert(record);
    fixture.invalidate("acme").await;
    assert_eq!(acme.send(&app).await.tenant(), "acme");

    // Deleted: also its custom domain.
    fixture.backend.tenants.remove(&id("acme"));
    fixture.invalidate("acme").await;
    acme.send(&app).await.error(404, "TenantNotFound");
    // Its custom domain is unregistered now: the host names no tenant.
    get("/items")
        .host("acme.test")
        .send(&app)
        .await
        .error(404, "TenantRequired");

    // Created after a miss was cached.
    let hooli = get("/items").host("hooli.localhost");
    hooli.send(&app).await.error(404, "TenantNotFound");
    fixture
        .backend
        .tenants
        .insert(TenantRecord::new(id("hooli"), "Hooli"));
    fixture.invalidate("hooli").await;
    assert_eq!(hooli.send(&app).await.tenant(), "hooli");
}

/// Concurrent requests for different tenants, with slow lookups and cache
/// flushes, each see only their own tenant.
pub async fn concurrent_requests_see_only_their_own_tenant<H: Harness>() {
    let fixture = Fixture::new();
    // Slow lookups and slow handlers, so that requests really interleave.
    fixture.backend.set_delay(Duration::from_millis(2));
    for (tenant, name) in [
        ("hooli", "Hooli"),
        ("umbrella", "Umbrella"),
        ("wayne", "Wayne"),
    ] {
        fixture
            .backend
            .tenants
            .insert(TenantRecord::new(id(tenant), name));
    }
    let app = app::<H>(&fixture).await;
    let tenants = ["acme", "globex", "hooli", "umbrella", "wayne"];
    let requests: Vec<(String, TestRequest)> = (0..120)
        .map(|index| {
            let tenant = tenants[index % tenants.len()];
            let request = match index % 3 {
                0 => get("/slow").host(format!("{tenant}.localhost")),
                1 => get(&format!("/t/{tenant}/slow?n={index}")).host("localhost"),
                _ => get("/slow").header("x-tenant-id", tenant),
            };
            (tenant.to_owned(), request)
        })
        .collect();
    let invalidations = async {
        // Forget everything now and then, so that lookups keep racing.
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(3)).await;
            fixture.invalidate_all().await;
        }
    };
    let (responses, ()) = futures_util::future::join(
        join_all(requests.iter().map(|(_, request)| request.send(&app))),
        invalidations,
    )
    .await;
    for ((tenant, request), response) in requests.iter().zip(responses) {
        let body = response.ok();
        assert_eq!(body["tenant"], tenant.as_str(), "{request:?}");
        assert_eq!(body["path"], "/slow");
    }
}
