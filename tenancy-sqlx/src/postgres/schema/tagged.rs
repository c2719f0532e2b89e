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

use sqlx::postgres::{PgArguments, PgStatement};
use sqlx::{AssertSqlSafe, Execute, Postgres, SqlSafeStr, SqlStr};

use crate::ident::SchemaName;

/// How scoped connections use sqlx's per-connection statement cache.
///
/// sqlx also caches the OIDs of custom types (enums, domains, composites) per
/// connection, *by name*; that cache cannot be partitioned. A custom type that
/// is bound as a query parameter must therefore be the same type for every
/// tenant: create it in a shared schema and list that schema with
/// [`SchemaPool::shared_schemas`](crate::SchemaPool::shared_schemas).
///
/// ```
/// use tenancy_sqlx::StatementCache;
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

/// A query whose SQL is prefixed with a schema tag.
pub(crate) struct Tagged<E> {
    inner: E,
    tag: Option<Arc<str>>,
    unnamed: bool,
}

impl<E> Tagged<E> {
    pub(crate) fn new(inner: E, tag: Option<&Arc<str>>) -> Self {
        Self {
            inner,
            tag: tag.cloned(),
            unnamed: false,
        }
    }

    /// Makes the statement unnamed (not prepared for reuse) when `unnamed`.
    pub(crate) fn unnamed(mut self, unnamed: bool) -> Self {
        self.unnamed = unnamed;
        self
    }
}

impl<'q, E: Execute<'q, Postgres>> Execute<'q, Postgres> for Tagged<E> {
    fn sql(self) -> SqlStr {
        let sql = self.inner.sql();
        match self.tag {
            Some(tag) if !sql.as_str().starts_with(&*tag) => tag_sql(&tag, sql.as_str()),
            _ => sql,
        }
    }

    fn statement(&self) -> Option<&PgStatement> {
        if self.unnamed {
            // A prepared statement is named: it would outlive the transaction.
            return None;
        }
        match self.tag {
            // A statement prepared elsewhere carries column types described under
            // another search path: let sqlx prepare (and describe) afresh.
            Some(_) => None,
            None => self.inner.statement(),
        }
    }

    fn take_arguments(&mut self) -> Result<Option<PgArguments>, sqlx::error::BoxDynError> {
        self.inner.take_arguments()
    }

    fn persistent(&self) -> bool {
        !self.unnamed && self.inner.persistent()
    }
}

/// `sql` with `tag` in front.
pub(crate) fn tag_sql(tag: &str, sql: &str) -> SqlStr {
    let mut tagged = String::with_capacity(tag.len() + sql.len());
    tagged.push_str(tag);
    tagged.push_str(sql);
    AssertSqlSafe(tagged).into_sql_str()
}

/// Tags raw SQL (for `prepare` / `describe`), unless it is already tagged.
pub(crate) fn tag_raw(tag: Option<&Arc<str>>, sql: SqlStr) -> SqlStr {
    match tag {
        Some(tag) if !sql.as_str().starts_with(&**tag) => tag_sql(tag, sql.as_str()),
        _ => sql,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
