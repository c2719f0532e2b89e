//! Shared-schema mode on MySQL / MariaDB and SQLite: no row-level security,
//! so tenant-scoped helpers bind the tenant key into every query.

mod backend;
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
/// [`SharedManager`] on MySQL / MariaDB (with a [`MySqlRegistry`](crate::registry::MySqlRegistry)).
#[cfg(feature = "mysql")]
pub type MySqlSharedManager = SharedManager<sqlx::MySql>;
/// [`SharedPool`] on SQLite.
#[cfg(feature = "sqlite")]
pub type SqliteSharedPool = SharedPool<sqlx::Sqlite>;
/// [`SharedTransaction`] on SQLite.
#[cfg(feature = "sqlite")]
pub type SqliteSharedTransaction = SharedTransaction<sqlx::Sqlite>;
/// [`SharedManager`] on SQLite (with a [`SqliteRegistry`](crate::registry::SqliteRegistry)).
#[cfg(feature = "sqlite")]
pub type SqliteSharedManager = SharedManager<sqlx::Sqlite>;

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
