//! Advisory lock keys (two-key form: a class and a hash of the object name).
//!
//! sqlx's migrator takes one advisory lock per *database*, which would
//! serialise every tenant schema. Tenant migrations instead take a
//! transaction-scoped lock per schema, so schemas migrate in parallel while
//! two runs on the same schema wait for each other. Two names with the same
//! hash merely share a lock.

use crate::ident::quote_literal;
use crate::storage::SchemaName;

/// Lock class of the registry's own migrations (`"tnc"` + 1).
pub(crate) const REGISTRY: i32 = 0x746e_6301;

/// Lock class of per-schema tenant work (`"tnc"` + 2).
pub(crate) const SCHEMA: i32 = 0x746e_6302;

/// `SELECT pg_advisory_xact_lock(<schema class>, hashtext('<schema>'))`.
pub(crate) fn schema_lock(schema: &SchemaName) -> String {
    format!(
        "SELECT pg_catalog.pg_advisory_xact_lock({SCHEMA}, pg_catalog.hashtext({}))",
        quote_literal(schema.as_str())
    )
}
