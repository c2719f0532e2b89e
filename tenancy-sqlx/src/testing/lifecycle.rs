//! The lifecycle suite: what every [`TenantManager`] promises, whatever its
//! registry and storage mode.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tenancy_core::{DomainName, TenancyError, TenantId, scope};

use super::Guard;
use crate::lifecycle::{StorageMode, TenantLifecycle, TenantManager};
use crate::migrate::{MigrateOptions, TenantFilter, TenantMigrations};
use crate::registry::TenantRegistry;
use crate::tenant::{NewTenant, RegistryTenant};

/// How the managers of one mode × registry pair are made for the
/// [lifecycle suite](crate::lifecycle_suite).
pub trait LifecycleHarness {
    /// The mode's storage.
    type Storage: StorageMode;
    /// The registry.
    type Registry: TenantRegistry + Clone + 'static;

    /// A manager over a fresh, empty registry and fresh storage, set up
    /// (shared tables migrated, roles made), whose migrations create what
    /// [`touch`](Self::touch) writes; and what to drop when the case ends.
    fn manager() -> impl Future<Output = (TenantManager<Self::Storage, Self::Registry>, Guard)>;

    /// Adds one row to `tenant`'s data through the mode's own access (a
    /// transaction in its schema, its database, or under its key), commits,
    /// and returns how many rows `tenant` has.
    fn touch(
        manager: &TenantManager<Self::Storage, Self::Registry>,
        tenant: &RegistryTenant,
    ) -> impl Future<Output = i64>;
}

/// Expands into one test per case of [`cases`], for the
/// [`LifecycleHarness`] `$harness`, each carrying the attribute `$test` (e.g.
/// `#[tokio::test]`). Needs the feature `testing`.
///
/// ```ignore
/// tenancy_sqlx::lifecycle_suite!(#[tokio::test] MyMode);
/// ```
#[macro_export]
macro_rules! lifecycle_suite {
    (#[$test:meta] $harness:ty) => {
        $crate::lifecycle_suite!(@cases #[$test] $harness;
            create_registers_an_active_tenant_with_ready_storage,
            a_taken_id_is_refused,
            concurrent_creations_of_one_id_create_it_once,
            a_failing_seed_leaves_nothing_behind,
            rename_moves_the_data_and_the_domains,
            rename_refuses_a_taken_or_unknown_id,
            deactivate_and_activate,
            delete_is_idempotent_and_takes_the_data,
            clone_copies_a_tenant_into_storage_of_its_own,
            migrate_all_reports_every_tenant,
            a_stopped_migrate_all_starts_no_more_tenants,
            migration_states_read_without_changing_anything,
            create_if_missing_creates_once,
            for_each_tenant_visits_the_active_tenants_in_order,
            run_for_looks_its_tenant_up_each_time,
        );
    };
    (@cases #[$test:meta] $harness:ty; $($case:ident,)*) => {
        $(
            #[$test]
            async fn $case() {
                $crate::testing::lifecycle::cases::$case::<$harness>().await;
            }
        )*
    };
}

/// The cases of the lifecycle suite, one function each.
pub mod cases {
    use super::*;

    fn id(value: &str) -> TenantId {
        TenantId::new(value).unwrap()
    }

    fn domain(value: &str) -> DomainName {
        DomainName::new(value).unwrap()
    }

    async fn find<R: TenantRegistry>(registry: &R, value: &str) -> Option<RegistryTenant> {
        registry.find_by_id(&id(value)).await.unwrap()
    }

    /// A created tenant is registered, active, with its domains, and its
    /// storage is ready (a row can be written at once).
    pub async fn create_registers_an_active_tenant_with_ready_storage<H: LifecycleHarness>() {
        let (manager, _guard) = H::manager().await;
        let acme = manager
            .create(NewTenant::new(id("acme"), "Acme").primary_domain(domain("acme.test")))
            .await
            .unwrap();
        assert_eq!(acme.id(), &id("acme"));
        assert!(acme.is_active(), "created tenants are served");
        let found = find(manager.registry(), "acme").await.expect("registered");
        assert_eq!(found.storage(), acme.storage());
        let by_domain = manager
            .registry()
            .find_by_domain(&domain("acme.test"))
            .await
            .unwrap()
            .expect("found by its domain");
        assert_eq!(by_domain.id(), &id("acme"));
        assert_eq!(H::touch(&manager, &acme).await, 1);
        let inactive = manager
            .create(NewTenant::new(id("dormant"), "Dormant").inactive())
            .await
            .unwrap();
        assert!(
            !inactive.is_active(),
            "asked for inactive, created inactive"
        );
    }

    /// A second creation of an id fails with `TenantExists` and leaves the
    /// first tenant and its data as they were.
    pub async fn a_taken_id_is_refused<H: LifecycleHarness>() {
        let (manager, _guard) = H::manager().await;
        let acme = manager
            .create(NewTenant::new(id("acme"), "Acme"))
            .await
            .unwrap();
        assert_eq!(H::touch(&manager, &acme).await, 1);
        let again = manager.create(NewTenant::new(id("acme"), "Other")).await;
        assert!(
            matches!(again, Err(TenancyError::TenantExists { .. })),
            "{again:?}"
        );
        let found = find(manager.registry(), "acme").await.unwrap();
        assert_eq!(found.name(), "Acme");
        assert_eq!(H::touch(&manager, &found).await, 2, "the data is untouched");
    }

    /// Of concurrent creations of one id exactly one succeeds; the others
    /// fail with `TenantExists`.
    pub async fn concurrent_creations_of_one_id_create_it_once<H: LifecycleHarness>() {
        let (manager, _guard) = H::manager().await;
        let attempts = (0..4).map(|n| manager.create(NewTenant::new(id("race"), format!("n{n}"))));
        let results = futures_util::future::join_all(attempts).await;
        let created = results.iter().filter(|result| result.is_ok()).count();
        assert_eq!(created, 1, "{results:?}");
        for result in &results {
            assert!(
                matches!(result, Ok(_) | Err(TenancyError::TenantExists { .. })),
                "{result:?}"
            );
        }
        let race = find(manager.registry(), "race").await.unwrap();
        assert!(race.is_active());
        assert_eq!(H::touch(&manager, &race).await, 1);
    }

    /// A creation whose seed fails returns the seed's error and leaves no
    /// registry row and no storage: the same id can be created afterwards.
    pub async fn a_failing_seed_leaves_nothing_behind<H: LifecycleHarness>() {
        let (manager, _guard) = H::manager().await;
        let refusing = manager
            .clone()
            .with_seed(|_, _| Box::pin(async { Err("the seed refuses".into()) }));
        let failed = refusing.create(NewTenant::new(id("seedless"), "S")).await;
        assert!(
            matches!(failed, Err(TenancyError::TableCreation { .. })),
            "{failed:?}"
        );
        assert!(find(manager.registry(), "seedless").await.is_none());
        let retried = manager
            .create(NewTenant::new(id("seedless"), "S"))
            .await
            .expect("nothing of the failed creation is in the way");
        assert_eq!(H::touch(&manager, &retried).await, 1, "no rows survived");
    }

    /// A rename keeps the tenant's data and domains under the new id; the
    /// old id is gone.
    pub async fn rename_moves_the_data_and_the_domains<H: LifecycleHarness>() {
        let (manager, _guard) = H::manager().await;
        let acme = manager
            .create(NewTenant::new(id("acme"), "Acme").domain(domain("acme.test")))
            .await
            .unwrap();
        assert_eq!(H::touch(&manager, &acme).await, 1);
        let renamed = manager.rename(&id("acme"), &id("acme2")).await.unwrap();
        assert_eq!(renamed.id(), &id("acme2"));
        assert_eq!(renamed.name(), "Acme");
        assert!(find(manager.registry(), "acme").await.is_none());
        let by_domain = manager
            .registry()
            .find_by_domain(&domain("acme.test"))
            .await
            .unwrap()
            .expect("the domain followed");
        assert_eq!(by_domain.id(), &id("acme2"));
        assert_eq!(H::touch(&manager, &renamed).await, 2, "the data followed");
        let back = manager.rename(&id("acme2"), &id("acme")).await.unwrap();
        assert_eq!(H::touch(&manager, &back).await, 3, "and back again");
    }

    /// Renaming onto a taken id fails with `TenantExists`, from an unknown
    /// one with `TenantNotFound`; nothing changes.
    pub async fn rename_refuses_a_taken_or_unknown_id<H: LifecycleHarness>() {
        let (manager, _guard) = H::manager().await;
        let acme = manager
            .create(NewTenant::new(id("acme"), "Acme"))
            .await
            .unwrap();
        manager
            .create(NewTenant::new(id("globex"), "Globex"))
            .await
            .unwrap();
        let taken = manager.rename(&id("acme"), &id("globex")).await;
        assert!(
            matches!(taken, Err(TenancyError::TenantExists { .. })),
            "{taken:?}"
        );
        let unknown = manager.rename(&id("nobody"), &id("somebody")).await;
        assert!(
            matches!(unknown, Err(TenancyError::TenantNotFound { .. })),
            "{unknown:?}"
        );
        assert_eq!(
            H::touch(&manager, &acme).await,
            1,
            "acme's data is in place"
        );
    }

    /// Deactivation keeps the tenant registered and its data; activation
    /// serves it again; an unknown id is `TenantNotFound`.
    pub async fn deactivate_and_activate<H: LifecycleHarness>() {
        let (manager, _guard) = H::manager().await;
        let acme = manager
            .create(NewTenant::new(id("acme"), "Acme"))
            .await
            .unwrap();
        assert_eq!(H::touch(&manager, &acme).await, 1);
        manager.deactivate(&id("acme")).await.unwrap();
        let found = find(manager.registry(), "acme").await.unwrap();
        assert!(!found.is_active());
        manager.activate(&id("acme")).await.unwrap();
        let found = find(manager.registry(), "acme").await.unwrap();
        assert!(found.is_active());
        assert_eq!(H::touch(&manager, &found).await, 2, "the data was kept");
        let unknown = manager.deactivate(&id("nobody")).await;
        assert!(
            matches!(unknown, Err(TenancyError::TenantNotFound { .. })),
            "{unknown:?}"
        );
        let unknown = manager.activate(&id("nobody")).await;
        assert!(
            matches!(unknown, Err(TenancyError::TenantNotFound { .. })),
            "{unknown:?}"
        );
    }

    /// Delete answers `true`, then `false`; the tenant's data goes with it
    /// (a new tenant of the same id starts empty); others are untouched.
    pub async fn delete_is_idempotent_and_takes_the_data<H: LifecycleHarness>() {
        let (manager, _guard) = H::manager().await;
        let acme = manager
            .create(NewTenant::new(id("acme"), "Acme"))
            .await
            .unwrap();
        let globex = manager
            .create(NewTenant::new(id("globex"), "Globex"))
            .await
            .unwrap();
        assert_eq!(H::touch(&manager, &acme).await, 1);
        assert_eq!(H::touch(&manager, &acme).await, 2);
        assert_eq!(H::touch(&manager, &globex).await, 1);
        assert!(manager.delete(&id("acme")).await.unwrap());
        assert!(!manager.delete(&id("acme")).await.unwrap());
        assert!(find(manager.registry(), "acme").await.is_none());
        let again = manager
            .create(NewTenant::new(id("acme"), "Acme again"))
            .await
            .unwrap();
        assert_eq!(H::touch(&manager, &again).await, 1, "the old data is gone");
        assert_eq!(H::touch(&manager, &globex).await, 2, "globex is untouched");
    }

    /// `clone_tenant` makes a tenant with a copy of another's data in
    /// storage of its own; the two then go their own ways (the copy's new
    /// rows continue the copied identity values); a taken id or an unknown
    /// source is refused and nothing is made; deleting the copy leaves the
    /// source as it was.
    pub async fn clone_copies_a_tenant_into_storage_of_its_own<H: LifecycleHarness>() {
        let (manager, _guard) = H::manager().await;
        let acme = manager
            .create(NewTenant::new(id("acme"), "Acme"))
            .await
            .unwrap();
        assert_eq!(H::touch(&manager, &acme).await, 1);
        assert_eq!(H::touch(&manager, &acme).await, 2);
        // A neighbour whose row must not be copied (shared tables hold both).
        let globex = manager
            .create(NewTenant::new(id("globex"), "Globex"))
            .await
            .unwrap();
        assert_eq!(H::touch(&manager, &globex).await, 1);
        let domain = DomainName::new("copy.example.com").unwrap();
        let copy = manager
            .clone_tenant(
                &id("acme"),
                NewTenant::new(id("copy"), "Copy").domain(domain.clone()),
            )
            .await
            .unwrap();
        assert!(copy.is_active());
        assert_eq!(copy.name(), "Copy");
        assert_ne!(copy.storage(), acme.storage());
        let found = manager.registry().find_by_domain(&domain).await.unwrap();
        assert_eq!(found.map(|tenant| tenant.id().clone()), Some(id("copy")));
        assert_eq!(
            H::touch(&manager, &copy).await,
            3,
            "the copy holds acme's two rows, no others"
        );
        assert_eq!(
            H::touch(&manager, &acme).await,
            3,
            "acme does not see the copy's row"
        );

        let taken = manager
            .clone_tenant(&id("acme"), NewTenant::new(id("copy"), "Again"))
            .await;
        assert!(
            matches!(taken, Err(TenancyError::TenantExists { .. })),
            "{taken:?}"
        );
        let unknown = manager
            .clone_tenant(&id("nobody"), NewTenant::new(id("other"), "Other"))
            .await;
        assert!(
            matches!(unknown, Err(TenancyError::TenantNotFound { .. })),
            "{unknown:?}"
        );
        assert!(find(manager.registry(), "other").await.is_none());

        assert!(manager.delete(&id("copy")).await.unwrap());
        assert_eq!(H::touch(&manager, &acme).await, 4, "acme is intact");
        assert_eq!(H::touch(&manager, &globex).await, 2, "globex is intact");
    }

    /// Migrate-all reports every tenant (inactive ones too) and succeeds
    /// when everything is up to date; a second run too.
    pub async fn migrate_all_reports_every_tenant<H: LifecycleHarness>() {
        let (manager, _guard) = H::manager().await;
        for (tenant, active) in [("acme", true), ("globex", true), ("dormant", false)] {
            let new = NewTenant::new(id(tenant), tenant);
            let new = if active { new } else { new.inactive() };
            manager.create(new).await.unwrap();
        }
        for _ in 0..2 {
            let report = manager.migrate_all(MigrateOptions::new()).await.unwrap();
            assert!(report.is_success(), "{report}");
            for tenant in ["acme", "globex", "dormant"] {
                assert!(
                    report.get(&id(tenant)).is_some(),
                    "{tenant} missing: {report}"
                );
            }
        }
    }

    /// A migrate-all run asked to stop starts no more tenants: those it did
    /// not start are reported `Stopped` and the run is not a success; the
    /// next run does them. Asked after the first tenant (one at a time),
    /// per-tenant modes stop the other two; shared mode, one run for every
    /// tenant, stops only before its run.
    pub async fn a_stopped_migrate_all_starts_no_more_tenants<H: LifecycleHarness>() {
        let (manager, _guard) = H::manager().await;
        for tenant in ["acme", "globex", "initech"] {
            manager
                .create(NewTenant::new(id(tenant), tenant))
                .await
                .unwrap();
        }
        let stopped = manager
            .migrate_all(MigrateOptions::new().stop_when(|| true))
            .await
            .unwrap();
        assert_eq!(stopped.stopped().count(), 3, "{stopped}");
        assert!(!stopped.is_success());
        assert!(
            stopped.to_string().contains("(stopped: 3 not started)"),
            "{stopped}"
        );

        let stop = Arc::new(AtomicBool::new(false));
        let (flag, set) = (stop.clone(), stop.clone());
        let options = MigrateOptions::new()
            .concurrency(1)
            .on_progress(move |_| set.store(true, Ordering::SeqCst))
            .stop_when(move || flag.load(Ordering::SeqCst));
        let report = manager.migrate_all(options).await.unwrap();
        assert_eq!(report.tenants.len(), 3, "{report}");
        assert_eq!(report.failed().count(), 0, "{report}");
        let (stopped, done) = (report.stopped().count(), report.up_to_date().count());
        assert!(
            (stopped, done) == (2, 1) || (stopped, done) == (0, 3),
            "per-tenant modes stop after the first tenant, shared mode runs once: {report}"
        );
        let resumed = manager.migrate_all(MigrateOptions::new()).await.unwrap();
        assert!(resumed.is_success(), "{resumed}");
        assert_eq!(resumed.up_to_date().count(), 3, "{resumed}");
    }

    /// `migration_states` tells where each tenant stands and changes
    /// nothing: current after creation; with one more migration, pending
    /// (twice: reading applies nothing), then applied by `migrate_all`;
    /// against a set that lacks the newest version, drift.
    pub async fn migration_states_read_without_changing_anything<H: LifecycleHarness>() {
        let (manager, _guard) = H::manager().await;
        for tenant in ["acme", "globex"] {
            manager
                .create(NewTenant::new(id(tenant), tenant))
                .await
                .unwrap();
        }
        let latest = manager.migrations().latest();
        let states = manager.migration_states(TenantFilter::all()).await.unwrap();
        assert_eq!(states.len(), 2);
        for (tenant, state) in &states {
            let state = state.as_ref().unwrap();
            assert!(state.is_current(), "{tenant}: {state:?}");
            assert_eq!(state.latest(), latest, "{tenant}");
        }

        let next = latest.unwrap_or(0) + 1;
        let extra = sqlx::migrate::Migration::new(
            next,
            "noop".into(),
            sqlx::migrate::MigrationType::Simple,
            sqlx::SqlSafeStr::into_sql_str(sqlx::AssertSqlSafe("SELECT 1".to_owned())),
            false,
        );
        let migrations =
            TenantMigrations::from_migrations(manager.migrations().iter().cloned().chain([extra]))
                .unwrap()
                .history_table(manager.migrations().history().clone());
        let next_release = manager.with_migrations(migrations);
        for _ in 0..2 {
            let states = next_release
                .migration_states(TenantFilter::all().only([id("acme")]))
                .await
                .unwrap();
            assert_eq!(states.len(), 1, "the filter applies");
            let state = states[0].1.as_ref().unwrap();
            assert_eq!(state.pending, [next], "{state:?}");
            assert!(!state.has_drift(), "{state:?}");
        }
        let report = next_release
            .migrate_all(MigrateOptions::new())
            .await
            .unwrap();
        assert!(report.is_success(), "{report}");
        for (tenant, state) in next_release
            .migration_states(TenantFilter::all())
            .await
            .unwrap()
        {
            let state = state.unwrap();
            assert!(state.is_current(), "{tenant}: {state:?}");
            assert_eq!(state.latest(), Some(next), "{tenant}");
        }
        // The previous release does not know `next`: drift, nothing pending.
        for (tenant, state) in manager.migration_states(TenantFilter::all()).await.unwrap() {
            let state = state.unwrap();
            assert_eq!(state.unknown, [next], "{tenant}: {state:?}");
            assert!(
                state.has_drift() && state.pending.is_empty(),
                "{tenant}: {state:?}"
            );
        }
    }

    /// `create_if_missing` creates once and then hands back the tenant as
    /// it is.
    pub async fn create_if_missing_creates_once<H: LifecycleHarness>() {
        let (manager, _guard) = H::manager().await;
        let lifecycle: &dyn TenantLifecycle = &manager;
        let (first, created) = lifecycle
            .create_if_missing(NewTenant::new(id("acme"), "Acme"))
            .await
            .unwrap();
        assert!(created);
        let (second, created) = lifecycle
            .create_if_missing(NewTenant::new(id("acme"), "Renamed"))
            .await
            .unwrap();
        assert!(!created);
        assert_eq!(second.name(), "Acme", "an existing tenant is not changed");
        assert_eq!(second.storage(), first.storage());
    }

    /// `run_for` runs a job in its tenant's scope while the tenant is
    /// served, and refuses it (the job not run) once the tenant is
    /// deactivated or deleted; a tenant created again under the id is a
    /// new tenant with new storage.
    pub async fn run_for_looks_its_tenant_up_each_time<H: LifecycleHarness>() {
        let (manager, _guard) = H::manager().await;
        manager
            .create(NewTenant::new(id("acme"), "Acme"))
            .await
            .unwrap();
        let manager = &manager;
        // The job reports the tenant it was given and the scope it ran in;
        // a row is then added to that tenant's data.
        let run = |tenant: &'static str| {
            let ran = Arc::new(AtomicUsize::new(0));
            let counter = ran.clone();
            async move {
                let result = manager
                    .run_for(&id(tenant), move |tenant| async move {
                        counter.fetch_add(1, Ordering::SeqCst);
                        Ok((tenant, scope::current_id()))
                    })
                    .await;
                let rows = match &result {
                    Ok((tenant, scoped)) => {
                        assert_eq!(scoped.as_ref(), Some(tenant.id()), "ran in its scope");
                        Ok(H::touch(manager, tenant).await)
                    }
                    Err(error) => Err(error.kind()),
                };
                (rows, ran.load(Ordering::SeqCst))
            }
        };
        assert_eq!(run("acme").await, (Ok(1), 1));
        assert_eq!(run("acme").await, (Ok(2), 1), "the same tenant's data");

        manager.deactivate(&id("acme")).await.unwrap();
        assert_eq!(
            run("acme").await,
            (Err("TenantInactive"), 0),
            "refused, the job not run"
        );
        manager.activate(&id("acme")).await.unwrap();
        assert!(manager.delete(&id("acme")).await.unwrap());
        assert_eq!(
            run("acme").await,
            (Err("TenantNotFound"), 0),
            "refused, the job not run"
        );
        manager
            .create(NewTenant::new(id("acme"), "Acme again"))
            .await
            .unwrap();
        assert_eq!(
            run("acme").await,
            (Ok(1), 1),
            "new storage: the deleted tenant's rows are gone"
        );
    }

    /// `for_each_tenant` runs its job once for every active tenant, none
    /// for inactive ones, and reports them ordered by id.
    pub async fn for_each_tenant_visits_the_active_tenants_in_order<H: LifecycleHarness>() {
        let (manager, _guard) = H::manager().await;
        for tenant in ["globex", "acme", "initech"] {
            manager
                .create(NewTenant::new(id(tenant), tenant))
                .await
                .unwrap();
        }
        manager.deactivate(&id("initech")).await.unwrap();
        let runs = Arc::new(AtomicUsize::new(0));
        let results = manager
            .for_each_tenant(2, |tenant| {
                let runs = runs.clone();
                async move {
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok(tenant.id().to_string())
                }
            })
            .await
            .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        let ids: Vec<String> = results
            .into_iter()
            .map(|(id, result)| {
                assert_eq!(result.unwrap(), id.to_string());
                id.to_string()
            })
            .collect();
        assert_eq!(ids, ["acme", "globex"]);
    }
}
