//! The registry's own schema, versioned and applied under an advisory lock.

use sqlx::{AssertSqlSafe, Connection, PgPool};
use tenancy_core::TenancyError;

use crate::error::store_error;
use crate::ident::quote_literal;
use crate::postgres::lock;
use crate::registry::RegistryConfig;
use crate::registry::config::TableDefaults;

/// The registry migrations: `(version, description, sql)`; `{S}` is the quoted
/// schema, `{T}`/`{D}`/`{SP}` the quoted tables, `{t}`/`{d}` the bare table names.
const MIGRATIONS: &[(i32, &str, &str)] = &[(
    1,
    "tenants, domains and spare schemas",
    r#"
CREATE TABLE {S}.{T} (
    id text NOT NULL,
    name text NOT NULL,
    active boolean NOT NULL DEFAULT true,
    storage_kind text NOT NULL,
    storage_location text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT "{t}_pkey" PRIMARY KEY (id),
    CONSTRAINT "{t}_id_format" CHECK (id ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    CONSTRAINT "{t}_storage_key" UNIQUE (storage_kind, storage_location)
);
CREATE TABLE {S}.{D} (
    domain text NOT NULL,
    tenant_id text NOT NULL,
    is_primary boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT "{d}_pkey" PRIMARY KEY (domain),
    CONSTRAINT "{d}_lower_case" CHECK (domain = lower(domain)),
    CONSTRAINT "{d}_tenant_fkey" FOREIGN KEY (tenant_id) REFERENCES {S}.{T} (id)
        ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE INDEX "{d}_tenant_idx" ON {S}.{D} (tenant_id);
CREATE UNIQUE INDEX "{d}_one_primary" ON {S}.{D} (tenant_id) WHERE is_primary;
CREATE TABLE {S}.{SP} (
    schema_name text NOT NULL PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);
"#,
)];

/// The history table of the registry schema.
const HISTORY: &str = "_tenancy_registry_migrations";

fn render(template: &str, config: &RegistryConfig) -> String {
    let tenants = config.tenants(TableDefaults::Postgres);
    let domains = config.domains(TableDefaults::Postgres);
    template
        .replace("{S}", &config.schema_name().quoted())
        .replace("{T}", &tenants.quoted())
        .replace("{D}", &domains.quoted())
        .replace("{SP}", &config.spares().quoted())
        .replace("{t}", tenants.as_str())
        .replace("{d}", domains.as_str())
}

/// Creates or upgrades the registry tables; safe to run concurrently.
pub(crate) async fn migrate(pool: &PgPool, config: &RegistryConfig) -> Result<(), TenancyError> {
    let schema = config.schema_name().quoted();
    let mut conn = pool.acquire().await.map_err(store_error)?;
    let mut tx = conn
        .begin_with(AssertSqlSafe(format!(
            "BEGIN; SELECT pg_catalog.pg_advisory_xact_lock({}, pg_catalog.hashtext({}))",
            lock::REGISTRY,
            quote_literal(config.schema_name().as_str()),
        )))
        .await
        .map_err(store_error)?;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS {schema}; \
         CREATE TABLE IF NOT EXISTS {schema}.\"{HISTORY}\" (\
           version integer PRIMARY KEY, description text NOT NULL, \
           installed_on timestamptz NOT NULL DEFAULT now())"
    )))
    .execute(&mut *tx)
    .await
    .map_err(store_error)?;
    let applied: Vec<i32> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT version FROM {schema}.\"{HISTORY}\" ORDER BY version"
    )))
    .persistent(false)
    .fetch_all(&mut *tx)
    .await
    .map_err(store_error)?;
    for (version, description, template) in MIGRATIONS {
        if applied.contains(version) {
            continue;
        }
        sqlx::raw_sql(AssertSqlSafe(render(template, config)))
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {schema}.\"{HISTORY}\" (version, description) VALUES ($1, $2)"
        )))
        .persistent(false)
        .bind(version)
        .bind(description)
        .persistent(false)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    }
    tx.commit().await.map_err(store_error)
}
