//! Spare schemas: pre-provisioned, fully migrated schemas that
//! [`SchemaManager::create`](crate::lifecycle::TenantManager::create) claims with a rename.
//!
//! Creating a relation costs Postgres about a millisecond of file and catalog
//! work, so a schema of a few tables with indexes takes tens of milliseconds
//! whatever the client does. Spares move that work off the request path:
//! replenish them in the background and creation becomes a catalog rename.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::{AssertSqlSafe, Row, SqlSafeStr, SqlStr};
use tenancy_core::TenancyError;

use super::create::{Step, step};
use crate::error::{step_error, store_error};
use crate::ident::{Ident, quote_literal};
use crate::lifecycle::TenantManager;
use crate::postgres::migrate::apply_fresh;
use crate::postgres::tx::PgTx;
use crate::registry::TenantRegistry;
use crate::schema::pool::SchemaPool;
use crate::storage::SchemaName;

/// The table listing spare schemas, and its statements.
#[derive(Debug, Clone)]
pub(crate) struct SpareTable {
    /// Claims the oldest spare; `$1` the new schema's name (role check).
    pub(super) claim: SqlStr,
    /// The role check alone, when there is no spare table.
    pub(super) role_check: SqlStr,
    create: String,
    add: SqlStr,
    /// Simple-protocol statements (no parameters): safe outside a
    /// transaction behind a transaction pooler, where an unnamed statement's
    /// parse and execution may reach different server connections.
    list: String,
    exists_query: String,
    remove: SqlStr,
    /// Whether the table was seen to exist (it is never dropped).
    exists: Arc<AtomicBool>,
}

impl SpareTable {
    pub(crate) fn new(schema: &Ident, table: &Ident) -> Self {
        let sp = format!("{}.{}", schema.quoted(), table.quoted());
        let sql = |text: String| AssertSqlSafe(text).into_sql_str();
        let role = "EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1) AS role_exists";
        Self {
            claim: sql(format!(
                "WITH claimed AS (DELETE FROM {sp} WHERE schema_name = (SELECT schema_name FROM {sp} \
                 ORDER BY created_at, schema_name LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING schema_name) \
                 SELECT (SELECT schema_name FROM claimed) AS spare, {role}"
            )),
            role_check: sql(format!("SELECT NULL::text AS spare, {role}")),
            create: format!(
                "CREATE SCHEMA IF NOT EXISTS {}; CREATE TABLE IF NOT EXISTS {sp} \
                 (schema_name text NOT NULL PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now())",
                schema.quoted()
            ),
            add: sql(format!("INSERT INTO {sp} (schema_name) VALUES ($1)")),
            list: format!("SELECT schema_name FROM {sp} ORDER BY schema_name"),
            exists_query: format!(
                "SELECT pg_catalog.to_regclass({}) IS NOT NULL",
                quote_literal(&sp)
            ),
            remove: sql(format!("DELETE FROM {sp} WHERE schema_name = $1")),
            exists: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether the spare table exists (a registry of another kind may not
    /// have made it); asked until it does.
    pub(super) async fn exists(&self, schemas: &SchemaPool) -> Result<bool, TenancyError> {
        if self.exists.load(Ordering::Relaxed) {
            return Ok(true);
        }
        let row = sqlx::raw_sql(AssertSqlSafe(self.exists_query.clone()))
            .fetch_one(schemas.pool())
            .await
            .map_err(store_error)?;
        let exists: bool = row.try_get(0).map_err(store_error)?;
        self.exists.store(exists, Ordering::Relaxed);
        Ok(exists)
    }

    /// Creates the table unless it exists.
    async fn ensure(&self, schemas: &SchemaPool) -> Result<(), TenancyError> {
        if !self.exists(schemas).await? {
            sqlx::raw_sql(AssertSqlSafe(self.create.clone()))
                .execute(schemas.pool())
                .await
                .map_err(store_error)?;
            self.exists.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
}

impl Default for SpareTable {
    fn default() -> Self {
        Self::new(
            &Ident::from_static("tenancy"),
            &Ident::from_static("spare_schemas"),
        )
    }
}

impl<R: TenantRegistry> TenantManager<SchemaPool, R> {
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
        self.schemas().spares().ensure(self.schemas()).await?;
        let available = self.spare_count().await?;
        let missing = target.saturating_sub(available);
        for _ in 0..missing {
            self.create_spare().await?;
        }
        Ok(missing)
    }

    /// How many spare schemas are available.
    pub async fn spare_count(&self) -> Result<usize, TenancyError> {
        if !self.schemas().spares().exists(self.schemas()).await? {
            return Ok(0);
        }
        let spares = self.list_spares().await?;
        Ok(spares.len())
    }

    /// Drops every spare schema; returns how many were dropped.
    pub async fn drop_spares(&self) -> Result<usize, TenancyError> {
        if !self.schemas().spares().exists(self.schemas()).await? {
            return Ok(0);
        }
        let mut dropped = 0;
        for spare in self.list_spares().await? {
            let mut tx = PgTx::begin(self.schemas().pool(), None)
                .await
                .map_err(store_error)?;
            let removed = sqlx::query(self.schemas().spares().remove.clone())
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
        let rows = sqlx::raw_sql(AssertSqlSafe(self.schemas().spares().list.clone()))
            .fetch_all(self.schemas().pool())
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let name: String = row.try_get(0).map_err(TenancyError::storage)?;
                Ok(SchemaName::new(name)?)
            })
            .collect()
    }

    async fn create_spare(&self) -> Result<SchemaName, TenancyError> {
        let spare = self.schemas().schema_naming().spare(&spare_token())?;
        let placeholder = tenancy_core::TenantId::new("spare")?;
        let mut tx = self.schemas().begin(&spare).await?;
        let conn = tx.unpartitioned_connection();
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {}", spare.quoted())))
            .execute(&mut *conn)
            .await
            .map_err(|error| step(&placeholder, &spare, error, Step::Schema))?;
        apply_fresh(&mut *conn, self.migrations())
            .await
            .map_err(|error| step(&placeholder, &spare, error, Step::Tables))?;
        sqlx::query(self.schemas().spares().add.clone())
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
