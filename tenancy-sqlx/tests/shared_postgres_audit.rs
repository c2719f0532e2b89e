//! The start-up audit of shared-schema mode on Postgres refuses every setup
//! in which tenant queries would bypass row-level security, and passes again
//! once the setup is repaired.
//!
//! Every scenario runs twice: straight to Postgres (`direct::…`) and through
//! PgBouncer in transaction pooling mode (`pgbouncer::…`). The non-member
//! login of the last scenario connects directly (a per-test login role, which
//! the test PgBouncer's auth file does not list).

#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use support::via_both;

use support::pg::PgDb;
use support::{Via, id};
use tenancy_core::TenancyError;
use tenancy_sqlx::postgres::PgConnections;
use tenancy_sqlx::shared::rls::RlsManager;
use tenancy_sqlx::{Ident, NewTenant, PgRegistry, RegistryConfig, RlsPool, TenantMigrations};

via_both! {
    #[tokio::test] a_correct_setup_passes_and_protect_is_idempotent;
    #[tokio::test] refuses_a_superuser_tenant_role;
    #[tokio::test] refuses_a_bypassrls_tenant_role;
    #[tokio::test] refuses_a_tenant_role_that_can_switch_to_a_bypassrls_role;
    #[tokio::test] refuses_a_table_without_force;
    #[tokio::test] refuses_a_table_without_row_level_security;
    #[tokio::test] refuses_a_table_without_the_policy;
    #[tokio::test] refuses_a_weakened_policy_and_extra_permissive_policies;
    #[tokio::test] refuses_a_nullable_tenant_column;
    #[tokio::test] refuses_undeclared_tables_and_views_the_tenant_role_can_reach;
    #[tokio::test] refuses_a_missing_table_role_or_membership;
}

fn ident(name: &str) -> Ident {
    Ident::new(name).unwrap()
}

fn migrations() -> TenantMigrations {
    TenantMigrations::from_sql([(
        1,
        "items",
        "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)",
    )])
    .unwrap()
}

/// A manager whose tenant role is `role` (not created yet).
async fn manager_with_role(connections: impl Into<PgConnections>, role: &str) -> RlsManager {
    let connections = connections.into();
    let registry = PgRegistry::connect(connections.clone(), RegistryConfig::default())
        .await
        .unwrap();
    let shared = RlsPool::new(connections)
        .role(ident(role))
        .tables([ident("items")]);
    RlsManager::new(registry, shared, migrations())
}

/// A manager that passed set-up and audit.
async fn ready(db: &PgDb, via: Via) -> RlsManager {
    let role = db.role("tenancy_t");
    let manager = manager_with_role(db.connections(via, 2).await, &role).await;
    manager.setup().await.unwrap();
    manager
}

/// The audit's refusal message; panics if it passed or failed otherwise.
fn refusal(result: Result<impl std::fmt::Debug, TenancyError>) -> String {
    match result {
        Err(TenancyError::Configuration { message }) => message,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

async fn a_correct_setup_passes_and_protect_is_idempotent(via: Via) {
    let db = PgDb::new().await;
    let manager = ready(&db, via).await;
    let shared = manager.shared();
    shared.protect_all().await.unwrap();
    shared.protect(&ident("items")).await.unwrap();
    shared.setup_role().await.unwrap();
    let audit = shared.audit().await.unwrap();
    assert!(audit.warnings().is_empty(), "{:?}", audit.warnings());
    // Unscoped, on the direct pool (the traffic pool itself when direct).
    let pool = shared.connections().direct().expect("a direct pool");
    let (policies, indexes): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM pg_policy WHERE polrelid = 'items'::regclass), \
         (SELECT count(*) FROM pg_index WHERE indrelid = 'items'::regclass)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(policies, 1);
    assert_eq!(indexes, 2, "the primary key and one tenant index");
}

async fn refuses_a_superuser_tenant_role(via: Via) {
    let db = PgDb::new().await;
    let role = db.role("tenancy_t");
    db.exec(&format!("CREATE ROLE \"{role}\" NOLOGIN SUPERUSER"))
        .await;
    let manager = manager_with_role(db.connections(via, 2).await, &role).await;
    let message = refusal(manager.setup().await);
    assert!(
        message.contains(&format!("`{role}` is a superuser")),
        "{message}"
    );

    // The audit was right: as that role, a tenant sees every tenant's rows.
    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    let globex = manager
        .create(NewTenant::new(id("globex"), "Globex"))
        .await
        .unwrap();
    for tenant in [&acme, &globex] {
        let mut tx = manager.shared().begin(tenant).await.unwrap();
        sqlx::query("INSERT INTO items (name) VALUES ('x')")
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let mut tx = manager.shared().begin(&acme).await.unwrap();
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM items")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(seen, 2, "a superuser role bypasses the policy");
    tx.rollback().await.unwrap();
}

async fn refuses_a_bypassrls_tenant_role(via: Via) {
    let db = PgDb::new().await;
    let role = db.role("tenancy_t");
    db.exec(&format!("CREATE ROLE \"{role}\" NOLOGIN BYPASSRLS"))
        .await;
    let manager = manager_with_role(db.connections(via, 2).await, &role).await;
    let message = refusal(manager.setup().await);
    assert!(
        message.contains(&format!("`{role}` has BYPASSRLS")),
        "{message}"
    );
}

async fn refuses_a_tenant_role_that_can_switch_to_a_bypassrls_role(via: Via) {
    let db = PgDb::new().await;
    let manager = ready(&db, via).await;
    let role = manager.shared().role_name().to_string();
    let admin = db.role("tenancy_admin");
    db.exec(&format!(
        "CREATE ROLE \"{admin}\" NOLOGIN BYPASSRLS; GRANT \"{admin}\" TO \"{role}\""
    ))
    .await;
    let message = refusal(manager.shared().audit().await);
    assert!(
        message.contains(&format!("is a member of {admin}")),
        "{message}"
    );
}

async fn refuses_a_table_without_force(via: Via) {
    let db = PgDb::new().await;
    let manager = ready(&db, via).await;
    db.exec("ALTER TABLE items NO FORCE ROW LEVEL SECURITY")
        .await;
    let message = refusal(manager.shared().audit().await);
    assert!(
        message.contains("public.items does not FORCE ROW LEVEL SECURITY"),
        "{message}"
    );
    // Repaired by protecting again.
    manager.shared().protect_all().await.unwrap();
    manager.shared().audit().await.unwrap();
}

async fn refuses_a_table_without_row_level_security(via: Via) {
    let db = PgDb::new().await;
    let manager = ready(&db, via).await;
    db.exec("ALTER TABLE items DISABLE ROW LEVEL SECURITY")
        .await;
    let message = refusal(manager.shared().audit().await);
    assert!(
        message.contains("public.items does not ENABLE ROW LEVEL SECURITY"),
        "{message}"
    );
}

async fn refuses_a_table_without_the_policy(via: Via) {
    let db = PgDb::new().await;
    let manager = ready(&db, via).await;
    db.exec("DROP POLICY tenancy_isolation ON items").await;
    let message = refusal(manager.shared().audit().await);
    assert!(
        message.contains("public.items lacks the policy `tenancy_isolation`"),
        "{message}"
    );
    manager.shared().protect_all().await.unwrap();
    manager.shared().audit().await.unwrap();
}

async fn refuses_a_weakened_policy_and_extra_permissive_policies(via: Via) {
    let db = PgDb::new().await;
    let manager = ready(&db, via).await;
    db.exec("ALTER POLICY tenancy_isolation ON items USING (true)")
        .await;
    let message = refusal(manager.shared().audit().await);
    assert!(
        message.contains("is not the fail-closed tenant policy"),
        "{message}"
    );
    manager.shared().protect_all().await.unwrap();
    db.exec("CREATE POLICY everyone ON items FOR SELECT USING (true)")
        .await;
    let message = refusal(manager.shared().audit().await);
    assert!(
        message.contains("other permissive policies (everyone)"),
        "{message}"
    );
    // A restrictive policy only narrows access: allowed.
    db.exec(
        "DROP POLICY everyone ON items; \
         CREATE POLICY no_empty_names ON items AS RESTRICTIVE USING (name <> '')",
    )
    .await;
    manager.shared().audit().await.unwrap();
}

async fn refuses_a_nullable_tenant_column(via: Via) {
    let db = PgDb::new().await;
    let manager = ready(&db, via).await;
    db.exec("ALTER TABLE items ALTER COLUMN tenant_id DROP NOT NULL")
        .await;
    let message = refusal(manager.shared().audit().await);
    assert!(
        message.contains("public.items.tenant_id is nullable"),
        "{message}"
    );
}

async fn refuses_undeclared_tables_and_views_the_tenant_role_can_reach(via: Via) {
    let db = PgDb::new().await;
    let manager = ready(&db, via).await;
    let role = manager.shared().role_name().to_string();
    db.exec(&format!(
        "CREATE TABLE notes (tenant_id text NOT NULL, body text); \
         GRANT SELECT ON notes TO \"{role}\"; \
         CREATE VIEW all_items AS SELECT * FROM items; \
         GRANT SELECT ON all_items TO \"{role}\""
    ))
    .await;
    let message = refusal(manager.shared().audit().await);
    assert!(
        message.contains("the undeclared table public.notes"),
        "{message}"
    );
    assert!(message.contains("the view public.all_items"), "{message}");
    // A view with security_invoker runs as the tenant role: allowed. A
    // protected but undeclared table is allowed too.
    db.exec("ALTER VIEW all_items SET (security_invoker = true)")
        .await;
    manager
        .shared()
        .protect(&Ident::new("notes").unwrap())
        .await
        .unwrap();
    manager.shared().audit().await.unwrap();
}

async fn refuses_a_missing_table_role_or_membership(via: Via) {
    let db = PgDb::new().await;
    let missing = db.role("tenancy_t");
    let message = refusal(
        RlsPool::new(db.connections(via, 2).await)
            .role(ident(&missing))
            .audit()
            .await,
    );
    assert!(message.contains("does not exist"), "{message}");

    let manager = ready(&db, via).await;
    let shared = manager.shared().clone().tables([ident("orders")]);
    let message = refusal(shared.audit().await);
    assert!(
        message.contains("the tenant table public.orders does not exist"),
        "{message}"
    );

    // A non-superuser login that is not a member of the tenant role.
    let login = db.role("tenancy_login");
    db.exec(&format!("CREATE ROLE \"{login}\" LOGIN")).await;
    let outsider = db.pool_with(db.options.clone().username(&login), 1).await;
    let shared = RlsPool::new(outsider)
        .role(manager.shared().role_name().clone())
        .tables([ident("items")]);
    let message = refusal(shared.audit().await);
    assert!(message.contains("may not SET ROLE"), "{message}");
}
