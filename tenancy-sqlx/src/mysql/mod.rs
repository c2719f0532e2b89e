//! MySQL / MariaDB: registry and database-per-tenant provisioning.

pub(crate) mod database;
pub(crate) mod registry;
