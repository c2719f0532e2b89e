//! [`QualifiedSchema`]: tenant statements that name the tenant's schema
//! themselves, with no `search_path` and no transaction.

use std::fmt;

use sqlx::{AssertSqlSafe, PgPool};
use tenancy_core::TenancyError;

use crate::storage::SchemaName;

/// The placeholder that [`QualifiedSchema::sql`] replaces.
pub const SCHEMA_PLACEHOLDER: &str = "{schema}";

/// Builds statements whose tables are qualified with one tenant's schema.
///
/// The transaction-scoped [`begin`](super::SchemaPool::begin) is the default
/// way to reach a tenant's tables; it costs a `BEGIN` (carrying the
/// `search_path`) and a `COMMIT` around the work. For single statements on a
/// hot path, a qualified statement costs nothing beyond the statement itself:
/// `{schema}` in the template becomes the tenant's quoted schema name, and the
/// statement runs directly on [`pool`](Self::pool) (autocommit), with bind
/// parameters and prepared-statement caching as usual.
///
/// Rules that keep it safe:
/// - every tenant table must be written `{schema}.table`; a template with no
///   `{schema}` is refused, and an unqualified table resolves through the
///   connection's default `search_path` (keep tenant tables out of it, e.g.
///   out of `public`, so a forgotten qualifier fails instead of reading
///   elsewhere);
/// - the schema name comes from the validated tenant only, quoted;
/// - each tenant's statements are distinct SQL texts, so they cannot be shared
///   between tenants. Preparing a statement for every tenant would, with more
///   tenants than sqlx's per-connection cache holds, prepare and evict one at
///   nearly every query (three round trips instead of one). So only the
///   statements of the pool's *hot* schemas should be prepared
///   ([`persistent`](Self::persistent), see
///   [`SchemaPool::hot_schemas`](super::SchemaPool::hot_schemas)); the others
///   run unnamed: parsed at each use, two round trips, nothing evicted.
///
/// ```no_run
/// use tenancy_sqlx::{RegistryTenant, SchemaPool};
///
/// # async fn example(schemas: SchemaPool, tenant: RegistryTenant) -> Result<(), Box<dyn std::error::Error>> {
/// let scope = schemas.qualified(&tenant)?;
/// let names: Vec<String> = sqlx::query_scalar(scope.sql("SELECT name FROM {schema}.items WHERE id > $1")?)
///     .bind(10_i64)
///     .persistent(scope.persistent())
///     .fetch_all(scope.pool())
///     .await?;
/// # let _ = names; Ok(()) }
/// ```
#[derive(Clone)]
pub struct QualifiedSchema {
    schema: SchemaName,
    quoted: String,
    persistent: bool,
    pool: PgPool,
}

impl QualifiedSchema {
    pub(crate) fn new(schema: SchemaName, persistent: bool, pool: PgPool) -> Self {
        let quoted = schema.quoted();
        Self {
            schema,
            quoted,
            persistent,
            pool,
        }
    }

    /// The pool to run this tenant's statements on: the schema pool's own,
    /// or the tenant's partition with [`SchemaPool::affinity`](super::SchemaPool::affinity).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Whether this tenant's statements should be prepared and cached: true
    /// for the pool's hot schemas. Pass it to sqlx's `.persistent(…)`.
    pub fn persistent(&self) -> bool {
        self.persistent
    }

    /// The tenant's schema.
    pub fn schema(&self) -> &SchemaName {
        &self.schema
    }

    /// `template` with every `{schema}` replaced by the quoted schema name.
    ///
    /// The template is `&'static str`, like sqlx's own checked queries, so
    /// request data cannot be formatted into it; pass values as bind
    /// parameters. Fails with [`TenancyError::Configuration`] when the
    /// template has no `{schema}`: such a statement would not be scoped to
    /// the tenant.
    pub fn sql(&self, template: &'static str) -> Result<AssertSqlSafe<String>, TenancyError> {
        if !template.contains(SCHEMA_PLACEHOLDER) {
            return Err(TenancyError::Configuration {
                message: "a qualified tenant statement must name its tables as {schema}.table"
                    .to_owned(),
            });
        }
        // The schema name is validated and quoted: safe to splice into SQL.
        Ok(AssertSqlSafe(
            template.replace(SCHEMA_PLACEHOLDER, &self.quoted),
        ))
    }
}

impl fmt::Debug for QualifiedSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QualifiedSchema")
            .field("schema", &self.schema)
            .field("persistent", &self.persistent)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool that never connects (the tests only build SQL).
    fn lazy_pool() -> PgPool {
        PgPool::connect_lazy("postgres://127.0.0.1:1/none").unwrap()
    }

    #[tokio::test]
    async fn replaces_every_placeholder_with_the_quoted_schema() {
        let scope = QualifiedSchema::new(SchemaName::new("tenant_a-b").unwrap(), true, lazy_pool());
        let sql = scope
            .sql("SELECT * FROM {schema}.items JOIN {schema}.tags USING (id)")
            .unwrap();
        assert_eq!(
            sql.0,
            r#"SELECT * FROM "tenant_a-b".items JOIN "tenant_a-b".tags USING (id)"#
        );
    }

    #[tokio::test]
    async fn refuses_a_template_without_the_placeholder() {
        let scope = QualifiedSchema::new(SchemaName::new("tenant_a").unwrap(), true, lazy_pool());
        let Err(error) = scope.sql("SELECT * FROM items") else {
            panic!("a template without {{schema}} must be refused");
        };
        assert_eq!(error.kind(), "Configuration");
    }
}
