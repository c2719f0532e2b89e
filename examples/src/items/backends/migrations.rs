//! The tenant migrations of the items app, per isolation mode and backend.

use tenancy_core::TenancyError;
use tenancy_sqlx::TenantMigrations;

use crate::items::{Backend, Isolation};

/// The `items` table for `isolation` on `backend`.
///
/// In shared mode the table carries the tenant column: on Postgres the
/// row-level-security setup adds it (with its default and policy); on MySQL
/// and SQLite the migration declares it and the scoped helpers fill it.
pub fn migrations(
    backend: Backend,
    isolation: Isolation,
) -> Result<TenantMigrations, TenancyError> {
    let sql = match (backend, isolation) {
        (Backend::Postgres, _) => {
            "CREATE TABLE items (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, \
             name TEXT NOT NULL, capacity DOUBLE PRECISION NOT NULL)"
        }
        (Backend::MySql, Isolation::Shared) => {
            "CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, tenant_id VARCHAR(64) NOT NULL, \
             name VARCHAR(200) NOT NULL, capacity DOUBLE NOT NULL, INDEX items_tenant (tenant_id, id))"
        }
        (Backend::MySql, _) => {
            "CREATE TABLE items (id BIGINT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(200) NOT NULL, \
             capacity DOUBLE NOT NULL)"
        }
        (Backend::Sqlite, Isolation::Shared) => {
            "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, \
             name TEXT NOT NULL, capacity REAL NOT NULL); \
             CREATE INDEX items_tenant ON items (tenant_id, id)"
        }
        (Backend::Sqlite, _) => {
            "CREATE TABLE items (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, capacity REAL NOT NULL)"
        }
    };
    TenantMigrations::from_sql([(1, "items", sql)])
}
