//! Schema mode and RLS mode under load through a real PgBouncer in
//! transaction pooling mode (`default_pool_size = 2`, started by
//! `scripts/test.sh`): 50 concurrent clients, 20 tenants whose tables differ
//! in shape (three migration versions), 10,000 transactions. No foreign row,
//! no error, and afterwards both server connections carry no session state.

#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Row;
use support::{PgDb, id};
use tenancy_core::TenantId;
use tenancy_sqlx::postgres::PgConnections;
use tenancy_sqlx::shared::rls::RlsManager;
use tenancy_sqlx::{
    Ident, NewTenant, PgRegistry, RegistryConfig, RlsPool, SchemaManager, SchemaPool,
    TenantMigrations,
};

const CLIENTS: usize = 50;
const TENANTS: usize = 20;
const TRANSACTIONS: usize = 10_000;

/// Migration `n` of the tenant tables: version 2 adds a column, version 3
/// changes a column's type, so the same `SELECT *` has three result shapes.
fn migrations(versions: usize) -> TenantMigrations {
    let all = [
        (
            1,
            "items",
            "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
             tenant text NOT NULL, name text NOT NULL)",
        ),
        (2, "quantity", "ALTER TABLE items ADD COLUMN quantity int"),
        (
            3,
            "wide ids",
            "ALTER TABLE items ALTER COLUMN name TYPE varchar(200)",
        ),
    ];
    TenantMigrations::from_sql(all.into_iter().take(versions)).unwrap()
}

/// Errors seen, by SQLSTATE (or by kind when there is none).
#[derive(Default)]
struct Errors(std::sync::Mutex<BTreeMap<String, u64>>);

impl Errors {
    fn record(&self, error: &dyn std::fmt::Display, code: Option<String>) {
        let key = code.unwrap_or_else(|| format!("other: {error}"));
        *self.0.lock().unwrap().entry(key).or_default() += 1;
    }

    fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap().clone()
    }
}

fn sqlstate(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(db) => db.code().map(|code| code.into_owned()),
        _ => None,
    }
}

/// Every server connection PgBouncer holds for the test database, probed in
/// two concurrent transactions (one per server connection): `search_path`,
/// role and tenant setting are at their defaults.
async fn probe_server_connections(connections: &PgConnections) {
    let pool = connections.pool();
    let mut first = pool.begin().await.unwrap();
    let mut second = pool.begin().await.unwrap();
    let mut pids = BTreeSet::new();
    for tx in [&mut first, &mut second] {
        let row = sqlx::query(
            "SELECT pg_backend_pid(), current_setting('search_path'), current_user::text, \
             session_user::text, coalesce(current_setting('tenancy.tenant', true), '')",
        )
        .persistent(false)
        .fetch_one(&mut **tx)
        .await
        .unwrap();
        let pid: i32 = row.get(0);
        pids.insert(pid);
        assert_eq!(
            row.get::<String, _>(1),
            "\"$user\", public",
            "search_path leaked"
        );
        assert_eq!(
            row.get::<String, _>(2),
            row.get::<String, _>(3),
            "a tenant role leaked"
        );
        assert_eq!(row.get::<String, _>(4), "", "the tenant key leaked");
    }
    assert_eq!(
        pids.len(),
        2,
        "two transactions held two server connections"
    );
    first.rollback().await.unwrap();
    second.rollback().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schema_mode_fifty_clients_twenty_shapes_ten_thousand_transactions() {
    let db = PgDb::new().await;
    let connections = db.pooled(CLIENTS as u32).await;
    let registry = PgRegistry::connect(connections.clone(), RegistryConfig::default())
        .await
        .unwrap();
    // Tenants on three migration versions: created by managers that know
    // one, two or all three migrations.
    let tenants: Vec<TenantId> = (0..TENANTS).map(|n| id(&format!("s{n:02}"))).collect();
    for (n, tenant) in tenants.iter().enumerate() {
        let manager = SchemaManager::new(
            registry.clone(),
            SchemaPool::for_registry(&registry),
            migrations(n % 3 + 1),
        );
        manager
            .create(NewTenant::new(tenant.clone(), "stress"))
            .await
            .unwrap();
    }
    let schemas = SchemaPool::new(connections.clone());

    let foreign = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(Errors::default());
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (schemas, tenants) = (schemas.clone(), tenants.clone());
        let (foreign, done, errors) = (foreign.clone(), done.clone(), errors.clone());
        clients.push(tokio::spawn(async move {
            for round in 0..TRANSACTIONS / CLIENTS {
                let tenant = &tenants[(client + round) % TENANTS];
                let outcome: Result<u64, sqlx::Error> = async {
                    let mut tx = schemas
                        .begin(tenant)
                        .await
                        .map_err(|e| sqlx::Error::Protocol(format!("begin: {e}")))?;
                    sqlx::query("INSERT INTO items (tenant, name) VALUES ($1, $2)")
                        .bind(tenant.as_str())
                        .bind(format!("c{client} r{round}"))
                        .execute(&mut tx)
                        .await?;
                    // `SELECT *`: three result shapes across tenants.
                    let rows = sqlx::query("SELECT * FROM items ORDER BY id DESC LIMIT 20")
                        .fetch_all(&mut tx)
                        .await?;
                    tx.commit().await?;
                    let mut wrong = 0;
                    for row in &rows {
                        let owner: String = row.try_get("tenant")?;
                        if owner != tenant.as_str() {
                            wrong += 1;
                        }
                    }
                    Ok(wrong)
                }
                .await;
                match outcome {
                    Ok(wrong) => {
                        foreign.fetch_add(wrong, Ordering::Relaxed);
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(error) => errors.record(&error, sqlstate(&error)),
                }
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    let errors = errors.snapshot();
    assert!(errors.is_empty(), "errors by SQLSTATE: {errors:?}");
    assert_eq!(done.load(Ordering::Relaxed), TRANSACTIONS as u64);
    assert_eq!(foreign.load(Ordering::Relaxed), 0, "foreign rows were read");
    // Every insert landed in its own tenant's schema.
    let mut total = 0_i64;
    for tenant in &tenants {
        let mut tx = schemas.begin(tenant).await.unwrap();
        let (rows, others): (i64, i64) =
            sqlx::query_as("SELECT count(*), count(*) FILTER (WHERE tenant <> $1) FROM items")
                .bind(tenant.as_str())
                .fetch_one(&mut tx)
                .await
                .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(others, 0, "{tenant} holds foreign rows");
        total += rows;
    }
    assert_eq!(total, TRANSACTIONS as i64);
    probe_server_connections(&connections).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rls_mode_fifty_clients_through_pgbouncer_see_only_their_rows() {
    let db = PgDb::new().await;
    let role = db.role("stress_tenant");
    let connections = db.pooled(CLIENTS as u32).await;
    let registry = PgRegistry::connect(connections.clone(), RegistryConfig::default())
        .await
        .unwrap();
    let shared = RlsPool::new(connections.clone())
        .role(Ident::new(&role).unwrap())
        .tables([Ident::new("items").unwrap()]);
    let migrations = TenantMigrations::from_sql([(
        1,
        "items",
        "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
         owner text NOT NULL, name text NOT NULL)",
    )])
    .unwrap();
    let manager = RlsManager::new(registry, shared.clone(), migrations);
    manager.setup().await.unwrap();
    let mut tenants = Vec::new();
    for n in 0..TENANTS {
        tenants.push(
            manager
                .create(NewTenant::new(id(&format!("r{n:02}")), "stress"))
                .await
                .unwrap(),
        );
    }

    let foreign = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(Errors::default());
    let mut clients = Vec::new();
    let per_client = 2_000 / CLIENTS;
    for client in 0..CLIENTS {
        let (shared, tenants) = (shared.clone(), tenants.clone());
        let (foreign, errors) = (foreign.clone(), errors.clone());
        clients.push(tokio::spawn(async move {
            for round in 0..per_client {
                let tenant = &tenants[(client + round) % TENANTS];
                let outcome: Result<u64, sqlx::Error> = async {
                    let mut tx = shared
                        .begin(tenant)
                        .await
                        .map_err(|e| sqlx::Error::Protocol(format!("begin: {e}")))?;
                    sqlx::query("INSERT INTO items (owner, name) VALUES ($1, 'x')")
                        .bind(tenant.id().as_str())
                        .execute(&mut tx)
                        .await?;
                    let owners: Vec<String> = sqlx::query_scalar("SELECT owner FROM items")
                        .fetch_all(&mut tx)
                        .await?;
                    tx.commit().await?;
                    Ok(owners
                        .iter()
                        .filter(|owner| *owner != tenant.id().as_str())
                        .count() as u64)
                }
                .await;
                match outcome {
                    Ok(wrong) => {
                        foreign.fetch_add(wrong, Ordering::Relaxed);
                    }
                    Err(error) => errors.record(&error, sqlstate(&error)),
                }
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    let errors = errors.snapshot();
    assert!(errors.is_empty(), "errors by SQLSTATE: {errors:?}");
    assert_eq!(foreign.load(Ordering::Relaxed), 0, "foreign rows were read");
    probe_server_connections(&connections).await;
}
