//! Shared-schema mode on MySQL / MariaDB and SQLite (features `mysql`,
//! `sqlite`): there is no row-level security, so **isolation rests on the
//! scoped helpers**, which bind the tenant's
//! [`SharedKey`](crate::shared::SharedKey) into every query they run.
//!
//! - [`SharedPool`] ([`MySqlSharedPool`], [`SqliteSharedPool`]): the declared
//!   tenant tables and column; [`begin`](SharedPool::begin) returns a
//!   [`SharedTransaction`] scoped to one tenant.
//! - [`SharedTransaction`]: [`query`](SharedTransaction::query) /
//!   [`query_as`](SharedTransaction::query_as) /
//!   [`query_scalar`](SharedTransaction::query_scalar) build a
//!   [`SharedQuery`] whose `{tenant}` token becomes a bound tenant key
//!   (a malformed one is a [`SharedQueryError`]); [`insert`](SharedTransaction::insert)
//!   builds a [`SharedInsert`] that fills the tenant column. The
//!   [`QueryOutput`] types ([`RowsOutput`], [`AsOutput`], [`ScalarOutput`])
//!   say what a query returns.
//! - [`SharedManager`] ([`MySqlSharedManager`], [`SqliteSharedManager`]): the
//!   lifecycle, with the backend's [`SqlRegistry`](crate::registry::SqlRegistry)
//!   in the same database.
//! - [`SharedBackend`]: the databases these helpers run on.
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # async fn example(registry: tenancy_sqlx::registry::SqliteRegistry) -> Result<(), Box<dyn std::error::Error>> {
//! use tenancy_core::TenantId;
//! use tenancy_sqlx::shared::keyed::{SqliteSharedManager, SqliteSharedPool};
//! use tenancy_sqlx::{Ident, NewTenant, TenantMigrations};
//!
//! let migrations = TenantMigrations::from_sql([(
//!     1,
//!     "items",
//!     "CREATE TABLE items (id INTEGER PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL)",
//! )])?;
//! let shared = SqliteSharedPool::new(registry.pool().clone()).tables([Ident::new("items")?]);
//! let manager = SqliteSharedManager::new(registry, shared, migrations);
//! manager.setup().await?;
//!
//! let acme = manager.create(NewTenant::new(TenantId::new("acme")?, "Acme Corp")).await?;
//! let mut tx = manager.shared().begin(&acme).await?;
//! tx.insert("items").value("name", "first").execute().await?;
//! let names: Vec<String> = tx
//!     .query_scalar("SELECT name FROM items WHERE tenant_id = {tenant}")
//!     .fetch_all()
//!     .await?;
//! tx.commit().await?;
//! # let _ = names; Ok(()) }
//! ```

// The module docs link to both backends' aliases; without a feature one is absent.
#![cfg_attr(
    not(all(feature = "mysql", feature = "sqlite")),
    allow(rustdoc::broken_intra_doc_links)
)]

mod backend;
mod clone;
mod insert;
mod manager;
#[cfg(feature = "mysql")]
mod mysql;
mod pool;
mod query;
#[cfg(feature = "sqlite")]
mod sqlite;
mod template;
mod transaction;

pub use backend::SharedBackend;
pub use insert::SharedInsert;
pub use manager::SharedManager;
pub use pool::SharedPool;
pub use query::{AsOutput, QueryOutput, RowsOutput, ScalarOutput, SharedQuery};
pub use template::SharedQueryError;
pub use transaction::SharedTransaction;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tenancy_core::TenancyError;

use crate::tenant::RegistryTenant;
use tenancy_core::TenantAccess;

/// [`SharedPool`] on MySQL / MariaDB.
#[cfg(feature = "mysql")]
pub type MySqlSharedPool = SharedPool<sqlx::MySql>;
/// [`SharedTransaction`] on MySQL / MariaDB.
#[cfg(feature = "mysql")]
pub type MySqlSharedTransaction = SharedTransaction<sqlx::MySql>;
/// [`SharedManager`] on MySQL / MariaDB (by default with a [`MySqlRegistry`](crate::registry::MySqlRegistry)).
#[cfg(feature = "mysql")]
pub type MySqlSharedManager<R = crate::registry::MySqlRegistry> = SharedManager<sqlx::MySql, R>;
/// [`SharedPool`] on SQLite.
#[cfg(feature = "sqlite")]
pub type SqliteSharedPool = SharedPool<sqlx::Sqlite>;
/// [`SharedTransaction`] on SQLite.
#[cfg(feature = "sqlite")]
pub type SqliteSharedTransaction = SharedTransaction<sqlx::Sqlite>;
/// [`SharedManager`] on SQLite (by default with a [`SqliteRegistry`](crate::registry::SqliteRegistry)).
#[cfg(feature = "sqlite")]
pub type SqliteSharedManager<R = crate::registry::SqliteRegistry> = SharedManager<sqlx::Sqlite, R>;

impl<DB: SharedBackend> TenantAccess for SharedPool<DB> {
    type Tenant = RegistryTenant;
    type Handle = SharedTransaction<DB>;

    fn open<'a>(
        &'a self,
        tenant: &'a RegistryTenant,
    ) -> BoxFuture<'a, Result<Self::Handle, TenancyError>> {
        self.begin(tenant).boxed()
    }
}
