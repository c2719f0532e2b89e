//! Database per tenant: every query runs on a connection to the tenant's own
//! database, from the tenant's pool.

use futures_util::FutureExt;
use tenancy_core::{BoxFuture, TenancyError};
use tenancy_sqlx::{
    MySqlDatabases, PgDatabases, RegistryTenant, SqliteDatabases, TenantAccess, TenantPools,
};

use super::{ItemRow, item, query_error};
use crate::items::model::{Item, NewItem};
use crate::items::storage::ItemsStore;

/// The statements of one SQL dialect.
struct Statements {
    list: &'static str,
    create: &'static str,
    get: &'static str,
    delete: &'static str,
}

const DOLLAR: Statements = Statements {
    list: "SELECT id, name, capacity FROM items ORDER BY id",
    create: "INSERT INTO items (name, capacity) VALUES ($1, $2) RETURNING id, name, capacity",
    get: "SELECT id, name, capacity FROM items WHERE id = $1",
    delete: "DELETE FROM items WHERE id = $1",
};

const QUESTION: Statements = Statements {
    list: "SELECT id, name, capacity FROM items ORDER BY id",
    create: "INSERT INTO items (name, capacity) VALUES (?, ?) RETURNING id, name, capacity",
    get: "SELECT id, name, capacity FROM items WHERE id = ?",
    delete: "DELETE FROM items WHERE id = ?",
};

/// Defines `$name`, an [`ItemsStore`] over the tenant pools of `$backend`.
macro_rules! database_items {
    ($(#[$doc:meta])* $name:ident, $backend:ty, $sql:expr) => {
        $(#[$doc])*
        pub struct $name {
            pools: TenantPools<$backend>,
        }

        impl $name {
            /// Items through the tenant pools `pools`.
            pub fn new(pools: TenantPools<$backend>) -> Self {
                Self { pools }
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
                    let mut conn = self.pools.open(tenant).await?;
                    let rows: Vec<ItemRow> =
                        sqlx::query_as($sql.list).fetch_all(&mut *conn).await.map_err(query_error)?;
                    Ok(rows.into_iter().map(item).collect())
                }
                .boxed()
            }

            fn create<'a>(&'a self, tenant: &'a RegistryTenant, new: NewItem) -> BoxFuture<'a, Result<Item, TenancyError>> {
                async move {
                    let mut conn = self.pools.open(tenant).await?;
                    let row: ItemRow = sqlx::query_as($sql.create)
                        .bind(&new.name)
                        .bind(new.capacity)
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(query_error)?;
                    Ok(item(row))
                }
                .boxed()
            }

            fn get<'a>(&'a self, tenant: &'a RegistryTenant, id: i64) -> BoxFuture<'a, Result<Option<Item>, TenancyError>> {
                async move {
                    let mut conn = self.pools.open(tenant).await?;
                    let row: Option<ItemRow> =
                        sqlx::query_as($sql.get).bind(id).fetch_optional(&mut *conn).await.map_err(query_error)?;
                    Ok(row.map(item))
                }
                .boxed()
            }

            fn delete<'a>(&'a self, tenant: &'a RegistryTenant, id: i64) -> BoxFuture<'a, Result<bool, TenancyError>> {
                async move {
                    let mut conn = self.pools.open(tenant).await?;
                    let done = sqlx::query($sql.delete).bind(id).execute(&mut *conn).await.map_err(query_error)?;
                    Ok(done.rows_affected() > 0)
                }
                .boxed()
            }
        }
    };
}

database_items!(
    /// Items in the tenant's own Postgres database.
    PgDatabaseItems,
    PgDatabases,
    DOLLAR
);

database_items!(
    /// Items in the tenant's own MariaDB/MySQL database.
    MySqlDatabaseItems,
    MySqlDatabases,
    QUESTION
);

database_items!(
    /// Items in the tenant's own SQLite file.
    SqliteDatabaseItems,
    SqliteDatabases,
    QUESTION
);
