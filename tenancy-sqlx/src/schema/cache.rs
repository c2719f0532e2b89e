//! Sharing sqlx's per-connection statement cache safely between schemas.
//!
//! sqlx caches prepared statements per connection, keyed by SQL text, together
//! with the column types it described when preparing. A statement prepared
//! under one tenant's `search_path` and reused under another's is re-planned by
//! Postgres; when the tenants are on different migration versions (a column
//! type differs) that fails with SQLSTATE 0A000 "cached plan must not change
//! result type", or sqlx decodes with stale column types. Prefixing the SQL
//! with a comment (a *tag*) partitions the cache: a statement is only reused
//! where its tag says it is valid.

use std::sync::Arc;
use std::time::Duration;

use super::versions::{Versions, schema_tag};
use crate::error::sqlstate;
use crate::storage::SchemaName;

/// How scoped connections use sqlx's per-connection statement cache.
///
/// sqlx also caches the OIDs of custom types (enums, domains, composites) per
/// connection, *by name*; that cache cannot be partitioned. A custom type that
/// is bound as a query parameter or returned as a column must therefore be
/// the same type for every tenant: create it in a shared schema and list that
/// schema with [`SchemaPool::shared_schemas`](crate::schema::SchemaPool::shared_schemas).
///
/// ```
/// use tenancy_sqlx::schema::StatementCache;
///
/// assert_eq!(StatementCache::default(), StatementCache::PerVersion);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatementCache {
    /// Tenants on the same migration version share prepared statements (the
    /// SQL is prefixed with a comment naming a digest of the schema's applied
    /// migrations). Postgres re-plans a shared statement for each schema's
    /// tables, and tenants on one version have tables of one shape, so this is
    /// as safe as [`PerSchema`](Self::PerSchema) while the number of cached
    /// statements stays that of one tenant however many tenants there are.
    ///
    /// A schema's version is read from its migration history table (see
    /// [`SchemaPool::version_table`](crate::schema::SchemaPool::version_table))
    /// the first time the process uses it, and trusted for
    /// [`SchemaPool::version_ttl`](crate::schema::SchemaPool::version_ttl).
    /// The pool's own migrations take effect at once. If Postgres refuses a
    /// shared statement in a schema (SQLSTATE 0A000: another process migrated
    /// it, or its tables drifted from its version), that query fails and the
    /// schema gets statements of its own until its entry expires. A schema
    /// without a history table always has statements of its own.
    #[default]
    PerVersion,
    /// Every schema gets its own prepared statements (the SQL text is prefixed
    /// with a comment naming the schema). Safe with any mix of shapes; uses
    /// tenants × statements cache slots per connection, so with more tenants
    /// than sqlx's cache holds (100 by default) nearly every query prepares,
    /// and evicts, a statement.
    PerSchema,
    /// Statements are shared across schemas. Only safe when every tenant schema
    /// has exactly the same shape; otherwise queries fail with SQLSTATE 0A000
    /// or decode errors while a migration rolls out.
    Shared,
}

/// The tag a scoped connection puts on its statements, and where to report a
/// shared statement that Postgres refused.
#[derive(Clone, Default)]
pub(crate) struct Tagging {
    tag: Option<Arc<str>>,
    shared: Option<Observer>,
}

/// Watches the errors of a version-tagged schema's queries: on SQLSTATE
/// 0A000 the schema is isolated.
#[derive(Clone)]
pub(crate) struct Observer {
    versions: Versions,
    schema: SchemaName,
    ttl: Duration,
}

impl Tagging {
    /// No tag: statements as sqlx caches them.
    pub(crate) fn none() -> Self {
        Self::default()
    }

    /// Statements of `schema` alone.
    pub(crate) fn schema(schema: &SchemaName) -> Self {
        Self {
            tag: Some(schema_tag(schema)),
            shared: None,
        }
    }

    /// Statements shared under `tag` by the schemas of one version.
    pub(crate) fn version(
        tag: Arc<str>,
        versions: &Versions,
        schema: &SchemaName,
        ttl: Duration,
    ) -> Self {
        Self {
            tag: Some(tag),
            shared: Some(Observer {
                versions: versions.clone(),
                schema: schema.clone(),
                ttl,
            }),
        }
    }

    /// The SQL prefix.
    pub(crate) fn tag(&self) -> Option<&Arc<str>> {
        self.tag.as_ref()
    }

    /// What watches the queries' errors, for version-tagged statements only.
    pub(crate) fn observer(&self) -> Option<Observer> {
        self.shared.clone()
    }
}

impl Observer {
    /// Looks at a query's error: a shared statement refused for a changed
    /// result type gives the schema statements of its own.
    pub(crate) fn observe(&self, error: &sqlx::Error) {
        if sqlstate(error).as_deref() == Some("0A000") {
            self.versions.isolate(&self.schema, self.ttl);
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
        let tagging = Tagging::schema(&schema);
        let sql = Tagged::new("SELECT 1", tagging.tag()).sql();
        assert_eq!(sql.as_str(), "/* tenancy schema=tenant_a-b */ SELECT 1");
        let again = Tagged::new(sql, tagging.tag()).sql();
        assert_eq!(again.as_str(), "/* tenancy schema=tenant_a-b */ SELECT 1");
        assert!(Tagging::none().tag().is_none());
        assert_eq!(Tagged::new("SELECT 1", None).sql().as_str(), "SELECT 1");
    }
}
