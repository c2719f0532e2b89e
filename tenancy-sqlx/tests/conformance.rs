//! The conformance kit's lifecycle and isolation suites
//! (`tenancy_sqlx::testing`), run over every mode × backend of this crate,
//! and over the in-memory reference registry: one harness per pair, one
//! macro call per suite. (The registry suite runs in `registry_conformance.rs`.)
//!
//! Every harness makes its own databases (or directory) per case, with a
//! one-table schema `items (name)`: rows carry the tenant through the mode
//! (its schema, its database, its key).

#![cfg(all(
    feature = "postgres",
    feature = "mysql",
    feature = "sqlite",
    feature = "testing"
))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use sqlx::{MySql, Sqlite};
use support::pg::PgDb;
use support::servers::{Server, ServerDatabases};
use support::{MySqlDb, TempDir, Via};
use tenancy_core::TenantAccess;
use tenancy_sqlx::database::{
    DatabaseBackend, MySqlDatabases, PgDatabases, PoolConfig, SqliteDatabases,
};
use tenancy_sqlx::registry::{MySqlRegistry, SqliteRegistry};
use tenancy_sqlx::shared::keyed::{SharedBackend, SharedPool, SharedTransaction};
use tenancy_sqlx::testing::{Guard, IsolationHarness, LifecycleHarness, MemoryRegistry};
use tenancy_sqlx::{
    AnyRegistry, Ident, NewTenant, PgRegistry, RegistryConfig, RegistryTenant, RlsPool, SchemaPool,
    TenantManager, TenantMigrations, TenantPools, TenantRegistry,
};

fn ident(name: &str) -> Ident {
    Ident::new(name).unwrap()
}

fn migrations(sql: &'static str) -> TenantMigrations {
    TenantMigrations::from_sql([(1, "items", sql)]).unwrap()
}

const PG_ITEMS: &str =
    "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)";
const MYSQL_ITEMS: &str =
    "CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100) NOT NULL)";
const SQLITE_ITEMS: &str =
    "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL)";
const MYSQL_KEYED_ITEMS: &str = "CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, \
     tenant_id VARCHAR(64) NOT NULL, name VARCHAR(100) NOT NULL)";
const SQLITE_KEYED_ITEMS: &str = "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, \
     tenant_id TEXT NOT NULL, name TEXT NOT NULL)";

/// Two tenants made by `manager`, with no rows.
async fn two_tenants<S, R>(manager: &TenantManager<S, R>) -> [RegistryTenant; 2]
where
    S: tenancy_sqlx::lifecycle::StorageMode,
    R: TenantRegistry,
{
    let mut made = Vec::new();
    for name in ["a", "b"] {
        let id = tenancy_core::TenantId::new(name).unwrap();
        made.push(manager.create(NewTenant::new(id, name)).await.unwrap());
    }
    made.try_into().unwrap()
}

// ---- schema per tenant (Postgres) ----

/// Schema mode with a `PgRegistry` in the same database, reached `VIA`.
struct Schema<const PGBOUNCER: bool>;

async fn schema_manager(via: Via) -> (TenantManager<SchemaPool, PgRegistry>, Guard) {
    let db = PgDb::new().await;
    let registry = PgRegistry::connect(db.connections(via, 4).await, RegistryConfig::default())
        .await
        .unwrap();
    let schemas = SchemaPool::for_registry(&registry);
    let manager = TenantManager::new(registry, schemas, migrations(PG_ITEMS));
    (manager, Box::new(db))
}

async fn schema_touch<R: TenantRegistry>(
    manager: &TenantManager<SchemaPool, R>,
    tenant: &RegistryTenant,
) -> i64 {
    let mut tx = manager.storage().begin(tenant).await.unwrap();
    <Schema<false> as IsolationHarness>::write(&mut tx, "x").await;
    let count = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    count
}

impl<const PGBOUNCER: bool> LifecycleHarness for Schema<PGBOUNCER> {
    type Storage = SchemaPool;
    type Registry = PgRegistry;

    async fn manager() -> (TenantManager<SchemaPool, PgRegistry>, Guard) {
        schema_manager(if PGBOUNCER {
            Via::PgBouncer
        } else {
            Via::Direct
        })
        .await
    }

    async fn touch(
        manager: &TenantManager<SchemaPool, PgRegistry>,
        tenant: &RegistryTenant,
    ) -> i64 {
        schema_touch(manager, tenant).await
    }
}

impl<const PGBOUNCER: bool> IsolationHarness for Schema<PGBOUNCER> {
    type Access = SchemaPool;

    async fn setup() -> (SchemaPool, [RegistryTenant; 2], Guard) {
        let (manager, guard) = <Self as LifecycleHarness>::manager().await;
        let tenants = two_tenants(&manager).await;
        (
            manager.storage().clone(),
            tenants,
            Box::new((guard, manager)),
        )
    }

    async fn write(handle: &mut tenancy_sqlx::schema::TenantTransaction<'static>, marker: &str) {
        sqlx::query("INSERT INTO items (name) VALUES ($1)")
            .bind(marker)
            .execute(&mut *handle)
            .await
            .unwrap();
    }

    async fn read(handle: &mut tenancy_sqlx::schema::TenantTransaction<'static>) -> Vec<String> {
        sqlx::query_scalar("SELECT name FROM items")
            .fetch_all(&mut *handle)
            .await
            .unwrap()
    }

    async fn finish(handle: tenancy_sqlx::schema::TenantTransaction<'static>) {
        handle.commit().await.unwrap();
    }
}

/// Schema mode over the in-memory registry: a registry of one's own.
struct SchemaMemory;

impl LifecycleHarness for SchemaMemory {
    type Storage = SchemaPool;
    type Registry = MemoryRegistry;

    async fn manager() -> (TenantManager<SchemaPool, MemoryRegistry>, Guard) {
        let db = PgDb::new().await;
        let schemas = SchemaPool::new(db.pool(4).await);
        let manager = TenantManager::new(MemoryRegistry::default(), schemas, migrations(PG_ITEMS));
        (manager, Box::new(db))
    }

    async fn touch(
        manager: &TenantManager<SchemaPool, MemoryRegistry>,
        tenant: &RegistryTenant,
    ) -> i64 {
        schema_touch(manager, tenant).await
    }
}

mod schema_direct {
    tenancy_sqlx::lifecycle_suite!(#[tokio::test] super::Schema<false>);
    tenancy_sqlx::isolation_suite!(#[tokio::test] super::Schema<false>);
}

mod schema_pgbouncer {
    tenancy_sqlx::lifecycle_suite!(#[tokio::test] super::Schema<true>);
    tenancy_sqlx::isolation_suite!(#[tokio::test] super::Schema<true>);
}

mod schema_memory_registry {
    tenancy_sqlx::lifecycle_suite!(
        #[tokio::test]
        super::SchemaMemory
    );
}

// ---- shared tables under row-level security (Postgres) ----

struct Rls;

impl LifecycleHarness for Rls {
    type Storage = RlsPool;
    type Registry = PgRegistry;

    async fn manager() -> (TenantManager<RlsPool, PgRegistry>, Guard) {
        let db = PgDb::new().await;
        let connections = db.connections(Via::Direct, 4).await;
        let registry = PgRegistry::connect(connections.clone(), RegistryConfig::default())
            .await
            .unwrap();
        let shared = RlsPool::new(connections)
            .role(ident(&db.role("tenancy_t")))
            .tables([ident("items")]);
        let manager = TenantManager::new(registry, shared, migrations(PG_ITEMS));
        manager.setup().await.unwrap();
        (manager, Box::new(db))
    }

    async fn touch(manager: &TenantManager<RlsPool, PgRegistry>, tenant: &RegistryTenant) -> i64 {
        let mut tx = manager.storage().begin(tenant).await.unwrap();
        Self::write(&mut tx, "x").await;
        let count = sqlx::query_scalar("SELECT count(*) FROM items")
            .fetch_one(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        count
    }
}

impl IsolationHarness for Rls {
    type Access = RlsPool;

    async fn setup() -> (RlsPool, [RegistryTenant; 2], Guard) {
        let (manager, guard) = <Self as LifecycleHarness>::manager().await;
        let tenants = two_tenants(&manager).await;
        (
            manager.storage().clone(),
            tenants,
            Box::new((guard, manager)),
        )
    }

    async fn write(handle: &mut tenancy_sqlx::shared::rls::RlsTransaction<'static>, marker: &str) {
        sqlx::query("INSERT INTO items (name) VALUES ($1)")
            .bind(marker)
            .execute(&mut *handle)
            .await
            .unwrap();
    }

    async fn read(handle: &mut tenancy_sqlx::shared::rls::RlsTransaction<'static>) -> Vec<String> {
        sqlx::query_scalar("SELECT name FROM items")
            .fetch_all(&mut *handle)
            .await
            .unwrap()
    }

    async fn finish(handle: tenancy_sqlx::shared::rls::RlsTransaction<'static>) {
        handle.commit().await.unwrap();
    }
}

mod rls {
    tenancy_sqlx::lifecycle_suite!(
        #[tokio::test]
        super::Rls
    );
    tenancy_sqlx::isolation_suite!(
        #[tokio::test]
        super::Rls
    );
}

// ---- shared tables with a tenant column (MySQL, SQLite) ----

/// Keyed shared tables on `DB`, with the backend's own registry beside them.
struct Keyed<DB>(std::marker::PhantomData<DB>);

trait KeyedBackend: SharedBackend {
    type Registry: TenantRegistry + Clone + 'static;
    fn manager() -> impl Future<Output = (TenantManager<SharedPool<Self>, Self::Registry>, Guard)>;
}

impl KeyedBackend for MySql {
    type Registry = MySqlRegistry;

    async fn manager() -> (TenantManager<SharedPool<MySql>, MySqlRegistry>, Guard) {
        let db = MySqlDb::new().await;
        let pool = db.pool(4).await;
        let registry = MySqlRegistry::connect(pool.clone(), RegistryConfig::default())
            .await
            .unwrap();
        let shared = SharedPool::new(pool).tables([ident("items")]);
        let manager = TenantManager::new(registry, shared, migrations(MYSQL_KEYED_ITEMS));
        manager.setup().await.unwrap();
        (manager, Box::new(db))
    }
}

impl KeyedBackend for Sqlite {
    type Registry = SqliteRegistry;

    async fn manager() -> (TenantManager<SharedPool<Sqlite>, SqliteRegistry>, Guard) {
        let dir = TempDir::new();
        let pool = dir.sqlite_pool("shared.db", 4).await;
        let registry = SqliteRegistry::connect(pool.clone(), RegistryConfig::default())
            .await
            .unwrap();
        let shared = SharedPool::new(pool).tables([ident("items")]).immediate();
        let manager = TenantManager::new(registry, shared, migrations(SQLITE_KEYED_ITEMS));
        manager.setup().await.unwrap();
        (manager, Box::new(dir))
    }
}

/// The harnesses of keyed shared tables on one backend (sqlx's traits do not
/// let one generic impl bind a `String` on every backend).
macro_rules! keyed_harness {
    ($db:ty) => {
        impl LifecycleHarness for Keyed<$db> {
            type Storage = SharedPool<$db>;
            type Registry = <$db as KeyedBackend>::Registry;

            async fn manager() -> (TenantManager<SharedPool<$db>, Self::Registry>, Guard) {
                <$db as KeyedBackend>::manager().await
            }

            async fn touch(
                manager: &TenantManager<SharedPool<$db>, Self::Registry>,
                tenant: &RegistryTenant,
            ) -> i64 {
                let mut tx = manager.storage().begin(tenant).await.unwrap();
                Self::write(&mut tx, "x").await;
                let count = Self::read(&mut tx).await.len();
                tx.commit().await.unwrap();
                i64::try_from(count).unwrap()
            }
        }

        impl IsolationHarness for Keyed<$db> {
            type Access = SharedPool<$db>;

            async fn setup() -> (SharedPool<$db>, [RegistryTenant; 2], Guard) {
                let (manager, guard) = <$db as KeyedBackend>::manager().await;
                let tenants = two_tenants(&manager).await;
                (
                    manager.storage().clone(),
                    tenants,
                    Box::new((guard, manager)),
                )
            }

            async fn write(handle: &mut SharedTransaction<$db>, marker: &str) {
                handle
                    .insert("items")
                    .value("name", marker.to_owned())
                    .execute()
                    .await
                    .unwrap();
            }

            async fn read(handle: &mut SharedTransaction<$db>) -> Vec<String> {
                handle
                    .query_scalar("SELECT name FROM items WHERE tenant_id = {tenant}")
                    .fetch_all()
                    .await
                    .unwrap()
            }

            async fn finish(handle: SharedTransaction<$db>) {
                handle.commit().await.unwrap();
            }
        }
    };
}

keyed_harness!(MySql);
keyed_harness!(Sqlite);

mod keyed_mysql {
    tenancy_sqlx::lifecycle_suite!(#[tokio::test] super::Keyed<sqlx::MySql>);
    tenancy_sqlx::isolation_suite!(#[tokio::test] super::Keyed<sqlx::MySql>);
}

mod keyed_sqlite {
    tenancy_sqlx::lifecycle_suite!(#[tokio::test] super::Keyed<sqlx::Sqlite>);
    tenancy_sqlx::isolation_suite!(#[tokio::test] super::Keyed<sqlx::Sqlite>);
}

// ---- a database per tenant (Postgres, MySQL, SQLite) ----

/// A database per tenant on `B`'s test server, with a registry beside it.
struct Databases<B>(std::marker::PhantomData<B>);

trait DatabaseTarget: DatabaseBackend + Sized {
    /// `INSERT INTO items (name) VALUES (<placeholder>)`.
    const INSERT: &'static str;
    fn manager() -> impl Future<Output = (TenantManager<TenantPools<Self>, AnyRegistry>, Guard)>;
}

impl DatabaseTarget for PgDatabases {
    const INSERT: &'static str = "INSERT INTO items (name) VALUES ($1)";

    async fn manager() -> (TenantManager<TenantPools<Self>, AnyRegistry>, Guard) {
        let registry_db = PgDb::new().await;
        let registry = PgRegistry::connect(registry_db.pool(2).await, RegistryConfig::default())
            .await
            .unwrap();
        let url = support::pg_url();
        let guard = ServerDatabases::new(Server::Postgres(url.clone()));
        let backend = PgDatabases::new(ident("main"), support::pg_server(&url).await)
            .naming(tenancy_sqlx::database::DatabaseNaming::with_prefix(&guard.prefix).unwrap());
        let pools = TenantPools::new(backend, PoolConfig::new().max_connections(8));
        let manager = TenantManager::new(registry.into(), pools, migrations(PG_ITEMS));
        (manager, Box::new((guard, registry_db)))
    }
}

impl DatabaseTarget for MySqlDatabases {
    const INSERT: &'static str = "INSERT INTO items (name) VALUES (?)";

    async fn manager() -> (TenantManager<TenantPools<Self>, AnyRegistry>, Guard) {
        let registry_db = MySqlDb::new().await;
        let registry = MySqlRegistry::connect(registry_db.pool(2).await, RegistryConfig::default())
            .await
            .unwrap();
        let guard = ServerDatabases::new(Server::MySql);
        let backend = MySqlDatabases::new(ident("main"), support::mysql_server())
            .naming(tenancy_sqlx::database::DatabaseNaming::with_prefix(&guard.prefix).unwrap());
        let pools = TenantPools::new(backend, PoolConfig::new().max_connections(8));
        let manager = TenantManager::new(registry.into(), pools, migrations(MYSQL_ITEMS));
        (manager, Box::new((guard, registry_db)))
    }
}

impl DatabaseTarget for SqliteDatabases {
    const INSERT: &'static str = "INSERT INTO items (name) VALUES (?)";

    async fn manager() -> (TenantManager<TenantPools<Self>, AnyRegistry>, Guard) {
        let dir = TempDir::new();
        let registry = SqliteRegistry::connect(
            dir.sqlite_pool("registry.db", 2).await,
            RegistryConfig::default(),
        )
        .await
        .unwrap();
        let backend = SqliteDatabases::new(dir.path().join("tenants")).unwrap();
        let pools = TenantPools::new(backend, PoolConfig::new().max_connections(8));
        let manager = TenantManager::new(registry.into(), pools, migrations(SQLITE_ITEMS));
        (manager, Box::new(dir))
    }
}

type Connection<B> = tenancy_sqlx::database::TenantConnection<B>;

/// The harnesses of a database per tenant on one backend.
macro_rules! database_harness {
    ($backend:ty) => {
        impl LifecycleHarness for Databases<$backend> {
            type Storage = TenantPools<$backend>;
            type Registry = AnyRegistry;

            async fn manager() -> (TenantManager<TenantPools<$backend>, AnyRegistry>, Guard) {
                <$backend as DatabaseTarget>::manager().await
            }

            async fn touch(
                manager: &TenantManager<TenantPools<$backend>, AnyRegistry>,
                tenant: &RegistryTenant,
            ) -> i64 {
                let mut conn = manager.storage().open(tenant).await.unwrap();
                Self::write(&mut conn, "x").await;
                i64::try_from(Self::read(&mut conn).await.len()).unwrap()
            }
        }

        impl IsolationHarness for Databases<$backend> {
            type Access = TenantPools<$backend>;

            async fn setup() -> (TenantPools<$backend>, [RegistryTenant; 2], Guard) {
                let (manager, guard) = <$backend as DatabaseTarget>::manager().await;
                let tenants = two_tenants(&manager).await;
                (
                    manager.storage().clone(),
                    tenants,
                    Box::new((guard, manager)),
                )
            }

            async fn write(handle: &mut Connection<$backend>, marker: &str) {
                sqlx::query(sqlx::AssertSqlSafe(<$backend as DatabaseTarget>::INSERT))
                    .bind(marker)
                    .execute(&mut **handle)
                    .await
                    .unwrap();
            }

            async fn read(handle: &mut Connection<$backend>) -> Vec<String> {
                sqlx::query_scalar("SELECT name FROM items")
                    .fetch_all(&mut **handle)
                    .await
                    .unwrap()
            }

            async fn finish(_handle: Connection<$backend>) {}
        }
    };
}

database_harness!(PgDatabases);
database_harness!(MySqlDatabases);
database_harness!(SqliteDatabases);

mod database_postgres {
    tenancy_sqlx::lifecycle_suite!(#[tokio::test] super::Databases<tenancy_sqlx::database::PgDatabases>);
    tenancy_sqlx::isolation_suite!(#[tokio::test] super::Databases<tenancy_sqlx::database::PgDatabases>);
}

mod database_mysql {
    tenancy_sqlx::lifecycle_suite!(#[tokio::test] super::Databases<tenancy_sqlx::database::MySqlDatabases>);
    tenancy_sqlx::isolation_suite!(#[tokio::test] super::Databases<tenancy_sqlx::database::MySqlDatabases>);
}

mod database_sqlite {
    tenancy_sqlx::lifecycle_suite!(#[tokio::test] super::Databases<tenancy_sqlx::database::SqliteDatabases>);
    tenancy_sqlx::isolation_suite!(#[tokio::test] super::Databases<tenancy_sqlx::database::SqliteDatabases>);
}

/// Keyed shared tables (SQLite) over the in-memory registry.
struct KeyedMemory;

impl LifecycleHarness for KeyedMemory {
    type Storage = SharedPool<Sqlite>;
    type Registry = MemoryRegistry;

    async fn manager() -> (TenantManager<SharedPool<Sqlite>, MemoryRegistry>, Guard) {
        let dir = TempDir::new();
        let shared = SharedPool::new(dir.sqlite_pool("shared.db", 4).await)
            .tables([ident("items")])
            .immediate();
        let manager = TenantManager::new(
            MemoryRegistry::default(),
            shared,
            migrations(SQLITE_KEYED_ITEMS),
        );
        manager.setup().await.unwrap();
        (manager, Box::new(dir))
    }

    async fn touch(
        manager: &TenantManager<SharedPool<Sqlite>, MemoryRegistry>,
        tenant: &RegistryTenant,
    ) -> i64 {
        let mut tx = manager.storage().begin(tenant).await.unwrap();
        <Keyed<Sqlite> as IsolationHarness>::write(&mut tx, "x").await;
        let count = <Keyed<Sqlite> as IsolationHarness>::read(&mut tx)
            .await
            .len();
        tx.commit().await.unwrap();
        i64::try_from(count).unwrap()
    }
}

/// A database per tenant (SQLite files) over the in-memory registry.
struct DatabasesMemory;

impl LifecycleHarness for DatabasesMemory {
    type Storage = TenantPools<SqliteDatabases>;
    type Registry = MemoryRegistry;

    async fn manager() -> (
        TenantManager<TenantPools<SqliteDatabases>, MemoryRegistry>,
        Guard,
    ) {
        let dir = TempDir::new();
        let backend = SqliteDatabases::new(dir.path().join("tenants")).unwrap();
        let pools = TenantPools::new(backend, PoolConfig::new().max_connections(8));
        let manager =
            TenantManager::new(MemoryRegistry::default(), pools, migrations(SQLITE_ITEMS));
        (manager, Box::new(dir))
    }

    async fn touch(
        manager: &TenantManager<TenantPools<SqliteDatabases>, MemoryRegistry>,
        tenant: &RegistryTenant,
    ) -> i64 {
        let mut conn = manager.storage().open(tenant).await.unwrap();
        <Databases<SqliteDatabases> as IsolationHarness>::write(&mut conn, "x").await;
        let rows = <Databases<SqliteDatabases> as IsolationHarness>::read(&mut conn).await;
        i64::try_from(rows.len()).unwrap()
    }
}

mod keyed_memory_registry {
    tenancy_sqlx::lifecycle_suite!(
        #[tokio::test]
        super::KeyedMemory
    );
}

mod database_memory_registry {
    tenancy_sqlx::lifecycle_suite!(
        #[tokio::test]
        super::DatabasesMemory
    );
}
