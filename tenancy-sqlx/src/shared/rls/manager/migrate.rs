//! Migrations in shared-schema mode: applied once to the shared tables, under
//! an advisory lock, with the declared tables re-protected and the
//! row-level security audit run in the same transaction; the report still has
//! an entry for every tenant.

use std::collections::HashSet;
use std::time::Instant;

use sqlx::{AssertSqlSafe, Row, SqlSafeStr};
use tenancy_core::TenancyError;

use crate::error::{MigrationError, store_error};
use crate::ident::quote_literal;
use crate::lifecycle::TenantManager;
use crate::migrate::TenantMigrations;
use crate::migrate::{MigrateOptions, MigrationReport};
use crate::postgres::migrate::{apply_fresh, apply_missing, history_query};
use crate::postgres::tx::PgTx;
use crate::registry::TenantRegistry;
use crate::shared::report::{
    fan_out, migration_failed as failed, partial_run_refused as refused, stopped,
};
use crate::shared::rls::RlsPool;
use crate::shared::rls::sql;
use crate::tenant::RegistryTenant;

/// What a run of the shared migrations did.
pub(super) enum Outcome {
    /// These versions were applied (possibly none).
    Applied(Vec<i64>),
    /// Nothing was applied: `pending` migrations are pending but the caller
    /// did not allow applying them.
    Refused { pending: usize },
}

impl<R: TenantRegistry> TenantManager<RlsPool, R> {
    /// Applies pending migrations to the shared tables, in one transaction
    /// under an advisory lock (concurrent runs wait for each other), and,
    /// when anything was applied, re-protects the declared tables and runs
    /// the [audit](crate::shared::rls::RlsPool::audit) in that transaction: the
    /// migrations are committed only if the audit passes. Returns the applied
    /// versions.
    ///
    /// The history lives in the shared schema, in the table named by
    /// [`TenantMigrations::history_table`](crate::migrate::TenantMigrations::history_table)
    /// (`_sqlx_migrations` by default: pick another name if the application's
    /// own sqlx migrations use that schema too). Migrations run as the login
    /// role with `search_path` set to the shared schema, then `public`.
    ///
    /// Errors: `Storage` (a migration or the protection failed; the shared
    /// tables are unchanged), `Configuration` (the audit refused the migrated
    /// setup, e.g. a migration granted a view over a tenant table to the
    /// tenant role; the shared tables are unchanged), `StoreUnavailable`.
    pub async fn migrate(&self) -> Result<Vec<i64>, TenancyError> {
        match self
            .shared()
            .migrate_shared(self.migrations(), false, true, true)
            .await?
        {
            Outcome::Applied(versions) => Ok(versions),
            Outcome::Refused { .. } => Ok(Vec::new()),
        }
    }
}

impl RlsPool {
    /// Applies pending migrations to the shared tables (see
    /// [`RlsManager::migrate`](crate::shared::rls::RlsManager::migrate)) and reports the outcome for every selected
    /// tenant: since all tenants share the tables, every tenant gets the same
    /// outcome (`Migrated` with the applied versions, `UpToDate`, or `Failed`
    /// with the shared error as the source).
    ///
    /// A run that applies migrations re-protects the declared tables and
    /// runs the [audit](crate::shared::rls::RlsPool::audit) in the migrations'
    /// transaction. When protection fails or the audit refuses (a migration
    /// left a tenant table unprotected, added a permissive policy, granted
    /// `TRUNCATE`, a view over a tenant table or a `SECURITY DEFINER`
    /// function to the tenant role, …), the migrations are rolled back and
    /// every selected tenant is reported `Failed` with a
    /// [`TenancyError::Migration`] whose source holds the refusal (a
    /// [`TenancyError::Configuration`] listing every problem).
    ///
    /// Migrations change the rows of *every* tenant, so a
    /// [filter](MigrateOptions::filter) that leaves tenants out is refused with
    /// [`TenancyError::Configuration`] when migrations are pending (nothing is
    /// applied); with nothing pending, the selected tenants are reported up to
    /// date. Concurrency does not apply.
    pub(super) async fn migrate_all_shared(
        &self,
        tenants: Vec<RegistryTenant>,
        migrations: &TenantMigrations,
        options: MigrateOptions,
    ) -> Result<MigrationReport, TenancyError> {
        let started = Instant::now();
        let listed = tenants.len();
        let selected: Vec<RegistryTenant> = tenants
            .into_iter()
            .filter(|tenant| options.filter.matches(tenant))
            .collect();
        let skipped = listed - selected.len();
        if options.is_stopped() {
            return Ok(stopped(&selected, skipped, started));
        }
        let outcome = match self
            .migrate_shared(migrations, false, skipped == 0, true)
            .await
        {
            Ok(Outcome::Refused { pending }) => {
                return Err(refused(pending, skipped));
            }
            Ok(Outcome::Applied(versions)) => Ok(versions),
            Err(error) => Err(error),
        };
        let report = fan_out(
            &selected,
            outcome,
            skipped,
            started,
            options.progress.as_ref(),
        );
        tracing::info!(%report, "shared-table migrations finished");
        Ok(report)
    }

    /// The migration run; `protect_always` re-protects even when nothing is
    /// pending; without `allow_pending`, pending migrations are not applied;
    /// with `audit`, a run that applied migrations is audited before it
    /// commits (and rolled back if the audit refuses).
    pub(super) async fn migrate_shared(
        &self,
        migrations: &TenantMigrations,
        protect_always: bool,
        allow_pending: bool,
        audit: bool,
    ) -> Result<Outcome, TenancyError> {
        let shared = self;
        let schema = shared.schema_name();
        let search_path = quote_literal(&format!("{}, public", schema.quoted()));
        let begin = format!(
            "BEGIN; {}; SELECT pg_catalog.set_config('search_path', {search_path}, true)",
            sql::shared_lock(schema)
        );
        let mut tx = PgTx::begin(shared.pool(), Some(AssertSqlSafe(begin).into_sql_str()))
            .await
            .map_err(store_error)?;
        let history = sql::qualified(schema, migrations.history());
        let exists: bool = sqlx::query_scalar("SELECT pg_catalog.to_regclass($1) IS NOT NULL")
            .persistent(false)
            .bind(&history)
            .fetch_one(&mut *tx)
            .await
            .map_err(store_error)?;
        let versions = if exists {
            let rows = sqlx::query(AssertSqlSafe(history_query(migrations)))
                .persistent(false)
                .fetch_all(&mut *tx)
                .await
                .map_err(|error| failed(MigrationError::Database(error)))?;
            let mut applied = HashSet::with_capacity(rows.len());
            for row in &rows {
                let version: i64 = row
                    .try_get(0)
                    .map_err(|error| failed(MigrationError::Database(error)))?;
                applied.insert(version);
            }
            let pending = migrations
                .iter()
                .filter(|migration| !applied.contains(&migration.version))
                .count();
            if pending > 0 && !allow_pending {
                return Ok(Outcome::Refused { pending });
            }
            apply_missing(&mut tx, migrations, &rows)
                .await
                .map_err(failed)?
        } else {
            if !migrations.is_empty() && !allow_pending {
                return Ok(Outcome::Refused {
                    pending: migrations.len(),
                });
            }
            apply_fresh(&mut tx, migrations).await.map_err(failed)?
        };
        if protect_always || !versions.is_empty() {
            shared.protect_on(&mut tx, shared.table_names()).await?;
        }
        if audit && !versions.is_empty() {
            // Dropping `tx` on a refusal rolls the migrations back.
            if let Err(error) = shared.audit_on(&mut tx).await {
                tracing::warn!(
                    %error, ?versions, schema = %schema,
                    "the migrated shared tables fail the row-level security audit; rolled back"
                );
                return Err(error);
            }
        }
        tx.commit()
            .await
            .map_err(|error| failed(MigrationError::Database(error)))?;
        if !versions.is_empty() {
            tracing::info!(?versions, schema = %schema, "shared tables migrated");
        }
        Ok(Outcome::Applied(versions))
    }
}
