//! `SchemaTenancy`: schema mode wired in one call. Driven the way an adapter
//! drives it (gate decision, admission, the `TenantDb` access look-up), with
//! no web framework: this process's changes are seen at once, another
//! process's through the listener the gate keeps alive.

#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::time::{Duration, Instant};

use support::{PgDb, id, items_migrations};
use tenancy_core::adapter::{AdapterState, Decision, request_span};
use tenancy_core::{CacheBuilder, Gate, HeaderResolver};
use tenancy_sqlx::schema::{SchemaPool, SchemaStore, SchemaTenancy};
use tenancy_sqlx::{NewTenant, TenantLifecycle};

/// Serves `GET` for `tenant` through `gate` as an adapter would, counting
/// the tenant's items; the error kind when the request is refused.
async fn serve(gate: &Gate<SchemaStore>, tenant: &str) -> Result<i64, String> {
    let state = AdapterState::new(gate.clone(), ());
    let request = http::Request::builder()
        .header("x-tenant-id", tenant)
        .body(())
        .unwrap();
    let outcome = match state.gate().decide(&request) {
        Decision::Ready(outcome) => outcome,
        Decision::Lookup(pending) => pending.await,
    };
    let mut extensions = http::Extensions::new();
    let mark = state
        .admit(outcome, &request_span(), |resolved| {
            extensions.insert(resolved);
            Ok(())
        })
        .map_err(|error| error.kind().to_owned())?;
    extensions.insert(mark);
    // No `SchemaPool` anywhere but in the gate: `TenantDb<SchemaPool>` finds it there.
    let (access, ()) = tenancy_core::adapter::tenant_access::<SchemaPool, ()>(&extensions, None)
        .map_err(|rejection| rejection.reason().kind().to_owned())?;
    let mut tx = access
        .into_handle()
        .await
        .map_err(|error| error.kind().to_owned())?;
    Ok(sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&mut tx)
        .await
        .unwrap())
}

#[tokio::test]
async fn schema_tenancy_wires_registry_cache_listener_and_access() {
    let db = PgDb::new().await;
    // A cache that would keep a stale entry for ten minutes: what changes
    // what it answers is invalidation, not expiry.
    let cache = || CacheBuilder::new().ttl(Duration::from_secs(600));
    let schema = SchemaTenancy::builder(
        db.pool(5).await,
        HeaderResolver::new("x-tenant-id").unwrap(),
    )
    .migrations(items_migrations())
    .cache(cache())
    .build()
    .await
    .unwrap();
    let gate = schema.gate();
    let (acme, created) = schema
        .manager()
        .create_if_missing(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    assert!(created);
    let mut tx = schema.schemas().begin(&acme).await.unwrap();
    sqlx::query("INSERT INTO items (tenant, name) VALUES ('acme', 'pen')")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(serve(&gate, "acme").await, Ok(1));
    assert_eq!(serve(&gate, "nope").await, Err("TenantNotFound".to_owned()));

    // This process's change: the cache is subscribed, so it is seen at once.
    schema.manager().deactivate(&id("acme")).await.unwrap();
    assert_eq!(serve(&gate, "acme").await, Err("TenantInactive".to_owned()));

    // The `SchemaTenancy` is gone; the gate keeps its listener running, so
    // another process's change still arrives (once it listens).
    schema.listening().await;
    drop(schema);
    let other = SchemaTenancy::builder(
        db.pool(2).await,
        HeaderResolver::new("x-tenant-id").unwrap(),
    )
    .cache(cache())
    .build()
    .await
    .unwrap();
    other.manager().activate(&id("acme")).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match serve(&gate, "acme").await {
            Ok(count) => break assert_eq!(count, 1),
            Err(kind) if Instant::now() < deadline => {
                assert_eq!(kind, "TenantInactive");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(kind) => panic!("another process's activation not seen within 5 s: {kind}"),
        }
    }
}
