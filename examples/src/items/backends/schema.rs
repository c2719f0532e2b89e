//! Postgres, one schema per tenant. Each operation is a single statement.
//! Reached directly, it runs as a statement qualified with the tenant's
//! schema (`{schema}.items`) straight on the pool: no `search_path`, no
//! transaction, one round trip. Behind a transaction pooler, where a
//! statement outside a transaction is not safe, it runs in a
//! `search_path`-scoped transaction ([`SchemaPool::begin`]) instead.

use futures_util::FutureExt;
use sqlx::AssertSqlSafe;
use tenancy_core::{BoxFuture, TenancyError};
use tenancy_sqlx::{RegistryTenant, SchemaPool};

use super::{ItemRow, item, query_error};
use crate::items::model::{Item, NewItem};
use crate::items::storage::ItemsStore;

/// Items in the tenant's schema (schema mode).
#[derive(Debug)]
pub struct SchemaItems {
    schemas: SchemaPool,
}

impl SchemaItems {
    /// Items through `schemas`.
    pub fn new(schemas: SchemaPool) -> Self {
        Self { schemas }
    }

    fn pooled(&self) -> bool {
        self.schemas.connections().pooler().is_transaction()
    }
}

/// Runs `$query` (a statement template with `{schema}.items`) for `$tenant`
/// and ends it with `$fetch`: qualified on the pool when direct, inside a
/// scoped transaction (`{schema}.` dropped) behind a pooler.
macro_rules! run {
    ($self:ident, $tenant:ident, $template:expr, |$q:ident| $build:expr, $fetch:ident) => {{
        if $self.pooled() {
            let mut tx = $self.schemas.begin($tenant).await?;
            let $q = sqlx::query_as(AssertSqlSafe($template.replace("{schema}.", "")));
            let out = $build.$fetch(&mut tx).await.map_err(query_error)?;
            tx.commit().await.map_err(query_error)?;
            out
        } else {
            let scope = $self.schemas.qualified($tenant)?;
            // Prepared for the pool's hot schemas, unnamed for the others.
            let $q = sqlx::query_as(scope.sql($template)?).persistent(scope.persistent());
            $build.$fetch(scope.pool()).await.map_err(query_error)?
        }
    }};
}

impl ItemsStore for SchemaItems {
    fn list<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
    ) -> BoxFuture<'a, Result<Vec<Item>, TenancyError>> {
        async move {
            let rows: Vec<ItemRow> = run!(
                self,
                tenant,
                "SELECT id, name, capacity FROM {schema}.items ORDER BY id",
                |q| q,
                fetch_all
            );
            Ok(rows.into_iter().map(item).collect())
        }
        .boxed()
    }

    fn create<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
        new: NewItem,
    ) -> BoxFuture<'a, Result<Item, TenancyError>> {
        async move {
            let row: ItemRow = run!(
                self,
                tenant,
                "INSERT INTO {schema}.items (name, capacity) VALUES ($1, $2) RETURNING id, name, capacity",
                |q| q.bind(&new.name).bind(new.capacity),
                fetch_one
            );
            Ok(item(row))
        }
        .boxed()
    }

    fn get<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
        id: i64,
    ) -> BoxFuture<'a, Result<Option<Item>, TenancyError>> {
        async move {
            let row: Option<ItemRow> = run!(
                self,
                tenant,
                "SELECT id, name, capacity FROM {schema}.items WHERE id = $1",
                |q| q.bind(id),
                fetch_optional
            );
            Ok(row.map(item))
        }
        .boxed()
    }

    fn delete<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
        id: i64,
    ) -> BoxFuture<'a, Result<bool, TenancyError>> {
        async move {
            // `DELETE … RETURNING id`: a row back means one was deleted.
            let deleted: Option<(i64,)> = run!(
                self,
                tenant,
                "DELETE FROM {schema}.items WHERE id = $1 RETURNING id",
                |q| q.bind(id),
                fetch_optional
            );
            Ok(deleted.is_some())
        }
        .boxed()
    }
}
