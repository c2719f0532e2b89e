//! Partitioning sqlx's per-connection statement cache by schema.
//!
//! sqlx caches prepared statements per connection, keyed by SQL text, together
//! with the column types it described when preparing. A statement prepared
//! under one tenant's `search_path` and reused under another's is re-planned by
//! Postgres; when the tenants are on different migration versions (a column
//! type differs) that fails with SQLSTATE 0A000 "cached plan must not change
//! result type", or sqlx decodes with stale column types. Prefixing the SQL
//! with a comment naming the schema gives every schema its own cache entries,
//! so a statement is only ever reused under the search path it was prepared for.

use std::sync::Arc;

use crate::storage::SchemaName;

/// How scoped connections use sqlx's per-connection statement cache.
///
/// sqlx also caches the OIDs of custom types (enums, domains, composites) per
/// connection, *by name*; that cache cannot be partitioned. A custom type that
/// is bound as a query parameter must therefore be the same type for every
/// tenant: create it in a shared schema and list that schema with
/// [`SchemaPool::shared_schemas`](crate::schema::SchemaPool::shared_schemas).
///
/// ```
/// use tenancy_sqlx::schema::StatementCache;
///
/// assert_eq!(StatementCache::default(), StatementCache::PerSchema);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatementCache {
    /// Every schema gets its own prepared statements (the SQL text is prefixed
    /// with a comment naming the schema). Safe when tenants are on different
    /// migration versions; uses more cache slots (tenants × statements per
    /// connection), so consider raising
    /// [`statement_cache_capacity`](sqlx::postgres::PgConnectOptions::statement_cache_capacity).
    #[default]
    PerSchema,
    /// Statements are shared across schemas. Only safe when every tenant schema
    /// has exactly the same shape; otherwise queries fail with SQLSTATE 0A000
    /// or decode errors while a migration rolls out.
    Shared,
}

impl StatementCache {
    /// The SQL prefix for `schema`, if statements are partitioned.
    pub(crate) fn tag(self, schema: &SchemaName) -> Option<Arc<str>> {
        match self {
            Self::PerSchema => Some(Arc::from(format!("/* tenancy schema={schema} */ "))),
            Self::Shared => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postgres::tagged::Tagged;
    use sqlx::Execute;

    #[test]
    fn per_schema_tags_and_does_not_double_tag() {
        let schema = SchemaName::new("tenant_a-b").unwrap();
        let tag = StatementCache::PerSchema.tag(&schema);
        let sql = Tagged::new("SELECT 1", tag.as_ref()).sql();
        assert_eq!(sql.as_str(), "/* tenancy schema=tenant_a-b */ SELECT 1");
        let again = Tagged::new(sql, tag.as_ref()).sql();
        assert_eq!(again.as_str(), "/* tenancy schema=tenant_a-b */ SELECT 1");
        assert!(StatementCache::Shared.tag(&schema).is_none());
        assert_eq!(Tagged::new("SELECT 1", None).sql().as_str(), "SELECT 1");
    }
}
