//! Shared tables on MariaDB/MySQL and SQLite, which have no row-level
//! security: every statement goes through the scoped helpers of
//! `tenancy-sqlx`, which bind the tenant's key wherever `{tenant}` stands and
//! refuse SQL that does not mention it.

use futures_util::FutureExt;
use tenancy_core::{BoxFuture, TenancyError};
use tenancy_sqlx::RegistryTenant;
use tenancy_sqlx::shared::keyed::{MySqlSharedPool, SqliteSharedPool};

use super::{ItemRow, item, query_error};
use crate::items::model::{Item, NewItem};
use crate::items::storage::ItemsStore;

/// Defines `$name`, an [`ItemsStore`] over the shared pool `$pool`.
macro_rules! keyed_items {
    ($(#[$doc:meta])* $name:ident, $pool:ty) => {
        $(#[$doc])*
        pub struct $name {
            shared: $pool,
        }

        impl $name {
            /// Items through `shared`.
            pub fn new(shared: $pool) -> Self {
                Self { shared }
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
                    let mut tx = self.shared.begin(tenant).await?;
                    let rows: Vec<ItemRow> = tx
                        .query_as("SELECT id, name, capacity FROM items WHERE tenant_id = {tenant} ORDER BY id")
                        .fetch_all()
                        .await
                        .map_err(query_error)?;
                    tx.commit().await.map_err(query_error)?;
                    Ok(rows.into_iter().map(item).collect())
                }
                .boxed()
            }

            fn create<'a>(&'a self, tenant: &'a RegistryTenant, new: NewItem) -> BoxFuture<'a, Result<Item, TenancyError>> {
                async move {
                    let mut tx = self.shared.begin(tenant).await?;
                    let row: ItemRow = tx
                        .query_as(
                            "INSERT INTO items (tenant_id, name, capacity) VALUES ({tenant}, ?, ?) \
                             RETURNING id, name, capacity",
                        )
                        .bind(new.name.as_str())
                        .bind(new.capacity)
                        .fetch_one()
                        .await
                        .map_err(query_error)?;
                    tx.commit().await.map_err(query_error)?;
                    Ok(item(row))
                }
                .boxed()
            }

            fn get<'a>(&'a self, tenant: &'a RegistryTenant, id: i64) -> BoxFuture<'a, Result<Option<Item>, TenancyError>> {
                async move {
                    let mut tx = self.shared.begin(tenant).await?;
                    let row: Option<ItemRow> = tx
                        .query_as("SELECT id, name, capacity FROM items WHERE tenant_id = {tenant} AND id = ?")
                        .bind(id)
                        .fetch_optional()
                        .await
                        .map_err(query_error)?;
                    tx.commit().await.map_err(query_error)?;
                    Ok(row.map(item))
                }
                .boxed()
            }

            fn delete<'a>(&'a self, tenant: &'a RegistryTenant, id: i64) -> BoxFuture<'a, Result<bool, TenancyError>> {
                async move {
                    let mut tx = self.shared.begin(tenant).await?;
                    let done = tx
                        .query("DELETE FROM items WHERE tenant_id = {tenant} AND id = ?")
                        .bind(id)
                        .execute()
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

keyed_items!(
    /// Items in shared MariaDB/MySQL tables, scoped by the tenant key.
    MySqlKeyedItems,
    MySqlSharedPool
);

keyed_items!(
    /// Items in shared SQLite tables, scoped by the tenant key.
    SqliteKeyedItems,
    SqliteSharedPool
);
