//! The task-local tenant scope, across `tokio::spawn` boundaries.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)] // test helpers

use tenancy_core::{TenantId, TenantRecord, scope};

fn tenant(text: &str) -> TenantRecord {
    TenantRecord::new(TenantId::new(text).unwrap(), text.to_uppercase())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_is_visible_inside_and_gone_outside() {
    assert!(scope::current_id().is_none());
    let seen = scope::scope(tenant("acme"), async {
        tokio::task::yield_now().await;
        (
            scope::current_id(),
            scope::current::<TenantRecord>().map(|t| t.name.to_string()),
        )
    })
    .await;
    assert_eq!(seen.0.map(|id| id.to_string()).as_deref(), Some("acme"));
    assert_eq!(seen.1.as_deref(), Some("ACME"));
    assert!(scope::current_id().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_tasks_do_not_inherit_the_scope_implicitly() {
    let leaked = scope::scope(tenant("acme"), async {
        tokio::spawn(async { scope::current_id() }).await.unwrap()
    })
    .await;
    assert!(
        leaked.is_none(),
        "a spawned task must not see the parent's tenant by accident"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_is_carried_across_spawn_when_passed_explicitly() {
    let results = scope::scope(tenant("acme"), async {
        // Explicitly: capture the tenant and open a scope in the task.
        let captured = scope::current::<TenantRecord>().unwrap();
        let explicit = tokio::spawn(scope::scope(captured, async {
            tokio::task::yield_now().await;
            scope::current_id()
        }));
        // Or with `propagate`.
        let propagated = tokio::spawn(scope::propagate(async {
            tokio::task::yield_now().await;
            scope::current_id()
        }));
        (explicit.await.unwrap(), propagated.await.unwrap())
    })
    .await;
    assert_eq!(results.0.map(|id| id.to_string()).as_deref(), Some("acme"));
    assert_eq!(results.1.map(|id| id.to_string()).as_deref(), Some("acme"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scopes_stay_apart_and_nest() {
    let mut tasks = Vec::new();
    for i in 0..50 {
        let name = format!("t{i}");
        tasks.push(tokio::spawn(scope::scope(tenant(&name), async move {
            for _ in 0..10 {
                tokio::task::yield_now().await;
                assert_eq!(scope::current_id().unwrap().as_str(), name);
            }
            let inner = scope::scope(tenant("inner"), async { scope::current_id() }).await;
            assert_eq!(inner.unwrap().as_str(), "inner");
            scope::current_id().unwrap().to_string()
        })));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), format!("t{i}"));
    }
}

#[tokio::test]
async fn current_with_the_wrong_type_is_none() {
    let wrong = scope::scope(tenant("acme"), async { scope::current::<String>() }).await;
    assert!(wrong.is_none());
    let outside = scope::propagate(async { scope::current_id() }).await;
    assert!(outside.is_none());
}
