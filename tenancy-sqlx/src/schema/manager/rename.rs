//! A tenant schema renamed (and renamed back) or dropped, under advisory locks.

use sqlx::{AssertSqlSafe, Row, SqlSafeStr};
use tenancy_core::{BoxError, TenancyError, TenantId};

use crate::error::{step_error, store_error};
use crate::postgres::lock;
use crate::postgres::tx::PgTx;
use crate::schema::pool::SchemaPool;
use crate::storage::{SchemaName, Storage};
use crate::tenant::RegistryTenant;

impl SchemaPool {
    /// Renames `tenant`'s schema to the one `to` maps to, under both schemas'
    /// locks; `SchemaRename` when the new name is taken by a schema or a
    /// role, or too long for the prefix.
    pub(super) async fn rename_schema(
        &self,
        tenant: &RegistryTenant,
        to: &TenantId,
    ) -> Result<Option<Storage>, TenancyError> {
        let from = tenant.id();
        let old_schema = tenant
            .schema()
            .ok_or_else(|| rename_error(from, to, "the tenant has no schema"))?;
        let new_schema = self
            .schema_naming()
            .schema_for(to)
            .map_err(|error| rename_error(from, to, error))?;
        let mut tx = self.locked(old_schema, &new_schema).await?;
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
        alter(&mut tx, old_schema, &new_schema)
            .await
            .map_err(|error| step_error(error, |source| rename_error(from, to, source)))?;
        tx.commit()
            .await
            .map_err(|error| step_error(error, |source| rename_error(from, to, source)))?;
        self.forget_version(old_schema);
        self.forget_version(&new_schema);
        Ok(Some(Storage::Schema(new_schema)))
    }

    /// Renames the schema `moved` back to `tenant`'s.
    pub(super) async fn rename_back(
        &self,
        tenant: &RegistryTenant,
        moved: &Storage,
    ) -> Result<(), TenancyError> {
        let (Some(moved), Some(original)) = (moved.schema(), tenant.schema()) else {
            return Ok(());
        };
        let mut tx = self.locked(moved, original).await?;
        alter(&mut tx, moved, original).await.map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        self.forget_version(moved);
        self.forget_version(original);
        Ok(())
    }

    /// A transaction holding both schemas' locks, taken in a fixed order so
    /// two crossing renames cannot deadlock.
    async fn locked(&self, a: &SchemaName, b: &SchemaName) -> Result<PgTx<'static>, TenancyError> {
        let (first, second) = if a <= b { (a, b) } else { (b, a) };
        let begin = format!(
            "BEGIN; {}; {}",
            lock::schema_lock(first),
            lock::schema_lock(second)
        );
        PgTx::begin(self.pool(), Some(AssertSqlSafe(begin).into_sql_str()))
            .await
            .map_err(store_error)
    }

    /// Drops `tenant`'s schema with everything in it, under its lock.
    pub(super) async fn drop_schema(&self, tenant: &RegistryTenant) -> Result<(), TenancyError> {
        let Some(schema) = tenant.schema() else {
            return Ok(());
        };
        let drop_error = |error: sqlx::Error| {
            step_error(error, |source| TenancyError::SchemaDrop {
                tenant: tenant.id().clone(),
                schema: schema.to_string(),
                source,
            })
        };
        let begin = format!("BEGIN; {}", lock::schema_lock(schema));
        let mut tx = PgTx::begin(self.pool(), Some(AssertSqlSafe(begin).into_sql_str()))
            .await
            .map_err(store_error)?;
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {} CASCADE",
            schema.quoted()
        )))
        .execute(&mut *tx)
        .await
        .map_err(drop_error)?;
        tx.commit().await.map_err(drop_error)?;
        self.forget_version(schema);
        Ok(())
    }
}

async fn alter(
    tx: &mut PgTx<'static>,
    from: &SchemaName,
    to: &SchemaName,
) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(format!(
        "ALTER SCHEMA {} RENAME TO {}",
        from.quoted(),
        to.quoted()
    )))
    .execute(&mut **tx)
    .await
    .map(drop)
}

fn rename_error(from: &TenantId, to: &TenantId, source: impl Into<BoxError>) -> TenancyError {
    TenancyError::SchemaRename {
        from: from.clone(),
        to: to.clone(),
        source: source.into(),
    }
}
