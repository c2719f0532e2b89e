//! Shared Postgres tables under row-level security: every query runs in a
//! transaction that sets the tenant key and switches to the restricted tenant
//! role. The SQL has no tenant filter: the policy is the filter.

use futures_util::FutureExt;
use tenancy_core::{BoxFuture, TenancyError};
use tenancy_sqlx::{RegistryTenant, RlsPool};

use super::{ItemRow, item, query_error};
use crate::items::model::{Item, NewItem};
use crate::items::storage::ItemsStore;

/// Defines `$name`, an [`ItemsStore`] over `$pool`, whose `begin(&tenant)`
/// opens a tenant-scoped transaction.
macro_rules! scoped_items {
    ($(#[$doc:meta])* $name:ident, $pool:ty) => {
        $(#[$doc])*
        pub struct $name {
            pool: $pool,
        }

        impl $name {
            /// Items through `pool`.
            pub fn new(pool: $pool) -> Self {
                Self { pool }
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }

        impl ItemsStore for $name {
            fn list<'a>(&'a self, tenant: &'a RegistryTenant) -> BoxFuture<'a, Result<Vec<Item>, TenancyError>> {
                async move {
                    let mut tx = self.pool.begin(tenant).await?;
                    let rows: Vec<ItemRow> = sqlx::query_as("SELECT id, name, capacity FROM items ORDER BY id")
                        .fetch_all(&mut tx)
                        .await
                        .map_err(query_error)?;
                    tx.commit().await.map_err(query_error)?;
                    Ok(rows.into_iter().map(item).collect())
                }
                .boxed()
            }

            fn create<'a>(&'a self, tenant: &'a RegistryTenant, new: NewItem) -> BoxFuture<'a, Result<Item, TenancyError>> {
                async move {
                    let mut tx = self.pool.begin(tenant).await?;
                    let row: ItemRow = sqlx::query_as(
                        "INSERT INTO items (name, capacity) VALUES ($1, $2) RETURNING id, name, capacity",
                    )
                    .bind(&new.name)
                    .bind(new.capacity)
                    .fetch_one(&mut tx)
                    .await
                    .map_err(query_error)?;
                    tx.commit().await.map_err(query_error)?;
                    Ok(item(row))
                }
                .boxed()
            }

            fn get<'a>(&'a self, tenant: &'a RegistryTenant, id: i64) -> BoxFuture<'a, Result<Option<Item>, TenancyError>> {
                async move {
                    let mut tx = self.pool.begin(tenant).await?;
                    let row: Option<ItemRow> = sqlx::query_as("SELECT id, name, capacity FROM items WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut tx)
                        .await
                        .map_err(query_error)?;
                    tx.commit().await.map_err(query_error)?;
                    Ok(row.map(item))
                }
                .boxed()
            }

            fn delete<'a>(&'a self, tenant: &'a RegistryTenant, id: i64) -> BoxFuture<'a, Result<bool, TenancyError>> {
                async move {
                    let mut tx = self.pool.begin(tenant).await?;
                    let done = sqlx::query("DELETE FROM items WHERE id = $1")
                        .bind(id)
                        .execute(&mut tx)
                        .await
                        .map_err(query_error)?;
                    tx.commit().await.map_err(query_error)?;
                    Ok(done.rows_affected() > 0)
                }
                .boxed()
            }
        }
    };
}

scoped_items!(
    /// Items in shared tables, isolated by row-level security (shared mode).
    RlsItems,
    RlsPool
);
