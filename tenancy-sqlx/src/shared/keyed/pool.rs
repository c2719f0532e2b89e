//! [`SharedPool`]: tenant-scoped transactions on MySQL / MariaDB and SQLite.

use std::fmt;
use std::sync::Arc;

use sqlx::Pool;
use tenancy_core::TenancyError;

use super::backend::{SharedBackend, TableFact};
use super::transaction::SharedTransaction;
use crate::error::store_error;
use crate::ident::Ident;
use crate::storage::SharedKey;
use crate::tenant::RegistryTenant;

/// Shared-schema access on MySQL / MariaDB ([`MySqlSharedPool`](crate::shared::keyed::MySqlSharedPool))
/// or SQLite ([`SqliteSharedPool`](crate::shared::keyed::SqliteSharedPool)): every tenant's
/// rows in the same tables, told apart by a tenant column (`tenant_id` by
/// default) holding the tenant's [`SharedKey`].
///
/// # Isolation rests on the helpers
///
/// These databases have no row-level security: **nothing in the database
/// stops a query from reading or changing another tenant's rows.** Isolation
/// holds exactly as long as tenant code goes through the
/// [`SharedTransaction`] that [`begin`](Self::begin) returns, whose helpers
/// refuse SQL that does not bind the tenant (`{tenant}`) and fill the tenant
/// column on insert. Code that uses the pool directly, or the transaction's
/// [`unchecked_connection`](SharedTransaction::unchecked_connection), is on
/// its own. Prefer Postgres ([`RlsPool`](crate::shared::rls::RlsPool)) when tenants must be
/// isolated against bugs in queries.
///
/// Declare the tenant tables with [`tables`](Self::tables): each needs a
/// `NOT NULL` tenant column (`VARCHAR(63)` / `TEXT`, ideally leading an
/// index), which [`check`](Self::check) verifies. Cheap to clone.
///
/// ```no_run
/// # #[cfg(feature = "sqlite")] mod example {
/// use sqlx::sqlite::SqlitePoolOptions;
/// use tenancy_sqlx::Ident;
/// use tenancy_sqlx::shared::keyed::SqliteSharedPool;
///
/// # async fn example(tenant: tenancy_sqlx::RegistryTenant) -> Result<(), Box<dyn std::error::Error>> {
/// let pool = SqlitePoolOptions::new().connect("sqlite://data/app.db").await?;
/// let shared = SqliteSharedPool::new(pool).tables([Ident::new("items")?]);
/// shared.check().await?;
///
/// let mut tx = shared.begin(&tenant).await?;
/// tx.insert("items").value("name", "pen").execute().await?;
/// let count: i64 = tx
///     .query_scalar("SELECT count(*) FROM items WHERE tenant_id = {tenant}")
///     .fetch_one()
///     .await?;
/// tx.commit().await?;
/// # let _ = count; Ok(()) }
/// # }
/// # fn main() {}
/// ```
pub struct SharedPool<DB: SharedBackend> {
    pool: Pool<DB>,
    config: Arc<Config>,
}

#[derive(Debug, Clone)]
struct Config {
    tables: Vec<Ident>,
    column: Ident,
    immediate: bool,
}

impl<DB: SharedBackend> SharedPool<DB> {
    /// Shared-schema access on `pool`: tenant column `tenant_id`, no tables
    /// declared yet.
    pub fn new(pool: Pool<DB>) -> Self {
        Self {
            pool,
            config: Arc::new(Config {
                tables: Vec::new(),
                column: Ident::from_static("tenant_id"),
                immediate: false,
            }),
        }
    }

    /// Declares the tenant tables (appended to those declared before).
    ///
    /// Declared tables are checked by [`check`](Self::check) and emptied of a
    /// tenant's rows when the tenant is dropped, in reverse order: list
    /// parent tables before the tables that reference them.
    #[must_use]
    pub fn tables(mut self, tables: impl IntoIterator<Item = Ident>) -> Self {
        let config = Arc::make_mut(&mut self.config);
        for table in tables {
            if !config.tables.contains(&table) {
                config.tables.push(table);
            }
        }
        self
    }

    /// The tenant column (default `tenant_id`).
    #[must_use]
    pub fn column(mut self, column: Ident) -> Self {
        Arc::make_mut(&mut self.config).column = column;
        self
    }

    /// The underlying pool (unscoped: nothing isolates queries run on it).
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// The declared tenant tables, in declaration order.
    pub fn table_names(&self) -> &[Ident] {
        &self.config.tables
    }

    /// The tenant column.
    pub fn column_name(&self) -> &Ident {
        &self.config.column
    }

    /// Begins a transaction for `tenant` (with shared storage,
    /// [`Storage::Shared`](crate::storage::Storage::Shared); else
    /// [`TenancyError::Configuration`]). No round trip beyond `BEGIN`: the
    /// key is bound into each query.
    pub async fn begin(
        &self,
        tenant: &RegistryTenant,
    ) -> Result<SharedTransaction<DB>, TenancyError> {
        let key = crate::shared::key_of(tenant)?;
        self.begin_key(key).await
    }

    /// Begins a transaction for the tenant whose rows carry `key`.
    pub async fn begin_key(&self, key: &SharedKey) -> Result<SharedTransaction<DB>, TenancyError> {
        let tx = DB::begin(&self.pool, self.config.immediate)
            .await
            .map_err(store_error)?;
        Ok(SharedTransaction::new(
            tx,
            key.clone(),
            self.config.column.clone(),
        ))
    }

    /// Checks that every declared table exists and has a `NOT NULL` tenant
    /// column; [`TenancyError::Configuration`] lists what is wrong. (It cannot
    /// check queries: see the isolation note above.)
    pub async fn check(&self) -> Result<(), TenancyError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let column = &self.config.column;
        let mut problems = Vec::new();
        for table in &self.config.tables {
            let fact = DB::table_fact(&mut conn, table, column)
                .await
                .map_err(store_error)?;
            match fact {
                TableFact::Ready => {}
                TableFact::Missing => {
                    problems.push(format!("the tenant table {table} does not exist"));
                }
                TableFact::NoColumn => {
                    problems.push(format!("{table} has no tenant column `{column}`"));
                }
                TableFact::Nullable => {
                    problems.push(format!("the tenant column {table}.{column} is nullable"));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(TenancyError::Configuration {
                message: format!(
                    "the shared tenant tables are not ready: {}",
                    problems.join("; ")
                ),
            })
        }
    }
}

#[cfg(feature = "sqlite")]
impl SharedPool<sqlx::Sqlite> {
    /// Begins tenant transactions with `BEGIN IMMEDIATE` (taking the write
    /// lock at once). Use it when transactions read before they write and run
    /// concurrently: a deferred transaction that later needs to write can
    /// fail with `SQLITE_BUSY` without waiting.
    #[must_use]
    pub fn immediate(mut self) -> Self {
        Arc::make_mut(&mut self.config).immediate = true;
        self
    }
}

impl<DB: SharedBackend> Clone for SharedPool<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            config: self.config.clone(),
        }
    }
}

impl<DB: SharedBackend> fmt::Debug for SharedPool<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedPool")
            .field("tables", &self.config.tables)
            .field("column", &self.config.column)
            .field("immediate", &self.config.immediate)
            .finish_non_exhaustive()
    }
}
