//! [`ItemsStore`](super::ItemsStore) per isolation mode × backend, and the
//! tenant migrations (the `items` table) each of them uses.

mod database;
mod keyed;
mod migrations;
mod rls;
mod schema;

pub use database::{MySqlDatabaseItems, PgDatabaseItems, SqliteDatabaseItems};
pub use keyed::{MySqlKeyedItems, SqliteKeyedItems};
pub use migrations::migrations;
pub use rls::RlsItems;
pub use schema::SchemaItems;

use tenancy_core::TenancyError;

use super::model::Item;

/// A row of `items`.
pub(crate) type ItemRow = (i64, String, f64);

pub(crate) fn item((id, name, capacity): ItemRow) -> Item {
    Item { id, name, capacity }
}

/// A failed query on a tenant's data: unavailable if the database cannot be
/// reached, a storage error otherwise.
pub(crate) fn query_error(error: sqlx::Error) -> TenancyError {
    if tenancy_sqlx::is_unavailable(&error) {
        TenancyError::unavailable(error)
    } else {
        TenancyError::storage(error)
    }
}
