//! [`SqlRegistry`]: the tenant registry written once for MySQL / MariaDB
//! ([`MySqlRegistry`]) and SQLite ([`SqliteRegistry`]), over a [`Dialect`]
//! holding each driver's specifics.

mod dialect;
#[cfg(feature = "mysql")]
mod mysql;
pub(crate) mod rows;
#[cfg(feature = "sqlite")]
mod sqlite;
mod statements;

pub use dialect::Dialect;
pub(crate) use statements::Sql;

use std::fmt;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sqlx::{Pool, SqlStr};
use tenancy_core::{
    DomainName, Invalidate, Invalidation, TenancyError, TenantId, TenantKey, TenantStore,
};

use self::rows::{
    Subscribers, Value, arguments, created_events, decode_rows, from_micros, now_micros,
};
use super::TenantRegistry;
use super::config::{RegistryConfig, TableDefaults};
use crate::error::{is_unique_violation, store_error};
use crate::storage::Storage;
use crate::tenant::{NewTenant, RegistryTenant};

/// The tenant registry on MySQL / MariaDB ([`MySqlRegistry`]).
///
/// It has the semantics of [`PgRegistry`](crate::PgRegistry): a
/// [`TenantStore`] and a [`TenantRegistry`], whose mutations invalidate the
/// [subscribed](SqlRegistry::subscribe) caches of this process at once. MySQL
/// has no `LISTEN/NOTIFY`, so **other processes see a change only when their
/// cache entry expires**: keep the [`CachedStore`](tenancy_core::CachedStore)
/// TTL (default 5 s) as short as that delay may be. Cheap to clone.
///
/// ```no_run
/// use std::sync::Arc;
/// use sqlx::mysql::MySqlPoolOptions;
/// use tenancy_core::{CachedStore, TenantId};
/// use tenancy_sqlx::RegistryConfig;
/// use tenancy_sqlx::registry::MySqlRegistry;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = MySqlPoolOptions::new().max_connections(5).connect("mysql://root@localhost/app").await?;
/// let registry = MySqlRegistry::connect(pool, RegistryConfig::default()).await?;
/// let cache = Arc::new(CachedStore::new(registry.clone()));
/// registry.subscribe(cache.clone());
/// registry.deactivate(&TenantId::new("acme")?).await?; // this process's cache forgets `acme` at once
/// # Ok(()) }
/// ```
#[cfg(feature = "mysql")]
pub type MySqlRegistry = SqlRegistry<sqlx::MySql>;

/// The tenant registry on SQLite ([`SqliteRegistry`]).
///
/// It has the semantics of [`PgRegistry`](crate::PgRegistry): a
/// [`TenantStore`] and a [`TenantRegistry`], whose mutations invalidate the
/// [subscribed](SqlRegistry::subscribe) caches of this process at once.
/// SQLite has no change notifications, so **other processes sharing the file
/// see a change only when their cache entry expires** (the
/// [`CachedStore`](tenancy_core::CachedStore) TTL, default 5 s). Write
/// transactions are `BEGIN IMMEDIATE`; use WAL mode (as
/// [`AnyRegistry::connect`](crate::AnyRegistry::connect) does) so readers
/// never wait for them. Cheap to clone.
///
/// ```no_run
/// use std::sync::Arc;
/// use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
/// use tenancy_core::{CachedStore, TenantId};
/// use tenancy_sqlx::RegistryConfig;
/// use tenancy_sqlx::registry::SqliteRegistry;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let options = SqliteConnectOptions::new()
///     .filename("data/registry.db")
///     .create_if_missing(true)
///     .journal_mode(SqliteJournalMode::Wal);
/// let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
/// let registry = SqliteRegistry::connect(pool, RegistryConfig::default()).await?;
/// let cache = Arc::new(CachedStore::new(registry.clone()));
/// registry.subscribe(cache.clone());
/// registry.deactivate(&TenantId::new("acme")?).await?;
/// # Ok(()) }
/// ```
#[cfg(feature = "sqlite")]
pub type SqliteRegistry = SqlRegistry<sqlx::Sqlite>;

/// The tenant registry on a SQL database without `LISTEN/NOTIFY`: tenants
/// (id, name, active flag, storage kind and location, timestamps) and their
/// lower-cased, unique domains, in two tables of the pool's database
/// (default `tenancy_tenants` and `tenancy_domains`, see [`RegistryConfig`]).
///
/// Use it through its aliases [`MySqlRegistry`] and [`SqliteRegistry`].
/// Cheap to clone.
pub struct SqlRegistry<D: Dialect> {
    inner: Arc<Inner<D>>,
}

struct Inner<D: Dialect> {
    pool: Pool<D>,
    config: RegistryConfig,
    sql: Arc<Sql>,
    subscribers: Subscribers,
}

impl<D: Dialect> Clone for SqlRegistry<D> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<D: Dialect> SqlRegistry<D> {
    /// A registry on `pool`, creating or upgrading its tables.
    pub async fn connect(pool: Pool<D>, config: RegistryConfig) -> Result<Self, TenancyError> {
        let registry = Self::new(pool, config)?;
        registry.migrate().await?;
        Ok(registry)
    }

    /// A registry on `pool`, without touching the database.
    pub fn new(pool: Pool<D>, config: RegistryConfig) -> Result<Self, TenancyError> {
        config.validate(TableDefaults::Sql)?;
        let sql = Sql::new::<D>(
            &config.tenants(TableDefaults::Sql),
            &config.domains(TableDefaults::Sql),
        );
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                config,
                sql: Arc::new(sql),
                subscribers: Subscribers::default(),
            }),
        })
    }

    /// Creates or upgrades the registry tables (idempotent; concurrent runs
    /// wait for each other: a named lock on MySQL, `BEGIN IMMEDIATE` on
    /// SQLite).
    pub async fn migrate(&self) -> Result<(), TenancyError> {
        let config = &self.inner.config;
        D::migrate_registry(
            &self.inner.pool,
            &config.tenants(TableDefaults::Sql),
            &config.domains(TableDefaults::Sql),
        )
        .await
    }

    /// The pool.
    pub fn pool(&self) -> &Pool<D> {
        &self.inner.pool
    }

    /// The configuration (table names).
    pub fn config(&self) -> &RegistryConfig {
        &self.inner.config
    }

    /// The statements (for the shared-mode manager, which writes the
    /// registry in its own transactions).
    pub(crate) fn sql(&self) -> &Arc<Sql> {
        &self.inner.sql
    }

    /// Calls `cache` after every mutation made through this registry
    /// (other processes' changes reach it only through its TTL).
    pub fn subscribe(&self, cache: Arc<dyn Invalidate>) {
        self.inner.subscribers.push(cache);
    }

    /// Tells this process's subscribers that `events` happened.
    pub async fn publish(&self, events: &[Invalidation]) {
        self.inner.subscribers.publish(events).await;
    }

    /// Runs `sql` with `values` on a pooled connection, returning every row.
    async fn fetch_all(
        &self,
        sql: &SqlStr,
        values: &[Value<'_>],
    ) -> Result<Vec<D::Row>, TenancyError> {
        let args = arguments::<D>(values).map_err(store_error)?;
        let mut conn = self.inner.pool.acquire().await.map_err(store_error)?;
        D::fetch_all(&mut conn, sql.clone(), args)
            .await
            .map_err(store_error)
    }

    /// Runs `sql` with `values` on a pooled connection.
    async fn execute(&self, sql: &SqlStr, values: &[Value<'_>]) -> Result<u64, sqlx::Error> {
        let args = arguments::<D>(values)?;
        let mut conn = self.inner.pool.acquire().await?;
        let done = D::execute(&mut conn, sql.clone(), args).await?;
        Ok(D::rows_affected(&done))
    }

    /// The tenants of `rows` (joined with their domains).
    fn decode(rows: &[D::Row]) -> Result<Vec<RegistryTenant>, TenancyError> {
        let rows = rows
            .iter()
            .map(D::tenant_row)
            .collect::<Result<Vec<_>, _>>()
            .map_err(store_error)?;
        decode_rows(rows)
    }

    /// Every tenant, by id.
    pub async fn list(&self) -> Result<Vec<RegistryTenant>, TenancyError> {
        let rows = self.fetch_all(&self.inner.sql.list, &[]).await?;
        Self::decode(&rows)
    }

    /// One tenant, active or not.
    pub async fn find_by_id(&self, id: &TenantId) -> Result<Option<RegistryTenant>, TenancyError> {
        self.fetch_one_tenant(&self.inner.sql.find_by_id, id.as_str())
            .await
    }

    /// The tenant owning `domain`, active or not.
    pub async fn find_by_domain(
        &self,
        domain: &DomainName,
    ) -> Result<Option<RegistryTenant>, TenancyError> {
        self.fetch_one_tenant(&self.inner.sql.find_by_domain, domain.as_str())
            .await
    }

    async fn fetch_one_tenant(
        &self,
        statement: &SqlStr,
        key: &str,
    ) -> Result<Option<RegistryTenant>, TenancyError> {
        let rows = self.fetch_all(statement, &[Value::Str(key)]).await?;
        Ok(Self::decode(&rows)?.into_iter().next())
    }

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
        tx.commit().await.map_err(store_error)?;
        self.publish(&created_events(&new.id, &new.domains)).await;
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
            .execute(
                &self.inner.sql.set_name,
                &[
                    Value::Str(name),
                    Value::Int(now_micros()),
                    Value::Str(id.as_str()),
                ],
            )
            .await
            .map_err(store_error)?;
        self.finish(id, changed, &[Invalidation::Tenant(id.clone())])
            .await
    }

    /// Activates a tenant: requests are served for it again.
    pub async fn activate(&self, id: &TenantId) -> Result<(), TenancyError> {
        self.set_active(id, true).await
    }

    /// Deactivates a tenant: the pipeline refuses it with `TenantInactive`
    /// as soon as the caches forget it (at once in this process, within the
    /// cache TTL elsewhere).
    pub async fn deactivate(&self, id: &TenantId) -> Result<(), TenancyError> {
        self.set_active(id, false).await
    }

    async fn set_active(&self, id: &TenantId, active: bool) -> Result<(), TenancyError> {
        let changed = self
            .execute(
                &self.inner.sql.set_active,
                &[
                    Value::Bool(active),
                    Value::Int(now_micros()),
                    Value::Str(id.as_str()),
                ],
            )
            .await
            .map_err(store_error)?;
        self.finish(id, changed, &[Invalidation::Tenant(id.clone())])
            .await
    }

    async fn finish(
        &self,
        id: &TenantId,
        changed: u64,
        events: &[Invalidation],
    ) -> Result<(), TenancyError> {
        if changed == 0 {
            return Err(TenancyError::TenantNotFound {
                key: TenantKey::Id(id.clone()),
            });
        }
        self.publish(events).await;
        Ok(())
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
        tx.commit().await.map_err(store_error)?;
        self.publish(&[
            Invalidation::Tenant(id.clone()),
            Invalidation::Domain(domain.clone()),
        ])
        .await;
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
        tx.commit().await.map_err(store_error)?;
        let mut events = vec![Invalidation::Domain(domain.clone())];
        if let Ok(owner) = TenantId::new(owner) {
            events.push(Invalidation::Tenant(owner));
        }
        self.publish(&events).await;
        Ok(true)
    }

    /// Changes a tenant's id in the registry only (its storage stays where
    /// it is; domains follow). `TenantExists` when `to` is taken.
    pub async fn rename(&self, from: &TenantId, to: &TenantId) -> Result<(), TenancyError> {
        self.rename_with_storage(from, to, None).await
    }

    /// Renames, recording a new storage location when `storage` is given.
    pub(crate) async fn rename_with_storage(
        &self,
        from: &TenantId,
        to: &TenantId,
        storage: Option<&Storage>,
    ) -> Result<(), TenancyError> {
        let now = now_micros();
        let sql = &self.inner.sql;
        let renamed = match storage {
            Some(storage) => {
                self.execute(
                    &sql.rename_with_storage,
                    &[
                        Value::Str(to.as_str()),
                        Value::Str(storage.location()),
                        Value::Int(now),
                        Value::Str(from.as_str()),
                    ],
                )
                .await
            }
            None => {
                self.execute(
                    &sql.rename,
                    &[
                        Value::Str(to.as_str()),
                        Value::Int(now),
                        Value::Str(from.as_str()),
                    ],
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

    /// Deletes a tenant and its domains from the registry; returns whether
    /// it existed. Its storage is left alone.
    pub async fn delete(&self, id: &TenantId) -> Result<bool, TenancyError> {
        let deleted = self
            .execute(&self.inner.sql.delete, &[Value::Str(id.as_str())])
            .await
            .map_err(store_error)?;
        if deleted > 0 {
            self.publish(&[Invalidation::Tenant(id.clone())]).await;
        }
        Ok(deleted > 0)
    }
}

impl<D: Dialect> TenantStore for SqlRegistry<D> {
    type Tenant = RegistryTenant;

    async fn find_by_id(&self, id: &TenantId) -> Result<Option<RegistryTenant>, TenancyError> {
        SqlRegistry::find_by_id(self, id).await
    }

    async fn find_by_domain(
        &self,
        domain: &DomainName,
    ) -> Result<Option<RegistryTenant>, TenancyError> {
        SqlRegistry::find_by_domain(self, domain).await
    }
}

impl<D: Dialect> TenantRegistry for SqlRegistry<D> {
    fn list(&self) -> BoxFuture<'_, Result<Vec<RegistryTenant>, TenancyError>> {
        SqlRegistry::list(self).boxed()
    }

    fn find_by_id<'a>(
        &'a self,
        id: &'a TenantId,
    ) -> BoxFuture<'a, Result<Option<RegistryTenant>, TenancyError>> {
        SqlRegistry::find_by_id(self, id).boxed()
    }

    fn find_by_domain<'a>(
        &'a self,
        domain: &'a DomainName,
    ) -> BoxFuture<'a, Result<Option<RegistryTenant>, TenancyError>> {
        SqlRegistry::find_by_domain(self, domain).boxed()
    }

    fn set_name<'a>(
        &'a self,
        id: &'a TenantId,
        name: &'a str,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        SqlRegistry::set_name(self, id, name).boxed()
    }

    fn add_domain<'a>(
        &'a self,
        id: &'a TenantId,
        domain: &'a DomainName,
        primary: bool,
    ) -> BoxFuture<'a, Result<(), TenancyError>> {
        SqlRegistry::add_domain(self, id, domain, primary).boxed()
    }

    fn remove_domain<'a>(
        &'a self,
        domain: &'a DomainName,
    ) -> BoxFuture<'a, Result<bool, TenancyError>> {
        SqlRegistry::remove_domain(self, domain).boxed()
    }

    fn subscribe(&self, cache: Arc<dyn Invalidate>) {
        SqlRegistry::subscribe(self, cache);
    }
}

impl<D: Dialect> fmt::Debug for SqlRegistry<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(D::REGISTRY)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}
