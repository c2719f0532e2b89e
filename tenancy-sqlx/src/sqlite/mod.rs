//! SQLite: registry and file-per-tenant provisioning.

pub(crate) mod database;
pub(crate) mod registry;
