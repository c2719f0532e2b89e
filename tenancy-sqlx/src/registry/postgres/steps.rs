//! Registry building blocks that run on a caller's connection, so the
//! manager can combine them with schema DDL in one transaction.

use sqlx::{PgConnection, Row};
use tenancy_core::{DomainName, TenancyError, TenantEvent, TenantId};

use super::sql::from_micros;
use super::{PgRegistry, created_events, not_found};
use crate::error::{constraint, is_unique_violation, store_error};
use crate::registry::payload;
use crate::storage::Storage;
use crate::tenant::{NewTenant, RegistryTenant};

/// What [`PgRegistry::insert_on`] did.
pub(crate) enum Inserted {
    /// The row was written.
    Tenant(RegistryTenant),
    /// A domain of the new tenant belongs to another tenant; nothing was written.
    DomainTaken,
}

/// What a unique violation on a registry insert or update collided with.
pub(crate) enum Conflict {
    Tenant,
    Domain,
    Storage,
    None(sqlx::Error),
}

impl PgRegistry {
    pub(crate) fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The notification payload for `events` from this instance.
    pub(crate) fn payload(&self, events: &[TenantEvent]) -> String {
        payload::encode(&self.inner.origin, events)
    }

    pub(super) async fn finish(
        &self,
        id: &TenantId,
        rows: usize,
        events: &[TenantEvent],
    ) -> Result<(), TenancyError> {
        if rows == 0 {
            return Err(not_found(id));
        }
        self.publish(events).await;
        Ok(())
    }

    /// Inserts the registry row (and domains) on `conn`, notifying on commit.
    ///
    /// A domain conflict is [`Inserted::DomainTaken`]: which domain is taken
    /// is looked up by the caller once it has released `conn` (a second
    /// connection taken while holding it could wait for the pool for ever
    /// when concurrent creations hold all of it).
    pub(crate) async fn insert_on(
        &self,
        conn: &mut PgConnection,
        new: &NewTenant,
        storage: Storage,
    ) -> Result<Inserted, TenancyError> {
        let domains: Vec<&str> = new.domains.iter().map(|d| d.name.as_str()).collect();
        let primaries: Vec<bool> = new.domains.iter().map(|d| d.primary).collect();
        if primaries.iter().filter(|primary| **primary).count() > 1 {
            return Err(TenancyError::Configuration {
                message: format!("tenant `{}` is given more than one primary domain", new.id),
            });
        }
        let inserted = sqlx::query(self.inner.sql.insert.clone())
            .persistent(false)
            .bind(new.id.as_str())
            .bind(&*new.name)
            .bind(new.active)
            .bind(storage.kind())
            .bind(storage.location())
            .bind(&domains)
            .bind(&primaries)
            .bind(self.inner.config.channel.as_str())
            .bind(self.payload(&created_events(new)))
            .fetch_one(&mut *conn)
            .await;
        let row = match inserted {
            Ok(row) => row,
            Err(error) => {
                return Err(match self.conflict(error) {
                    Conflict::Tenant => TenancyError::TenantExists { id: new.id.clone() },
                    Conflict::Domain => return Ok(Inserted::DomainTaken),
                    Conflict::Storage => TenancyError::SchemaCreation {
                        tenant: new.id.clone(),
                        schema: storage.location().to_owned(),
                        source: "another tenant's registry row already uses this storage".into(),
                    },
                    Conflict::None(error) => store_error(error),
                });
            }
        };
        let created: i64 = row.try_get("created_us").map_err(TenancyError::storage)?;
        let updated: i64 = row.try_get("updated_us").map_err(TenancyError::storage)?;
        let tenant = RegistryTenant::builder(new.id.clone(), new.name.clone(), storage)
            .active(new.active)
            .domains(new.domains.clone())
            .timestamps(from_micros(created), from_micros(updated))
            .build();
        Ok(Inserted::Tenant(tenant))
    }

    /// Renames on `conn`; returns the number of rows changed (0: `from` unknown).
    pub(crate) async fn rename_on(
        &self,
        conn: &mut PgConnection,
        from: &TenantId,
        to: &TenantId,
        storage: Option<&Storage>,
    ) -> Result<usize, TenancyError> {
        let events = [TenantEvent::Renamed {
            from: from.clone(),
            to: to.clone(),
        }];
        let channel = self.inner.config.channel.as_str();
        let query = match storage {
            Some(storage) => sqlx::query(self.inner.sql.rename_with_storage.clone())
                .persistent(false)
                .bind(from.as_str())
                .bind(to.as_str())
                .bind(storage.location().to_owned())
                .bind(channel)
                .bind(self.payload(&events)),
            None => sqlx::query(self.inner.sql.rename.clone())
                .persistent(false)
                .bind(from.as_str())
                .bind(to.as_str())
                .bind(channel)
                .bind(self.payload(&events)),
        };
        match query.fetch_all(&mut *conn).await {
            Ok(rows) => Ok(rows.len()),
            Err(error) => Err(match self.conflict(error) {
                Conflict::Tenant => TenancyError::TenantExists { id: to.clone() },
                Conflict::Storage => TenancyError::SchemaRename {
                    from: from.clone(),
                    to: to.clone(),
                    source: "another tenant's registry row already uses the new schema".into(),
                },
                Conflict::Domain => TenancyError::Configuration {
                    message: "unexpected domain conflict while renaming".to_owned(),
                },
                Conflict::None(error) => store_error(error),
            }),
        }
    }

    /// Deletes on `conn`; returns whether the row existed.
    pub(crate) async fn delete_on(
        &self,
        conn: &mut PgConnection,
        id: &TenantId,
    ) -> Result<bool, TenancyError> {
        let events = [TenantEvent::Deleted(id.clone())];
        let rows = sqlx::query(self.inner.sql.delete.clone())
            .persistent(false)
            .bind(id.as_str())
            .bind(self.inner.config.channel.as_str())
            .bind(self.payload(&events))
            .fetch_all(&mut *conn)
            .await
            .map_err(store_error)?;
        Ok(!rows.is_empty())
    }

    /// Classifies a unique violation on the registry tables.
    pub(crate) fn conflict(&self, error: sqlx::Error) -> Conflict {
        if !is_unique_violation(&error) {
            return Conflict::None(error);
        }
        let sql = &self.inner.sql;
        let table = match &error {
            sqlx::Error::Database(db) => db.table().map(str::to_owned),
            _ => None,
        };
        match (table.as_deref(), constraint(&error)) {
            (_, Some(name)) if name == sql.storage_key => Conflict::Storage,
            (Some(table), _) if table == sql.tenants_table => Conflict::Tenant,
            (Some(table), _) if table == sql.domains_table => Conflict::Domain,
            _ => Conflict::None(error),
        }
    }

    /// Which of `new`'s domains is taken (the first requested one if unclear).
    pub(super) async fn taken_domain(&self, new: &NewTenant) -> Option<DomainName> {
        let requested: Vec<&str> = new.domains.iter().map(|d| d.name.as_str()).collect();
        let found: Option<String> = match self.unit().await {
            Ok(mut unit) => {
                let found = sqlx::query_scalar(self.inner.sql.domains_taken.clone())
                    .persistent(false)
                    .bind(&requested)
                    .fetch_optional(&mut *unit)
                    .await
                    .ok()
                    .flatten();
                let _committed = unit.finish().await;
                found
            }
            Err(_) => None,
        };
        found
            .and_then(|domain| DomainName::new(domain).ok())
            .or_else(|| new.domains.first().map(|domain| domain.name.clone()))
    }
}
