//! SQLite as a registry [`Dialect`]: quoted names, `BEGIN IMMEDIATE` write
//! transactions, and the registry tables' migrations.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{AssertSqlSafe, Pool, Sqlite, Transaction};
use tenancy_core::TenancyError;

use super::dialect::{Dialect, RegistryTables, plumbing, sealed};
use super::rows::now_micros;
use crate::error::store_error;
use crate::ident::{Ident, quote_ident};

/// The registry migrations: `(version, description, sql)`; `{T}`/`{D}`/`{C}`
/// are the quoted tables, `{t}`/`{d}`/`{c}` their bare names.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "tenants and domains",
        r#"
CREATE TABLE {T} (
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    storage_kind TEXT NOT NULL,
    storage_location TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    CONSTRAINT "{t}_pkey" PRIMARY KEY (id),
    CONSTRAINT "{t}_storage_key" UNIQUE (storage_kind, storage_location),
    CONSTRAINT "{t}_id_format" CHECK (length(id) BETWEEN 1 AND 63
        AND id NOT GLOB '*[^a-z0-9-]*' AND id NOT GLOB '-*' AND id NOT GLOB '*-')
);
CREATE TABLE {D} (
    domain TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    is_primary BOOLEAN NOT NULL DEFAULT FALSE,
    created_us INTEGER NOT NULL,
    CONSTRAINT "{d}_pkey" PRIMARY KEY (domain),
    CONSTRAINT "{d}_lower_case" CHECK (domain = lower(domain)),
    CONSTRAINT "{d}_tenant_fkey" FOREIGN KEY (tenant_id) REFERENCES {T} (id)
        ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE INDEX "{d}_tenant_idx" ON {D} (tenant_id);
"#,
    ),
    (
        2,
        "change log",
        r#"
CREATE TABLE IF NOT EXISTS {C} (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    registry TEXT NOT NULL,
    origin TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS "{c}_registry_idx" ON {C} (registry, seq);
CREATE INDEX IF NOT EXISTS "{c}_created_idx" ON {C} (created_us);
"#,
    ),
];

/// The migration that makes the change log.
const CHANGE_LOG: i32 = 2;

/// The history of the registry tables, one row per registry (named by its
/// tenants table) and migration, so several registries can share a database.
const HISTORY: &str = "_tenancy_registry_migrations";

impl Dialect for Sqlite {}

impl sealed::Driver for Sqlite {
    const REGISTRY: &'static str = "SqliteRegistry";

    const FOR_UPDATE: &'static str = "";

    fn quote(name: &Ident) -> String {
        quote_ident(name.as_str())
    }

    fn begin(
        pool: &Pool<Self>,
        immediate: bool,
    ) -> BoxFuture<'_, Result<Transaction<'static, Self>, sqlx::Error>> {
        if immediate {
            pool.begin_with("BEGIN IMMEDIATE").boxed()
        } else {
            pool.begin().boxed()
        }
    }

    plumbing!(Sqlite);

    #[allow(private_interfaces)]
    fn migrate_registry<'a>(
        pool: &'a Pool<Self>,
        tables: &'a RegistryTables,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        migrate(pool, tables).boxed()
    }
}

/// Creates or upgrades the registry tables, in one `BEGIN IMMEDIATE`
/// transaction (idempotent; concurrent runs wait for each other).
async fn migrate(pool: &Pool<Sqlite>, tables: &RegistryTables) -> Result<(), TenancyError> {
    let tenants = &tables.tenants;
    let render = |template: &str| tables.render(template, quote_ident);
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(store_error)?;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE TABLE IF NOT EXISTS \"{HISTORY}\" (registry TEXT NOT NULL, \
             version INTEGER NOT NULL, description TEXT NOT NULL, \
             installed_us INTEGER NOT NULL, PRIMARY KEY (registry, version))"
    )))
    .execute(&mut *tx)
    .await
    .map_err(store_error)?;
    let applied: Vec<i32> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT version FROM \"{HISTORY}\" WHERE registry = ? ORDER BY version"
    )))
    .bind(tenants.as_str())
    .fetch_all(&mut *tx)
    .await
    .map_err(store_error)?;
    for (version, description, template) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        sqlx::raw_sql(AssertSqlSafe(render(template)))
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO \"{HISTORY}\" (registry, version, description, installed_us) \
                 VALUES (?, ?, ?, ?)"
        )))
        .bind(tenants.as_str())
        .bind(version)
        .bind(description)
        .bind(now_micros())
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    }
    // The history is kept per tenants table: a change log named after the
    // log was first made is made here (its statements are idempotent).
    for (version, _, template) in MIGRATIONS {
        if *version == CHANGE_LOG && applied.contains(version) {
            sqlx::raw_sql(AssertSqlSafe(render(template)))
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
        }
    }
    tx.commit().await.map_err(store_error)
}
