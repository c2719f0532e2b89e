//! [`SqliteRegistry`]: the tenant registry in SQLite tables.

use std::sync::Arc;

use sqlx::{AssertSqlSafe, SqlitePool};
use tenancy_core::TenancyError;

use crate::error::store_error;
use crate::ident::quote_ident;
use crate::registry::sql::{Inner, RegistryTables, Sql};

/// The tenant registry on SQLite: tenants (id, name, active flag, storage
/// kind and location, timestamps) and their lower-cased, unique domains, in
/// two tables of the pool's database file.
///
/// It has the semantics of [`PgRegistry`](crate::PgRegistry): a
/// [`TenantStore`](tenancy_core::TenantStore) and a
/// [`TenantRegistry`](crate::TenantRegistry), whose mutations invalidate the
/// [subscribed](Self::subscribe) caches of this process at once. SQLite has
/// no change notifications, so **other processes sharing the file see a
/// change only when their cache entry expires** (the
/// [`CachedStore`](tenancy_core::CachedStore) TTL, default 5 s). Write
/// transactions are `BEGIN IMMEDIATE`; use WAL mode (as
/// [`AnyRegistry::connect`](crate::AnyRegistry::connect) does) so readers
/// never wait for them. Cheap to clone.
///
/// ```no_run
/// use std::sync::Arc;
/// use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
/// use tenancy_core::{CachedStore, TenantId};
/// use tenancy_sqlx::{RegistryTables, SqliteRegistry};
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let options = SqliteConnectOptions::new()
///     .filename("data/registry.db")
///     .create_if_missing(true)
///     .journal_mode(SqliteJournalMode::Wal);
/// let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
/// let registry = SqliteRegistry::connect(pool, RegistryTables::default()).await?;
/// let cache = Arc::new(CachedStore::new(registry.clone()));
/// registry.subscribe(cache.clone());
/// registry.deactivate(&TenantId::new("acme")?).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqliteRegistry {
    inner: Arc<Inner<SqlitePool>>,
}

sql_registry!(SqliteRegistry, SqlitePool, "sqlite", |pool| pool
    .begin_with("BEGIN IMMEDIATE"));

/// The registry migrations: `(version, description, sql)`; `{T}`/`{D}` are
/// the quoted tables, `{t}`/`{d}` their bare names.
const MIGRATIONS: &[(i32, &str, &str)] = &[(
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
)];

/// The history of the registry tables, one row per registry (named by its
/// tenants table) and migration, so several registries can share a database.
const HISTORY: &str = "_tenancy_registry_migrations";

impl SqliteRegistry {
    fn statements(tables: &RegistryTables) -> Sql {
        Sql::new(tables, quote_ident, "")
    }

    /// Creates or upgrades the registry tables, in one `BEGIN IMMEDIATE`
    /// transaction (idempotent; concurrent runs wait for each other).
    pub async fn migrate(&self) -> Result<(), TenancyError> {
        let tables = &self.inner.tables;
        let render = |template: &str| {
            template
                .replace("{T}", &quote_ident(tables.tenants.as_str()))
                .replace("{D}", &quote_ident(tables.domains.as_str()))
                .replace("{t}", tables.tenants.as_str())
                .replace("{d}", tables.domains.as_str())
        };
        let mut tx = self
            .inner
            .pool
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
        .bind(tables.tenants.as_str())
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
            .bind(tables.tenants.as_str())
            .bind(version)
            .bind(description)
            .bind(crate::registry::sql::now_micros())
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)
    }
}
