//! The registry written once for the MySQL/MariaDB and SQLite drivers: the
//! statements ([`Sql`]) and a macro expanding the methods and trait impls
//! for each driver's concrete types (both drivers use `?` placeholders).

use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

use super::RegistryTables;

/// The registry's statements, built once from validated, quoted names.
#[derive(Debug)]
pub(crate) struct Sql {
    pub(crate) find_by_id: SqlStr,
    pub(crate) find_by_domain: SqlStr,
    pub(crate) list: SqlStr,
    pub(crate) insert_tenant: SqlStr,
    pub(crate) insert_domain: SqlStr,
    pub(crate) set_name: SqlStr,
    pub(crate) set_active: SqlStr,
    pub(crate) lock_tenant: SqlStr,
    pub(crate) demote_primary: SqlStr,
    pub(crate) touch: SqlStr,
    pub(crate) domain_owner: SqlStr,
    pub(crate) delete_domain: SqlStr,
    pub(crate) rename: SqlStr,
    pub(crate) rename_with_storage: SqlStr,
    pub(crate) delete: SqlStr,
    pub(crate) domain_exists: SqlStr,
}

fn sql(text: String) -> SqlStr {
    AssertSqlSafe(text).into_sql_str()
}

impl Sql {
    /// `quote` quotes an identifier; `for_update` is appended to the row
    /// lock of `add_domain` (empty on SQLite, whose write transactions are
    /// `BEGIN IMMEDIATE`).
    pub(crate) fn new(
        tables: &RegistryTables,
        quote: fn(&str) -> String,
        for_update: &str,
    ) -> Self {
        let t = quote(tables.tenants.as_str());
        let d = quote(tables.domains.as_str());
        let select = format!(
            "SELECT t.id, t.name, t.active, t.storage_kind, t.storage_location, \
             t.created_us, t.updated_us, d.domain, d.is_primary \
             FROM {t} t LEFT JOIN {d} d ON d.tenant_id = t.id"
        );
        Self {
            find_by_id: sql(format!("{select} WHERE t.id = ? ORDER BY d.domain")),
            find_by_domain: sql(format!(
                "{select} WHERE t.id = (SELECT tenant_id FROM {d} WHERE domain = ?) ORDER BY d.domain"
            )),
            list: sql(format!("{select} ORDER BY t.id, d.domain")),
            insert_tenant: sql(format!(
                "INSERT INTO {t} (id, name, active, storage_kind, storage_location, created_us, updated_us) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)"
            )),
            insert_domain: sql(format!(
                "INSERT INTO {d} (domain, tenant_id, is_primary, created_us) VALUES (?, ?, ?, ?)"
            )),
            set_name: sql(format!(
                "UPDATE {t} SET name = ?, updated_us = ? WHERE id = ?"
            )),
            set_active: sql(format!(
                "UPDATE {t} SET active = ?, updated_us = ? WHERE id = ?"
            )),
            lock_tenant: sql(format!("SELECT id FROM {t} WHERE id = ?{for_update}")),
            demote_primary: sql(format!(
                "UPDATE {d} SET is_primary = FALSE WHERE tenant_id = ? AND is_primary"
            )),
            touch: sql(format!("UPDATE {t} SET updated_us = ? WHERE id = ?")),
            domain_owner: sql(format!(
                "SELECT tenant_id FROM {d} WHERE domain = ?{for_update}"
            )),
            delete_domain: sql(format!("DELETE FROM {d} WHERE domain = ?")),
            rename: sql(format!(
                "UPDATE {t} SET id = ?, updated_us = ? WHERE id = ?"
            )),
            rename_with_storage: sql(format!(
                "UPDATE {t} SET id = ?, storage_location = ?, updated_us = ? WHERE id = ?"
            )),
            delete: sql(format!("DELETE FROM {t} WHERE id = ?")),
            domain_exists: sql(format!("SELECT domain FROM {d} WHERE domain = ?")),
        }
    }
}

/// Expands a registry for one driver. `$name` must be a struct with a field
/// `inner: Arc<Inner<$pool>>` and a method `async fn migrate(&self)`;
/// `$begin` opens a write transaction on `&$pool`.
macro_rules! sql_registry {
    ($name:ident, $pool:ty, $backend:literal, |$p:ident| $begin:expr) => {
        impl $name {
            /// A registry on `pool`, creating or upgrading its tables.
            pub async fn connect(
                pool: $pool,
                tables: $crate::registry::RegistryTables,
            ) -> Result<Self, tenancy_core::TenancyError> {
                let registry = Self::new(pool, tables)?;
                registry.migrate().await?;
                Ok(registry)
            }

            /// A registry on `pool`, without touching the database.
            pub fn new(
                pool: $pool,
                tables: $crate::registry::RegistryTables,
            ) -> Result<Self, tenancy_core::TenancyError> {
                tables.validate()?;
                let sql = Self::statements(&tables);
                Ok(Self {
                    inner: std::sync::Arc::new($crate::registry::sql::Inner {
                        pool,
                        tables,
                        sql,
                        subscribers: $crate::registry::sql::Subscribers::default(),
                    }),
                })
            }

            /// The pool.
            pub fn pool(&self) -> &$pool {
                &self.inner.pool
            }

            /// The table names.
            pub fn tables(&self) -> &$crate::registry::RegistryTables {
                &self.inner.tables
            }

            /// Calls `cache` after every mutation made through this registry
            /// (other processes' changes reach it only through its TTL).
            pub fn subscribe(&self, cache: std::sync::Arc<dyn tenancy_core::Invalidate>) {
                self.inner.subscribers.push(cache);
            }

            /// Tells this process's subscribers that `events` happened.
            pub async fn publish(&self, events: &[tenancy_core::Invalidation]) {
                self.inner.subscribers.publish(events).await;
            }

            /// Every tenant, by id.
            pub async fn list(
                &self,
            ) -> Result<Vec<$crate::RegistryTenant>, tenancy_core::TenancyError> {
                let rows: Vec<$crate::registry::sql::TenantRow> =
                    sqlx::query_as(self.inner.sql.list.clone())
                        .fetch_all(&self.inner.pool)
                        .await
                        .map_err($crate::error::store_error)?;
                $crate::registry::sql::decode_rows(rows)
            }

            async fn fetch_one_tenant(
                &self,
                statement: sqlx::SqlStr,
                key: &str,
            ) -> Result<Option<$crate::RegistryTenant>, tenancy_core::TenancyError> {
                let rows: Vec<$crate::registry::sql::TenantRow> = sqlx::query_as(statement)
                    .bind(key)
                    .fetch_all(&self.inner.pool)
                    .await
                    .map_err($crate::error::store_error)?;
                Ok($crate::registry::sql::decode_rows(rows)?.into_iter().next())
            }

            /// Registers a tenant whose data lives in `storage` (registry only;
            /// a lifecycle manager creates the storage). Fails with
            /// `TenantExists`, `DomainTaken`, or `SchemaCreation` when another
            /// tenant's row already records `storage`.
            pub async fn create_with_storage(
                &self,
                new: $crate::NewTenant,
                storage: $crate::Storage,
            ) -> Result<$crate::RegistryTenant, tenancy_core::TenancyError> {
                use tenancy_core::TenancyError;
                use $crate::error::store_error;
                if new.domains.iter().filter(|domain| domain.primary).count() > 1 {
                    return Err(TenancyError::Configuration {
                        message: format!(
                            "tenant `{}` is given more than one primary domain",
                            new.id
                        ),
                    });
                }
                let now = $crate::registry::sql::now_micros();
                let $p = &self.inner.pool;
                let mut tx = $begin.await.map_err(store_error)?;
                let inserted = sqlx::query(self.inner.sql.insert_tenant.clone())
                    .bind(new.id.as_str())
                    .bind(&*new.name)
                    .bind(new.active)
                    .bind(storage.kind())
                    .bind(storage.location())
                    .bind(now)
                    .bind(now)
                    .execute(&mut *tx)
                    .await;
                if let Err(error) = inserted {
                    drop(tx);
                    return Err(self.insert_conflict(error, &new, &storage).await);
                }
                for domain in &new.domains {
                    let inserted = sqlx::query(self.inner.sql.insert_domain.clone())
                        .bind(domain.name.as_str())
                        .bind(new.id.as_str())
                        .bind(domain.primary)
                        .bind(now)
                        .execute(&mut *tx)
                        .await;
                    if let Err(error) = inserted {
                        drop(tx);
                        return Err(self.insert_conflict(error, &new, &storage).await);
                    }
                }
                tx.commit().await.map_err(store_error)?;
                self.publish(&$crate::registry::sql::created_events(
                    &new.id,
                    &new.domains,
                ))
                .await;
                let created = $crate::registry::sql::from_micros(now);
                Ok($crate::RegistryTenant::builder(new.id, new.name, storage)
                    .active(new.active)
                    .domains(new.domains)
                    .timestamps(created, created)
                    .build())
            }

            /// Classifies a failed insert: which unique key did it hit?
            async fn insert_conflict(
                &self,
                error: sqlx::Error,
                new: &$crate::NewTenant,
                storage: &$crate::Storage,
            ) -> tenancy_core::TenancyError {
                use tenancy_core::{TenancyError, TenantStore};
                if !$crate::error::is_unique_violation(&error) {
                    return $crate::error::store_error(error);
                }
                match self.find_by_id(&new.id).await {
                    Ok(Some(_)) => return TenancyError::TenantExists { id: new.id.clone() },
                    Ok(None) => {}
                    Err(error) => return error,
                }
                for domain in &new.domains {
                    let taken: Result<Option<String>, sqlx::Error> =
                        sqlx::query_scalar(self.inner.sql.domain_exists.clone())
                            .bind(domain.name.as_str())
                            .fetch_optional(&self.inner.pool)
                            .await;
                    match taken {
                        Ok(Some(_)) => {
                            return TenancyError::DomainTaken {
                                domain: domain.name.clone(),
                            };
                        }
                        Ok(None) => {}
                        Err(error) => return $crate::error::store_error(error),
                    }
                }
                TenancyError::SchemaCreation {
                    tenant: new.id.clone(),
                    schema: storage.location().to_owned(),
                    source: Box::new(error),
                }
            }

            /// Changes a tenant's display name.
            pub async fn set_name(
                &self,
                id: &tenancy_core::TenantId,
                name: &str,
            ) -> Result<(), tenancy_core::TenancyError> {
                let changed = sqlx::query(self.inner.sql.set_name.clone())
                    .bind(name)
                    .bind($crate::registry::sql::now_micros())
                    .bind(id.as_str())
                    .execute(&self.inner.pool)
                    .await
                    .map_err($crate::error::store_error)?
                    .rows_affected();
                self.finish(
                    id,
                    changed,
                    &[tenancy_core::Invalidation::Tenant(id.clone())],
                )
                .await
            }

            /// Reactivates a tenant.
            pub async fn activate(
                &self,
                id: &tenancy_core::TenantId,
            ) -> Result<(), tenancy_core::TenancyError> {
                self.set_active(id, true).await
            }

            /// Deactivates a tenant: the pipeline refuses it with
            /// `TenantInactive` as soon as the caches forget it (at once in
            /// this process, within the cache TTL elsewhere).
            pub async fn deactivate(
                &self,
                id: &tenancy_core::TenantId,
            ) -> Result<(), tenancy_core::TenancyError> {
                self.set_active(id, false).await
            }

            async fn set_active(
                &self,
                id: &tenancy_core::TenantId,
                active: bool,
            ) -> Result<(), tenancy_core::TenancyError> {
                let changed = sqlx::query(self.inner.sql.set_active.clone())
                    .bind(active)
                    .bind($crate::registry::sql::now_micros())
                    .bind(id.as_str())
                    .execute(&self.inner.pool)
                    .await
                    .map_err($crate::error::store_error)?
                    .rows_affected();
                self.finish(
                    id,
                    changed,
                    &[tenancy_core::Invalidation::Tenant(id.clone())],
                )
                .await
            }

            async fn finish(
                &self,
                id: &tenancy_core::TenantId,
                changed: u64,
                events: &[tenancy_core::Invalidation],
            ) -> Result<(), tenancy_core::TenancyError> {
                if changed == 0 {
                    return Err(tenancy_core::TenancyError::TenantNotFound {
                        key: tenancy_core::TenantKey::Id(id.clone()),
                    });
                }
                self.publish(events).await;
                Ok(())
            }

            /// Adds a domain to a tenant; a new primary domain demotes the old one.
            pub async fn add_domain(
                &self,
                id: &tenancy_core::TenantId,
                domain: &tenancy_core::DomainName,
                primary: bool,
            ) -> Result<(), tenancy_core::TenancyError> {
                use tenancy_core::{Invalidation, TenancyError, TenantKey};
                use $crate::error::store_error;
                let now = $crate::registry::sql::now_micros();
                let $p = &self.inner.pool;
                let mut tx = $begin.await.map_err(store_error)?;
                let exists: Option<String> = sqlx::query_scalar(self.inner.sql.lock_tenant.clone())
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?;
                if exists.is_none() {
                    return Err(TenancyError::TenantNotFound {
                        key: TenantKey::Id(id.clone()),
                    });
                }
                if primary {
                    sqlx::query(self.inner.sql.demote_primary.clone())
                        .bind(id.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(store_error)?;
                }
                let inserted = sqlx::query(self.inner.sql.insert_domain.clone())
                    .bind(domain.as_str())
                    .bind(id.as_str())
                    .bind(primary)
                    .bind(now)
                    .execute(&mut *tx)
                    .await;
                match inserted {
                    Ok(_) => {}
                    Err(error) if $crate::error::is_unique_violation(&error) => {
                        return Err(TenancyError::DomainTaken {
                            domain: domain.clone(),
                        });
                    }
                    Err(error) => return Err(store_error(error)),
                }
                sqlx::query(self.inner.sql.touch.clone())
                    .bind(now)
                    .bind(id.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                self.publish(&[
                    Invalidation::Tenant(id.clone()),
                    Invalidation::Domain(domain.clone()),
                ])
                .await;
                Ok(())
            }

            /// Removes a domain; returns whether it existed.
            pub async fn remove_domain(
                &self,
                domain: &tenancy_core::DomainName,
            ) -> Result<bool, tenancy_core::TenancyError> {
                use tenancy_core::{Invalidation, TenantId};
                use $crate::error::store_error;
                let $p = &self.inner.pool;
                let mut tx = $begin.await.map_err(store_error)?;
                let owner: Option<String> = sqlx::query_scalar(self.inner.sql.domain_owner.clone())
                    .bind(domain.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(store_error)?;
                let Some(owner) = owner else {
                    return Ok(false);
                };
                sqlx::query(self.inner.sql.delete_domain.clone())
                    .bind(domain.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                sqlx::query(self.inner.sql.touch.clone())
                    .bind($crate::registry::sql::now_micros())
                    .bind(owner.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                tx.commit().await.map_err(store_error)?;
                let mut events = vec![Invalidation::Domain(domain.clone())];
                if let Ok(owner) = TenantId::new(owner) {
                    events.push(Invalidation::Tenant(owner));
                }
                self.publish(&events).await;
                Ok(true)
            }

            /// Changes a tenant's id in the registry only (its storage stays
            /// where it is; domains follow). `TenantExists` when `to` is taken.
            pub async fn rename(
                &self,
                from: &tenancy_core::TenantId,
                to: &tenancy_core::TenantId,
            ) -> Result<(), tenancy_core::TenancyError> {
                self.rename_with_storage(from, to, None).await
            }

            /// Renames, recording a new storage location when `storage` is given.
            pub(crate) async fn rename_with_storage(
                &self,
                from: &tenancy_core::TenantId,
                to: &tenancy_core::TenantId,
                storage: Option<&$crate::Storage>,
            ) -> Result<(), tenancy_core::TenancyError> {
                use tenancy_core::{Invalidation, TenancyError};
                let now = $crate::registry::sql::now_micros();
                let query = match storage {
                    Some(storage) => sqlx::query(self.inner.sql.rename_with_storage.clone())
                        .bind(to.as_str())
                        .bind(storage.location().to_owned())
                        .bind(now)
                        .bind(from.as_str()),
                    None => sqlx::query(self.inner.sql.rename.clone())
                        .bind(to.as_str())
                        .bind(now)
                        .bind(from.as_str()),
                };
                let changed = match query.execute(&self.inner.pool).await {
                    Ok(done) => done.rows_affected(),
                    Err(error) if $crate::error::is_unique_violation(&error) => {
                        return Err(TenancyError::TenantExists { id: to.clone() });
                    }
                    Err(error) => return Err($crate::error::store_error(error)),
                };
                self.finish(
                    from,
                    changed,
                    &[
                        Invalidation::Tenant(from.clone()),
                        Invalidation::Tenant(to.clone()),
                    ],
                )
                .await
            }

            /// Deletes a tenant and its domains from the registry; returns
            /// whether it existed. Its storage is left alone.
            pub async fn delete(
                &self,
                id: &tenancy_core::TenantId,
            ) -> Result<bool, tenancy_core::TenancyError> {
                let deleted = sqlx::query(self.inner.sql.delete.clone())
                    .bind(id.as_str())
                    .execute(&self.inner.pool)
                    .await
                    .map_err($crate::error::store_error)?
                    .rows_affected();
                if deleted > 0 {
                    self.publish(&[tenancy_core::Invalidation::Tenant(id.clone())])
                        .await;
                }
                Ok(deleted > 0)
            }
        }

        impl tenancy_core::TenantStore for $name {
            type Tenant = $crate::RegistryTenant;

            async fn find_by_id(
                &self,
                id: &tenancy_core::TenantId,
            ) -> Result<Option<$crate::RegistryTenant>, tenancy_core::TenancyError> {
                self.fetch_one_tenant(self.inner.sql.find_by_id.clone(), id.as_str())
                    .await
            }

            async fn find_by_domain(
                &self,
                domain: &tenancy_core::DomainName,
            ) -> Result<Option<$crate::RegistryTenant>, tenancy_core::TenancyError> {
                self.fetch_one_tenant(self.inner.sql.find_by_domain.clone(), domain.as_str())
                    .await
            }
        }

        impl $crate::TenantRegistry for $name {
            fn list(
                &self,
            ) -> futures_util::future::BoxFuture<
                '_,
                Result<Vec<$crate::RegistryTenant>, tenancy_core::TenancyError>,
            > {
                Box::pin($name::list(self))
            }

            fn get<'a>(
                &'a self,
                id: &'a tenancy_core::TenantId,
            ) -> futures_util::future::BoxFuture<
                'a,
                Result<Option<$crate::RegistryTenant>, tenancy_core::TenancyError>,
            > {
                Box::pin(tenancy_core::TenantStore::find_by_id(self, id))
            }

            fn get_by_domain<'a>(
                &'a self,
                domain: &'a tenancy_core::DomainName,
            ) -> futures_util::future::BoxFuture<
                'a,
                Result<Option<$crate::RegistryTenant>, tenancy_core::TenancyError>,
            > {
                Box::pin(tenancy_core::TenantStore::find_by_domain(self, domain))
            }

            fn set_name<'a>(
                &'a self,
                id: &'a tenancy_core::TenantId,
                name: &'a str,
            ) -> futures_util::future::BoxFuture<'a, Result<(), tenancy_core::TenancyError>> {
                Box::pin($name::set_name(self, id, name))
            }

            fn add_domain<'a>(
                &'a self,
                id: &'a tenancy_core::TenantId,
                domain: &'a tenancy_core::DomainName,
                primary: bool,
            ) -> futures_util::future::BoxFuture<'a, Result<(), tenancy_core::TenancyError>> {
                Box::pin($name::add_domain(self, id, domain, primary))
            }

            fn remove_domain<'a>(
                &'a self,
                domain: &'a tenancy_core::DomainName,
            ) -> futures_util::future::BoxFuture<'a, Result<bool, tenancy_core::TenancyError>> {
                Box::pin($name::remove_domain(self, domain))
            }

            fn subscribe(&self, cache: std::sync::Arc<dyn tenancy_core::Invalidate>) {
                $name::subscribe(self, cache);
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("backend", &$backend)
                    .field("tables", &self.inner.tables)
                    .finish_non_exhaustive()
            }
        }
    };
}
