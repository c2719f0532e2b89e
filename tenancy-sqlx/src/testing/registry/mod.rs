//! The registry suite: the contract of [`TenantRegistry`], for any registry —
//! lookups, writes, typed conflicts, concurrent creations, cache
//! invalidation, and what another instance on the same storage sees.

use std::future::Future;

use super::Guard;
use crate::registry::TenantRegistry;

/// How the registries under test are made for the
/// [registry suite](crate::registry_suite).
pub trait RegistryHarness {
    /// The registry.
    type Registry: TenantRegistry + Clone + 'static;

    /// A registry on fresh, empty storage (its tables made), and what to
    /// drop when the case ends.
    fn registry() -> impl Future<Output = (Self::Registry, Guard)>;

    /// Another instance on the same storage as `registry`, as another
    /// process would have: what one writes, the other reads at once.
    ///
    /// Its subscribers should be its own (a registry of a database keeps
    /// them per instance), but they may be shared with `registry`'s (a clone
    /// of [`MemoryRegistry`](crate::testing::MemoryRegistry) is its second
    /// instance): the suite only expects a change made through one instance
    /// to reach the other's subscribed caches within their TTL, and a change
    /// made through an instance to reach its own subscribed caches at once.
    fn second_instance(registry: &Self::Registry) -> Self::Registry;
}

/// Expands into one test per case of [`cases`], for the
/// [`RegistryHarness`] `$harness`, each carrying the attribute `$test` (e.g.
/// `#[tokio::test]`). Needs the feature `testing`.
///
/// ```ignore
/// tenancy_sqlx::registry_suite!(#[tokio::test] MyRegistry);
/// ```
#[macro_export]
macro_rules! registry_suite {
    (#[$test:meta] $harness:ty) => {
        $crate::registry_suite!(@cases #[$test] $harness;
            create_returns_what_lookups_read_back,
            set_name_and_activation_change_the_record,
            a_new_primary_domain_demotes_the_old_one,
            rename_moves_the_domains_and_keeps_or_replaces_the_storage,
            list_is_every_tenant_ordered_by_id,
            delete_takes_the_domains_and_frees_the_id,
            create_refuses_conflicts_and_writes_nothing,
            add_domain_refuses_another_tenants_domain,
            writes_to_an_unknown_id_are_tenant_not_found,
            rename_onto_a_taken_id_is_tenant_exists,
            concurrent_creations_of_one_id_create_it_once,
            concurrent_claims_of_one_domain_give_it_to_one_tenant,
            every_storage_kind_round_trips,
            mutations_invalidate_subscribed_caches_at_once,
            other_instances_see_changes_within_the_cache_ttl,
            watching_instances_see_changes_without_waiting_for_the_ttl,
            events_reach_receivers_here_and_in_watching_instances,
            works_as_a_trait_object,
        );
    };
    (@cases #[$test:meta] $harness:ty; $($case:ident,)*) => {
        $(
            #[$test]
            async fn $case() {
                $crate::testing::registry::cases::$case::<$harness>().await;
            }
        )*
    };
}

pub mod cases;
