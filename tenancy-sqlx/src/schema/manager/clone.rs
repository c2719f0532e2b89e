//! Cloning in schema mode: the source schema's rows and sequence values,
//! copied inside Postgres into the new tenant's freshly migrated schema.

use sqlx::{AssertSqlSafe, SqlSafeStr};
use tenancy_core::TenancyError;

use crate::error::step_error;
use crate::migrate::TenantMigrations;
use crate::postgres::copy::{tables_in_order, used_sequences};
use crate::postgres::tx::PgTx;
use crate::schema::pool::SchemaPool;
use crate::tenant::RegistryTenant;

impl SchemaPool {
    /// Copies `from`'s rows and sequence values into `to`'s schema (made by
    /// the same migrations), in one transaction that reads one snapshot of
    /// the source: tables in foreign-key order, identity values kept.
    pub(super) async fn copy_schema(
        &self,
        from: &RegistryTenant,
        to: &RegistryTenant,
        migrations: &TenantMigrations,
    ) -> Result<(), TenancyError> {
        let source = self.schema_of(from)?;
        let target = self.schema_of(to)?;
        let failed = |error: sqlx::Error| {
            step_error(error, |source| TenancyError::SchemaCreation {
                tenant: to.id().clone(),
                schema: target.to_string(),
                source,
            })
        };
        let begin = AssertSqlSafe("BEGIN ISOLATION LEVEL REPEATABLE READ").into_sql_str();
        let mut tx = PgTx::begin(self.pool(), Some(begin))
            .await
            .map_err(failed)?;
        let schemas = [source.as_str().to_owned()];
        let history = (source.as_str(), migrations.history().as_str());
        let tables = tables_in_order(&mut tx, &schemas, history)
            .await
            .map_err(failed)?;
        // Rows the migrations wrote into the new schema give way to the source's.
        if !tables.is_empty() {
            let all: Vec<String> = tables
                .iter()
                .map(|table| table.qualified_in(target.as_str()))
                .collect();
            sqlx::query(AssertSqlSafe(format!("TRUNCATE {}", all.join(", "))))
                .persistent(false)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
        }
        for table in tables.iter().filter(|table| !table.typed.is_empty()) {
            let copy = format!(
                "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM {}",
                table.qualified_in(target.as_str()),
                table.columns(),
                table.select_for(target.as_str()),
                table.rows(),
            );
            sqlx::query(AssertSqlSafe(copy))
                .persistent(false)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
        }
        for sequence in used_sequences(&mut tx, &schemas).await.map_err(failed)? {
            sqlx::query(AssertSqlSafe(sequence.setval_in(target.as_str())))
                .persistent(false)
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
        }
        tx.commit().await.map_err(failed)
    }
}
