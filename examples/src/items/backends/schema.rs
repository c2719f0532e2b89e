//! Postgres, one schema per tenant. Each operation is a single statement, so
//! it runs as a statement qualified with the tenant's schema (`{schema}.items`)
//! directly on the pool: no `search_path`, no transaction, one round trip.
//! (`SchemaPool::begin` gives a `search_path`-scoped transaction for work that
//! spans several statements.)

use futures_util::FutureExt;
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
}

impl ItemsStore for SchemaItems {
    fn list<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
    ) -> BoxFuture<'a, Result<Vec<Item>, TenancyError>> {
        async move {
            let sql = self
                .schemas
                .qualified(tenant)?
                .sql("SELECT id, name, capacity FROM {schema}.items ORDER BY id")?;
            let rows: Vec<ItemRow> = sqlx::query_as(sql)
                .fetch_all(self.schemas.pool())
                .await
                .map_err(query_error)?;
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
            let sql = self
                .schemas
                .qualified(tenant)?
                .sql("INSERT INTO {schema}.items (name, capacity) VALUES ($1, $2) RETURNING id, name, capacity")?;
            let row: ItemRow = sqlx::query_as(sql)
                .bind(&new.name)
                .bind(new.capacity)
                .fetch_one(self.schemas.pool())
                .await
                .map_err(query_error)?;
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
            let sql = self
                .schemas
                .qualified(tenant)?
                .sql("SELECT id, name, capacity FROM {schema}.items WHERE id = $1")?;
            let row: Option<ItemRow> = sqlx::query_as(sql)
                .bind(id)
                .fetch_optional(self.schemas.pool())
                .await
                .map_err(query_error)?;
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
            let sql = self
                .schemas
                .qualified(tenant)?
                .sql("DELETE FROM {schema}.items WHERE id = $1")?;
            let done = sqlx::query(sql)
                .bind(id)
                .execute(self.schemas.pool())
                .await
                .map_err(query_error)?;
            Ok(done.rows_affected() > 0)
        }
        .boxed()
    }
}
