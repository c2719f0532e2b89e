//! [`SchemaManager::create`]: registry row, schema and migrations as one unit.

use sqlx::AssertSqlSafe;
use tenancy_core::{BoxError, TenancyError, TenantId};

use super::SchemaManager;
use crate::error::sqlstate;
use crate::postgres::migrate::{apply_fresh, apply_missing, history_query};
use crate::registry::postgres::created_events;
use crate::storage::SchemaName;
use crate::storage::Storage;
use crate::tenant::{NewTenant, RegistryTenant};

impl SchemaManager {
    /// Creates a tenant: registry row, schema, migrations and seed, in one
    /// transaction.
    ///
    /// A failure at any step rolls everything back: neither the registry row
    /// nor the schema is left behind. Of two concurrent creations of the same
    /// id exactly one succeeds; the other fails with
    /// [`TenancyError::TenantExists`] (the registry row is written first, so the
    /// loser waits on it and then fails without touching any schema).
    ///
    /// When a [spare schema](Self::replenish_spares) is available it is claimed
    /// (renamed) instead of creating the schema and replaying the migrations,
    /// which turns the expensive DDL into a catalog rename.
    ///
    /// Errors: `TenantExists`, `DomainTaken`, `SchemaCreation` (e.g. the schema
    /// name is taken by a schema or a role, or too long for the prefix),
    /// `TableCreation` (a migration or the seed failed), `StoreUnavailable`.
    pub async fn create(&self, new: NewTenant) -> Result<RegistryTenant, TenancyError> {
        let naming = &self.inner.registry.config().naming;
        let schema = naming.schema_for(&new.id).map_err(|error| {
            schema_creation(&new.id, &format!("{}{}", naming.prefix(), new.id), error)
        })?;
        // One round trip: BEGIN + search_path (the schema does not exist yet).
        let mut tx = self.inner.schemas.begin(&schema).await?;
        let conn = tx.unpartitioned_connection();

        // The registry row first (a concurrent creation of the same id blocks
        // on it), claiming a spare schema and checking role names in the same
        // statement.
        let inserted = self
            .inner
            .registry
            .insert_on(&mut *conn, &new, Storage::Schema(schema.clone()), true)
            .await?;
        if inserted.role_exists {
            return Err(schema_creation(
                &new.id,
                schema.as_str(),
                "a role has this name, and a role's default search_path would pick the schema up",
            ));
        }
        let tenant = inserted.tenant;

        match inserted.spare {
            Some(spare) => {
                // Rename the spare and read its history in one round trip.
                let spare = SchemaName::new(&spare)
                    .map_err(|error| schema_creation(&new.id, schema.as_str(), error))?;
                let history = sqlx::raw_sql(AssertSqlSafe(format!(
                    "ALTER SCHEMA {} RENAME TO {}; {}",
                    spare.quoted(),
                    schema.quoted(),
                    history_query(&self.inner.migrations)
                )))
                .fetch_all(&mut *conn)
                .await
                .map_err(|error| {
                    let which = match sqlstate(&error).as_deref() {
                        Some("42P01" | "42703") => Step::Tables,
                        _ => Step::Schema,
                    };
                    step(&new.id, &schema, error, which)
                })?;
                apply_missing(&mut *conn, &self.inner.migrations, &history)
                    .await
                    .map_err(|error| step(&new.id, &schema, error, Step::Tables))?;
            }
            None => {
                sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {}", schema.quoted())))
                    .execute(&mut *conn)
                    .await
                    .map_err(|error| step(&new.id, &schema, error, Step::Schema))?;
                apply_fresh(&mut *conn, &self.inner.migrations)
                    .await
                    .map_err(|error| step(&new.id, &schema, error, Step::Tables))?;
            }
        }

        if let Some(seed) = &self.inner.seed {
            seed(&mut tx, &tenant)
                .await
                .map_err(|source| TenancyError::TableCreation {
                    tenant: new.id.clone(),
                    source,
                })?;
        }
        tx.commit()
            .await
            .map_err(|error| step(&new.id, &schema, error, Step::Schema))?;
        self.inner.registry.publish(&created_events(&new)).await;
        tracing::info!(tenant = %new.id, %schema, "tenant created");
        Ok(tenant)
    }
}

/// Which lifecycle variant a failure maps to.
#[derive(Clone, Copy)]
pub(super) enum Step {
    Schema,
    Tables,
}

/// Maps a step's error; unavailability always wins.
pub(super) fn step(
    tenant: &TenantId,
    schema: &SchemaName,
    error: impl Into<crate::error::StepError>,
    which: Step,
) -> TenancyError {
    crate::error::step_error(error, |source| match which {
        Step::Schema => TenancyError::SchemaCreation {
            tenant: tenant.clone(),
            schema: schema.to_string(),
            source,
        },
        Step::Tables => TenancyError::TableCreation {
            tenant: tenant.clone(),
            source,
        },
    })
}

pub(super) fn schema_creation(
    tenant: &TenantId,
    schema: &str,
    source: impl Into<BoxError>,
) -> TenancyError {
    TenancyError::SchemaCreation {
        tenant: tenant.clone(),
        schema: schema.to_owned(),
        source: source.into(),
    }
}
