//! A registry of the user's own with every isolation mode: the lifecycle asks
//! nothing of a registry but the `TenantRegistry` trait. The registry here
//! keeps tenants in memory; the storage is real (a Postgres database for
//! schema mode, SQLite files for shared tables and for a database per
//! tenant).

#![cfg(all(feature = "postgres", feature = "sqlite"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use futures_util::future::BoxFuture;
use tenancy_core::{DomainName, Invalidate, Invalidation, TenancyError, TenantId, TenantKey};
use tenancy_sqlx::database::{PoolConfig, SqliteDatabases};
use tenancy_sqlx::lifecycle::StorageMode;
use tenancy_sqlx::shared::keyed::{SqliteSharedManager, SqliteSharedPool};
use tenancy_sqlx::{
    DatabaseManager, Ident, MigrateOptions, NewTenant, RegistryTenant, SchemaManager, SchemaPool,
    Storage, TenantManager, TenantMigrations, TenantPools, TenantRegistry,
};

/// Tenants in a map: what a user's own registry (an API, a config service)
/// stands for.
#[derive(Clone, Default)]
struct MemoryRegistry {
    tenants: Arc<Mutex<BTreeMap<TenantId, RegistryTenant>>>,
    caches: Arc<Mutex<Vec<Arc<dyn Invalidate>>>>,
}

impl MemoryRegistry {
    fn tenants(&self) -> std::sync::MutexGuard<'_, BTreeMap<TenantId, RegistryTenant>> {
        self.tenants.lock().unwrap()
    }

    /// Invalidates the subscribed caches' entries of `ids`.
    async fn notify(&self, ids: &[&TenantId]) {
        let caches = self.caches.lock().unwrap().clone();
        for cache in caches {
            for id in ids {
                cache.invalidate(&Invalidation::Tenant((*id).clone())).await;
            }
        }
    }

    /// `tenant` rebuilt with another id, storage or active flag.
    fn rebuilt(
        tenant: &RegistryTenant,
        id: TenantId,
        storage: Storage,
        active: bool,
    ) -> RegistryTenant {
        RegistryTenant::builder(id, tenant.name(), storage)
            .active(active)
            .domains(tenant.domains().to_vec())
            .timestamps(tenant.created_at(), SystemTime::now())
            .build()
    }

    fn update(
        &self,
        id: &TenantId,
        change: impl FnOnce(&RegistryTenant) -> RegistryTenant,
    ) -> Result<(), TenancyError> {
        let mut tenants = self.tenants();
        let current = tenants.get(id).ok_or_else(|| not_found(id))?;
        let changed = change(current);
        tenants.insert(id.clone(), changed);
        Ok(())
    }
}

impl MemoryRegistry {
    async fn set_active(&self, id: &TenantId, active: bool) -> Result<(), TenancyError> {
        self.update(id, |t| {
            Self::rebuilt(t, t.id().clone(), t.storage().clone(), active)
        })?;
        self.notify(&[id]).await;
        Ok(())
    }
}

fn not_found(id: &TenantId) -> TenancyError {
    TenancyError::TenantNotFound {
        key: TenantKey::Id(id.clone()),
    }
}

fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

impl TenantRegistry for MemoryRegistry {
    fn list(&self) -> BoxFuture<'_, Result<Vec<RegistryTenant>, TenancyError>> {
        ready(Ok(self.tenants().values().cloned().collect()))
    }

    fn find_by_id<'a>(
        &'a self,
        id: &'a TenantId,
    ) -> BoxFuture<'a, Result<Option<RegistryTenant>, TenancyError>> {
        ready(Ok(self.tenants().get(id).cloned()))
    }

    fn find_by_domain<'a>(
        &'a self,
        domain: &'a DomainName,
    ) -> BoxFuture<'a, Result<Option<RegistryTenant>, TenancyError>> {
        let found = self
            .tenants()
            .values()
            .find(|tenant| tenant.domains().iter().any(|d| &d.name == domain))
            .cloned();
        ready(Ok(found))
    }

    fn set_name<'a>(
        &'a self,
        id: &'a TenantId,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(async move {
            self.update(id, |tenant| {
                RegistryTenant::builder(tenant.id().clone(), name, tenant.storage().clone())
                    .active(tenant.is_active())
                    .domains(tenant.domains().to_vec())
                    .build()
            })?;
            self.notify(&[id]).await;
            Ok(())
        })
    }

    fn add_domain<'a>(
        &'a self,
        _id: &'a TenantId,
        _domain: &'a DomainName,
        _primary: bool,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        ready(Err(TenancyError::Configuration {
            message: "this registry takes domains at creation only".into(),
        }))
    }

    fn remove_domain<'a>(
        &'a self,
        _domain: &'a DomainName,
    ) -> BoxFuture<'a, Result<bool, TenancyError>> {
        ready(Ok(false))
    }

    fn create_with_storage(
        &self,
        new: NewTenant,
        storage: Storage,
    ) -> BoxFuture<'_, Result<RegistryTenant, TenancyError>> {
        let mut tenants = self.tenants();
        if tenants.contains_key(new.id()) {
            return ready(Err(TenancyError::TenantExists {
                id: new.id().clone(),
            }));
        }
        let tenant = RegistryTenant::builder(new.id().clone(), new.name(), storage)
            .active(new.is_active())
            .domains(new.domains().to_vec())
            .build();
        tenants.insert(new.id().clone(), tenant.clone());
        ready(Ok(tenant))
    }

    fn rename_with_storage<'a>(
        &'a self,
        from: &'a TenantId,
        to: &'a TenantId,
        storage: Option<&'a Storage>,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(async move {
            {
                let mut tenants = self.tenants();
                if tenants.contains_key(to) {
                    return Err(TenancyError::TenantExists { id: to.clone() });
                }
                let current = tenants.remove(from).ok_or_else(|| not_found(from))?;
                let storage = storage
                    .cloned()
                    .unwrap_or_else(|| current.storage().clone());
                let renamed = Self::rebuilt(&current, to.clone(), storage, current.is_active());
                tenants.insert(to.clone(), renamed);
            }
            self.notify(&[from, to]).await;
            Ok(())
        })
    }

    fn activate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(self.set_active(id, true))
    }

    fn deactivate<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<(), TenancyError>> {
        Box::pin(self.set_active(id, false))
    }

    fn delete<'a>(&'a self, id: &'a TenantId) -> BoxFuture<'a, Result<bool, TenancyError>> {
        Box::pin(async move {
            let existed = self.tenants().remove(id).is_some();
            self.notify(&[id]).await;
            Ok(existed)
        })
    }

    fn subscribe(&self, cache: Arc<dyn Invalidate>) {
        self.caches.lock().unwrap().push(cache);
    }
}

fn id(value: &str) -> TenantId {
    TenantId::new(value).unwrap()
}

/// Create, a duplicate refused, rename, deactivate / activate, migrate-all,
/// delete (twice): the registry and the storage stay in step. `touch` writes
/// and reads a row of the tenant through the mode's own access.
async fn lifecycle<S: StorageMode>(
    manager: &TenantManager<S, MemoryRegistry>,
    touch: impl Fn(RegistryTenant) -> BoxFuture<'static, i64>,
) {
    let registry = manager.registry();
    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme").domain(DomainName::new("acme.test").unwrap()))
        .await
        .unwrap();
    assert!(acme.is_active());
    assert_eq!(touch(acme.clone()).await, 1);
    let again = manager
        .create(NewTenant::new(id("acme"), "Acme again"))
        .await;
    assert!(
        matches!(again, Err(TenancyError::TenantExists { .. })),
        "{again:?}"
    );

    let renamed = manager.rename(&id("acme"), &id("acme2")).await.unwrap();
    assert_eq!(renamed.id(), &id("acme2"));
    assert!(registry.find_by_id(&id("acme")).await.unwrap().is_none());
    assert_eq!(
        touch(renamed.clone()).await,
        2,
        "the data followed the rename"
    );
    let by_domain = registry
        .find_by_domain(&DomainName::new("acme.test").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_domain.id(), &id("acme2"));

    manager.deactivate(&id("acme2")).await.unwrap();
    assert!(
        !registry
            .find_by_id(&id("acme2"))
            .await
            .unwrap()
            .unwrap()
            .is_active()
    );
    manager.activate(&id("acme2")).await.unwrap();
    assert!(
        registry
            .find_by_id(&id("acme2"))
            .await
            .unwrap()
            .unwrap()
            .is_active()
    );

    let report = manager.migrate_all(MigrateOptions::new()).await.unwrap();
    assert!(report.is_success(), "{report}");
    assert!(report.get(&id("acme2")).is_some(), "{report}");

    assert!(manager.delete(&id("acme2")).await.unwrap());
    assert!(registry.list().await.unwrap().is_empty());
    assert!(!manager.delete(&id("acme2")).await.unwrap());
}

/// A creation whose migrations fail leaves no registry row.
async fn failed_creation_leaves_nothing<S: StorageMode>(
    manager: &TenantManager<S, MemoryRegistry>,
) {
    let broken = manager.with_migrations(
        TenantMigrations::from_sql([(1, "broken", "CREATE TABLE broken (")]).unwrap(),
    );
    let failed = broken.create(NewTenant::new(id("broken"), "Broken")).await;
    assert!(failed.is_err(), "{failed:?}");
    assert!(manager.registry().list().await.unwrap().is_empty());
}

#[tokio::test]
async fn schema_mode_with_a_registry_of_its_own() {
    let db = support::PgDb::new().await;
    let migrations = TenantMigrations::from_sql([(
        1,
        "items",
        "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)",
    )])
    .unwrap();
    let schemas = SchemaPool::new(db.pool(3).await);
    let manager = SchemaManager::new(MemoryRegistry::default(), schemas, migrations);
    let schemas = manager.schemas().clone();
    lifecycle(&manager, move |tenant| {
        let schemas = schemas.clone();
        Box::pin(async move {
            let mut tx = schemas.begin(&tenant).await.unwrap();
            sqlx::query("INSERT INTO items (name) VALUES ('x')")
                .execute(&mut tx)
                .await
                .unwrap();
            let count: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
                .fetch_one(&mut tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            count
        })
    })
    .await;
    failed_creation_leaves_nothing(&manager).await;
    let left: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tenant\\_%'")
            .fetch_one(&db.pool(1).await)
            .await
            .unwrap();
    assert_eq!(
        left, 0,
        "every tenant schema was dropped or never left behind"
    );
}

#[tokio::test]
async fn shared_tables_with_a_registry_of_their_own() {
    let dir = support::TempDir::new();
    let migrations = TenantMigrations::from_sql([(
        1,
        "items",
        "CREATE TABLE items (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL)",
    )])
    .unwrap();
    let shared = SqliteSharedPool::new(dir.sqlite_pool("shared.db", 3).await)
        .tables([Ident::new("items").unwrap()]);
    let manager = SqliteSharedManager::new(MemoryRegistry::default(), shared, migrations);
    manager.setup().await.unwrap();
    let shared = manager.shared().clone();
    lifecycle(&manager, move |tenant| {
        let shared = shared.clone();
        Box::pin(async move {
            let mut tx = shared.begin(&tenant).await.unwrap();
            tx.insert("items")
                .value("name", "x")
                .execute()
                .await
                .unwrap();
            let count: i64 = tx
                .query_scalar("SELECT count(*) FROM items WHERE tenant_id = {tenant}")
                .fetch_one()
                .await
                .unwrap();
            tx.commit().await.unwrap();
            count
        })
    })
    .await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(shared_pool(&manager))
        .await
        .unwrap();
    assert_eq!(rows, 0, "the deleted tenant's rows went with it");
}

fn shared_pool<R: TenantRegistry>(
    manager: &tenancy_sqlx::shared::keyed::SharedManager<sqlx::Sqlite, R>,
) -> &sqlx::SqlitePool {
    manager.shared().pool()
}

#[tokio::test]
async fn a_database_per_tenant_with_a_registry_of_its_own() {
    let dir = support::TempDir::new();
    let migrations = TenantMigrations::from_sql([(
        1,
        "items",
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
    )])
    .unwrap();
    let tenants = dir.path().join("tenants");
    let pools = TenantPools::new(SqliteDatabases::new(&tenants).unwrap(), PoolConfig::new());
    let manager = DatabaseManager::new(MemoryRegistry::default(), pools, migrations);
    let pools = manager.pools().clone();
    lifecycle(&manager, move |tenant| {
        let pools = pools.clone();
        Box::pin(async move {
            let mut conn = tenancy_core::TenantAccess::open(&pools, &tenant)
                .await
                .unwrap();
            sqlx::query("INSERT INTO items (name) VALUES ('x')")
                .execute(&mut *conn)
                .await
                .unwrap();
            sqlx::query_scalar("SELECT count(*) FROM items")
                .fetch_one(&mut *conn)
                .await
                .unwrap()
        })
    })
    .await;
    failed_creation_leaves_nothing(&manager).await;
    let files: Vec<_> = std::fs::read_dir(&tenants)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "db"))
        .collect();
    assert!(files.is_empty(), "no tenant database is left: {files:?}");
}
