//! A tenant schema made: created (or a spare claimed), migrated and seeded in
//! one transaction.

use sqlx::{AssertSqlSafe, Row};
use tenancy_core::{BoxError, TenancyError, TenantId};

use crate::error::sqlstate;
use crate::lifecycle::Seed;
use crate::migrate::TenantMigrations;
use crate::postgres::migrate::{apply_fresh, apply_missing, history_query};
use crate::schema::pool::SchemaPool;
use crate::schema::transaction::TenantTransaction;
use crate::storage::{SchemaName, Storage};
use crate::tenant::{NewTenant, RegistryTenant};

impl SchemaPool {
    /// The schema a new tenant gets; `SchemaCreation` when its id makes no
    /// valid schema name (too long for the prefix).
    pub(super) fn allocate_schema(&self, new: &NewTenant) -> Result<Storage, TenancyError> {
        let naming = self.schema_naming();
        naming
            .schema_for(&new.id)
            .map(Storage::Schema)
            .map_err(|error| {
                schema_creation(&new.id, &format!("{}{}", naming.prefix(), new.id), error)
            })
    }

    /// Creates the tenant's schema (or claims a spare), applies the
    /// migrations and runs the seed, in one transaction.
    pub(super) async fn provision_schema(
        &self,
        tenant: &RegistryTenant,
        migrations: &TenantMigrations,
        seed: Option<&Seed<TenantTransaction<'static>>>,
    ) -> Result<(), TenancyError> {
        let id = tenant.id();
        let schema = tenant
            .schema()
            .ok_or_else(|| schema_creation(id, tenant.storage().location(), "no schema storage"))?
            .clone();
        let spares = self.spares();
        let statement = if spares.exists(self).await? {
            spares.claim.clone()
        } else {
            spares.role_check.clone()
        };
        // One round trip: BEGIN + search_path (the schema does not exist yet).
        let mut tx = self.begin_creating(&schema).await?;
        let conn = tx.unpartitioned_connection();
        // A spare to claim, and whether a role has the schema's name (a
        // role's default search_path would pick the schema up).
        let row = sqlx::query(statement)
            .persistent(false)
            .bind(schema.as_str())
            .fetch_one(&mut *conn)
            .await
            .map_err(|error| step(id, &schema, error, Step::Schema))?;
        let spare: Option<String> = row.try_get("spare").map_err(TenancyError::storage)?;
        let role_exists: bool = row.try_get("role_exists").map_err(TenancyError::storage)?;
        if role_exists {
            return Err(schema_creation(
                id,
                schema.as_str(),
                "a role has this name, and a role's default search_path would pick the schema up",
            ));
        }
        match spare {
            Some(spare) => {
                // Rename the spare and read its history in one round trip.
                let spare = SchemaName::new(&spare)
                    .map_err(|error| schema_creation(id, schema.as_str(), error))?;
                let history = sqlx::raw_sql(AssertSqlSafe(format!(
                    "ALTER SCHEMA {} RENAME TO {}; {}",
                    spare.quoted(),
                    schema.quoted(),
                    history_query(migrations)
                )))
                .fetch_all(&mut *conn)
                .await
                .map_err(|error| {
                    let which = match sqlstate(&error).as_deref() {
                        Some("42P01" | "42703") => Step::Tables,
                        _ => Step::Schema,
                    };
                    step(id, &schema, error, which)
                })?;
                apply_missing(&mut *conn, migrations, &history)
                    .await
                    .map_err(|error| step(id, &schema, error, Step::Tables))?;
            }
            None => {
                sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {}", schema.quoted())))
                    .execute(&mut *conn)
                    .await
                    .map_err(|error| step(id, &schema, error, Step::Schema))?;
                apply_fresh(&mut *conn, migrations)
                    .await
                    .map_err(|error| step(id, &schema, error, Step::Tables))?;
            }
        }
        if let Some(seed) = seed {
            seed(&mut tx, tenant)
                .await
                .map_err(|source| TenancyError::TableCreation {
                    tenant: id.clone(),
                    source,
                })?;
        }
        tx.commit()
            .await
            .map_err(|error| step(id, &schema, error, Step::Schema))?;
        // A schema of this name used earlier (a deleted tenant's) may be remembered.
        self.forget_version(&schema);
        Ok(())
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
