//! Cases: what a registry stores, returns and refuses.

use super::*;

/// A created tenant is returned as stored, and found by its id and by
/// each of its domains (case-insensitively); unknown keys find nothing.
pub async fn create_returns_what_lookups_read_back<H: RegistryHarness>() {
    let (registry, _guard) = H::registry().await;
    let created = create(
        &registry,
        NewTenant::new(id("acme"), "Acme Corp")
            .primary_domain(domain("acme.test"))
            .domain(domain("shop.acme.test")),
    )
    .await
    .unwrap();
    assert_eq!(created.id(), &id("acme"));
    assert_eq!(created.name(), "Acme Corp");
    assert!(created.is_active(), "created active unless asked otherwise");
    assert_eq!(created.storage(), &storage("acme"));
    assert_eq!(created.primary_domain(), Some(&domain("acme.test")));
    assert_eq!(domain_names(&created), ["acme.test", "shop.acme.test"]);
    assert!(created.created_at() > UNIX_EPOCH);

    let found = find(&registry, "acme").await.expect("found by its id");
    assert_eq!(found.id(), &id("acme"));
    assert_eq!(found.name(), "Acme Corp");
    assert!(found.is_active());
    assert_eq!(found.storage(), &storage("acme"));
    assert_eq!(found.primary_domain(), Some(&domain("acme.test")));
    assert_eq!(domain_names(&found), ["acme.test", "shop.acme.test"]);
    assert!(
        found.domains().iter().all(|d| d.tenant_id == id("acme")),
        "{found:?}"
    );
    let drift = apart(found.created_at(), created.created_at());
    assert!(
        drift < Duration::from_secs(2),
        "timestamps agree: {drift:?}"
    );

    for name in ["acme.test", "shop.acme.test", "SHOP.Acme.TEST"] {
        assert_eq!(owner(&registry, name).await, Some(id("acme")), "{name}");
    }
    let by_domain = registry
        .find_by_domain(&domain("shop.acme.test"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_domain.storage(), &storage("acme"), "the whole record");
    assert_eq!(by_domain.primary_domain(), Some(&domain("acme.test")));
    assert!(owner(&registry, "nope.test").await.is_none());
    assert!(find(&registry, "nope").await.is_none());
}

/// `set_name`, `deactivate` (twice too) and `activate` change the record
/// and move `updated_at`, never before `created_at`.
pub async fn set_name_and_activation_change_the_record<H: RegistryHarness>() {
    let (registry, _guard) = H::registry().await;
    create(&registry, NewTenant::new(id("acme"), "Acme Corp"))
        .await
        .unwrap();
    registry.set_name(&id("acme"), "ACME").await.unwrap();
    registry.deactivate(&id("acme")).await.unwrap();
    let changed = find(&registry, "acme").await.unwrap();
    assert_eq!(changed.name(), "ACME");
    assert!(!changed.is_active());
    assert!(changed.updated_at() >= changed.created_at());
    assert_eq!(changed.storage(), &storage("acme"), "the storage stays");
    registry
        .deactivate(&id("acme"))
        .await
        .expect("deactivating twice is fine: the row exists");
    assert!(!find(&registry, "acme").await.unwrap().is_active());
    registry.activate(&id("acme")).await.unwrap();
    registry
        .activate(&id("acme"))
        .await
        .expect("activating twice is fine");
    let active = find(&registry, "acme").await.unwrap();
    assert!(active.is_active());
    assert_eq!(active.name(), "ACME");
    assert!(active.updated_at() >= active.created_at());
}

/// A new primary domain demotes the old one (one primary at a time), a
/// non-primary one leaves it; a removed domain finds nothing, and a
/// second removal answers `false`.
pub async fn a_new_primary_domain_demotes_the_old_one<H: RegistryHarness>() {
    let (registry, _guard) = H::registry().await;
    create(
        &registry,
        NewTenant::new(id("acme"), "Acme")
            .primary_domain(domain("acme.test"))
            .domain(domain("shop.acme.test")),
    )
    .await
    .unwrap();
    registry
        .add_domain(&id("acme"), &domain("new.acme.test"), true)
        .await
        .unwrap();
    let tenant = find(&registry, "acme").await.unwrap();
    assert_eq!(tenant.primary_domain(), Some(&domain("new.acme.test")));
    assert_eq!(tenant.domains().iter().filter(|d| d.primary).count(), 1);
    assert_eq!(tenant.domains().len(), 3);
    assert_eq!(owner(&registry, "new.acme.test").await, Some(id("acme")));
    assert_eq!(
        owner(&registry, "acme.test").await,
        Some(id("acme")),
        "a demoted domain still leads to its tenant"
    );

    registry
        .add_domain(&id("acme"), &domain("extra.acme.test"), false)
        .await
        .unwrap();
    let tenant = find(&registry, "acme").await.unwrap();
    assert_eq!(
        tenant.primary_domain(),
        Some(&domain("new.acme.test")),
        "a non-primary domain leaves the primary one"
    );
    assert_eq!(tenant.domains().len(), 4);

    assert!(
        registry
            .remove_domain(&domain("shop.acme.test"))
            .await
            .unwrap()
    );
    assert!(
        !registry
            .remove_domain(&domain("shop.acme.test"))
            .await
            .unwrap()
    );
    assert!(owner(&registry, "shop.acme.test").await.is_none());
    let tenant = find(&registry, "acme").await.unwrap();
    assert_eq!(
        domain_names(&tenant),
        ["acme.test", "extra.acme.test", "new.acme.test"]
    );
}

/// A rename moves the record and its domains to the new id, keeping the
/// name, the active flag and (without a new one) the storage; given a
/// storage, the row records it.
pub async fn rename_moves_the_domains_and_keeps_or_replaces_the_storage<H: RegistryHarness>() {
    let (registry, _guard) = H::registry().await;
    create(
        &registry,
        NewTenant::new(id("acme"), "ACME")
            .primary_domain(domain("acme.test"))
            .domain(domain("shop.acme.test")),
    )
    .await
    .unwrap();
    create(&registry, NewTenant::new(id("globex"), "Globex"))
        .await
        .unwrap();
    registry
        .rename_with_storage(&id("acme"), &id("initech"), None)
        .await
        .unwrap();
    assert!(find(&registry, "acme").await.is_none());
    let renamed = find(&registry, "initech").await.unwrap();
    assert_eq!(renamed.storage(), &storage("acme"), "the storage stays");
    assert_eq!(renamed.name(), "ACME");
    assert!(renamed.is_active());
    assert_eq!(renamed.primary_domain(), Some(&domain("acme.test")));
    assert_eq!(domain_names(&renamed), ["acme.test", "shop.acme.test"]);
    assert!(
        renamed
            .domains()
            .iter()
            .all(|d| d.tenant_id == id("initech")),
        "{renamed:?}"
    );
    assert_eq!(owner(&registry, "acme.test").await, Some(id("initech")));
    assert_eq!(
        owner(&registry, "shop.acme.test").await,
        Some(id("initech"))
    );

    registry.deactivate(&id("initech")).await.unwrap();
    let moved = storage("hooli");
    registry
        .rename_with_storage(&id("initech"), &id("hooli"), Some(&moved))
        .await
        .unwrap();
    let renamed = find(&registry, "hooli").await.unwrap();
    assert_eq!(renamed.storage(), &moved, "the row records the new storage");
    assert!(!renamed.is_active(), "an inactive tenant stays inactive");
    assert_eq!(owner(&registry, "acme.test").await, Some(id("hooli")));
    assert!(find(&registry, "initech").await.is_none());
    let globex = find(&registry, "globex").await.unwrap();
    assert_eq!(globex.storage(), &storage("globex"), "others untouched");
    assert_eq!(ids(&registry.list().await.unwrap()), ["globex", "hooli"]);
}

/// `list` returns every tenant, inactive ones too, ordered by id.
pub async fn list_is_every_tenant_ordered_by_id<H: RegistryHarness>() {
    let (registry, _guard) = H::registry().await;
    assert!(
        registry.list().await.unwrap().is_empty(),
        "a fresh registry"
    );
    for tenant in ["initech", "acme", "globex"] {
        create(&registry, NewTenant::new(id(tenant), tenant))
            .await
            .unwrap();
    }
    create(
        &registry,
        NewTenant::new(id("dormant"), "Dormant").inactive(),
    )
    .await
    .unwrap();
    let tenants = registry.list().await.unwrap();
    assert_eq!(ids(&tenants), ["acme", "dormant", "globex", "initech"]);
    let dormant = tenants.iter().find(|t| t.id() == &id("dormant")).unwrap();
    assert!(!dormant.is_active());
}

/// Delete answers `true`, then `false`; the tenant's domains go with
/// it, and its id, domains and storage can be taken again.
pub async fn delete_takes_the_domains_and_frees_the_id<H: RegistryHarness>() {
    let (registry, _guard) = H::registry().await;
    create(
        &registry,
        NewTenant::new(id("acme"), "Acme")
            .primary_domain(domain("acme.test"))
            .domain(domain("shop.acme.test")),
    )
    .await
    .unwrap();
    create(
        &registry,
        NewTenant::new(id("globex"), "Globex").domain(domain("globex.test")),
    )
    .await
    .unwrap();
    assert!(registry.delete(&id("acme")).await.unwrap());
    assert!(!registry.delete(&id("acme")).await.unwrap());
    assert!(find(&registry, "acme").await.is_none());
    assert!(
        owner(&registry, "acme.test").await.is_none(),
        "domains go with their tenant"
    );
    assert!(owner(&registry, "shop.acme.test").await.is_none());
    assert_eq!(ids(&registry.list().await.unwrap()), ["globex"]);
    assert_eq!(
        owner(&registry, "globex.test").await,
        Some(id("globex")),
        "others untouched"
    );

    let again = create(&registry, NewTenant::new(id("acme"), "Again"))
        .await
        .expect("a deleted id, with its storage, can be created again");
    assert!(again.domains().is_empty(), "without its old domains");
    assert_eq!(find(&registry, "acme").await.unwrap().name(), "Again");
    registry
        .add_domain(&id("globex"), &domain("acme.test"), false)
        .await
        .expect("a deleted tenant's domain is free");
    assert_eq!(owner(&registry, "acme.test").await, Some(id("globex")));
}

/// Creation fails with `TenantExists` for a taken id, `DomainTaken`
/// for a taken domain, `SchemaCreation` for a taken storage and
/// `Configuration` for two primary domains, writing nothing.
pub async fn create_refuses_conflicts_and_writes_nothing<H: RegistryHarness>() {
    let (registry, _guard) = H::registry().await;
    create(
        &registry,
        NewTenant::new(id("acme"), "Acme").domain(domain("acme.test")),
    )
    .await
    .unwrap();

    let exists = create(
        &registry,
        NewTenant::new(id("acme"), "again").domain(domain("again.test")),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(exists, TenancyError::TenantExists { ref id } if id.as_str() == "acme"),
        "{exists:?}"
    );
    assert_eq!(find(&registry, "acme").await.unwrap().name(), "Acme");
    assert!(owner(&registry, "again.test").await.is_none());

    let taken = registry
        .create_with_storage(
            NewTenant::new(id("globex"), "Globex")
                .domain(domain("globex.test"))
                .domain(domain("acme.test")),
            storage("globex"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(taken, TenancyError::DomainTaken { ref domain } if domain.as_str() == "acme.test"),
        "{taken:?}"
    );
    assert!(
        find(&registry, "globex").await.is_none(),
        "no half-created tenant"
    );
    assert!(owner(&registry, "globex.test").await.is_none());
    assert_eq!(owner(&registry, "acme.test").await, Some(id("acme")));

    let shared = registry
        .create_with_storage(
            NewTenant::new(id("globex"), "Globex").domain(domain("globex.test")),
            storage("acme"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(shared, TenancyError::SchemaCreation { .. }),
        "two tenants cannot share a storage: {shared:?}"
    );
    assert!(find(&registry, "globex").await.is_none());
    assert!(owner(&registry, "globex.test").await.is_none());

    let two = create(
        &registry,
        NewTenant::new(id("two"), "Two")
            .primary_domain(domain("a.two.test"))
            .primary_domain(domain("b.two.test")),
    )
    .await
    .unwrap_err();
    assert!(matches!(two, TenancyError::Configuration { .. }), "{two:?}");
    assert!(find(&registry, "two").await.is_none());
    assert!(owner(&registry, "a.two.test").await.is_none());

    assert_eq!(ids(&registry.list().await.unwrap()), ["acme"]);
    create(&registry, NewTenant::new(id("globex"), "Globex"))
        .await
        .expect("the refused id is free");
}

/// Adding another tenant's domain fails with `DomainTaken`; the domain
/// stays with its owner and the refused tenant is unchanged.
pub async fn add_domain_refuses_another_tenants_domain<H: RegistryHarness>() {
    let (registry, _guard) = H::registry().await;
    create(
        &registry,
        NewTenant::new(id("acme"), "Acme").primary_domain(domain("acme.test")),
    )
    .await
    .unwrap();
    create(
        &registry,
        NewTenant::new(id("globex"), "Globex").primary_domain(domain("globex.test")),
    )
    .await
    .unwrap();
    for primary in [false, true] {
        let taken = registry
            .add_domain(&id("globex"), &domain("acme.test"), primary)
            .await
            .unwrap_err();
        assert!(
            matches!(taken, TenancyError::DomainTaken { ref domain } if domain.as_str() == "acme.test"),
            "{taken:?}"
        );
    }
    assert_eq!(
        owner(&registry, "acme.test").await,
        Some(id("acme")),
        "the domain stays with its owner"
    );
    let acme = find(&registry, "acme").await.unwrap();
    assert_eq!(acme.primary_domain(), Some(&domain("acme.test")));
    let globex = find(&registry, "globex").await.unwrap();
    assert_eq!(domain_names(&globex), ["globex.test"]);
    assert_eq!(
        globex.primary_domain(),
        Some(&domain("globex.test")),
        "a refused primary domain demotes nothing"
    );
}

/// Every write naming an unknown id fails with `TenantNotFound` (delete
/// and `remove_domain` of unknown keys answer `false`) and creates
/// nothing.
pub async fn writes_to_an_unknown_id_are_tenant_not_found<H: RegistryHarness>() {
    let (registry, _guard) = H::registry().await;
    create(&registry, NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    let elsewhere = storage("other");
    for error in [
        registry
            .add_domain(&id("nope"), &domain("x.test"), false)
            .await
            .unwrap_err(),
        registry.deactivate(&id("nope")).await.unwrap_err(),
        registry.activate(&id("nope")).await.unwrap_err(),
        registry.set_name(&id("nope"), "x").await.unwrap_err(),
        registry
            .rename_with_storage(&id("nope"), &id("other"), None)
            .await
            .unwrap_err(),
        registry
            .rename_with_storage(&id("nope"), &id("other"), Some(&elsewhere))
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(error, TenancyError::TenantNotFound { .. }),
            "{error:?}"
        );
    }
    assert!(!registry.delete(&id("nope")).await.unwrap());
    assert!(!registry.remove_domain(&domain("x.test")).await.unwrap());
    assert!(owner(&registry, "x.test").await.is_none());
    assert!(find(&registry, "nope").await.is_none());
    assert!(find(&registry, "other").await.is_none());
    assert_eq!(ids(&registry.list().await.unwrap()), ["acme"]);
}

/// Renaming onto a taken id fails with `TenantExists` and changes
/// neither tenant.
pub async fn rename_onto_a_taken_id_is_tenant_exists<H: RegistryHarness>() {
    let (registry, _guard) = H::registry().await;
    create(
        &registry,
        NewTenant::new(id("acme"), "Acme").domain(domain("acme.test")),
    )
    .await
    .unwrap();
    create(&registry, NewTenant::new(id("globex"), "Globex"))
        .await
        .unwrap();
    let moved = storage("moved");
    for replacement in [None, Some(&moved)] {
        let clash = registry
            .rename_with_storage(&id("acme"), &id("globex"), replacement)
            .await
            .unwrap_err();
        assert!(
            matches!(clash, TenancyError::TenantExists { ref id } if id.as_str() == "globex"),
            "{clash:?}"
        );
    }
    let acme = find(&registry, "acme").await.unwrap();
    assert_eq!(acme.storage(), &storage("acme"));
    assert_eq!(owner(&registry, "acme.test").await, Some(id("acme")));
    let globex = find(&registry, "globex").await.unwrap();
    assert_eq!(globex.name(), "Globex");
    assert_eq!(globex.storage(), &storage("globex"));
    assert!(globex.domains().is_empty());
}

/// Of concurrent creations of one id (each with its own storage)
/// exactly one succeeds, the others fail with `TenantExists`, and the
/// winner's record is the one stored.
pub async fn concurrent_creations_of_one_id_create_it_once<H: RegistryHarness>() {
    let (registry, _guard) = H::registry().await;
    let attempts = (0..8).map(|n| {
        registry.create_with_storage(
            NewTenant::new(id("race"), format!("racer {n}")),
            storage(&format!("race{n}")),
        )
    });
    let results = futures_util::future::join_all(attempts).await;
    let mut winners = Vec::new();
    for result in results {
        match result {
            Ok(tenant) => winners.push(tenant),
            Err(TenancyError::TenantExists { .. }) => {}
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one creation wins: {winners:?}");
    let stored = registry.list().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].name(), winners[0].name());
    assert_eq!(stored[0].storage(), winners[0].storage());
}

/// Of concurrent creations of different tenants claiming one domain
/// exactly one succeeds, the others fail with `DomainTaken` and leave
/// no tenant behind.
pub async fn concurrent_claims_of_one_domain_give_it_to_one_tenant<H: RegistryHarness>() {
    let (registry, _guard) = H::registry().await;
    let attempts = (0..8).map(|n| {
        create(
            &registry,
            NewTenant::new(id(&format!("claimant{n}")), "Claimant").domain(domain("claimed.test")),
        )
    });
    let results = futures_util::future::join_all(attempts).await;
    let mut winners = Vec::new();
    for result in results {
        match result {
            Ok(tenant) => winners.push(tenant.id().clone()),
            Err(TenancyError::DomainTaken { domain: taken }) => {
                assert_eq!(taken.as_str(), "claimed.test");
            }
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one claim wins: {winners:?}");
    assert_eq!(
        owner(&registry, "claimed.test").await.as_ref(),
        winners.first()
    );
    assert_eq!(
        ids(&registry.list().await.unwrap()),
        [winners[0].to_string()],
        "no half-created loser"
    );
}

/// Schema, database and shared storage, an inactive flag, digits in an
/// id and a name full of quotes and punctuation survive the round trip.
pub async fn every_storage_kind_round_trips<H: RegistryHarness>() {
    let (registry, _guard) = H::registry().await;
    let schema = Storage::Schema(SchemaName::new("tenant_a-b").unwrap());
    let database = Storage::Database("eu2/tenant_123".parse().unwrap());
    let shared = Storage::Shared(SharedKey::generate().unwrap());
    registry
        .create_with_storage(NewTenant::new(id("a-b"), "A B"), schema.clone())
        .await
        .unwrap();
    registry
        .create_with_storage(
            NewTenant::new(id("123"), "Digits").inactive(),
            database.clone(),
        )
        .await
        .unwrap();
    registry
        .create_with_storage(NewTenant::new(id("shared"), "Shared"), shared.clone())
        .await
        .unwrap();
    assert_eq!(find(&registry, "a-b").await.unwrap().storage(), &schema);
    let digits = find(&registry, "123").await.unwrap();
    assert_eq!(digits.storage(), &database);
    assert!(!digits.is_active(), "created inactive");
    assert_eq!(
        digits.storage().database().unwrap().server().as_str(),
        "eu2"
    );
    assert_eq!(find(&registry, "shared").await.unwrap().storage(), &shared);

    let name = "O'Reilly \"&\" Söhne ; DROP TABLE x; -- \\ %_ 🙂";
    registry.set_name(&id("123"), name).await.unwrap();
    assert_eq!(find(&registry, "123").await.unwrap().name(), name);
    assert_eq!(registry.list().await.unwrap().len(), 3, "no table dropped");
}

/// The registry works behind `&dyn TenantRegistry` and
/// `Arc<dyn TenantRegistry>`, as applications and managers hold it.
pub async fn works_as_a_trait_object<H: RegistryHarness>() {
    let (registry, _guard) = H::registry().await;
    let shared: Arc<dyn TenantRegistry> = Arc::new(registry.clone());
    shared
        .create_with_storage(NewTenant::new(id("acme"), "Acme"), storage("acme"))
        .await
        .unwrap();
    let dynamic: &dyn TenantRegistry = &registry;
    dynamic.set_name(&id("acme"), "Dyn").await.unwrap();
    dynamic
        .add_domain(&id("acme"), &domain("dyn.test"), true)
        .await
        .unwrap();
    let tenant = dynamic
        .find_by_domain(&domain("dyn.test"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tenant.name(), "Dyn");
    assert_eq!(
        dynamic
            .find_by_id(&id("acme"))
            .await
            .unwrap()
            .unwrap()
            .primary_domain(),
        Some(&domain("dyn.test"))
    );
    assert_eq!(dynamic.list().await.unwrap().len(), 1);
    assert_eq!(shared.list().await.unwrap().len(), 1);
    assert!(dynamic.remove_domain(&domain("dyn.test")).await.unwrap());
    assert!(dynamic.find_by_id(&id("nope")).await.unwrap().is_none());
    let missing = dynamic.set_name(&id("nope"), "x").await.unwrap_err();
    assert!(
        matches!(missing, TenancyError::TenantNotFound { .. }),
        "{missing:?}"
    );
    assert!(shared.delete(&id("acme")).await.unwrap());
    assert!(registry.list().await.unwrap().is_empty());
}
