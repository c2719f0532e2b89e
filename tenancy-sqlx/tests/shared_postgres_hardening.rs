//! Hardening of shared-schema mode on Postgres: tenant transactions pin
//! `search_path` (so neither a schema named like the tenant role nor a
//! temporary table can shadow a tenant table), the audit refuses
//! `SECURITY DEFINER` functions, views over tenant tables and `TRUNCATE`
//! grants, and migrate-all audits (and rolls back) what the migrations did.
//!
//! Each test shows the hole is real (tenant SQL reaches another tenant's rows
//! through it) before checking that it is closed or refused. Straight to
//! Postgres (and one test through PgBouncer in transaction pooling mode); one
//! database and fresh roles per test.

#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use sqlx::{AssertSqlSafe, Connection, PgPool};
use support::pg::PgDb;
use support::{Via, id};
use tenancy_core::TenancyError;
use tenancy_sqlx::migrate::MigrationStatus;
use tenancy_sqlx::shared::rls::RlsManager;
use tenancy_sqlx::{
    Ident, MigrateOptions, NewTenant, PgRegistry, RegistryConfig, RegistryTenant, RlsPool,
    TenantMigrations,
};

const ITEMS: (i64, &str, &str) = (
    1,
    "items",
    "CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL)",
);

/// The pinned `search_path` for the default schema.
const PINNED: &str = "pg_catalog, \"public\", pg_temp";

fn ident(name: &str) -> Ident {
    Ident::new(name).unwrap()
}

/// A manager (role `tenancy_t_…`, table `items`) that passed set-up and
/// audit, with tenants `acme` and `globex` owning one item each.
struct Ready {
    manager: RlsManager,
    registry: PgRegistry,
    acme: RegistryTenant,
    globex: RegistryTenant,
}

impl Ready {
    fn shared(&self) -> &RlsPool {
        self.manager.shared()
    }

    fn role(&self) -> String {
        self.shared().role_name().to_string()
    }

    fn pool(&self) -> &PgPool {
        self.shared().pool()
    }
}

async fn ready(db: &PgDb) -> Ready {
    let role = db.role("tenancy_t");
    let connections = db.connections(Via::Direct, 3).await;
    let registry = PgRegistry::connect(connections.clone(), RegistryConfig::default())
        .await
        .unwrap();
    let shared = RlsPool::new(connections)
        .role(ident(&role))
        .tables([ident("items")]);
    let manager = RlsManager::new(
        registry.clone(),
        shared,
        TenantMigrations::from_sql([ITEMS]).unwrap(),
    );
    let audit = manager.setup().await.unwrap();
    assert!(audit.warnings().is_empty(), "{:?}", audit.warnings());
    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    let globex = manager
        .create(NewTenant::new(id("globex"), "Globex"))
        .await
        .unwrap();
    for (tenant, name) in [(&acme, "acme-1"), (&globex, "globex-1")] {
        let mut tx = manager.shared().begin(tenant).await.unwrap();
        sqlx::query("INSERT INTO items (name) VALUES ($1)")
            .bind(name)
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    Ready {
        manager,
        registry,
        acme,
        globex,
    }
}

/// The audit's refusal message; panics if it passed or failed otherwise.
fn refusal(result: Result<impl std::fmt::Debug, TenancyError>) -> String {
    match result {
        Err(TenancyError::Configuration { message }) => message,
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

/// The item names `tenant` sees through `sql`, in a rolled-back tenant transaction.
async fn names_seen(shared: &RlsPool, tenant: &RegistryTenant, sql: &'static str) -> Vec<String> {
    let mut tx = shared.begin(tenant).await.unwrap();
    let names: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut tx).await.unwrap();
    tx.rollback().await.unwrap();
    names
}

#[tokio::test]
async fn search_path_is_pinned_in_tenant_transactions_and_restored_after() {
    let db = PgDb::new().await;
    let ready = ready(&db).await;
    let shared = ready.shared();
    let mut conn = db.connect().await;
    let default: String = sqlx::query_scalar("SHOW search_path")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(default, "\"$user\", public");

    let mut tx = shared.begin_on(&mut conn, &ready.acme).await.unwrap();
    let (path, schemas, user): (String, Vec<String>, String) = sqlx::query_as(
        "SELECT current_setting('search_path'), current_schemas(true)::text[], current_user::text",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(path, PINNED);
    assert_eq!(schemas, ["pg_catalog", "public"]);
    assert_eq!(user, ready.role());
    // A savepoint rolled back keeps the pin.
    let mut savepoint = tx.savepoint().await.unwrap();
    sqlx::query("SELECT set_config('search_path', 'public', true)")
        .execute(&mut *savepoint)
        .await
        .unwrap();
    savepoint.rollback().await.unwrap();
    let path: String = sqlx::query_scalar("SELECT current_setting('search_path')")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(path, PINNED);
    tx.commit().await.unwrap();

    // After commit the connection is back to its defaults.
    let (path, user, key): (String, String, String) = sqlx::query_as(
        "SELECT current_setting('search_path'), current_user::text, \
         coalesce(current_setting('tenancy.tenant', true), '')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(path, default);
    assert_eq!(user, "postgres");
    assert_eq!(key, "");

    // Same after a rollback, and after a dropped transaction.
    let tx = shared.begin_on(&mut conn, &ready.globex).await.unwrap();
    tx.rollback().await.unwrap();
    drop(shared.begin_on(&mut conn, &ready.globex).await.unwrap());
    let path: String = sqlx::query_scalar("SELECT current_setting('search_path')")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(path, default);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn search_path_is_pinned_behind_a_transaction_pooler() {
    let db = PgDb::new().await;
    let role = db.role("tenancy_t");
    let connections = db.connections(Via::PgBouncer, 2).await;
    let registry = PgRegistry::connect(connections.clone(), RegistryConfig::default())
        .await
        .unwrap();
    let shared = RlsPool::new(connections)
        .role(ident(&role))
        .tables([ident("items")]);
    let manager = RlsManager::new(
        registry,
        shared.clone(),
        TenantMigrations::from_sql([ITEMS]).unwrap(),
    );
    manager.setup().await.unwrap();
    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();
    for _ in 0..4 {
        let mut tx = shared.begin(&acme).await.unwrap();
        let (path, user): (String, String) =
            sqlx::query_as("SELECT current_setting('search_path'), current_user::text")
                .fetch_one(&mut tx)
                .await
                .unwrap();
        assert_eq!((path.as_str(), user.as_str()), (PINNED, role.as_str()));
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn the_pinned_search_path_quotes_a_configured_schema() {
    let db = PgDb::new().await;
    let role = db.role("tenancy_t");
    // `select` needs quoting everywhere.
    db.exec(
        "CREATE SCHEMA \"select\"; \
         CREATE TABLE \"select\".items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
           name text NOT NULL); \
         CREATE TABLE public.items (name text NOT NULL)",
    )
    .await;
    let connections = db.connections(Via::Direct, 2).await;
    let registry = PgRegistry::connect(connections.clone(), RegistryConfig::default())
        .await
        .unwrap();
    let shared = RlsPool::new(connections)
        .role(ident(&role))
        .schema(ident("select"))
        .tables([ident("items")]);
    shared.setup_role().await.unwrap();
    shared.protect_all().await.unwrap();
    shared.audit().await.unwrap();
    let manager = RlsManager::new(registry, shared.clone(), TenantMigrations::empty());
    let acme = manager
        .create(NewTenant::new(id("acme"), "Acme"))
        .await
        .unwrap();

    let mut tx = shared.begin(&acme).await.unwrap();
    let path: String = sqlx::query_scalar("SELECT current_setting('search_path')")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(path, "pg_catalog, \"select\", pg_temp");
    // Unqualified names reach the configured schema, not public.
    sqlx::query("INSERT INTO items (name) VALUES ('pen')")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (configured, public): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM \"select\".items), (SELECT count(*) FROM public.items)",
    )
    .fetch_one(shared.pool())
    .await
    .unwrap();
    assert_eq!((configured, public), (1, 0));
}

#[tokio::test]
async fn a_schema_named_like_the_tenant_role_cannot_shadow_a_tenant_table() {
    let db = PgDb::new().await;
    let ready = ready(&db).await;
    let role = ready.role();
    db.exec(&format!(
        "CREATE SCHEMA \"{role}\"; \
         CREATE TABLE \"{role}\".items (id bigint, name text); \
         INSERT INTO \"{role}\".items VALUES (0, 'decoy'); \
         GRANT USAGE ON SCHEMA \"{role}\" TO \"{role}\"; \
         GRANT SELECT, INSERT ON \"{role}\".items TO \"{role}\""
    ))
    .await;

    // The hole: with the default search_path ("$user" first), the decoy wins.
    let mut tx = ready.shared().begin(&ready.acme).await.unwrap();
    sqlx::query("SELECT set_config('search_path', '\"$user\", public', true)")
        .execute(&mut tx)
        .await
        .unwrap();
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM items")
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(names, ["decoy"], "the default search_path is shadowed");
    tx.rollback().await.unwrap();

    // Pinned: the real table, filtered by row-level security.
    assert_eq!(
        names_seen(ready.shared(), &ready.acme, "SELECT name FROM items").await,
        ["acme-1"]
    );
    assert_eq!(
        names_seen(ready.shared(), &ready.globex, "SELECT name FROM items").await,
        ["globex-1"]
    );
    let mut tx = ready.shared().begin(&ready.acme).await.unwrap();
    sqlx::query("INSERT INTO items (name) VALUES ('acme-2')")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (real, decoy): (i64, i64) = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT (SELECT count(*) FROM public.items WHERE name = 'acme-2' AND tenant_id = $1), \
         (SELECT count(*) FROM \"{role}\".items)"
    )))
    .bind(ready.acme.storage().shared_key().unwrap().as_str())
    .fetch_one(ready.pool())
    .await
    .unwrap();
    assert_eq!((real, decoy), (1, 1), "the insert reached the real table");
}

#[tokio::test]
async fn a_temporary_table_cannot_shadow_a_tenant_table() {
    let db = PgDb::new().await;
    let ready = ready(&db).await;
    let shared = ready.shared();
    let mut conn = db.connect().await;

    // One tenant's transaction leaves a temporary table behind in the session
    // (temporary tables outlive transactions)...
    let mut tx = shared.begin_on(&mut conn, &ready.acme).await.unwrap();
    for sql in [
        "CREATE TEMPORARY TABLE items (id bigint, name text)",
        "INSERT INTO pg_temp.items VALUES (0, 'decoy')",
    ] {
        sqlx::query(sql).execute(&mut *tx).await.unwrap();
    }
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM items")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(names, ["acme-1"], "pg_temp is searched last");
    tx.commit().await.unwrap();

    // ...which, without the pin, shadows the tenant table for the next user
    // of the connection...
    let mut tx = shared.begin_on(&mut conn, &ready.globex).await.unwrap();
    sqlx::query("SELECT set_config('search_path', '\"$user\", public', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM items")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(names, ["decoy"], "the default search_path is shadowed");
    tx.rollback().await.unwrap();

    // ...but not with it: the real table, filtered by row-level security.
    let mut tx = shared.begin_on(&mut conn, &ready.globex).await.unwrap();
    let names: Vec<String> = sqlx::query_scalar("SELECT name FROM items")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(names, ["globex-1"]);
    sqlx::query("INSERT INTO items (name) VALUES ('globex-2')")
        .execute(&mut *tx)
        .await
        .unwrap();
    let decoys: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_temp.items")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(decoys, 1, "the temporary table is still there, untouched");
    tx.commit().await.unwrap();
    conn.close().await.unwrap();
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM public.items WHERE name = 'globex-2'")
            .fetch_one(ready.pool())
            .await
            .unwrap();
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn refuses_security_definer_functions_the_tenant_role_can_execute() {
    let db = PgDb::new().await;
    let ready = ready(&db).await;
    let role = ready.role();
    // Owned by the superuser login; EXECUTE goes to PUBLIC by default.
    db.exec(
        "CREATE FUNCTION public.all_item_names() RETURNS SETOF text LANGUAGE sql \
         SECURITY DEFINER SET search_path = pg_catalog AS 'SELECT name FROM public.items'",
    )
    .await;
    let message = refusal(ready.shared().audit().await);
    assert!(
        message.contains(
            "SECURITY DEFINER function public.all_item_names(), owned by `postgres` (a superuser)"
        ),
        "{message}"
    );
    // The audit is right: through it a tenant reads every tenant's rows.
    let mut names = names_seen(
        ready.shared(),
        &ready.acme,
        "SELECT public.all_item_names()",
    )
    .await;
    names.sort();
    assert_eq!(names, ["acme-1", "globex-1"]);

    db.exec("REVOKE EXECUTE ON FUNCTION public.all_item_names() FROM PUBLIC")
        .await;
    ready.shared().audit().await.unwrap();

    // Allowed: a definer function of a role that cannot bypass row-level
    // security, and a trigger function (not callable directly).
    let plain = db.role("tenancy_plain");
    db.exec(&format!(
        "CREATE ROLE \"{plain}\" NOLOGIN; \
         CREATE FUNCTION public.answer() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 42'; \
         ALTER FUNCTION public.answer() OWNER TO \"{plain}\"; \
         CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER \
           AS 'BEGIN RETURN NEW; END'"
    ))
    .await;
    ready.shared().audit().await.unwrap();

    // Refused: one whose owner may become a BYPASSRLS role...
    let admin = db.role("tenancy_admin");
    db.exec(&format!(
        "CREATE ROLE \"{admin}\" NOLOGIN BYPASSRLS; GRANT \"{admin}\" TO \"{plain}\""
    ))
    .await;
    let message = refusal(ready.shared().audit().await);
    assert!(
        message.contains("SECURITY DEFINER function public.answer(), owned by"),
        "{message}"
    );
    assert!(message.contains("a member of"), "{message}");
    db.exec(&format!("REVOKE \"{admin}\" FROM \"{plain}\""))
        .await;
    ready.shared().audit().await.unwrap();

    // ...and one owned by the owner of a tenant table (a procedure, here).
    let owner = db.role("tenancy_owner");
    db.exec(&format!(
        "CREATE ROLE \"{owner}\" NOLOGIN; \
         ALTER TABLE public.items OWNER TO \"{owner}\"; \
         CREATE PROCEDURE public.wipe(text) LANGUAGE sql SECURITY DEFINER \
           AS 'DELETE FROM public.items WHERE name = $1'; \
         ALTER PROCEDURE public.wipe(text) OWNER TO \"{owner}\""
    ))
    .await;
    let message = refusal(ready.shared().audit().await);
    assert!(
        message.contains(&format!(
            "the tenant role `{role}` may execute the SECURITY DEFINER procedure \
             public.wipe(text), owned by `{owner}` (the owner of a tenant table)"
        )),
        "{message}"
    );
    db.exec(&format!(
        "REVOKE EXECUTE ON PROCEDURE public.wipe(text) FROM PUBLIC; \
         ALTER TABLE public.items OWNER TO postgres; DROP PROCEDURE public.wipe(text); \
         DROP FUNCTION public.answer(); DROP ROLE \"{owner}\""
    ))
    .await;
    ready.shared().audit().await.unwrap();
}

#[tokio::test]
async fn refuses_views_over_a_tenant_table_the_tenant_role_can_read() {
    let db = PgDb::new().await;
    let ready = ready(&db).await;
    let role = ready.role();
    // No tenant column in the views: the column check alone misses them.
    db.exec(&format!(
        "CREATE VIEW public.item_names AS SELECT name FROM public.items; \
         CREATE VIEW public.names_again AS SELECT name FROM public.item_names; \
         CREATE MATERIALIZED VIEW public.item_count AS SELECT count(*) AS n FROM public.items; \
         CREATE VIEW public.hidden AS SELECT name FROM public.items; \
         GRANT SELECT ON public.item_names, public.names_again, public.item_count TO \"{role}\""
    ))
    .await;
    let message = refusal(ready.shared().audit().await);
    assert!(
        message.contains(&format!(
            "the view public.item_names reads a tenant table and the tenant role `{role}` can access it"
        )),
        "{message}"
    );
    assert!(
        message.contains("the view public.names_again reads"),
        "{message}"
    );
    assert!(
        message.contains("the materialized view public.item_count holds rows of a tenant table"),
        "{message}"
    );
    assert!(!message.contains("public.hidden"), "not granted: {message}");

    // The audit is right: through the views a tenant reads every tenant's rows.
    let mut names = names_seen(ready.shared(), &ready.acme, "SELECT name FROM names_again").await;
    names.sort();
    assert_eq!(names, ["acme-1", "globex-1"]);

    // security_invoker (any spelling of true) makes the views safe; the
    // materialized view has to go.
    db.exec(&format!(
        "ALTER VIEW public.item_names SET (security_invoker = on); \
         ALTER VIEW public.names_again SET (security_invoker = TRUE); \
         REVOKE SELECT ON public.item_count FROM \"{role}\""
    ))
    .await;
    ready.shared().audit().await.unwrap();
    assert_eq!(
        names_seen(ready.shared(), &ready.acme, "SELECT name FROM names_again").await,
        ["acme-1"]
    );
}

#[tokio::test]
async fn refuses_truncate_on_a_tenant_table() {
    let db = PgDb::new().await;
    let ready = ready(&db).await;
    let role = ready.role();
    db.exec(&format!("GRANT TRUNCATE ON public.items TO \"{role}\""))
        .await;
    let message = refusal(ready.shared().audit().await);
    assert!(
        message.contains(&format!(
            "the tenant role `{role}` may TRUNCATE the tenant table public.items"
        )),
        "{message}"
    );
    // The audit is right: one tenant's TRUNCATE empties the others' rows.
    let mut tx = ready.shared().begin(&ready.acme).await.unwrap();
    sqlx::query("TRUNCATE items")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(
        names_seen(ready.shared(), &ready.globex, "SELECT name FROM items")
            .await
            .is_empty()
    );
    db.exec(&format!("REVOKE TRUNCATE ON public.items FROM \"{role}\""))
        .await;
    ready.shared().audit().await.unwrap();

    // A protected table that is not declared counts too.
    db.exec(&format!(
        "CREATE TABLE public.notes (body text); GRANT TRUNCATE ON public.notes TO \"{role}\""
    ))
    .await;
    ready.shared().protect(&ident("notes")).await.unwrap();
    let message = refusal(ready.shared().audit().await);
    assert!(
        message.contains("TRUNCATE the tenant table public.notes"),
        "{message}"
    );
    assert!(!message.contains("public.items"), "{message}");
}

/// A manager over `ready`'s registry and tables with `ITEMS` plus `v2`.
fn with_v2(ready: &Ready, shared: RlsPool, v2: &str) -> RlsManager {
    let (version, description, sql) = ITEMS;
    RlsManager::new(
        ready.registry.clone(),
        shared,
        TenantMigrations::from_sql([
            (version, description, sql.to_owned()),
            (2, "v2", v2.to_owned()),
        ])
        .unwrap(),
    )
}

/// Asserts that every tenant failed with a message containing `expected`.
async fn assert_every_tenant_failed(manager: &RlsManager, expected: &str) {
    let report = manager.migrate_all(MigrateOptions::new()).await.unwrap();
    assert_eq!(report.tenants.len(), 2, "{report}");
    assert_eq!(report.failed().count(), 2, "{report}");
    for entry in report.failed() {
        match &entry.status {
            MigrationStatus::Failed(TenancyError::Migration { tenant, source }) => {
                assert_eq!(tenant, &entry.id);
                // The whole chain: a failed protection keeps the database error as a source.
                let mut message = source.to_string();
                let mut cause = source.source();
                while let Some(error) = cause {
                    message = format!("{message}: {error}");
                    cause = error.source();
                }
                assert!(message.contains(expected), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}

/// The versions in the shared migration history.
async fn applied(pool: &PgPool) -> Vec<i64> {
    sqlx::query_scalar("SELECT version FROM public._sqlx_migrations ORDER BY version")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn migrate_all_audits_and_reports_a_migration_that_opens_a_hole() {
    let db = PgDb::new().await;
    let ready = ready(&db).await;
    let role = ready.role();
    let shared = ready.shared().clone();
    // A protected table that is not declared (migrations do not re-protect it).
    db.exec("CREATE TABLE public.notes (body text)").await;
    shared.protect(&ident("notes")).await.unwrap();
    shared.audit().await.unwrap();

    // A migration that drops the policy of a protected table and turns
    // row-level security off: refused, rolled back, reported for every tenant.
    let unprotects = with_v2(
        &ready,
        shared.clone(),
        "DROP POLICY tenancy_isolation ON notes; ALTER TABLE notes DISABLE ROW LEVEL SECURITY",
    );
    assert_every_tenant_failed(
        &unprotects,
        "the undeclared table public.notes has the tenant column `tenant_id`",
    )
    .await;
    assert_eq!(applied(ready.pool()).await, [1], "rolled back");
    let (policies, enabled): (i64, bool) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM pg_policy WHERE polrelid = 'public.notes'::regclass), \
         (SELECT relrowsecurity FROM pg_class WHERE oid = 'public.notes'::regclass)",
    )
    .fetch_one(ready.pool())
    .await
    .unwrap();
    assert_eq!((policies, enabled), (1, true));

    // A migration that exposes a tenant table through a view: refused too,
    // and by migrate() as well.
    let exposes = with_v2(
        &ready,
        shared.clone(),
        &format!(
            "CREATE VIEW item_names AS SELECT name FROM items; \
             GRANT SELECT ON item_names TO \"{role}\""
        ),
    );
    assert_every_tenant_failed(&exposes, "the view public.item_names reads a tenant table").await;
    let message = refusal(exposes.migrate().await);
    assert!(message.contains("public.item_names"), "{message}");
    assert_eq!(applied(ready.pool()).await, [1], "rolled back");
    let view: bool = sqlx::query_scalar("SELECT to_regclass('public.item_names') IS NOT NULL")
        .fetch_one(ready.pool())
        .await
        .unwrap();
    assert!(!view, "the view was rolled back");

    // A new declared table that cannot be protected (an integer tenant column).
    let unprotectable = with_v2(
        &ready,
        shared.clone().tables([ident("comments")]),
        "CREATE TABLE comments (body text, tenant_id int)",
    );
    assert_every_tenant_failed(&unprotectable, "protecting the tenant tables failed").await;
    assert_eq!(applied(ready.pool()).await, [1], "rolled back");

    // A migration that drops the policy of a *declared* table is repaired in
    // its own transaction (re-protection), so it passes the audit.
    let repaired = with_v2(
        &ready,
        shared.clone(),
        "DROP POLICY tenancy_isolation ON items; ALTER TABLE items NO FORCE ROW LEVEL SECURITY",
    );
    let report = repaired.migrate_all(MigrateOptions::new()).await.unwrap();
    assert!(report.is_success(), "{report}");
    assert_eq!(report.migrated().count(), 2, "{report}");
    assert_eq!(applied(ready.pool()).await, [1, 2]);
    shared.audit().await.unwrap();
    assert_eq!(
        names_seen(&shared, &ready.acme, "SELECT name FROM items").await,
        ["acme-1"]
    );
}
