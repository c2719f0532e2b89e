//! Database per tenant: every query runs on a connection to the tenant's own
//! database, from the tenant's pool.

use futures_util::FutureExt;
use tenancy_core::{BoxFuture, TenancyError};
use tenancy_sqlx::database::{MySqlDatabases, PgDatabases, SqliteDatabases};
use tenancy_sqlx::{RegistryTenant, TenantAccess, TenantPools};

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

/// Runs `$body` with `$c` bound to a connection of `$tenant`'s database and
/// `$persistent` to whether statements may be prepared for reuse: behind a
/// transaction pooler inside a transaction with unnamed statements, else
/// straight on the pooled connection.
macro_rules! on_tenant {
    ($self:ident, $tenant:ident, |$c:ident, $persistent:ident| $body:expr) => {{
        let mut conn = $self.pools.open($tenant).await?;
        let $persistent = !$self.pooled;
        if $self.pooled {
            let mut tx = sqlx::Connection::begin(&mut *conn)
                .await
                .map_err(query_error)?;
            let $c = &mut *tx;
            let out = $body;
            tx.commit().await.map_err(query_error)?;
            out
        } else {
            let $c = &mut *conn;
            $body
        }
    }};
}

/// Defines `$name`, an [`ItemsStore`] over the tenant pools of `$backend`.
macro_rules! database_items {
    ($(#[$doc:meta])* $name:ident, $backend:ty, $sql:expr) => {
        $(#[$doc])*
        pub struct $name {
            pools: TenantPools<$backend>,
            pooled: bool,
        }

        impl $name {
            /// Items through the tenant pools `pools`.
            pub fn new(pools: TenantPools<$backend>) -> Self {
                Self { pools, pooled: false }
            }

            /// Items through `pools` whose connections go through a
            /// transaction pooler: every statement unnamed, in a transaction.
            pub fn through_pooler(pools: TenantPools<$backend>) -> Self {
                Self { pools, pooled: true }
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).field("pooled", &self.pooled).finish_non_exhaustive()
            }
        }

        impl ItemsStore for $name {
            fn list<'a>(&'a self, tenant: &'a RegistryTenant) -> BoxFuture<'a, Result<Vec<Item>, TenancyError>> {
                async move {
                    let rows: Vec<ItemRow> = on_tenant!(self, tenant, |c, persistent| {
                        sqlx::query_as($sql.list).persistent(persistent).fetch_all(&mut *c).await.map_err(query_error)?
                    });
                    Ok(rows.into_iter().map(item).collect())
                }
                .boxed()
            }

            fn create<'a>(&'a self, tenant: &'a RegistryTenant, new: NewItem) -> BoxFuture<'a, Result<Item, TenancyError>> {
                async move {
                    let row: ItemRow = on_tenant!(self, tenant, |c, persistent| {
                        sqlx::query_as($sql.create)
                            .persistent(persistent)
                            .bind(&new.name)
                            .bind(new.capacity)
                            .fetch_one(&mut *c)
                            .await
                            .map_err(query_error)?
                    });
                    Ok(item(row))
                }
                .boxed()
            }

            fn get<'a>(&'a self, tenant: &'a RegistryTenant, id: i64) -> BoxFuture<'a, Result<Option<Item>, TenancyError>> {
                async move {
                    let row: Option<ItemRow> = on_tenant!(self, tenant, |c, persistent| {
                        sqlx::query_as($sql.get).persistent(persistent).bind(id).fetch_optional(&mut *c).await.map_err(query_error)?
                    });
                    Ok(row.map(item))
                }
                .boxed()
            }

            fn delete<'a>(&'a self, tenant: &'a RegistryTenant, id: i64) -> BoxFuture<'a, Result<bool, TenancyError>> {
                async move {
                    let done = on_tenant!(self, tenant, |c, persistent| {
                        sqlx::query($sql.delete).persistent(persistent).bind(id).execute(&mut *c).await.map_err(query_error)?
                    });
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
