//! The change log of the MySQL / MariaDB and SQLite registries: what a
//! `ChangePoller` passes on (other instances' changes, once each; not its
//! own), rows that commit out of order, pruning, a custom table, and an
//! upgrade of a registry made before the log existed. The registry suite
//! (`registry_conformance.rs`) checks that a watching instance sees changes.

#![cfg(all(feature = "mysql", feature = "sqlite", feature = "testing"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::id;
use tenancy_core::{BoxFuture, Invalidate, Invalidation};
use tenancy_sqlx::registry::{MySqlRegistry, SqliteRegistry};
use tenancy_sqlx::testing::Guard;
use tenancy_sqlx::{Ident, NewTenant, RegistryConfig, Storage};

/// Records what it is told to forget.
#[derive(Default)]
struct Recorder(Mutex<Vec<Invalidation>>);

impl Recorder {
    fn take(&self) -> Vec<Invalidation> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Invalidate for Recorder {
    fn invalidate<'a>(&'a self, event: &'a Invalidation) -> BoxFuture<'a, ()> {
        self.0.lock().unwrap().push(event.clone());
        Box::pin(async {})
    }
}

fn tenant(value: &str) -> Invalidation {
    Invalidation::Tenant(id(value))
}

/// A storage location of its own for `tenant`.
fn storage(tenant: &str) -> Storage {
    Storage::Database(format!("main/tenant_{tenant}").parse().unwrap())
}

/// Now, in the change log's unit (microseconds since the Unix epoch).
fn now_us() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros()
}

/// A fast poll, so the tests wait little.
fn config() -> RegistryConfig {
    RegistryConfig::new().poll_interval(Duration::from_millis(20))
}

macro_rules! backends {
    ($($backend:ident: $registry:ty, $fixture:expr;)*) => {$(
        mod $backend {
            use super::*;
            use sqlx::AssertSqlSafe;

            type Registry = $registry;

            async fn exec(registry: &Registry, sql: &str) {
                sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                    .execute(registry.pool())
                    .await
                    .unwrap();
            }

            async fn count(registry: &Registry, sql: &str) -> i64 {
                sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
                    .fetch_one(registry.pool())
                    .await
                    .unwrap()
            }

            /// Another instance's changes reach this one's subscribers once
            /// each; this instance's own changes reach them once (at the
            /// mutation), not a second time through the log.
            #[tokio::test]
            async fn other_instances_changes_arrive_once_and_own_ones_are_not_repeated() {
                let (a, _guard): (Registry, _) = $fixture(config()).await;
                let b = Registry::new(a.pool().clone(), config()).unwrap();
                let seen_by_a = Arc::new(Recorder::default());
                let seen_by_b = Arc::new(Recorder::default());
                a.subscribe(seen_by_a.clone());
                b.subscribe(seen_by_b.clone());
                let poller_a = a.poll_changes();
                let poller_b = b.poll_changes();
                poller_a.wait_polls(1).await;
                poller_b.wait_polls(1).await;

                a.create_with_storage(NewTenant::new(id("acme"), "Acme"), storage("acme")).await.unwrap();
                a.deactivate(&id("acme")).await.unwrap();
                assert_eq!(seen_by_a.take(), vec![tenant("acme"), tenant("acme")]);
                let polled = poller_b.polls();
                poller_b.wait_polls(polled + 2).await;
                assert_eq!(seen_by_b.take(), vec![tenant("acme"), tenant("acme")]);
                // Two more reads of the log by `a`: nothing comes back to it.
                let polled = poller_a.polls();
                poller_a.wait_polls(polled + 2).await;
                assert_eq!(seen_by_a.take(), Vec::<Invalidation>::new());
                // And `b` does not see its past changes again.
                let polled = poller_b.polls();
                poller_b.wait_polls(polled + 2).await;
                assert_eq!(seen_by_b.take(), Vec::<Invalidation>::new());
            }

            /// A row whose number is lower than one already read (its insert
            /// took the number first but committed later) is still passed on.
            #[tokio::test]
            async fn a_row_committed_out_of_order_is_seen() {
                let (registry, _guard): (Registry, _) = $fixture(config()).await;
                let seen = Arc::new(Recorder::default());
                registry.subscribe(seen.clone());
                let poller = registry.poll_changes();
                poller.wait_polls(1).await;
                // Recent rows: the poller prunes old ones when it starts.
                let now = now_us();
                exec(&registry, &format!("INSERT INTO tenancy_changes (seq, registry, origin, payload, created_us) \
                                          VALUES (10, 'tenancy_tenants', 'elsewhere', 'updated:later', {now})")).await;
                let polled = poller.polls();
                poller.wait_polls(polled + 2).await;
                assert_eq!(seen.take(), vec![tenant("later")]);
                exec(&registry, &format!("INSERT INTO tenancy_changes (seq, registry, origin, payload, created_us) \
                                          VALUES (7, 'tenancy_tenants', 'elsewhere', 'domain-added:shop.earlier.test:earlier', {now})")).await;
                let polled = poller.polls();
                poller.wait_polls(polled + 2).await;
                assert_eq!(
                    seen.take(),
                    vec![
                        tenant("earlier"),
                        Invalidation::Domain(tenancy_core::DomainName::new("shop.earlier.test").unwrap()),
                    ]
                );
                // Another registry's row (its own tables, the same log): not ours.
                exec(&registry, &format!("INSERT INTO tenancy_changes (registry, origin, payload, created_us) \
                                          VALUES ('customers', 'elsewhere', 'updated:theirs', {now})")).await;
                // A payload nobody can read means "anything may have changed".
                exec(&registry, &format!("INSERT INTO tenancy_changes (registry, origin, payload, created_us) \
                                          VALUES ('tenancy_tenants', 'elsewhere', 't:Not_An_Id', {now})")).await;
                let polled = poller.polls();
                poller.wait_polls(polled + 2).await;
                assert_eq!(seen.take(), vec![Invalidation::All]);
            }

            /// A poller deletes rows older than the retention, and only those.
            #[tokio::test]
            async fn old_rows_are_pruned() {
                let (registry, _guard): (Registry, _) = $fixture(config()).await;
                exec(&registry, "INSERT INTO tenancy_changes (registry, origin, payload, created_us) \
                                 VALUES ('tenancy_tenants', 'elsewhere', 'updated:ancient', 0)").await;
                registry.create_with_storage(NewTenant::new(id("acme"), "Acme"), storage("acme")).await.unwrap();
                assert_eq!(count(&registry, "SELECT COUNT(*) FROM tenancy_changes").await, 2);
                let poller = registry.poll_changes();
                poller.wait_polls(1).await;
                assert!(
                    support::eventually(Duration::from_secs(10), || async {
                        count(&registry, "SELECT COUNT(*) FROM tenancy_changes").await == 1
                    })
                    .await,
                    "the old row was not pruned"
                );
                assert_eq!(
                    count(&registry, "SELECT COUNT(*) FROM tenancy_changes WHERE payload = 'created:acme'").await,
                    1,
                    "the recent row stays"
                );
            }

            /// The change log may have a name of its own; two registries with
            /// their own tables in one database keep their changes apart.
            #[tokio::test]
            async fn a_custom_change_log_table() {
                let custom = || {
                    config()
                        .tenants_table(Ident::new("customers").unwrap())
                        .domains_table(Ident::new("customer_domains").unwrap())
                        .changes_table(Ident::new("customer_changes").unwrap())
                };
                let (registry, _guard): (Registry, _) = $fixture(custom()).await;
                let plain = Registry::connect(registry.pool().clone(), config()).await.unwrap();
                registry.create_with_storage(NewTenant::new(id("acme"), "Acme"), storage("acme")).await.unwrap();
                assert_eq!(count(&registry, "SELECT COUNT(*) FROM customer_changes").await, 1);
                assert_eq!(count(&registry, "SELECT COUNT(*) FROM tenancy_changes").await, 0);
                plain.create_with_storage(NewTenant::new(id("globex"), "Globex"), storage("globex")).await.unwrap();
                assert_eq!(count(&registry, "SELECT COUNT(*) FROM customer_changes").await, 1);
                assert_eq!(count(&registry, "SELECT COUNT(*) FROM tenancy_changes").await, 1);
                let same = config().changes_table(Ident::new("tenancy_tenants").unwrap());
                assert!(Registry::new(registry.pool().clone(), same).is_err(), "a table named twice is refused");
            }

            /// A mutation and its change log row commit together: when the
            /// row cannot be written, the mutation fails and changes nothing.
            #[tokio::test]
            async fn a_change_that_cannot_be_logged_is_not_made() {
                let (registry, _guard): (Registry, _) = $fixture(config()).await;
                registry
                    .create_with_storage(NewTenant::new(id("acme"), "Acme"), storage("acme"))
                    .await
                    .unwrap();
                exec(&registry, "DROP TABLE tenancy_changes").await;
                assert!(registry.deactivate(&id("acme")).await.is_err());
                assert!(registry.delete(&id("acme")).await.is_err());
                let acme = registry.find_by_id(&id("acme")).await.unwrap().unwrap();
                assert!(acme.is_active(), "the deactivation was rolled back");
                // Connecting again makes the log (the history says it exists).
                let again = Registry::connect(registry.pool().clone(), config()).await.unwrap();
                again.deactivate(&id("acme")).await.unwrap();
                assert_eq!(count(&registry, "SELECT COUNT(*) FROM tenancy_changes").await, 1);
            }

            /// A change log named after the log was first made is made when
            /// the registry connects.
            #[tokio::test]
            async fn a_change_log_renamed_later_is_made() {
                let (registry, _guard): (Registry, _) = $fixture(config()).await;
                let renamed = config().changes_table(Ident::new("later_changes").unwrap());
                let later = Registry::connect(registry.pool().clone(), renamed).await.unwrap();
                later
                    .create_with_storage(NewTenant::new(id("acme"), "Acme"), storage("acme"))
                    .await
                    .unwrap();
                assert_eq!(count(&registry, "SELECT COUNT(*) FROM later_changes").await, 1);
            }

            /// A registry made before the change log existed (its history
            /// holds migration 1 only) gains the log when it connects.
            #[tokio::test]
            async fn an_older_registry_gains_the_change_log() {
                let (registry, _guard): (Registry, _) = $fixture(config()).await;
                registry.create_with_storage(NewTenant::new(id("acme"), "Acme"), storage("acme")).await.unwrap();
                exec(&registry, "DROP TABLE tenancy_changes").await;
                exec(&registry, "DELETE FROM _tenancy_registry_migrations WHERE version = 2").await;
                let upgraded = Registry::connect(registry.pool().clone(), config()).await.unwrap();
                assert!(upgraded.find_by_id(&id("acme")).await.unwrap().is_some(), "the data stays");
                upgraded.deactivate(&id("acme")).await.unwrap();
                assert_eq!(count(&registry, "SELECT COUNT(*) FROM tenancy_changes").await, 1);
            }
        }
    )*};
}

async fn mysql(config: RegistryConfig) -> (MySqlRegistry, Guard) {
    let db = support::MySqlDb::new().await;
    let registry = MySqlRegistry::connect(db.pool(4).await, config)
        .await
        .unwrap();
    (registry, Box::new(db))
}

async fn sqlite(config: RegistryConfig) -> (SqliteRegistry, Guard) {
    let dir = support::TempDir::new();
    let pool = dir.sqlite_pool("registry.db", 4).await;
    let registry = SqliteRegistry::connect(pool, config).await.unwrap();
    (registry, Box::new(dir))
}

backends! {
    on_mysql: MySqlRegistry, mysql;
    on_sqlite: SqliteRegistry, sqlite;
}
