//! [`SchemaManager::rename`] and [`SchemaManager::delete`].

use sqlx::{AssertSqlSafe, Row, SqlSafeStr};
use tenancy_core::{Invalidation, TenancyError, TenantId, TenantKey};

use super::SchemaManager;
use crate::error::{step_error, store_error};
use crate::postgres::lock;
use crate::postgres::tx::PgTx;
use crate::storage::SchemaName;
use crate::storage::Storage;
use crate::tenant::RegistryTenant;

impl SchemaManager {
    /// Renames a tenant: its id in the registry (domains follow) and its schema,
    /// in one transaction, then invalidates both ids in every cache.
    ///
    /// Errors: `TenantNotFound` (no `from`), `TenantExists` (`to` is taken),
    /// `SchemaRename` (the schema cannot be renamed, e.g. the new name is taken
    /// by a schema or a role, or too long for the prefix).
    pub async fn rename(
        &self,
        from: &TenantId,
        to: &TenantId,
    ) -> Result<RegistryTenant, TenancyError> {
        let registry = &self.inner.registry;
        let current = registry.require(from).await?;
        let old_schema = current
            .schema()
            .ok_or_else(|| rename_error(from, to, "the tenant has no schema"))?
            .clone();
        let new_schema = registry
            .config()
            .naming
            .schema_for(to)
            .map_err(|error| rename_error(from, to, error))?;
        // Both schema locks, in a fixed order so two crossing renames cannot deadlock.
        let (first, second) = if old_schema <= new_schema {
            (&old_schema, &new_schema)
        } else {
            (&new_schema, &old_schema)
        };
        let begin = format!(
            "BEGIN; {}; {}",
            lock::schema_lock(first),
            lock::schema_lock(second)
        );
        let mut tx = PgTx::begin(self.pool(), Some(AssertSqlSafe(begin).into_sql_str()))
            .await
            .map_err(store_error)?;
        let rows = registry
            .rename_on(
                &mut tx,
                from,
                to,
                Some(&Storage::Schema(new_schema.clone())),
            )
            .await?;
        if rows == 0 {
            return Err(TenancyError::TenantNotFound {
                key: TenantKey::Id(from.clone()),
            });
        }
        let role_exists: bool =
            sqlx::query("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)")
                .persistent(false)
                .bind(new_schema.as_str())
                .fetch_one(&mut *tx)
                .await
                .and_then(|row| row.try_get(0))
                .map_err(|error| step_error(error, |source| rename_error(from, to, source)))?;
        if role_exists {
            return Err(rename_error(
                from,
                to,
                "a role has the new schema's name, and its default search_path would pick it up",
            ));
        }
        sqlx::raw_sql(AssertSqlSafe(format!(
            "ALTER SCHEMA {} RENAME TO {}",
            old_schema.quoted(),
            new_schema.quoted()
        )))
        .execute(&mut *tx)
        .await
        .map_err(|error| step_error(error, |source| rename_error(from, to, source)))?;
        let renamed = registry
            .find_on(&mut tx, to)
            .await?
            .ok_or_else(|| rename_error(from, to, "the renamed tenant disappeared"))?;
        tx.commit()
            .await
            .map_err(|error| step_error(error, |source| rename_error(from, to, source)))?;
        registry
            .publish(&[
                Invalidation::Tenant(from.clone()),
                Invalidation::Tenant(to.clone()),
            ])
            .await;
        tracing::info!(%from, %to, "tenant renamed");
        Ok(renamed)
    }

    /// Deletes a tenant: its schema (with everything in it) and its registry row,
    /// in one transaction. Idempotent: returns `false` when the registry has no
    /// such tenant (and then touches no schema, since only the registry knows
    /// which schema belongs to whom).
    ///
    /// Errors: `SchemaDrop`, `StoreUnavailable`.
    pub async fn delete(&self, id: &TenantId) -> Result<bool, TenancyError> {
        let registry = &self.inner.registry;
        let Some(tenant) = tenancy_core::TenantStore::find_by_id(registry, id).await? else {
            return Ok(false);
        };
        let schema: Option<SchemaName> = tenant.schema().cloned();
        let begin = match &schema {
            Some(schema) => format!("BEGIN; {}", lock::schema_lock(schema)),
            None => "BEGIN".to_owned(),
        };
        let mut tx = PgTx::begin(self.pool(), Some(AssertSqlSafe(begin).into_sql_str()))
            .await
            .map_err(store_error)?;
        let drop_error = |error: sqlx::Error| {
            step_error(error, |source| TenancyError::SchemaDrop {
                tenant: id.clone(),
                schema: schema.as_ref().map(ToString::to_string).unwrap_or_default(),
                source,
            })
        };
        let existed = registry.delete_on(&mut tx, id).await?;
        if let Some(schema) = &schema {
            sqlx::raw_sql(AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                schema.quoted()
            )))
            .execute(&mut *tx)
            .await
            .map_err(drop_error)?;
        }
        tx.commit().await.map_err(drop_error)?;
        registry.publish(&[Invalidation::Tenant(id.clone())]).await;
        tracing::info!(tenant = %id, "tenant dropped");
        Ok(existed)
    }
}

fn rename_error(
    from: &TenantId,
    to: &TenantId,
    source: impl Into<tenancy_core::BoxError>,
) -> TenancyError {
    TenancyError::SchemaRename {
        from: from.clone(),
        to: to.clone(),
        source: source.into(),
    }
}
