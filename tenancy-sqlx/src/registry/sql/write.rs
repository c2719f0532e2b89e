//! The mutations of a [`SqlRegistry`]: create, rename, (de)activate,
//! domains and delete, each writing a change log row for other processes in
//! its own transaction, and invalidating the subscribed caches once it is
//! committed.

use tenancy_core::{DomainName, TenancyError, TenantEvent, TenantId, TenantKey};

use super::SqlRegistry;
use super::dialect::{Dialect, Value, arguments};
use super::rows::{from_micros, now_micros};
use crate::error::{is_unique_violation, store_error};
use crate::storage::Storage;
use crate::tenant::{NewTenant, RegistryTenant, created_events, domain_removed_event};

impl<D: Dialect> SqlRegistry<D> {
    /// Registers a tenant whose data lives in `storage` (registry only; a
    /// lifecycle manager creates the storage). Fails with `TenantExists`,
    /// `DomainTaken`, or `SchemaCreation` when another tenant's row already
    /// records `storage`.
    pub async fn create_with_storage(
        &self,
        new: NewTenant,
        storage: Storage,
    ) -> Result<RegistryTenant, TenancyError> {
        if new.domains.iter().filter(|domain| domain.primary).count() > 1 {
            return Err(TenancyError::Configuration {
                message: format!("tenant `{}` is given more than one primary domain", new.id),
            });
        }
        let now = now_micros();
        let mut tx = D::begin(&self.inner.pool, true)
            .await
            .map_err(store_error)?;
        if let Err(error) = self.insert_on(&mut tx, &new, &storage, now).await {
            drop(tx);
            return Err(self.insert_conflict(error, &new, &storage).await);
        }
        let events = created_events(&new.id, &new.domains);
        self.record_change_on(&mut tx, &events)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        self.publish(&events).await;
        let created = from_micros(now);
        Ok(RegistryTenant::builder(new.id, new.name, storage)
            .active(new.active)
            .domains(new.domains)
            .timestamps(created, created)
            .build())
    }

    /// Inserts the registry rows of `new` (tenant, then domains) on `conn`.
    pub(crate) async fn insert_on(
        &self,
        conn: &mut D::Connection,
        new: &NewTenant,
        storage: &Storage,
        now: i64,
    ) -> Result<(), sqlx::Error> {
        let sql = &self.inner.sql;
        let row = arguments::<D>(&[
            Value::Str(new.id.as_str()),
            Value::Str(&new.name),
            Value::Bool(new.active),
            Value::Str(storage.kind()),
            Value::Str(storage.location()),
            Value::Int(now),
            Value::Int(now),
        ])?;
        D::execute(&mut *conn, sql.insert_tenant.clone(), row).await?;
        for domain in &new.domains {
            let row = arguments::<D>(&[
                Value::Str(domain.name.as_str()),
                Value::Str(new.id.as_str()),
                Value::Bool(domain.primary),
                Value::Int(now),
            ])?;
            D::execute(&mut *conn, sql.insert_domain.clone(), row).await?;
        }
        Ok(())
    }

    /// Classifies a failed insert: which unique key did it hit?
    pub(crate) async fn insert_conflict(
        &self,
        error: sqlx::Error,
        new: &NewTenant,
        storage: &Storage,
    ) -> TenancyError {
        if !is_unique_violation(&error) {
            return store_error(error);
        }
        match self.find_by_id(&new.id).await {
            Ok(Some(_)) => return TenancyError::TenantExists { id: new.id.clone() },
            Ok(None) => {}
            Err(error) => return error,
        }
        for domain in &new.domains {
            let taken = self
                .fetch_all(
                    &self.inner.sql.domain_exists,
                    &[Value::Str(domain.name.as_str())],
                )
                .await;
            match taken {
                Ok(rows) if !rows.is_empty() => {
                    return TenancyError::DomainTaken {
                        domain: domain.name.clone(),
                    };
                }
                Ok(_) => {}
                Err(error) => return error,
            }
        }
        TenancyError::SchemaCreation {
            tenant: new.id.clone(),
            schema: storage.location().to_owned(),
            source: Box::new(error),
        }
    }

    /// Changes a tenant's display name.
    pub async fn set_name(&self, id: &TenantId, name: &str) -> Result<(), TenancyError> {
        let changed = self
            .write_logged(
                &self.inner.sql.set_name,
                &[
                    Value::Str(name),
                    Value::Int(now_micros()),
                    Value::Str(id.as_str()),
                ],
                &[TenantEvent::Updated(id.clone())],
            )
            .await
            .map_err(store_error)?;
        found(id, changed)
    }

    /// Activates a tenant: requests are served for it again.
    pub async fn activate(&self, id: &TenantId) -> Result<(), TenancyError> {
        self.set_active(id, true).await
    }

    /// Deactivates a tenant: the pipeline refuses it with `TenantInactive`
    /// as soon as the caches forget it (at once in this process, within the
    /// poll interval in processes running a
    /// [`ChangePoller`](super::ChangePoller)).
    pub async fn deactivate(&self, id: &TenantId) -> Result<(), TenancyError> {
        self.set_active(id, false).await
    }

    async fn set_active(&self, id: &TenantId, active: bool) -> Result<(), TenancyError> {
        let event = if active {
            TenantEvent::Activated(id.clone())
        } else {
            TenantEvent::Deactivated(id.clone())
        };
        let changed = self
            .write_logged(
                &self.inner.sql.set_active,
                &[
                    Value::Bool(active),
                    Value::Int(now_micros()),
                    Value::Str(id.as_str()),
                ],
                &[event],
            )
            .await
            .map_err(store_error)?;
        found(id, changed)
    }

    /// Adds a domain to a tenant; a new primary domain demotes the old one.
    pub async fn add_domain(
        &self,
        id: &TenantId,
        domain: &DomainName,
        primary: bool,
    ) -> Result<(), TenancyError> {
        let sql = &self.inner.sql;
        let now = now_micros();
        let mut tx = D::begin(&self.inner.pool, true)
            .await
            .map_err(store_error)?;
        let args = arguments::<D>(&[Value::Str(id.as_str())]).map_err(store_error)?;
        let exists = D::fetch_optional(&mut tx, sql.lock_tenant.clone(), args)
            .await
            .map_err(store_error)?;
        if exists.is_none() {
            return Err(TenancyError::TenantNotFound {
                key: TenantKey::Id(id.clone()),
            });
        }
        if primary {
            let args = arguments::<D>(&[Value::Str(id.as_str())]).map_err(store_error)?;
            D::execute(&mut tx, sql.demote_primary.clone(), args)
                .await
                .map_err(store_error)?;
        }
        let args = arguments::<D>(&[
            Value::Str(domain.as_str()),
            Value::Str(id.as_str()),
            Value::Bool(primary),
            Value::Int(now),
        ])
        .map_err(store_error)?;
        match D::execute(&mut tx, sql.insert_domain.clone(), args).await {
            Ok(_) => {}
            Err(error) if is_unique_violation(&error) => {
                return Err(TenancyError::DomainTaken {
                    domain: domain.clone(),
                });
            }
            Err(error) => return Err(store_error(error)),
        }
        let args =
            arguments::<D>(&[Value::Int(now), Value::Str(id.as_str())]).map_err(store_error)?;
        D::execute(&mut tx, sql.touch.clone(), args)
            .await
            .map_err(store_error)?;
        let events = [TenantEvent::DomainAdded {
            tenant: id.clone(),
            domain: domain.clone(),
        }];
        self.record_change_on(&mut tx, &events)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        self.publish(&events).await;
        Ok(())
    }

    /// Removes a domain; returns whether it existed.
    pub async fn remove_domain(&self, domain: &DomainName) -> Result<bool, TenancyError> {
        let sql = &self.inner.sql;
        let mut tx = D::begin(&self.inner.pool, true)
            .await
            .map_err(store_error)?;
        let args = arguments::<D>(&[Value::Str(domain.as_str())]).map_err(store_error)?;
        let owner = D::fetch_optional(&mut tx, sql.domain_owner.clone(), args)
            .await
            .map_err(store_error)?;
        let Some(owner) = owner else {
            return Ok(false);
        };
        let owner = D::text(&owner).map_err(store_error)?;
        let args = arguments::<D>(&[Value::Str(domain.as_str())]).map_err(store_error)?;
        D::execute(&mut tx, sql.delete_domain.clone(), args)
            .await
            .map_err(store_error)?;
        let args = arguments::<D>(&[Value::Int(now_micros()), Value::Str(owner.as_str())])
            .map_err(store_error)?;
        D::execute(&mut tx, sql.touch.clone(), args)
            .await
            .map_err(store_error)?;
        let events = [domain_removed_event(owner, domain)];
        self.record_change_on(&mut tx, &events)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        self.publish(&events).await;
        Ok(true)
    }

    /// Changes a tenant's id in the registry only (its storage stays where
    /// it is; domains follow). `TenantExists` when `to` is taken.
    pub async fn rename(&self, from: &TenantId, to: &TenantId) -> Result<(), TenancyError> {
        self.rename_with_storage(from, to, None).await
    }

    /// Renames, recording a new storage location when `storage` is given.
    pub async fn rename_with_storage(
        &self,
        from: &TenantId,
        to: &TenantId,
        storage: Option<&Storage>,
    ) -> Result<(), TenancyError> {
        let now = now_micros();
        let sql = &self.inner.sql;
        let events = [TenantEvent::Renamed {
            from: from.clone(),
            to: to.clone(),
        }];
        let renamed = match storage {
            Some(storage) => {
                self.write_logged(
                    &sql.rename_with_storage,
                    &[
                        Value::Str(to.as_str()),
                        Value::Str(storage.location()),
                        Value::Int(now),
                        Value::Str(from.as_str()),
                    ],
                    &events,
                )
                .await
            }
            None => {
                self.write_logged(
                    &sql.rename,
                    &[
                        Value::Str(to.as_str()),
                        Value::Int(now),
                        Value::Str(from.as_str()),
                    ],
                    &events,
                )
                .await
            }
        };
        let changed = match renamed {
            Ok(changed) => changed,
            Err(error) if is_unique_violation(&error) => {
                return Err(TenancyError::TenantExists { id: to.clone() });
            }
            Err(error) => return Err(store_error(error)),
        };
        found(from, changed)
    }

    /// Deletes a tenant and its domains from the registry; returns whether
    /// it existed. Its storage is left alone.
    pub async fn delete(&self, id: &TenantId) -> Result<bool, TenancyError> {
        let deleted = self
            .write_logged(
                &self.inner.sql.delete,
                &[Value::Str(id.as_str())],
                &[TenantEvent::Deleted(id.clone())],
            )
            .await
            .map_err(store_error)?;
        Ok(deleted > 0)
    }
}

/// `TenantNotFound` when a mutation of `id` changed no row.
fn found(id: &TenantId, changed: u64) -> Result<(), TenancyError> {
    if changed == 0 {
        return Err(TenancyError::TenantNotFound {
            key: TenantKey::Id(id.clone()),
        });
    }
    Ok(())
}
