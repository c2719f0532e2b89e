//! Spare schemas: pre-provisioned, fully migrated schemas that
//! [`SchemaManager::create`] claims with a rename.
//!
//! Creating a relation costs Postgres about a millisecond of file and catalog
//! work, so a schema of a few tables with indexes takes tens of milliseconds
//! whatever the client does. Spares move that work off the request path:
//! replenish them in the background and creation becomes a catalog rename.

use sqlx::{AssertSqlSafe, Row};
use tenancy_core::TenancyError;

use super::SchemaManager;
use super::create::{Step, step};
use crate::error::{step_error, store_error};
use crate::postgres::migrate::apply_fresh;
use crate::postgres::tx::PgTx;
use crate::storage::SchemaName;

impl SchemaManager {
    /// Creates spare schemas until `target` are available; returns how many it created.
    ///
    /// Spares are migrated like tenants; spares that fall behind a newer
    /// migration are caught up when claimed. Run it from a background task,
    /// e.g. every few seconds:
    ///
    /// ```no_run
    /// # async fn example(manager: tenancy_sqlx::SchemaManager) {
    /// let keeper = manager.clone();
    /// tokio::spawn(async move {
    ///     let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    ///     loop {
    ///         tick.tick().await;
    ///         if let Err(error) = keeper.replenish_spares(50).await {
    ///             tracing::warn!(%error, "could not replenish spare schemas");
    ///         }
    ///     }
    /// });
    /// # }
    /// ```
    pub async fn replenish_spares(&self, target: usize) -> Result<usize, TenancyError> {
        let available = self.spare_count().await?;
        let missing = target.saturating_sub(available);
        for _ in 0..missing {
            self.create_spare().await?;
        }
        Ok(missing)
    }

    /// How many spare schemas are available.
    pub async fn spare_count(&self) -> Result<usize, TenancyError> {
        let spares = self.list_spares().await?;
        Ok(spares.len())
    }

    /// Drops every spare schema; returns how many were dropped.
    pub async fn drop_spares(&self) -> Result<usize, TenancyError> {
        let mut dropped = 0;
        for spare in self.list_spares().await? {
            let mut tx = PgTx::begin(self.pool(), None).await.map_err(store_error)?;
            let removed = sqlx::query(self.inner.registry.sql().remove_spare.clone())
                .persistent(false)
                .bind(spare.as_str())
                .execute(&mut *tx)
                .await
                .map_err(store_error)?
                .rows_affected();
            if removed == 0 {
                continue; // claimed meanwhile
            }
            sqlx::raw_sql(AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                spare.quoted()
            )))
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
            tx.commit().await.map_err(store_error)?;
            dropped += 1;
        }
        Ok(dropped)
    }

    async fn list_spares(&self) -> Result<Vec<SchemaName>, TenancyError> {
        let mut unit = self.inner.registry.unit().await?;
        let rows = sqlx::query(self.inner.registry.sql().list_spares.clone())
            .persistent(false)
            .fetch_all(&mut *unit)
            .await
            .map_err(store_error)?;
        unit.finish().await.map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let name: String = row.try_get(0).map_err(TenancyError::storage)?;
                Ok(SchemaName::new(name)?)
            })
            .collect()
    }

    async fn create_spare(&self) -> Result<SchemaName, TenancyError> {
        let spare = self.inner.registry.config().naming.spare(&spare_token())?;
        let placeholder = tenancy_core::TenantId::new("spare")?;
        let mut tx = self.inner.schemas.begin(&spare).await?;
        let conn = tx.unpartitioned_connection();
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {}", spare.quoted())))
            .execute(&mut *conn)
            .await
            .map_err(|error| step(&placeholder, &spare, error, Step::Schema))?;
        apply_fresh(&mut *conn, &self.inner.migrations)
            .await
            .map_err(|error| step(&placeholder, &spare, error, Step::Tables))?;
        sqlx::query(self.inner.registry.sql().add_spare.clone())
            .persistent(false)
            .bind(spare.as_str())
            .execute(&mut *conn)
            .await
            .map_err(|error| step_error(error, TenancyError::storage))?;
        tx.commit().await.map_err(store_error)?;
        Ok(spare)
    }
}

/// A unique-enough suffix for a spare schema name (time + counter + randomness).
fn spare_token() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    hasher.write_u128(nanos);
    format!("{:016x}", hasher.finish())
}
