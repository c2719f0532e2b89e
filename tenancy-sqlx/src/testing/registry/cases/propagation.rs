//! Cases: how a registry's changes reach subscribed caches and event
//! receivers, in this instance and in another one.

use super::*;

/// Every mutation invalidates a subscribed
/// [`CachedStore`](tenancy_core::CachedStore) at once: by id and by
/// domain, negative entries too.
pub async fn mutations_invalidate_subscribed_caches_at_once<H: RegistryHarness>() {
    let (registry, _guard) = H::registry().await;
    let cache = Arc::new(
        CacheBuilder::new()
            .ttl(Duration::from_secs(3600))
            .negative_ttl(Duration::from_secs(3600))
            .build(Lookups(registry.clone())),
    );
    registry.subscribe(cache.clone());
    let cached = |value: &'static str| {
        let cache = cache.clone();
        async move { cache.find_by_id(&id(value)).await.unwrap() }
    };
    let cached_domain = |value: &'static str| {
        let cache = cache.clone();
        async move {
            cache
                .find_by_domain(&domain(value))
                .await
                .unwrap()
                .map(|tenant| tenant.id().clone())
        }
    };

    // Negative entries are undone by creation.
    assert!(cached("acme").await.is_none());
    assert!(cached_domain("acme.test").await.is_none());
    create(
        &registry,
        NewTenant::new(id("acme"), "Acme").domain(domain("acme.test")),
    )
    .await
    .unwrap();
    assert!(cached("acme").await.is_some());
    assert_eq!(cached_domain("acme.test").await, Some(id("acme")));

    registry.deactivate(&id("acme")).await.unwrap();
    assert!(!cached("acme").await.unwrap().is_active());
    assert!(
        !cache
            .find_by_domain(&domain("acme.test"))
            .await
            .unwrap()
            .unwrap()
            .is_active()
    );
    registry.activate(&id("acme")).await.unwrap();
    assert!(cached("acme").await.unwrap().is_active());
    registry.set_name(&id("acme"), "Renamed").await.unwrap();
    assert_eq!(cached("acme").await.unwrap().name(), "Renamed");

    assert!(cached_domain("two.test").await.is_none());
    registry
        .add_domain(&id("acme"), &domain("two.test"), false)
        .await
        .unwrap();
    assert_eq!(cached("acme").await.unwrap().domains().len(), 2);
    assert_eq!(cached_domain("two.test").await, Some(id("acme")));
    registry.remove_domain(&domain("acme.test")).await.unwrap();
    assert!(cached_domain("acme.test").await.is_none());
    assert_eq!(cached("acme").await.unwrap().domains().len(), 1);

    assert!(cached("globex").await.is_none());
    registry
        .rename_with_storage(&id("acme"), &id("globex"), None)
        .await
        .unwrap();
    assert!(cached("acme").await.is_none());
    assert!(cached("globex").await.is_some());
    assert_eq!(cached_domain("two.test").await, Some(id("globex")));
    registry.delete(&id("globex")).await.unwrap();
    assert!(cached("globex").await.is_none());
    assert!(cached_domain("two.test").await.is_none());
}

/// Another instance on the same storage reads a change at once, and its
/// subscribed cache learns of it within the cache's TTL (at once for a
/// change made through that instance).
pub async fn other_instances_see_changes_within_the_cache_ttl<H: RegistryHarness>() {
    let (registry, _guard) = H::registry().await;
    let other = H::second_instance(&registry);
    let ttl = Duration::from_millis(300);
    let cache = Arc::new(
        CacheBuilder::new()
            .ttl(ttl)
            .negative_ttl(ttl)
            .build(Lookups(other.clone())),
    );
    other.subscribe(cache.clone());
    create(&registry, NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    assert!(
        find(&other, "acme").await.is_some(),
        "the same storage: the other instance reads it at once"
    );
    assert!(
        cache
            .find_by_id(&id("acme"))
            .await
            .unwrap()
            .unwrap()
            .is_active()
    );
    registry.deactivate(&id("acme")).await.unwrap();
    let changed = Instant::now();
    loop {
        if !cache
            .find_by_id(&id("acme"))
            .await
            .unwrap()
            .unwrap()
            .is_active()
        {
            break;
        }
        assert!(
            changed.elapsed() < ttl * 3,
            "the other instance saw the change within the TTL"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A change made through `other` reaches its own cache at once.
    other.activate(&id("acme")).await.unwrap();
    assert!(
        cache
            .find_by_id(&id("acme"))
            .await
            .unwrap()
            .unwrap()
            .is_active()
    );
    assert!(find(&registry, "acme").await.unwrap().is_active());
}

/// An instance that [watches](TenantRegistry::watch) other processes'
/// changes passes them to its subscribed caches long before their TTL (an
/// hour here): deactivations, new domains, deletions. A registry whose
/// `watch` is `None` must share its subscribers with its second instance.
pub async fn watching_instances_see_changes_without_waiting_for_the_ttl<H: RegistryHarness>() {
    let (registry, _guard) = H::registry().await;
    let other = H::second_instance(&registry);
    let hour = Duration::from_secs(3600);
    let cache = Arc::new(
        CacheBuilder::new()
            .ttl(hour)
            .negative_ttl(hour)
            .build(Lookups(other.clone())),
    );
    other.subscribe(cache.clone());
    let _watching = other.watch();
    create(&registry, NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    // The watcher starts in the background: rename until its cache
    // shows a new name, so it is known to be following.
    let mut following = false;
    for attempt in 0..100 {
        let name = format!("Acme {attempt}");
        registry.set_name(&id("acme"), &name).await.unwrap();
        following = eventually(Duration::from_millis(200), || async {
            cache
                .find_by_id(&id("acme"))
                .await
                .unwrap()
                .is_some_and(|tenant| tenant.name() == name)
        })
        .await;
        if following {
            break;
        }
    }
    assert!(following, "the watching instance never saw a rename");

    let seen = |check: fn(Option<RegistryTenant>) -> bool, what: &'static str| {
        let cache = cache.clone();
        async move {
            let changed = Instant::now();
            let ok = eventually(Duration::from_secs(10), || async {
                check(cache.find_by_id(&id("acme")).await.unwrap())
            })
            .await;
            assert!(ok, "the watching instance never saw {what}");
            changed.elapsed()
        }
    };
    registry.deactivate(&id("acme")).await.unwrap();
    let delay = seen(|t| t.is_some_and(|t| !t.is_active()), "the deactivation").await;
    assert!(
        cache
            .find_by_domain(&domain("acme.test"))
            .await
            .unwrap()
            .is_none()
    );
    registry
        .add_domain(&id("acme"), &domain("acme.test"), true)
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || async {
            cache
                .find_by_domain(&domain("acme.test"))
                .await
                .unwrap()
                .is_some()
        })
        .await,
        "the watching instance never saw the new domain (it had cached its absence)"
    );
    registry.delete(&id("acme")).await.unwrap();
    let _delay = seen(|t| t.is_none(), "the deletion").await;
    tracing::info!(?delay, "a deactivation reached the watching instance");
}

/// Every mutation is a [`TenantEvent`] for the receivers of the instance
/// that made it (at once) and of a watching instance (in order), and so
/// is an event [recorded](TenantRegistry::record) by hand.
pub async fn events_reach_receivers_here_and_in_watching_instances<H: RegistryHarness>() {
    let (registry, _guard) = H::registry().await;
    let other = H::second_instance(&registry);
    let mut here = registry.events();
    let mut there = other.events();
    let _watching = other.watch();
    create(&registry, NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    // The watcher starts in the background: rename until the other
    // instance reports it, so it is known to be following.
    let mut following = false;
    for attempt in 0..100 {
        registry
            .set_name(&id("acme"), &format!("Acme {attempt}"))
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_millis(200);
        while let Ok(Ok(event)) = tokio::time::timeout_at(deadline.into(), there.recv()).await {
            if event == TenantEvent::Updated(id("acme")) {
                following = true;
                break;
            }
        }
        if following {
            break;
        }
    }
    assert!(following, "the watching instance never reported a rename");

    let shop = domain("shop.acme.test");
    registry.deactivate(&id("acme")).await.unwrap();
    registry.activate(&id("acme")).await.unwrap();
    registry
        .add_domain(&id("acme"), &shop, false)
        .await
        .unwrap();
    assert!(registry.remove_domain(&shop).await.unwrap());
    registry
        .rename_with_storage(&id("acme"), &id("acme2"), None)
        .await
        .unwrap();
    registry
        .record(&[TenantEvent::Migrated(id("acme2"))])
        .await
        .unwrap();
    assert!(registry.delete(&id("acme2")).await.unwrap());
    let expected = vec![
        TenantEvent::Deactivated(id("acme")),
        TenantEvent::Activated(id("acme")),
        TenantEvent::DomainAdded {
            tenant: id("acme"),
            domain: shop.clone(),
        },
        TenantEvent::DomainRemoved {
            tenant: id("acme"),
            domain: shop,
        },
        TenantEvent::Renamed {
            from: id("acme"),
            to: id("acme2"),
        },
        TenantEvent::Migrated(id("acme2")),
        TenantEvent::Deleted(id("acme2")),
    ];
    assert_eq!(next_events(&mut here, expected.len()).await, expected);
    assert_eq!(next_events(&mut there, expected.len()).await, expected);
}

/// The next `count` events of `receiver` other than creations and
/// renames (each waited for at most 10 s).
async fn next_events(
    receiver: &mut tokio::sync::broadcast::Receiver<TenantEvent>,
    count: usize,
) -> Vec<TenantEvent> {
    let mut events = Vec::new();
    while events.len() < count {
        let event = tokio::time::timeout(Duration::from_secs(10), receiver.recv())
            .await
            .unwrap_or_else(|_| panic!("only {events:?} arrived"))
            .unwrap();
        if !matches!(event, TenantEvent::Created(_) | TenantEvent::Updated(_)) {
            events.push(event);
        }
    }
    events
}

/// Polls `check` every 10 ms until it holds or `limit` passes.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
